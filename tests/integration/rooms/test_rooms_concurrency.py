"""seq stays gap-free and strictly increasing under concurrent senders (real PostgreSQL, real threads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.orm.rooms import Message, Room, RoomMember
from core.orm.user import User
from rooms import replies

SENDERS = 50


@pytest.fixture
def engine(db: str) -> Iterator[Engine]:
    """Its own pool: one connection per sender, so they really run at once. Without the role's 5 s
    statement_timeout: 50 senders queue on one room row, and on a loaded 2-core CI machine the last
    one's lock wait can pass 5 s; this test is about seq order, tests/integration/security about
    the timeout."""
    engine = create_engine(
        db, pool_size=SENDERS, max_overflow=0, connect_args={"startup_params": {"statement_timeout": "0"}}
    )
    yield engine
    engine.dispose()


def _sessions(engine: Engine) -> replies.Sessions:
    @contextmanager
    def scope() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    return scope


def _room_with_members(engine: Engine) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with Session(engine) as session, session.begin():
        users = [
            User(id=uuid.uuid4(), email=f"s{i}@x.io", username=f"sender{i}", password_hash="x") for i in range(SENDERS)
        ]
        session.add_all(users)
        room = Room(id=uuid.uuid4(), name="busy")
        session.add(room)
        session.flush()
        session.add_all(
            RoomMember(room_id=room.id, user_id=u.id, role="master" if i == 0 else "member")
            for i, u in enumerate(users)
        )
        return room.id, [u.id for u in users]


def _seqs(engine: Engine, room_id: uuid.UUID) -> tuple[list[int], int]:
    with Session(engine) as session:
        seqs = list(session.scalars(select(Message.seq).where(Message.room_id == room_id).order_by(Message.seq)))
        return seqs, session.get_one(Room, room_id).last_seq


def test_parallel_senders_get_seqs_exactly_1_to_n(engine: Engine) -> None:
    room_id, user_ids = _room_with_members(engine)
    sessions = _sessions(engine)

    def send(user_id: uuid.UUID) -> int:
        message, _ = replies.send(sessions, room_id, user_id, "hi", invoke_ai=False, private=False)
        return message.seq

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        returned = list(pool.map(send, user_ids))
    assert sorted(returned) == list(range(1, SENDERS + 1))
    assert _seqs(engine, room_id) == (list(range(1, SENDERS + 1)), SENDERS)


def test_ai_replies_take_their_own_seqs_without_gaps(engine: Engine) -> None:
    """Half the senders ask the AI: the question and its pending reply take two seqs in one transaction."""
    room_id, user_ids = _room_with_members(engine)
    sessions = _sessions(engine)

    def send(index_and_user: tuple[int, uuid.UUID]) -> tuple[int, int | None]:
        index, user_id = index_and_user
        message, reply = replies.send(sessions, room_id, user_id, f"m{index}", invoke_ai=index % 2 == 0, private=False)
        if reply is not None:
            assert reply.reply_to_id == message.id and reply.seq == message.seq + 1
        return message.seq, reply.seq if reply else None

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        results = list(pool.map(send, enumerate(user_ids)))
    total = SENDERS + SENDERS // 2
    assert _seqs(engine, room_id) == (list(range(1, total + 1)), total)
    for human, ai in results:
        assert ai is None or ai > human
