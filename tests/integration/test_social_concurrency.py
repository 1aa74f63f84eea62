"""likes_count and comments_count stay exact under concurrent writers (real PostgreSQL, real threads)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Row, create_engine, func, insert, select
from sqlalchemy.engine import Connection, Engine

from comments import logic as comments
from core.models.social import comment_table, like_table, post_table
from core.models.user import user_table
from likes import logic as likes

WRITERS = 50


@pytest.fixture
def engine(db: str) -> Iterator[Engine]:
    """Its own pool: one connection per writer, so they really run at once. Without the role's 5 s
    statement_timeout: 50 writers queue on one post row, which on a loaded 2-core CI machine can pass
    5 s; this test is about exact counts, tests/integration/security about the timeout."""
    engine = create_engine(
        db, pool_size=WRITERS, max_overflow=0, connect_args={"startup_params": {"statement_timeout": "0"}}
    )
    yield engine
    engine.dispose()


def _users_and_post(engine: Engine) -> tuple[list[uuid.UUID], uuid.UUID]:
    user_ids, post_id = [uuid.uuid4() for _ in range(WRITERS)], uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(user_table),
            [
                {"id": user_id, "email": f"w{i}@x.io", "username": f"writer{i}", "password_hash": "x"}
                for i, user_id in enumerate(user_ids)
            ],
        )
        conn.execute(insert(post_table).values(id=post_id, author_id=user_ids[0], content="popular"))
    return user_ids, post_id


def _in_parallel(engine: Engine, work: Callable[[Connection, uuid.UUID], object], user_ids: list[uuid.UUID]) -> None:
    def one(user_id: uuid.UUID) -> None:
        with engine.begin() as conn:
            work(conn, user_id)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(one, user_ids))


def _post(engine: Engine, post_id: uuid.UUID) -> Row[Any]:
    with engine.connect() as conn:
        return conn.execute(select(post_table).where(post_table.c.id == post_id)).one()


def test_parallel_likes_from_distinct_users_are_counted_exactly(engine: Engine) -> None:
    user_ids, post_id = _users_and_post(engine)
    _in_parallel(engine, lambda s, u: likes.like(s, post_id, u), user_ids)
    _in_parallel(engine, lambda s, u: likes.like(s, post_id, u), user_ids)  # all repeats: nothing changes
    assert _post(engine, post_id).likes_count == WRITERS
    _in_parallel(engine, lambda s, u: likes.unlike(s, post_id, u), user_ids[: WRITERS // 2])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(like_table)) == WRITERS - WRITERS // 2
    assert _post(engine, post_id).likes_count == WRITERS - WRITERS // 2


def test_parallel_comments_are_counted_exactly(engine: Engine) -> None:
    user_ids, post_id = _users_and_post(engine)
    _in_parallel(engine, lambda s, u: comments.add(s, post_id, u, "me too"), user_ids)
    assert _post(engine, post_id).comments_count == WRITERS
    with engine.connect() as conn:
        ids = list(conn.scalars(select(comment_table.c.id).where(comment_table.c.author_id.in_(user_ids[:20]))))
    _in_parallel(engine, lambda s, cid: comments.remove(s, cid, user_ids[0]), ids)  # the post's author
    assert _post(engine, post_id).comments_count == WRITERS - 20
