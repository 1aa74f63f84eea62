"""The lean read path (core.db.read) and pg8000 statements in one round trip, against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from core import db as core_db
from core import storage
from core.errors import Unavailable
from core.storage import StorageSettings
from local.gateway import Request
from tests.client import _gateway, call
from tests.integration.assets.space_world import add, new_space, ready, start
from tests.integration.rooms.rooms_helpers import new_room, person
from tests.integration.social import Member, member, post


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


def _playable(who: Member) -> str:
    """A ready video of `who` with an HLS rendition (one playlist: enough to be answered)."""
    answer = start(who, None, filename="clip.mp4", content_type="video/mp4", size=8)
    assert answer.status == 201, answer.body
    asset_id, key = answer.body["asset"]["id"], f"variants/{who.id}/{answer.body['asset']['id']}/hls/index.m3u8"
    storage.s3_client().put_object(Bucket=StorageSettings.current().assets_bucket, Key=key, Body=b"#EXTM3U\n")
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET status = 'ready' WHERE id = :i"), {"i": asset_id})
        conn.execute(
            text(
                "INSERT INTO asset_variants (id, asset_id, kind, s3_key, content_type) "
                "VALUES (gen_random_uuid(), :a, 'hls', :k, 'application/vnd.apple.mpegurl')"
            ),
            {"a": asset_id, "k": key},
        )
    return str(asset_id)


def _status(path: str, token: str) -> int:
    """A GET's status, whatever its body (a playlist is not JSON)."""
    headers = [("Authorization", f"Bearer {token}")]
    return _gateway().handle(Request("GET", path, headers, b"", source_ip="203.0.113.7")).status


def test_the_assets_reads_send_no_ping_begin_or_commit(sent: list[str], s3_endpoint: str) -> None:
    """Every read-only route of the assets function goes through core.db.read: one round trip per
    SELECT, nothing else (a route back on session_scope sends BEGIN, a ping and COMMIT)."""
    owner, viewer = member("ada"), member("bob")
    space = new_space(owner)["id"]
    assert add(space, owner, viewer, "viewer").status == 201
    mine, video = ready(owner, None)["id"], _playable(owner)
    ready(owner, space)
    assert call("POST", f"/api/v1/assets/{mine}/shares", {"original": True}, token=owner.token).status == 201
    reads = [
        (owner, "/api/v1/assets?limit=5&q=cat&content_type=image/*&from=2020-01-01T00:00:00Z"),
        (owner, f"/api/v1/assets/{mine}"),
        (owner, f"/api/v1/assets/{mine}/shares"),
        (owner, f"/api/v1/assets/{video}/playback"),
        (owner, "/api/v1/usage"),
        (owner, "/api/v1/audit"),
        (viewer, "/api/v1/spaces"),
        (viewer, f"/api/v1/spaces/{space}"),
        (viewer, f"/api/v1/spaces/{space}/members"),
        (viewer, f"/api/v1/spaces/{space}/assets?tag=x&to=2100-01-01T00:00:00Z"),
        (viewer, f"/api/v1/spaces/{space}/usage"),
        (owner, f"/api/v1/spaces/{space}/audit"),
    ]
    for who, path in reads:
        sent.clear()
        assert _status(path, who.token) == 200, path
        assert sent and set(sent) == {"select"}, (path, sent)
    # refused reads too: a non-member's 404 is one SELECT; a bad time is a 400 before any statement
    stranger = member("eve")
    sent.clear()
    assert call("GET", f"/api/v1/spaces/{space}/assets", token=stranger.token).status == 404
    assert sent == ["select"]
    sent.clear()
    assert call("GET", "/api/v1/assets?from=2026-02-30T00:00:00Z", token=owner.token).status == 400
    assert sent == []


def test_the_rooms_reads_send_no_ping_begin_or_commit(sent: list[str], s3_endpoint: str) -> None:
    """Every read-only route of the rooms function goes through core.db.read: one round trip per
    SELECT, nothing else (a route back on session_scope sends BEGIN, a ping and COMMIT). The message
    history and a single message are not among them: reading settles overdue AI replies (a write)."""
    master, invitee = person(), person()
    room = new_room(master)
    base = "/api/v1"
    answer = call("POST", f"{base}/rooms/{room}/invitations", {"username": invitee.username}, token=master.token)
    assert answer.status == 201, answer.body
    answer = call("POST", f"{base}/groups", {"name": "crew", "members": [invitee.username]}, token=master.token)
    assert answer.status == 201, answer.body
    group = answer.body["id"]
    answer = call("POST", f"{base}/rooms/{room}/forks", {"name": "copy"}, token=master.token)
    assert answer.status == 201 and answer.body["fork"]["status"] == "completed", answer.body  # empty: no copy
    fork = answer.body["room"]["id"]
    answer = call("POST", f"{base}/rooms/{room}/images", {"content_type": "image/png", "size": 10}, token=master.token)
    assert answer.status == 201, answer.body
    image = answer.body["image"]["id"]
    reads = [
        (master, f"{base}/rooms/{room}"),
        (master, f"{base}/rooms/{room}/members"),
        (invitee, f"{base}/invitations"),
        (invitee, f"{base}/groups"),
        (invitee, f"{base}/groups/{group}"),
        (invitee, f"{base}/groups/{group}/members"),
        (master, f"{base}/rooms/{fork}/fork"),
        (master, f"{base}/rooms/{room}/images/{image}"),
        (master, f"{base}/rooms"),
        (master, f"{base}/me/balance"),
        (master, f"{base}/me/balance/transactions"),
    ]
    for who, path in reads:
        sent.clear()
        assert call("GET", path, token=who.token).status == 200, path
        assert sent and set(sent) == {"select"}, (path, sent)
    # refused reads too: a non-member's 404 is SELECTs only
    stranger = person()
    for path in (f"{base}/rooms/{room}", f"{base}/rooms/{room}/members", f"{base}/groups/{group}/members"):
        sent.clear()
        assert call("GET", path, token=stranger.token).status == 404, path
        assert sent == ["select"], (path, sent)


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
