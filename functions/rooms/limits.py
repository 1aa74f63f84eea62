"""Fixed limits of groups and bulk invitations, read by the logic, the schemas and the routes'
documentation alike (here, so documenting them loads no logic: core.lazy)."""

GROUP_MAX_MEMBERS = 100  # a group's members, at most (the manager is not counted unless added)
INVITATIONS_PER_REQUEST = 100  # invitations one request may create (a whole group fits by default)
