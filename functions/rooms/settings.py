"""The rooms function's settings: which AI models a room may choose, and invitations. The AI reply's
own settings are the ai_worker's (ai_worker.settings) and, shared, core.ai_replies.AiRepliesSettings."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class RoomsSettings(FeatureSettings):
    """The rooms function: team chat with AI replies."""

    # Comma-separated models a room may choose with PATCH; empty: any. CDK sets the ones IAM allows.
    rooms_ai_models: str = setting(
        "",
        shown="(empty: any)",
        doc="comma-separated models a room may choose; CDK sets the ones IAM allows",
    )
    rooms_ai_replies_per_minute: int = setting(
        10, ge=1, le=1000, doc="AI replies (invoke_ai and regenerate) one user may start per minute, all rooms together"
    )
    rooms_messages_per_minute_per_room: int = setting(
        60, ge=1, le=10000, doc="messages one user may send to one room per minute (429 with Retry-After past it)"
    )
    rooms_messages_per_minute: int = setting(
        120, ge=1, le=10000, doc="messages one user may send per minute, all rooms together"
    )
    rooms_group_invitations_per_minute: int = setting(
        5, ge=1, le=1000, doc="whole-group invitations (POST /rooms/{id}/invitations with group_id) per user per minute"
    )
    rooms_invitation_ttl_s: int = setting(7 * 24 * 3600, ge=60, doc="room invitation lifetime (7 days)")
