"""Imports every model so Base.metadata is complete (Alembic, tests). Functions import only what they use."""

from core.models import assets, audit, auth, groups, limits, realtime, rooms, social, spaces, user
from core.models.base import Base

__all__ = ["Base", "assets", "audit", "auth", "groups", "limits", "realtime", "rooms", "social", "spaces", "user"]
