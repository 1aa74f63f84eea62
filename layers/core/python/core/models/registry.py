"""Imports every table so `metadata` is complete (Alembic, tests). Functions import only what they use."""

from core.models import (
    ai_context,
    ai_jobs,
    assets,
    audit,
    auth,
    balances,
    groups,
    limits,
    realtime,
    room_forks,
    room_images,
    room_invitations,
    rooms,
    social,
    spaces,
    user,
)
from core.models.base import metadata

__all__ = [
    "ai_context",
    "ai_jobs",
    "assets",
    "audit",
    "auth",
    "balances",
    "groups",
    "limits",
    "metadata",
    "realtime",
    "room_forks",
    "room_images",
    "room_invitations",
    "rooms",
    "social",
    "spaces",
    "user",
]
