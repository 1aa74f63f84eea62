"""What the AI sees: the room's recent messages, filtered, trimmed to a token budget. Pure functions.

Rules:
- skipped: deleted messages, messages marked `exclude_from_ai`, messages before
  the room's `ai_context_cutoff_at`, AI replies not `completed` (pending or failed: no answer);
- private exchanges: a private request sees only its requester's own private
  messages; a public request sees none (its answer goes to the whole room and
  must not repeat anyone's private exchange, the requester's included);
- the prompt (the human message being answered) is always the last turn, even if
  it is itself excluded or older than the cutoff: it is the question;
- trimming keeps the newest messages that fit the budget, by an estimate of
  ~4 characters per token plus a small per-message overhead (no tokenizer: they
  are model-specific and heavy; the estimate errs on the generous side for
  English and the budget leaves room for the reply).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.ai_steps import ChatMessage
from core.room_images import MessageImage

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True)
class HistoryMessage:
    """A stored message as context building needs it."""

    id: uuid.UUID
    seq: int
    kind: str
    author: str | None
    content: str
    status: str
    visibility: str
    requester_id: uuid.UUID | None
    exclude_from_ai: bool
    deleted: bool
    created_at: datetime
    images: tuple[MessageImage, ...] = ()  # shown or described by ai_worker.vision


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE


def system_prompt(room_name: str) -> str:
    return (
        f'You are the AI assistant of the team chat room "{room_name}". Several people write here; '
        "each of their messages starts with the author's username and a colon. "
        "Answer the last message helpfully and concisely."
    )


def usable(message: HistoryMessage, *, requester_id: uuid.UUID, private: bool, cutoff: datetime | None) -> bool:
    """Whether a history message (not the prompt) may be shown to the AI for this request."""
    if message.deleted or message.exclude_from_ai:
        return False
    if message.kind == "ai" and message.status != "completed":
        return False
    if cutoff is not None and message.created_at < cutoff:
        return False
    if message.visibility == "private":
        return private and message.requester_id == requester_id
    return True


def as_chat(message: HistoryMessage) -> ChatMessage:
    if message.kind == "ai":
        return ChatMessage("assistant", message.content)
    return ChatMessage("user", message.content, author=message.author or "someone", attachments=message.images)


def _truncated(message: ChatMessage, budget: int) -> ChatMessage:
    """The prompt alone over the budget: keep its beginning."""
    room = max(1, (budget - TOKENS_PER_MESSAGE) * CHARS_PER_TOKEN - len(message.content) + len(message.text))
    return ChatMessage(message.role, message.text[:room], author=message.author)


def build(
    history: Iterable[HistoryMessage],
    prompt: HistoryMessage,
    *,
    requester_id: uuid.UUID,
    private: bool,
    cutoff: datetime | None,
    budget_tokens: int,
    system: str,
) -> list[ChatMessage]:
    """Oldest-first chat turns ending with the prompt, within `budget_tokens` (system prompt included)."""
    budget = budget_tokens - estimate_tokens(system)
    last = as_chat(prompt)
    if estimate_tokens(last.content) > budget:
        last = _truncated(last, budget)
    budget -= estimate_tokens(last.content)
    kept: list[ChatMessage] = []
    for message in sorted(history, key=lambda m: m.seq, reverse=True):
        if message.seq >= prompt.seq or not usable(message, requester_id=requester_id, private=private, cutoff=cutoff):
            continue
        turn = as_chat(message)
        cost = estimate_tokens(turn.content)
        if cost > budget:
            break  # newest kept: the window stays contiguous instead of skipping to older, shorter ones
        kept.append(turn)
        budget -= cost
    return [*reversed(kept), last]
