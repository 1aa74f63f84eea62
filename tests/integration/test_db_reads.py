"""The lean read path (core.db.read) and pg8000 statements in one round trip, against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from core import db as core_db
from core.errors import Unavailable
from tests.client import call
from tests.integration.social import member, post


@pytest.fixture
def sent(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement the pooled pg8000 connection sends, BEGIN, pings and COMMIT included."""
    raw = core_db.get_engine().raw_connection()
    connection_class: Any = type(raw.driver_connection)
    raw.close()
    statements: list[str] = []
    for name in ("execute_simple", "execute_unnamed"):
        original = getattr(connection_class, name)

        def spy(self: Any, statement: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            statements.append(statement.split()[0].lower() if statement.strip() else statement)
            return _original(self, statement, *args, **kwargs)

        monkeypatch.setattr(connection_class, name, spy)
    yield statements


def _backend_pid() -> int:
    return int(core_db.read(lambda conn: conn.scalar(text("SELECT pg_backend_pid()"))))


def _terminate(pid: int) -> None:
    """Drop the pooled connection from the server side, as a failover or a proxy restart would."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    other = create_engine(core_db.get_engine().url, poolclass=NullPool)
    try:
        with other.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})  # waits for its exit
    finally:
        other.dispose()


def test_a_feed_read_is_one_statement_without_ping_begin_or_commit(sent: list[str]) -> None:
    post(member("ada"))
    call("GET", "/api/v1/posts")  # the pool's connection exists: no connect in what follows
    sent.clear()
    answer = call("GET", "/api/v1/posts?limit=20")
    assert answer.status == 200 and len(answer.body["items"]) == 1
    assert sent == ["select"]


def test_a_write_still_pings_the_pooled_connection_and_commits(sent: list[str]) -> None:
    ada = member("ada")
    sent.clear()
    assert call("POST", "/api/v1/posts", {"content": "x"}, token=ada.token).status == 201
    assert sent[:2] == ["begin", ";"] and sent[-1] == "commit"


def test_the_pool_gets_its_connection_back_in_transaction_mode(db: str) -> None:
    core_db.read(lambda conn: conn.execute(text("SELECT 1")).all())
    raw = core_db.get_engine().raw_connection()
    try:
        assert raw.driver_connection.autocommit is False
    finally:
        raw.close()


def test_a_read_on_a_dropped_connection_runs_again_on_a_new_one(db: str) -> None:
    post(member("ada"), "still here")
    before = _backend_pid()
    _terminate(before)
    answer = call("GET", "/api/v1/posts")
    assert answer.status == 200, answer.body
    assert [p["content"] for p in answer.body["items"]] == ["still here"]
    assert _backend_pid() != before


def test_a_write_after_a_dropped_connection_is_saved_by_the_pre_ping(db: str) -> None:
    ada = member("ada")
    _terminate(_backend_pid())
    assert call("POST", "/api/v1/posts", {"content": "after"}, token=ada.token).status == 201


def test_a_read_runs_at_most_twice_and_only_after_a_disconnect(db: str) -> None:
    runs: list[int] = []

    def failing(conn: Connection) -> None:
        runs.append(1)
        conn.execute(text("SELECT 1 / 0"))

    with pytest.raises(DBAPIError):
        core_db.read(failing)
    assert len(runs) == 1  # a statement error is not retried

    def dropped(conn: Connection) -> None:
        runs.append(2)
        conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    runs.clear()
    with pytest.raises(Unavailable):  # dropped twice: the second time it is an answer, 503
        core_db.read(dropped)
    assert runs == [2, 2]
    assert core_db.read(lambda conn: conn.scalar(text("SELECT 7"))) == 7


def test_statements_in_one_flight_report_errors_and_leave_the_connection_usable(db: str) -> None:
    def values(conn: Connection) -> list[Any]:
        return list(conn.execute(text("SELECT CAST(:a AS int) + 1, CAST(:b AS text)"), {"a": 41, "b": None}).one())

    assert core_db.read(values) == [42, None]
    for bad in ("SELEC 1", "SELECT CAST(:x AS uuid)"):  # refused at Parse, then at Bind
        with pytest.raises(DBAPIError):
            core_db.read(lambda conn, sql=bad: conn.execute(text(sql), {"x": "not a uuid"}).all())
        assert core_db.read(values) == [42, None]
    with pytest.raises(DBAPIError), core_db.session_scope() as session:  # inside a transaction block
        session.execute(text("SELECT CAST(:x AS uuid)"), {"x": "not a uuid"})
    with core_db.session_scope() as session:
        assert session.execute(text("UPDATE users SET username = username WHERE false")).rowcount == 0
        assert session.execute(text("SELECT 1 WHERE false")).all() == []


def test_after_commit_runs_once_a_unit_of_work_committed_and_never_after_a_rollback(db: str) -> None:
    from core.errors import Conflict, RateLimited

    ran: list[str] = []

    def note(what: str) -> Any:
        return lambda: ran.append(what)

    with core_db.session_scope() as session:
        session.execute(text("SELECT 1"))
        first = note("committed")
        core_db.after_commit(session, first)
        core_db.after_commit(session, first)  # an equal callback runs once
        assert ran == []  # not before the commit
    assert ran == ["committed"]
    with pytest.raises(RuntimeError), core_db.session_scope() as session:
        core_db.after_commit(session, note("rolled back"))
        raise RuntimeError("the change fails")
    with pytest.raises(Conflict), core_db.session_scope() as session:
        core_db.after_commit(session, note("refused"))
        raise Conflict("refused: rolled back")
    with pytest.raises(RateLimited), core_db.session_scope() as session:
        core_db.after_commit(session, note("kept"))
        raise RateLimited(1, "refused, its writes kept", keep_writes=True)
    assert ran == ["committed", "kept"]
    with core_db.session_scope() as session:  # nothing left over from the units before
        session.execute(text("SELECT 1"))
    assert ran == ["committed", "kept"]
