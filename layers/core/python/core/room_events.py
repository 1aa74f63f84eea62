"""Room events for WebSocket subscribers (API.md, Realtime): recorded in the change's transaction,
fanned out after it commits.

`publish(session, room_id, type, data, seq=..., only=...)` writes the event to `realtime_events`
(a transactional outbox) in the caller's transaction, at the room's next event position
(`rooms.last_event`, bumped under the room row's lock, so positions follow commit order). A
rolled-back change therefore leaves no event, and a committed one is never lost: the row stays
until the fan-out has pushed it.

After the commit (`core.db.after_commit`), the unit of work sends one small *nudge* per room to the
room-events FIFO queue (message group: the room; deduplication id: a fresh UUID). The nudge carries
no event: the fan-out function (`deliver`) reads the room's rows in position order, pushes each to
the subscribed connections of the users allowed to see it (members now, by a join; an event with
`only` goes to that user alone), then deletes them. FIFO message groups keep one fan-out per room
at a time, so a room's events reach each connection in order even when nudges arrive out of order.
A nudge that could not be sent (logged) costs nothing but delay: the room's next nudge carries its
events too, and `sweep` re-nudges rooms whose events wait longer than STALE_EVENT_S.

Posting never waits for delivery: the request pays one INSERT and one SendMessage.

Ephemeral events (`message.delta`, many a second) skip the outbox: `push_now` sends them straight to
the same audience, best effort; the durable `message.completed` that ends a reply goes through `publish`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from sqlalchemy import Connection, text

from core import db

logger = Logger(child=True)

QUEUE = "room_events"  # core.routes: the `fanout` function's QueueSpec
QUEUE_URL_ENV = "ROOM_EVENTS_QUEUE_URL"  # QueueSpec.env_var of QUEUE, given to its producers

MESSAGE_EVENTS = ("message.created", "message.updated", "message.deleted", "message.delta", "message.completed")
MEMBER_EVENTS = ("member.joined", "member.left", "member.role_changed")
ROOM_EVENTS = ("room.updated", "room.deleted")
# A fork's copy (functions/room_forks), to the forking user's connections alone (push_to_user).
FORK_EVENTS = ("fork.progress", "fork.completed")
# A master's AI token balance after a charge (room_id: the room charged) or a grant (room_id: null),
# to that user's connections alone (core.balances.announce, through push_to_user).
BALANCE_EVENTS = ("balance.changed",)
TYPES = frozenset(MESSAGE_EVENTS + MEMBER_EVENTS + ROOM_EVENTS + FORK_EVENTS + BALANCE_EVENTS)

DRAIN_BATCH = 200  # events read (and deleted) per round of one room's fan-out
STALE_EVENT_S = 60  # events older than this get their room re-nudged by `sweep`
# Events nobody could deliver for this long are dropped by `sweep`: clients backfill with ?after_seq=.
EVENT_RETENTION_S = 24 * 3600
SWEEP_ROOMS = 10  # rooms re-nudged per sweep
SWEEP_CONNECTIONS = 500  # expired connections deleted per sweep
# After a failed nudge this container sends none for this long: a queue it cannot reach (dev's isolated
# subnets have no SQS endpoint) must not cost every later request its connect timeout.
NUDGE_PAUSE_S = 60.0


# --- publishing (the producer's side: the rooms function) ---

_RECORD = text(
    "WITH r AS (UPDATE rooms SET last_event = last_event + 1 WHERE id = :room RETURNING last_event) "
    "INSERT INTO realtime_events (room_id, position, type, seq, data, only_user_id) "
    "SELECT :room, r.last_event, :type, :seq, :data, :only FROM r"
)


def publish(
    session: Connection,
    room_id: uuid.UUID,
    type: str,
    data: Mapping[str, Any],
    *,
    seq: int | None = None,
    only: uuid.UUID | None = None,
) -> None:
    """Record `{type, room_id, seq?, data}` for the room's subscribers, sent once the transaction
    commits; `only`: that user's connections alone (a private exchange). Every message event has a seq."""
    if type not in TYPES:
        raise ValueError(f"unknown room event type {type!r}")
    if type in MESSAGE_EVENTS and seq is None:
        raise ValueError(f"{type} events carry the message's seq")
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    session.execute(_RECORD, {"room": room_id, "type": type, "seq": seq, "data": payload, "only": only})
    db.after_commit(session, _Nudge(room_id))  # once per room and unit of work


@dataclass(frozen=True)
class _Nudge:
    """What a unit of work that recorded events of a room does after its commit (equal per room)."""

    room_id: uuid.UUID

    def __call__(self) -> None:
        nudge([self.room_id])


