"""Cached summaries of the oldest part of a room's AI context (issue 19.2; core.models.ai_context).

In the core layer because two functions read them: the ai_worker (which makes, extends and uses
them: ai_steps.summaries, for the ai_worker) and rooms (`GET /rooms/{id}` says whether the room's shared context
starts with one).

A summary belongs to one *scope* of one room: `None`, the shared context every public AI request
sees (public messages only), or a user, whose private requests also see their own private
exchanges. It is valid while no message of its range changed (the migration 0018 trigger deletes
it in the changing statement) and the room's `ai_context_cutoff_at` is still the one it was made
under (compared here, when it is read).

Writes never overwrite what they did not read: extending a summary updates the very revision it
read (a concurrent invalidation or writer makes it a no-op), a fresh one is inserted, or replaces
only the invalid revision it saw.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert

from core.models.ai_context import message_context_summary_table as summaries


@dataclass(frozen=True)
class Summary:
    room_id: uuid.UUID
    requester_id: uuid.UUID | None  # the scope: None for the shared (public) context
    from_seq: int
    through_seq: int
    content: str
    token_estimate: int
    provider: str
    model: str
    cutoff_at: datetime | None
    revision: uuid.UUID

    def valid_under(self, cutoff_at: datetime | None) -> bool:
        """Still the room's cutoff? (Changed messages have deleted the row already.)"""
        return self.cutoff_at == cutoff_at

    @classmethod
    def of(cls, row: Any) -> Summary:
        return cls(
            room_id=row.room_id,
            requester_id=row.requester_id,
            from_seq=row.from_seq,
            through_seq=row.through_seq,
            content=row.content,
            token_estimate=row.token_estimate,
            provider=row.provider,
            model=row.model,
            cutoff_at=row.cutoff_at,
            revision=row.revision,
        )


COLUMNS = (
    summaries.c.room_id,
    summaries.c.requester_id,
    summaries.c.from_seq,
    summaries.c.through_seq,
    summaries.c.content,
    summaries.c.token_estimate,
    summaries.c.provider,
    summaries.c.model,
    summaries.c.cutoff_at,
    summaries.c.revision,
)


def in_scope(room_id: Any, requester_id: uuid.UUID | None) -> Any:
    """The row of one scope (`requester_id` None: the shared context), for a WHERE or a join."""
    scope = summaries.c.requester_id.is_(None) if requester_id is None else summaries.c.requester_id == requester_id
    return and_(summaries.c.room_id == room_id, scope)


def cached(session: Connection, room_id: uuid.UUID, requester_id: uuid.UUID | None) -> Summary | None:
    """The scope's summary, valid or not (the caller compares the cutoff); one statement."""
    row = session.execute(select(*COLUMNS).where(in_scope(room_id, requester_id))).first()
    return Summary.of(row) if row is not None else None


def shared(session: Connection, room_id: uuid.UUID, cutoff_at: datetime | None) -> Summary | None:
    """The room's shared-context summary if it is valid under the room's cutoff: what the next public
    AI reply starts with (unless the conversation outgrew it: then it is extended first)."""
    summary = cached(session, room_id, None)
    return summary if summary is not None and summary.valid_under(cutoff_at) else None


@dataclass(frozen=True)
class Draft:
    """A summary to store: made under `cutoff_at` for the scope, from `from_seq` through `through_seq`."""

    room_id: uuid.UUID
    requester_id: uuid.UUID | None
    from_seq: int
    through_seq: int
    content: str
    token_estimate: int
    provider: str
    model: str
    cutoff_at: datetime | None

    def values(self) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "requester_id": self.requester_id,
            "from_seq": self.from_seq,
            "through_seq": self.through_seq,
            "content": self.content,
            "token_estimate": self.token_estimate,
            "provider": self.provider,
            "model": self.model,
            "cutoff_at": self.cutoff_at,
            "revision": uuid.uuid4(),
        }


def extend(session: Connection, draft: Draft, read: uuid.UUID) -> bool:
    """Replace the revision `read` (the summary the draft extends) by the draft; False when that
    revision is gone (a message of its range changed since: the draft, built on it, is stale too)
    or was replaced by another writer. One statement; the row lock orders it with the trigger."""
    done = session.execute(
        update(summaries)
        .where(in_scope(draft.room_id, draft.requester_id), summaries.c.revision == read)
        .values(**draft.values(), created_at=func.now())
        .returning(summaries.c.id)
    ).first()
    return done is not None


def insert_fresh(session: Connection, draft: Draft, invalid: uuid.UUID | None) -> bool:
    """Store a summary built on no other: a new row, or over the scope's row only if it is still the
    invalid revision the caller saw (`invalid`); False when another writer got there first."""
    values = draft.values()
    statement = insert(summaries).values(id=uuid.uuid4(), **values)
    statement = statement.on_conflict_do_update(
        index_elements=[summaries.c.room_id, summaries.c.requester_id],
        set_={**values, "created_at": func.now()},
        where=summaries.c.revision == invalid if invalid is not None else summaries.c.revision.is_(None),
    )
    return session.execute(statement.returning(summaries.c.id)).first() is not None
