"""Team chat rooms: roles, invitations, messages and AI replies (API.md, Rooms)."""
