"""The rooms function's settings: AI replies (providers, models, budgets) and invitations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class RoomsSettings(FeatureSettings):
    """The rooms function: team chat with AI replies."""

    # Provider of rooms that name none: "echo" (repeats the last human message; the default when
    # STAGE=local), "bedrock" (the cloud default) or "openai" (any OpenAI-compatible endpoint at
    # OPENAI_BASE_URL).
    rooms_ai_provider: Literal["echo", "bedrock", "openai"] | None = setting(
        None,
        shown="`echo` locally, `bedrock` in the cloud",
        doc="AI provider of rooms that choose none: `echo` (repeats the last human message), `bedrock`, `openai`",
    )
    rooms_bedrock_model: str = setting(
        "amazon.nova-lite-v1:0",
        min_length=1,
        max_length=200,
        doc="default Bedrock model (or inference profile) id; set by CDK",
    )
    rooms_openai_model: str = setting(
        "gpt-4o-mini", min_length=1, max_length=200, doc="default model for the OpenAI-compatible provider"
    )
    # Comma-separated models a room may choose with PATCH; empty: any. CDK sets the ones IAM allows.
    rooms_ai_models: str = setting(
        "",
        shown="(empty: any)",
        doc="comma-separated models a room may choose; CDK sets the ones IAM allows",
    )
    # The whole provider call, connect included. The rooms Lambda has 10 s for everything.
    rooms_ai_timeout_s: float = setting(
        6.0,
        gt=0,
        le=25,
        doc="hard deadline of one AI call (connect included); later is a `failed` AI message",
    )
    # Context budget (estimated tokens: ~4 characters each) and the reply's own limit.
    rooms_ai_context_tokens: int = setting(
        8000,
        ge=256,
        doc="context budget in estimated tokens (~4 characters each), system prompt included",
    )
    rooms_ai_max_output_tokens: int = setting(1024, ge=16, le=8192, doc="longest AI reply, in tokens")
    rooms_invitation_ttl_s: int = setting(7 * 24 * 3600, ge=60, doc="room invitation lifetime (7 days)")
    # OpenAI-compatible endpoint: base URL (up to /v1) and key, or in the cloud the Secrets Manager
    # secret holding the key (a plain string or {"api_key": "..."}).
    openai_base_url: str | None = setting(
        None,
        pattern=r"^https?://[^\s]+$",
        doc="OpenAI-compatible endpoint up to `/v1` (`http(s)://`); e.g. a local model server",
    )
    openai_api_key: str | None = setting(None, secret=True, doc="its API key (optional for local servers)")
    openai_api_key_secret_arn: str | None = setting(
        None,
        doc='in the cloud: Secrets Manager secret `{"api_key": "..."}` (or the bare key) instead of `OPENAI_API_KEY`',
    )
