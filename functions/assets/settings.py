"""The assets function's settings: upload sizes, multipart, downloads, share links and playback.

Presigned URL lifetimes and the bucket belong to core.storage (StorageSettings), the CloudFront keys
to core.cdn (CdnSettings): other functions read them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting

# The default the OpenAPI document declares as the maximum (a stage may set another).
DEFAULT_ASSET_MAX_BYTES = 5 * 1024**3


@dataclass(frozen=True, kw_only=True)
class AssetSettings(FeatureSettings):
    """The assets function: uploads, downloads, share links, playback."""

    asset_max_bytes: int = setting(DEFAULT_ASSET_MAX_BYTES, ge=1, doc="largest asset (5 GiB); larger uploads are 413")
    multipart_threshold_bytes: int = setting(
        100 * 1024 * 1024, ge=5 * 1024 * 1024, doc="uploads of this size or more use S3 multipart (100 MiB)"
    )
    multipart_part_bytes: int = setting(
        64 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        le=5 * 1024**3,
        doc="preferred multipart part size (64 MiB; grown to stay within 10,000 parts)",
    )
    download_url_ttl_s: int = setting(120, ge=1, le=120, doc="lifetime of asset download URLs (at most 120 s)")
    # At most what a request may ask for (assets.schemas.ShareIn: 30 days): a longer max is refused at start.
    share_max_ttl_s: int = setting(
        30 * 24 * 3600, ge=60, le=30 * 24 * 3600, doc="longest share link lifetime (30 days, the most)"
    )
    # A share without expires_in_seconds (capped by the max).
    share_default_ttl_s: int = setting(
        7 * 24 * 3600, ge=60, le=30 * 24 * 3600, doc="share link lifetime when the request names none (7 days)"
    )
    share_create_per_minute: int = setting(10, ge=1, doc="share links a user may create per minute")
    share_access_per_minute_per_ip: int = setting(60, ge=1, doc="share link opens per client IP per minute")
    # Shared spaces (issue 20): a new space's byte quota unless its creator names one (None: no
    # quota), and how many members one space may have.
    space_default_quota_bytes: int | None = setting(
        None,
        ge=0,
        doc="byte quota of a new shared space whose creator names none (unset: no quota)",
    )
    space_member_limit: int = setting(100, ge=2, le=10_000, doc="most members one shared space may have")
    # An HLS playlist's segment URLs live the video's duration plus 15 minutes, at most this long
    # (a player fetches a VOD media playlist once, then its segments as it plays).
    playback_max_ttl_s: int = setting(6 * 3600, ge=300, le=12 * 3600, doc="longest lifetime of HLS segment URLs")
