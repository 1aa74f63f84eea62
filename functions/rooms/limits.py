"""Fixed limits of groups, bulk invitations and room images, read by the logic, the schemas and the routes'
documentation alike (here, so documenting them loads no logic: core.lazy)."""

GROUP_MAX_MEMBERS = 100  # a group's members, at most (the manager is not counted unless added)
INVITATIONS_PER_REQUEST = 100  # invitations one request may create (a whole group fits by default)
# The default largest room image (ROOM_IMAGE_MAX_BYTES; the OpenAPI document declares it as the maximum).
DEFAULT_ROOM_IMAGE_MAX_BYTES = 10 * 1024 * 1024
