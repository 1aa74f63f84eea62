"""The ai_steps function's settings: what the model may be shown of a room."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class AiStepsSettings(FeatureSettings):
    """The ai_steps function: the AI worker's database steps (the context of a reply)."""

    # Context budget (estimated tokens: ~4 characters each).
    rooms_ai_context_tokens: int = setting(
        8000,
        ge=256,
        doc="context budget in estimated tokens (~4 characters each), system prompt included",
    )
    rooms_ai_summary_tokens: int = setting(
        600,
        ge=16,
        le=4096,
        doc="longest summary of the context's oldest messages (estimated tokens), at most a quarter of the budget",
    )
