"""The ai_worker's settings: the AI providers, models and budgets of a streamed reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class AiWorkerSettings(FeatureSettings):
    """The ai_worker function: AI replies, streamed."""

    # Provider of rooms that name none: "echo" (streams the last human message back; the default
    # when STAGE=local), "bedrock" (the cloud default) or "openai" (any OpenAI-compatible endpoint at
    # OPENAI_BASE_URL).
    rooms_ai_provider: Literal["echo", "bedrock", "openai"] | None = setting(
        None,
        shown="`echo` locally, `bedrock` in the cloud",
        doc="AI provider of rooms that choose none: `echo` (streams the last human message back), `bedrock`, `openai`",
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
    # The whole streamed provider call, connect included; the worker's Lambda has 120 s.
    rooms_ai_timeout_s: float = setting(
        90.0,
        gt=0,
        le=110,
        doc="hard deadline of one streamed AI reply (connect included); later is a `failed` AI message",
    )
    # The reply's own limit (its context's budget is ai_steps').
    rooms_ai_max_output_tokens: int = setting(1024, ge=16, le=8192, doc="longest AI reply, in tokens")
    rooms_ai_echo_delay_s: float = setting(
        0.05, ge=0, le=2, doc="pause between the words the `echo` provider streams (streaming shows in `make dev`)"
    )
    rooms_ai_delta_interval_s: float = setting(
        0.1, ge=0.02, le=5, doc="`message.delta` events of one reply are coalesced to at most one per interval"
    )
    # The OpenAI-compatible endpoint's key, or in the cloud the Secrets Manager secret holding it (a
    # plain string or {"api_key": "..."}); its base URL is core.ai_replies.AiRepliesSettings'.
    openai_api_key: str | None = setting(None, secret=True, doc="its API key (optional for local servers)")
    # The function doing the worker's database steps (core.ai_steps), invoked on its `live` alias;
    # unset: the same steps run in this process (tests, tools).
    ai_steps_function_name: str | None = setting(
        None,
        min_length=1,
        max_length=200,
        doc="the `ai_steps` function (its `live` alias ARN) the AI worker invokes for its database steps; "
        "unset: they run in-process (CDK and `make dev` set it)",
    )
    openai_api_key_secret_arn: str | None = setting(
        None,
        doc='in the cloud: Secrets Manager secret `{"api_key": "..."}` (or the bare key) instead of `OPENAI_API_KEY`',
    )
