"""Tickets: how a signed-in client opens a WebSocket without a JWT in its URL.

`POST /realtime/tickets` (behind the authorizer) hands out 256 random bits, stored as their
SHA-256 and valid 60 s; `$connect` spends one with a single conditional DELETE, so a ticket
opens at most one connection however many handshakes race for it, and a spent, expired or
unknown ticket, or one whose sign-in was revoked since, is refused alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, delete, func, insert, text

from core import ratelimit
from core.models.realtime import realtime_ticket_table
from core.tokens import digest, new_token

TICKET_TTL_S = 60
# Tickets one user may take per minute: a client reconnects at most every few seconds.
ISSUE_PER_MINUTE = 30
TICKET_MAX_CHARS = 200  # ours have 43; anything longer is not one


@dataclass(frozen=True)
class Holder:
    """Who a spent ticket was issued to."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def issue(session: Connection, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[str, int]:
    """A new ticket and its lifetime in seconds; 429 over ISSUE_PER_MINUTE."""
    ratelimit.hit(session, f"realtime-tickets:{user_id}", ISSUE_PER_MINUTE)
    # The caller's own leftovers (never used, expired) go; nobody else's rows are touched.
    tickets = realtime_ticket_table
    session.execute(delete(tickets).where(tickets.c.user_id == user_id, tickets.c.expires_at < func.now()))
    ticket, hashed = new_token()
    session.execute(
        insert(realtime_ticket_table).values(
            digest=hashed,
            user_id=user_id,
            session_id=session_id,
            expires_at=func.now() + timedelta(seconds=TICKET_TTL_S),
        )
    )
    return ticket, TICKET_TTL_S


_SPEND = text(
    "DELETE FROM realtime_tickets t USING auth_sessions s "
    "WHERE t.digest = :digest AND t.expires_at > now() AND s.id = t.session_id AND s.revoked_at IS NULL "
    "RETURNING t.user_id, t.session_id"
)


def plausible(ticket: str | None) -> bool:
    """Whether `ticket` may be one of ours at all (no database needed to refuse the rest)."""
    return bool(ticket) and len(ticket or "") <= TICKET_MAX_CHARS


def spend(session: Connection, ticket: str | None) -> Holder | None:
    """The ticket's holder, once: the row is deleted by the same statement that finds it."""
    if ticket is None or not plausible(ticket):
        return None
    row = session.execute(_SPEND, {"digest": digest(ticket)}).first()
    return Holder(user_id=row.user_id, session_id=row.session_id) if row else None
