"""seq stays gap-free and strictly increasing under concurrent senders (real PostgreSQL, real threads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Engine

from core import db as core_db
from core.models.rooms import message_table, room_member_table, room_table
from core.models.user import user_table
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
    return partial(core_db.session_scope, engine=engine)


def _room_with_members(engine: Engine) -> tuple[uuid.UUID, list[uuid.UUID]]:
    user_ids = [uuid.uuid4() for _ in range(SENDERS)]
    room_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(user_table),
            [
                {"id": user_id, "email": f"s{i}@x.io", "username": f"sender{i}", "password_hash": "x"}
                for i, user_id in enumerate(user_ids)
            ],
        )
        connection.execute(insert(room_table).values(id=room_id, name="busy"))
        connection.execute(
            insert(room_member_table),
            [
                {"room_id": room_id, "user_id": user_id, "role": "master" if i == 0 else "member"}
                for i, user_id in enumerate(user_ids)
            ],
        )
    return room_id, user_ids


def _seqs(engine: Engine, room_id: uuid.UUID) -> tuple[list[int], int]:
    with engine.connect() as connection:
        seqs = list(
            connection.scalars(
                select(message_table.c.seq).where(message_table.c.room_id == room_id).order_by(message_table.c.seq)
            )
        )
        return seqs, connection.scalar(select(room_table.c.last_seq).where(room_table.c.id == room_id)) or 0


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
