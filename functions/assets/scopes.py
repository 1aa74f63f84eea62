"""The cursor scopes of assets' lists. Routers declare each list's `?cursor=` pattern from these at
import, without importing the logic that pages (their logic loads on first use, core.lazy)."""

ASSETS = "assets"
SPACE_ASSETS = "space-assets"  # GET /spaces/{id}/assets: the same key, its own cursors
AUDIT = "audit"
SPACE_AUDIT = "space-audit"
SHARES = "shares"
SPACES = "spaces"
SPACE_MEMBERS = "space-members"
MULTIPART_PARTS = "multipart-parts"  # GET /assets/{id}/multipart: the last part number listed
MULTIPART_PARTS_KEY = (int,)