_DROP_SUBSCRIPTIONS = text(
    "DELETE FROM realtime_subscriptions s USING realtime_connections c "
    "WHERE s.connection_id = c.connection_id AND s.room_id = :room AND c.user_id = :user"
)


def drop_subscriptions(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A user who left the room, or may no longer read it, stops receiving its events: call it in the
    transaction of the membership change."""
    session.execute(_DROP_SUBSCRIPTIONS, {"room": room_id, "user": user_id})


@lru_cache(maxsize=1)
def sqs_client() -> Any:
    """The container's SQS client (boto3 imported only when an event is sent): short timeouts, one retry."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    return boto3.client("sqs", config=config)


_paused_until = 0.0


def nudge(room_ids: Iterable[uuid.UUID], *, client: Any = None) -> None:
    """Tell the fan-out that these rooms have events waiting. Never raises: a nudge that fails leaves
    the events in the outbox for the room's next nudge or the sweep, and pauses nudging in this
    container for NUDGE_PAUSE_S."""
    global _paused_until
    url = os.environ.get(QUEUE_URL_ENV)
    if not url:
        logger.debug("no room-events queue configured: events wait in the outbox")
        return
    if time.monotonic() < _paused_until:
        return
    for room_id in room_ids:
        try:
            (client or sqs_client()).send_message(
                QueueUrl=url,
                MessageBody=json.dumps({"room_id": str(room_id)}),
                MessageGroupId=str(room_id),
                MessageDeduplicationId=uuid.uuid4().hex,
            )
        except Exception as exc:  # noqa: BLE001 - the change is committed; its events wait in the outbox
            logger.warning("room events not sent, left for the sweep: %s", type(exc).__name__)
            _paused_until = time.monotonic() + NUDGE_PAUSE_S
            return


# --- delivering (the fan-out function) ---


@dataclass(frozen=True)
class RoomEvent:
    position: int
    type: str
    seq: int | None
    data: str
    only_user_id: uuid.UUID | None

    def frame(self, room_id: uuid.UUID | None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.type, "room_id": str(room_id) if room_id is not None else None}
        if self.seq is not None:
            frame["seq"] = self.seq
        frame["data"] = json.loads(self.data)
        return frame


_EVENTS = text(
    "SELECT position, type, seq, data, only_user_id FROM realtime_events "
    "WHERE room_id = :room ORDER BY position LIMIT :n"
)
# Subscribed, unexpired connections of the room's members (every role reads), checked at send time.
_AUDIENCE = text(
    "SELECT s.connection_id, c.user_id FROM realtime_subscriptions s "
    "JOIN realtime_connections c ON c.connection_id = s.connection_id "
    "JOIN room_members m ON m.room_id = s.room_id AND m.user_id = c.user_id "
    "WHERE s.room_id = :room AND c.expires_at > now() ORDER BY s.connection_id"
)
_DONE = text("DELETE FROM realtime_events WHERE room_id = :room AND position <= :last")
_DROP_ROOM = text("DELETE FROM realtime_subscriptions WHERE room_id = :room")


def deliver(room_id: uuid.UUID, *, push_frame: Any = None) -> int:
    """Push the room's waiting events in order, then delete them; how many were pushed.

    Reading and deleting are two short transactions; pushing happens between them, outside any.
    A crash in between pushes the same events again (at least once: clients drop seqs they have)."""
    from core import push

    send = push_frame or push.push
    total = 0
    while True:
        with db.session_scope() as session:
            rows = [
                RoomEvent(r.position, r.type, r.seq, r.data, r.only_user_id)
                for r in session.execute(_EVENTS, {"room": room_id, "n": DRAIN_BATCH})
            ]
            audience = [(str(r.connection_id), r.user_id) for r in session.execute(_AUDIENCE, {"room": room_id})]
        if not rows:
            return total
        for row in rows:
            targets = [cid for cid, user in audience if row.only_user_id is None or user == row.only_user_id]
            if targets:
                send(row.frame(room_id), targets)
            if row.type == "member.left":  # gone from the room: nothing after this reaches them
                left = json.loads(row.data).get("user", {}).get("id")
                audience = [(cid, user) for cid, user in audience if str(user) != left]
        with db.session_scope() as session:
            session.execute(_DONE, {"room": room_id, "last": rows[-1].position})
            if any(row.type == "room.deleted" for row in rows):
                session.execute(_DROP_ROOM, {"room": room_id})
        total += len(rows)
        if len(rows) < DRAIN_BATCH:
            return total


def push_now(
    room_id: uuid.UUID,
    type: str,
    data: Mapping[str, Any],
    *,
    seq: int | None = None,
    only: uuid.UUID | None = None,
    push_frame: Any = None,
) -> int:
    """An ephemeral event (`message.delta`: AI tokens) straight to the room's audience: never stored,
    never queued, no room lock; best effort (a client that misses deltas has the final text from
    `message.completed`, a durable event sent with `publish`). Call it outside any transaction: it
    reads the audience in its own, then waits on the network. How many connections it went to."""
    from core import push

    if type not in TYPES:
        raise ValueError(f"unknown room event type {type!r}")
    with db.session_scope() as session:
        audience = [(str(r.connection_id), r.user_id) for r in session.execute(_AUDIENCE, {"room": room_id})]
    targets = [cid for cid, user in audience if only is None or user == only]
    if targets:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
        frame = RoomEvent(0, type, seq, payload, only).frame(room_id)
        (push_frame or push.push)(frame, targets)
    return len(targets)


_WAITING = text("SELECT 1 FROM realtime_events WHERE room_id = :room AND seq = :seq AND type = ANY(:types) LIMIT 1")


def delivered(room_id: uuid.UUID, seq: int, types: Sequence[str] = ("message.created", "message.updated")) -> bool:
    """Whether the fan-out has pushed the room's recorded events of this message (of these types):
    an ephemeral event about a message (`message.delta`) should not overtake its announcement."""
    with db.session_scope() as session:
        return session.execute(_WAITING, {"room": room_id, "seq": seq, "types": list(types)}).first() is None


_USER_CONNECTIONS = text(
    "SELECT connection_id FROM realtime_connections WHERE user_id = :user AND expires_at > now() ORDER BY connection_id"
)


def push_to_user(
    user_id: uuid.UUID, room_id: uuid.UUID | None, type: str, data: Mapping[str, Any], *, push_frame: Any = None
) -> int:
    """An event about a room to every live connection of one user, subscribed to the room or not
    (`fork.progress`: the forking user follows the copy from wherever they are; `balance.changed`,
    whose room_id is None for a grant). Like `push_now`: never
    stored, best effort (the state it reports can always be read back: GET /rooms/{id}/fork); call it
    outside any transaction. How many connections it went to."""
    from core import push

    if type not in TYPES:
        raise ValueError(f"unknown room event type {type!r}")
    with db.session_scope() as session:
        targets = [str(r.connection_id) for r in session.execute(_USER_CONNECTIONS, {"user": user_id})]
    if targets:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
        (push_frame or push.push)(RoomEvent(0, type, None, payload, user_id).frame(room_id), targets)
    return len(targets)


_STALE_ROOMS = text(
    "SELECT DISTINCT room_id FROM realtime_events WHERE created_at < now() - make_interval(secs => :age) LIMIT :n"
)
_EXPIRED_EVENTS = text("DELETE FROM realtime_events WHERE created_at < now() - make_interval(secs => :age)")
_EXPIRED = text(
    "DELETE FROM realtime_connections WHERE connection_id IN "
    "(SELECT connection_id FROM realtime_connections WHERE expires_at < now() LIMIT :n) RETURNING 1"
)


def sweep(*, client: Any = None) -> tuple[int, list[uuid.UUID]]:
    """Opportunistic clean-up, run by each fan-out invocation: delete connections past their
    expires_at (a `$disconnect` that never reached us; their subscriptions go with them), drop events
    older than EVENT_RETENTION_S, and re-nudge rooms whose events have waited over STALE_EVENT_S (a
    lost nudge).
    (connections deleted, rooms nudged)."""
    with db.session_scope() as session:
        expired = len(session.execute(_EXPIRED, {"n": SWEEP_CONNECTIONS}).all())
        session.execute(_EXPIRED_EVENTS, {"age": EVENT_RETENTION_S})
        stale = list(session.execute(_STALE_ROOMS, {"age": STALE_EVENT_S, "n": SWEEP_ROOMS}).scalars())
    if stale:
        nudge(stale, client=client)
    return expired, stale


def rooms_of(records: Sequence[Mapping[str, Any]]) -> list[tuple[uuid.UUID | None, str]]:
    """(room, messageId) of each SQS record of a batch, in order; None for a record that names no room."""
    out: list[tuple[uuid.UUID | None, str]] = []
    for record in records:
        room: uuid.UUID | None
        try:
            room = uuid.UUID(str(json.loads(record.get("body") or "{}").get("room_id")))
        except (ValueError, AttributeError, TypeError):
            room = None
        out.append((room, str(record.get("messageId"))))
    return out
