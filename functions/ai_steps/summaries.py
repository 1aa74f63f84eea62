"""Context summaries (issue 19.2), the ai_steps side (planned, checked and stored in the VPC):
when a room's AI context is over its budget, the oldest messages
that do not fit are summarized by the room's provider once, cached (core.context_summaries) and
put at the head of the context, followed by the newest messages that fit.

Scope (privacy): a summary is made of exactly what one kind of request may show the AI
(ai_steps.context.usable), and serves only that kind: the room's shared scope (public requests:
public messages only, nobody's private exchange) or one requester's private scope (their private
requests: public messages and their own private exchanges). Excluded and deleted messages, and
those before the cutoff, never enter a summary.

The plan (pure; `plan`):
- everything usable fits the budget: no summary (the context as before);
- a valid cached summary of the scope ends before the question and the messages after it fit next
  to it: reuse it (no provider call);
- otherwise summarize: the newest messages that fit in half of what the summary leaves stay as
  they are (so the next replies reuse the summary for a while), the older ones (up to a whole budget
  of them, newest first) are summarized, after the cached summary's text when that is still valid
  (the new summary extends its range: an incremental, bounded call however long the room).
  A valid summary that ends at or after the question (regenerating an old question) is left alone:
  that reply is trimmed as before.

Making it, between the worker's `start` and its stream: the worker has the room's provider answer
the summarization prompt (`job_of`: providers' `summarize`, outside the VPC), and the `summary` step
(`made`) clips it and stores it in one short transaction that first locks the summarized rows
(FOR SHARE: a concurrent edit finishes first) and checks they are still what was summarized, then
writes only over the revision it read (core.context_summaries.extend / insert_fresh). A change that
commits later deletes the row through the trigger (migration 0018), so no stale summary is ever
stored or reused. A failed or empty summarization costs the reply nothing: it is trimmed as before.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from aws_lambda_powertools import Logger
from pydantic import TypeAdapter
from sqlalchemy import Connection, func, select

from ai_steps import context
from ai_steps.context import CHARS_PER_TOKEN, TOKENS_PER_MESSAGE, HistoryMessage, as_chat, estimate_tokens, usable
from core import context_summaries
from core.ai_steps import ChatMessage, SummaryJob
from core.context_summaries import Draft, Summary
from core.models.rooms import message_table as messages

logger = Logger(child=True)

SUMMARY_PREFIX = "Summary of the earlier conversation: "
PREVIOUS_PREFIX = "Summary so far: "


def summary_system(max_tokens: int) -> str:
    words = max(10, max_tokens * 3 // 4)
    return (
        "You condense the beginning of a team chat so that an AI assistant can follow the rest of it. "
        "Each line of the transcript starts with its author's username (or `assistant` for the AI) and a colon; "
        "a leading `Summary so far:` condenses what came before. Write one summary of it all in at most "
        f"{words} words: who said or decided what, facts, numbers, open questions. Write the summary only."
    )


def summary_turn(text: str) -> ChatMessage:
    return ChatMessage("user", SUMMARY_PREFIX + text)


def summary_limit(budget_tokens: int, summary_tokens: int) -> int:
    """The longest summary (its turn's estimated tokens): the setting, at most a quarter of the budget."""
    return max(TOKENS_PER_MESSAGE + 8, min(summary_tokens, budget_tokens // 4))


def rows_needed(budget_tokens: int) -> int:
    """History rows to read: enough to fill the budget and a whole budget more to summarize (each
    message costs at least TOKENS_PER_MESSAGE + 1), plus one to tell whether there are more."""
    return 2 * budget_tokens // (TOKENS_PER_MESSAGE + 1) + 1


def digest(content: str) -> str:
    """PostgreSQL's md5(text) of the same text (UTF-8): the fingerprint of a summarized message."""
    return hashlib.md5(content.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Pending:
    """A summary to make before the reply, and the two contexts it decides between."""

    draft: Draft  # content and token_estimate are filled in once the provider answers
    extends: uuid.UUID | None  # the valid revision whose text it continues
    invalid: uuid.UUID | None  # the scope's invalid revision it may replace
    transcript: str
    max_tokens: int
    # What was summarized, to check at write time: the seq range and (id, status, md5) of each
    # usable message in it, oldest first.
    low: int
    high: int
    fingerprint: tuple[tuple[uuid.UUID, str, str], ...]
    requester_id: uuid.UUID  # whose request: the scope's rules (ai_steps.context.usable)
    private: bool
    kept: tuple[ChatMessage, ...]  # the newest messages that stay, then the question
    fallback: tuple[ChatMessage, ...]  # the context trimmed as without summaries


@dataclass(frozen=True)
class Plan:
    turns: tuple[ChatMessage, ...]  # the context now (the fallback while `pending`)
    pending: Pending | None = None
    reused: Summary | None = None


def _newest_within(candidates: Sequence[HistoryMessage], room: int) -> int:
    """How many of `candidates` (newest first) fit in `room` tokens, contiguous from the newest."""
    count = 0
    for message in candidates:
        cost = estimate_tokens(as_chat(message).content)
        if cost > room:
            break
        room -= cost
        count += 1
    return count


def _line(message: HistoryMessage, room: int) -> str:
    """One transcript line. The summarizer is shown no image (a summary is text, made once for
    everyone it serves), but it is told a message had some, so the summary can say so."""
    line = as_chat(message).content if message.kind != "ai" else f"assistant: {message.content}"
    if message.images:
        count = len(message.images)
        line += f" [{count} image{'s' if count > 1 else ''} attached, not shown here]"
    return line[: max(1, room * CHARS_PER_TOKEN)]


def plan(
    history: Sequence[HistoryMessage],
    prompt: HistoryMessage,
    *,
    room_id: uuid.UUID,
    requester_id: uuid.UUID,
    private: bool,
    cutoff: datetime | None,
    budget_tokens: int,
    summary_tokens: int,
    system: str,
    cached: Summary | None,
    complete: bool,
    provider: str,
    model: str,
) -> Plan:
    """The context of one reply (see the module's docstring). `history`: usable candidates before the
    question (after the cached summary when it is valid); `complete`: whether it holds all of them."""
    fallback = tuple(
        context.build(
            history,
            prompt,
            requester_id=requester_id,
            private=private,
            cutoff=cutoff,
            budget_tokens=budget_tokens,
            system=system,
        )
    )
    last = fallback[-1]
    budget = budget_tokens - estimate_tokens(system) - estimate_tokens(last.content)
    candidates = [
        m
        for m in sorted(history, key=lambda m: m.seq, reverse=True)
        if m.seq < prompt.seq and usable(m, requester_id=requester_id, private=private, cutoff=cutoff)
    ]
    valid = cached if cached is not None and cached.valid_under(cutoff) else None
    if valid is not None and valid.through_seq >= prompt.seq:
        return Plan(fallback)  # an older question regenerated: the summary covers what came after it
    if valid is not None:
        candidates = [m for m in candidates if m.seq > valid.through_seq]
        tail = _newest_within(candidates, budget - valid.token_estimate)
        if complete and tail == len(candidates):
            kept = tuple(as_chat(m) for m in reversed(candidates))
            return Plan((summary_turn(valid.content), *kept, last), reused=valid)
    elif complete and _newest_within(candidates, budget) == len(candidates):
        return Plan(fallback)  # everything fits: nothing to summarize
    limit = summary_limit(budget_tokens, summary_tokens)
    keep = _newest_within(candidates, (budget - limit) // 2)
    rest = candidates[keep:]
    if not rest:
        return Plan(fallback)
    room = budget_tokens - (valid.token_estimate if valid is not None else 0)
    included = rest[: max(1, _newest_within(rest, room))]
    oldest_first = list(reversed(included))
    lines = [_line(m, room) for m in oldest_first]
    if valid is not None:
        lines.insert(0, PREVIOUS_PREFIX + valid.content)
    low, high = oldest_first[0].seq, oldest_first[-1].seq
    draft = Draft(
        room_id=room_id,
        requester_id=requester_id if private else None,
        from_seq=valid.from_seq if valid is not None else low,
        through_seq=high,
        content="",
        token_estimate=0,
        provider=provider,
        model=model,
        cutoff_at=cutoff,
    )
    pending = Pending(
        draft=draft,
        extends=valid.revision if valid is not None else None,
        invalid=cached.revision if cached is not None and valid is None else None,
        transcript="\n".join(lines),
        max_tokens=limit,
        low=low,
        high=high,
        fingerprint=tuple((m.id, m.status, digest(m.content)) for m in oldest_first),
        requester_id=requester_id,
        private=private,
        kept=(*(as_chat(m) for m in reversed(candidates[:keep])), last),
        fallback=fallback,
    )
    return Plan(fallback, pending=pending)


def _clip(text: str, limit: int) -> str:
    """The summary within `limit` estimated tokens, its prefix included."""
    room = (limit - TOKENS_PER_MESSAGE) * CHARS_PER_TOKEN - len(SUMMARY_PREFIX)
    return text.strip()[: max(0, room)].strip()


def job_of(pending: Pending) -> SummaryJob:
    """What the worker needs to have the summary made (the provider's call is the worker's: the VPC
    reaches no provider), and the state it hands back with the answer (`made`)."""
    return SummaryJob(
        transcript=pending.transcript,
        system=summary_system(pending.max_tokens),
        max_tokens=pending.max_tokens,
        state=_PENDING.dump_python(pending, mode="json"),
    )


_PENDING: TypeAdapter[Pending] = TypeAdapter(Pending)


def pending_of(state: dict[str, object]) -> Pending:
    return _PENDING.validate_python(state)


def made(
    session: Connection, pending: Pending, answer: str, *, provider: str, model: str
) -> tuple[ChatMessage, ...] | None:
    """The provider's `answer` clipped, stored if what it summarizes is unchanged, and the context
    that starts with it; None when it is empty (the reply goes on with the trimmed context)."""
    text = _clip(answer, pending.max_tokens)
    if not text:
        return None
    turn = summary_turn(text)
    draft = replace(
        pending.draft, content=text, token_estimate=estimate_tokens(turn.content), provider=provider, model=model
    )
    stored = store(session, pending, draft)
    logger.info(
        "context summary made",
        extra={"room_id": str(draft.room_id), "through_seq": draft.through_seq, "stored": stored},
    )
    return (turn, *pending.kept)


def cost_estimate(pending: Pending) -> int:
    """What making the summary is assumed to cost before it is made (core.balances' check): its
    input, and its longest answer."""
    return (
        estimate_tokens(summary_system(pending.max_tokens)) + estimate_tokens(pending.transcript) + pending.max_tokens
    )


def store(session: Connection, pending: Pending, made: Draft) -> bool:
    """Cache `made` if the summarized messages are still what was summarized (their rows locked
    FOR SHARE until the commit, so an edit in flight finishes first and one that follows deletes the
    row through the trigger); over the revision it extends, or as a fresh row. Two statements."""
    rows = session.execute(
        select(
            messages.c.id,
            messages.c.seq,
            messages.c.kind,
            messages.c.status,
            messages.c.visibility,
            messages.c.requester_id,
            messages.c.exclude_from_ai,
            messages.c.deleted_at,
            messages.c.created_at,
            func.md5(messages.c.content).label("digest"),
        )
        .where(
            messages.c.room_id == made.room_id,
            messages.c.seq >= pending.low,
            messages.c.seq <= pending.high,
        )
        .order_by(messages.c.seq)
        .with_for_update(read=True)
    ).all()
    now = tuple(
        (r.id, r.status, r.digest)
        for r in rows
        if usable(
            HistoryMessage(
                id=r.id,
                seq=r.seq,
                kind=r.kind,
                author=None,
                content="",
                status=r.status,
                visibility=r.visibility,
                requester_id=r.requester_id,
                exclude_from_ai=r.exclude_from_ai,
                deleted=r.deleted_at is not None,
                created_at=r.created_at,
            ),
            requester_id=pending.requester_id,
            private=pending.private,
            cutoff=made.cutoff_at,
        )
    )
    if now != pending.fingerprint:
        return False
    if pending.extends is not None:
        return context_summaries.extend(session, made, pending.extends)
    return context_summaries.insert_fresh(session, made, pending.invalid)
