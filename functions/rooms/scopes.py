"""The cursor scopes of rooms' lists. Routers declare each list's `?cursor=` pattern from these at
import, without importing the logic that pages (their logic loads on first use, core.lazy)."""

ROOMS = "rooms"
ROOM_MEMBERS = "room-members"
INVITATIONS = "invitations"
MESSAGES = "messages"  # the history, newest first
MESSAGES_AFTER = "messages-after"  # ?after_seq=N: oldest first from N + 1 (backfill)
GROUPS = "groups"
GROUP_MEMBERS = "group-members"
