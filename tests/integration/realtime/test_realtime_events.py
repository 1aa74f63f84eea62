"""Room events over real WebSockets through the local stack: the rooms function records each change's
event in its transaction and nudges the room-events FIFO queue (moto) after the commit; the event
pump feeds the fan-out function, which pushes through the local Management API (core.room_events)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any

import boto3
import pytest
from sqlalchemy import create_engine
from websockets.sync.client import ClientConnection

from core import db as core_db
from core import room_events
from local.gateway import GatewayServer
from local.invoke import invoke_function
from local.pump import SqsPump
from rooms import replies
from tests.client import call
from tests.integration.media_world import run
from tests.integration.realtime.realtime_helpers import (
    WAIT_S,
    ask,
    eventually,
    open_socket,
    realtime_server,
    receive,
    silent,
    sql,
)
from tests.integration.rooms.room_images_helpers import png, s3_body, uploaded
from tests.integration.rooms.rooms_helpers import Person, add_member, new_room, person
from tests.integration.rooms.rooms_helpers import send as post


class Fanout:
    """The fan-out function as the pump invokes it, counting invocations in flight."""

    def __init__(self) -> None:
        self.busy = 0
        self.lock = threading.Lock()

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        with self.lock:
            self.busy += 1
        try:
            return invoke_function(name, event)
        finally:
            with self.lock:
                self.busy -= 1


FANOUT = Fanout()


@pytest.fixture(scope="module")
def stack(database_url: str, s3_endpoint: str) -> Iterator[GatewayServer]:
    """The gateway with its WebSocket API, and the fan-out pumped from the room-events queue."""
    import os

    url = os.environ[room_events.QUEUE_URL_ENV]
    assert url.endswith(".fifo")
    room_events.sqs_client.cache_clear()
    room_events._paused_until = 0.0  # whatever failed to nudge before this module, nudging is on
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint)
    # Nudges other modules' rooms left while nobody pumped (their rows are long truncated).
    sqs.purge_queue(QueueUrl=url)
    pump = SqsPump("fanout", url, sqs, invoke=FANOUT, wait_s=1, batch_size=10)
    with realtime_server() as server:
        pump.start()
        try:
            yield server
        finally:
            pump.stop()
    room_events.sqs_client.cache_clear()


@pytest.fixture(autouse=True)
def settled(stack: GatewayServer, db: str) -> Iterator[None]:
    """After each test, the fan-out has delivered everything and is idle before the tables are emptied."""
    yield
    assert eventually(lambda: FANOUT.busy == 0 and sql("SELECT 1 FROM realtime_events LIMIT 1") == [])


@contextmanager
def subscribed(who: Person, room: str) -> Iterator[ClientConnection]:
    with open_socket(who) as ws:
        assert ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        yield ws


def events(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    return [receive(ws) for _ in range(n)]


def created(ws: ClientConnection) -> dict[str, Any]:
    event = receive(ws)
    assert event["type"] == "message.created", event
    return event


def drained(timeout_s: float = 10) -> None:
    """The fan-out deletes an event's row after pushing it, in its own transaction: a client can
    hold the event a moment before the row is gone."""
    deadline = time.monotonic() + timeout_s
    while sql("SELECT 1 FROM realtime_events") and time.monotonic() < deadline:
        time.sleep(0.05)


def test_members_see_each_others_messages_in_seq_order(stack: GatewayServer, db: str) -> None:
    ada, bob = person(), person()
    room = new_room(ada)
    add_member(room, bob, "member")
    with subscribed(ada, room) as a, subscribed(bob, room) as b:
        for who, text in ((ada, "hi bob"), (bob, "hi ada"), (ada, "third")):
            assert post(room, who, text).status == 201
        for ws in (a, b):
            got = events(ws, 3)
            assert [(e["type"], e["room_id"], e["seq"]) for e in got] == [
                ("message.created", room, 1),
                ("message.created", room, 2),
                ("message.created", room, 3),
            ]
            assert [e["data"]["content"] for e in got] == ["hi bob", "hi ada", "third"]
            assert got[1]["data"]["sender"]["username"] == bob.username
            assert (
                got[0]["data"]
                == call("GET", f"/api/v1/rooms/{room}/messages/{got[0]['data']['id']}", token=ada.token).body
            )
    drained()
    assert sql("SELECT 1 FROM realtime_events") == []  # delivered: the outbox is empty


def test_a_reader_receives_but_cannot_send(stack: GatewayServer, db: str) -> None:
    owner, reader = person(), person()
    room = new_room(owner)
    add_member(room, reader, "reader")
    with subscribed(reader, room) as ws:
        assert post(room, reader, "may I?").status == 403
        assert post(room, owner, "news").status == 201
        event = created(ws)
        assert (event["seq"], event["data"]["content"]) == (1, "news")
        assert silent(ws)


def test_a_private_ai_exchange_reaches_its_requester_alone(stack: GatewayServer, db: str) -> None:
    asker, teammate = person(), person()
    room = new_room(asker)
    add_member(room, teammate, "member")
    with subscribed(asker, room) as mine, subscribed(teammate, room) as theirs:
        body = post(room, asker, "just between us", invoke_ai=True, private=True).body
        question, answer = created(mine), created(mine)
        assert (question["seq"], question["data"]["id"]) == (1, body["message"]["id"])
        assert (answer["seq"], answer["data"]["id"], answer["data"]["kind"]) == (2, body["ai_message"]["id"], "ai")
        assert answer["data"]["visibility"] == "private" and answer["data"]["status"] == "pending"
        assert post(room, teammate, "in public").status == 201
        assert created(theirs)["seq"] == 3  # the private exchange never reached them
        assert created(mine)["seq"] == 3


def test_a_removed_member_stops_receiving_at_once(stack: GatewayServer, db: str) -> None:
    admin, leaving = person(), person()
    room = new_room(admin)
    add_member(room, leaving, "member")
    with subscribed(admin, room) as stays, subscribed(leaving, room) as goes:
        assert call("DELETE", f"/api/v1/rooms/{room}/members/{leaving.id}", token=admin.token).status == 204
        # Dropped by the removal's own transaction: gone before the answer, not after the fan-out.
        assert (
            sql(
                "SELECT 1 FROM realtime_subscriptions s JOIN realtime_connections c USING (connection_id) "
                "WHERE c.user_id = :u",
                u=leaving.id,
            )
            == []
        )
        assert post(room, admin, "after you left").status == 201
        left, message = events(stays, 2)
        assert left == {"type": "member.left", "room_id": room, "data": {"user": {"id": leaving.id}}}
        assert message["type"] == "message.created" and message["seq"] == 1
        assert silent(goes)
        assert ask(goes, {"action": "subscribe", "room_id": room})["error"]["code"] == "not_found"


def test_every_change_members_see_is_an_event(stack: GatewayServer, db: str) -> None:
    master, other = person(), person()
    room = new_room(master)
    with subscribed(master, room) as ws:
        invited = call("POST", f"/api/v1/rooms/{room}/invitations", {"username": other.username}, token=master.token)
        assert call("POST", f"/api/v1/invitations/{invited.body['token']}/accept", token=other.token).status == 200
        joined = receive(ws)
        assert (joined["type"], joined["data"]["user"]["id"], joined["data"]["role"]) == (
            "member.joined",
            other.id,
            invited.body["role"],
        )
        patch = call("PATCH", f"/api/v1/rooms/{room}/members/{other.id}", {"role": "admin"}, token=master.token)
        assert patch.status == 200
        changed = receive(ws)
        assert (changed["type"], changed["data"]["role"]) == ("member.role_changed", "admin")

        message = post(room, master, "first").body["message"]
        assert created(ws)["seq"] == 1
        path = f"/api/v1/rooms/{room}/messages/{message['id']}"
        assert call("PATCH", path, {"content": "first!"}, token=master.token).status == 200
        assert call("PATCH", path, {"exclude_from_ai": True}, token=master.token).status == 200
        edited, excluded = events(ws, 2)
        assert (edited["type"], edited["seq"], edited["data"]["content"]) == ("message.updated", 1, "first!")
        assert (excluded["type"], excluded["seq"], excluded["data"]["exclude_from_ai"]) == ("message.updated", 1, True)
        assert call("DELETE", path, token=master.token).status == 204
        assert receive(ws) == {"type": "message.deleted", "room_id": room, "seq": 1, "data": {"id": message["id"]}}

        assert call("PATCH", f"/api/v1/rooms/{room}", {"name": "renamed"}, token=master.token).status == 200
        updated = receive(ws)
        assert (updated["type"], updated["data"]["name"]) == ("room.updated", "renamed")
        assert "my_role" not in updated["data"]  # one body for every member

        assert call("DELETE", f"/api/v1/rooms/{room}", token=master.token).status == 204
        assert receive(ws) == {"type": "room.deleted", "room_id": room, "data": {"id": room}}
        assert eventually(lambda: sql("SELECT 1 FROM realtime_subscriptions WHERE room_id = :r", r=room) == [])


def test_a_rolled_back_change_sends_nothing(stack: GatewayServer, db: str) -> None:
    owner = person()
    room = new_room(owner)
    with subscribed(owner, room) as ws:
        with pytest.raises(RuntimeError), core_db.session_scope() as session:
            room_events.publish(session, uuid.UUID(room), "room.updated", {"name": "never"})
            raise RuntimeError("the change fails after its event was recorded")
        assert sql("SELECT 1 FROM realtime_events") == []
        assert sql("SELECT last_event FROM rooms WHERE id = :r", r=room) == [(0,)]
        assert silent(ws)
        assert post(room, owner, "committed").status == 201
        assert created(ws)["seq"] == 1


def _ghost(user: Person, room: str, connection_id: str, expires_in_s: int) -> None:
    sql(
        "INSERT INTO realtime_connections (connection_id, user_id, session_id, connected_at, expires_at) "
        "SELECT :c, id, (SELECT id FROM auth_sessions WHERE user_id = users.id), now(), "
        "now() + make_interval(secs => :s) FROM users WHERE id = :u",
        c=connection_id,
        u=user.id,
        s=expires_in_s,
    )
    sql("INSERT INTO realtime_subscriptions (connection_id, room_id) VALUES (:c, :r)", c=connection_id, r=room)


def test_gone_and_expired_connections_are_deleted(stack: GatewayServer, db: str) -> None:
    owner, ghost = person(), person()
    room = new_room(owner)
    add_member(room, ghost, "member")
    _ghost(ghost, room, "GoneGoneGone0B=", 3600)  # 410 from the Management API
    _ghost(ghost, room, "StaleStale000C=", -1)  # past its 2 hours: swept
    with subscribed(owner, room) as ws:
        assert post(room, owner, "anyone there?").status == 201
        assert created(ws)["seq"] == 1
        assert eventually(
            lambda: sql("SELECT connection_id FROM realtime_connections WHERE user_id = :u", u=ghost.id) == []
        )
        assert (
            sql(
                "SELECT 1 FROM realtime_subscriptions WHERE connection_id <> (SELECT connection_id "
                "FROM realtime_connections WHERE user_id = :u)",
                u=owner.id,
            )
            == []
        )


SENDERS, EACH, SUBSCRIBERS = 50, 1, 20  # issue 18.9: 50 concurrent senders, 20 subscribers


def test_concurrent_senders_reach_every_subscriber_in_seq_order(stack: GatewayServer, db: str) -> None:
    senders = [person() for _ in range(SENDERS)]
    room = new_room(senders[0])
    for who in senders[1:]:
        add_member(room, who, "member")
    watchers = [person() for _ in range(SUBSCRIBERS)]
    for who in watchers:
        add_member(room, who, "reader")
    # Without the role's 5 s statement_timeout: 50 senders queue on one room row, and on a loaded
    # 2-core machine the last can wait longer than that (the timeout has its own tests).
    engine = create_engine(
        db, pool_size=SENDERS, max_overflow=0, connect_args={"startup_params": {"statement_timeout": "0"}}
    )
    scope = partial(core_db.session_scope, engine=engine)  # its own pool; events nudged after each commit

    def send_all(who: Person) -> None:
        for i in range(EACH):
            replies.send(
                scope, uuid.UUID(room), uuid.UUID(who.id), f"{who.username} {i}", invoke_ai=False, private=False
            )

    try:
        with ExitStack() as stack_of_sockets:
            sockets = [stack_of_sockets.enter_context(subscribed(who, room)) for who in watchers]
            with ThreadPoolExecutor(SENDERS) as pool:
                list(pool.map(send_all, senders))
            total = SENDERS * EACH
            for ws in sockets:  # each receives exactly seqs 1..50, in order
                got = [receive(ws, timeout=WAIT_S * 4) for _ in range(total)]
                assert [e["seq"] for e in got] == list(range(1, total + 1))
                assert silent(ws, 0.3)
    finally:
        engine.dispose()


def test_the_sweep_nudges_a_room_whose_nudge_was_lost_and_drops_what_is_too_old(stack: GatewayServer, db: str) -> None:
    owner = person()
    room, forgotten = new_room(owner), new_room(owner)
    with subscribed(owner, room) as ws:
        # Committed events whose nudge never reached the queue (the events wait in the outbox).
        sql(
            "INSERT INTO realtime_events (room_id, position, type, data, created_at) VALUES "
            "(:r, 1, 'room.updated', '{\"name\":\"late\"}', now() - interval '2 minutes'), "
            "(:f, 1, 'room.updated', '{}', now() - interval '2 days')",
            r=room,
            f=forgotten,
        )
        assert room_events.sweep() == (0, [uuid.UUID(room)])
        assert receive(ws) == {"type": "room.updated", "room_id": room, "data": {"name": "late"}}
    drained()
    assert sql("SELECT room_id FROM realtime_events") == []


def test_ephemeral_deltas_go_straight_to_the_requester(stack: GatewayServer, db: str) -> None:
    """What the AI worker will stream: push_now, no outbox, no queue, the same audience rules."""
    asker, teammate = person(), person()
    room = new_room(asker)
    add_member(room, teammate, "member")
    with subscribed(asker, room) as mine, subscribed(teammate, room) as theirs:
        data = {"message_id": str(uuid.uuid4()), "text": "Hel"}
        assert room_events.push_now(uuid.UUID(room), "message.delta", data, seq=2, only=uuid.UUID(asker.id)) == 1
        assert receive(mine) == {"type": "message.delta", "room_id": room, "seq": 2, "data": data}
        assert silent(theirs)
        assert sql("SELECT 1 FROM realtime_events") == []


def test_a_reconnect_and_an_after_seq_backfill_lose_nothing(stack: GatewayServer, db: str) -> None:
    """A client that drops, misses messages and reconnects: what it saw live, then `?after_seq=` its
    last seq on the new socket, then the live events again, make every seq exactly once."""
    owner, reader = person(), person()
    room = new_room(owner)
    add_member(room, reader, "reader")
    seen: dict[int, str] = {}
    with subscribed(reader, room) as ws:
        for i in range(3):
            assert post(room, owner, f"before {i}").status == 201
        for event in events(ws, 3):
            seen[event["seq"]] = event["data"]["content"]
    for i in range(4):  # while the client is away
        assert post(room, owner, f"away {i}").status == 201
    with subscribed(reader, room) as ws:
        assert post(room, owner, "right after the reconnect").status == 201  # live and in the backfill
        backfill = call("GET", f"/api/v1/rooms/{room}/messages?after_seq={max(seen)}", token=reader.token)
        assert backfill.status == 200 and backfill.body["next_cursor"] is None
        for message in backfill.body["items"]:
            seen.setdefault(message["seq"], message["content"])
        assert post(room, owner, "live again").status == 201
        # The fan-out is asynchronous: events of the "away" messages may still reach the new socket
        # after it subscribed (the backfill has them too). In seq order, up to the last one.
        live = [created(ws)]
        while live[-1]["seq"] < 9:
            live.append(created(ws))
        seqs = [e["seq"] for e in live]
        assert seqs == sorted(set(seqs)) and seqs[-2:] == [8, 9], seqs
        for event in live:
            assert seen.setdefault(event["seq"], event["data"]["content"]) == event["data"]["content"]
    assert sorted(seen) == list(range(1, 10))
    assert [seen[s] for s in range(4, 8)] == [f"away {i}" for i in range(4)]
    assert seen[9] == "live again"


@pytest.mark.usefixtures("media_env")
def test_an_image_sent_while_processing_announces_when_it_is_ready(stack: GatewayServer, db: str) -> None:
    """A message sent with an image the pipeline has not finished shows it `pending`; when the media
    function ends it, the room gets `message.updated` with the image `ready` (no polling needed)."""
    master, other = person(), person()
    room = new_room(master)
    add_member(room, other, "member")
    image_id, key = uploaded(room, master, png((800, 600)), process=False)
    with subscribed(other, room) as ws:
        sent = post(room, master, "look", image_ids=[image_id]).body["message"]
        first = created(ws)
        assert [i["status"] for i in first["data"]["images"]] == ["pending"]
        assert run(s3_body(key)) == []  # the media function ends the image ready
        updated = receive(ws)
        assert (updated["type"], updated["seq"], updated["data"]["id"]) == ("message.updated", 1, sent["id"])
        (image,) = updated["data"]["images"]
        assert (image["id"], image["status"]) == (image_id, "ready")
        assert "url" not in json.dumps(image)  # events carry no URLs: a client fetches the message for them


@pytest.mark.usefixtures("media_env")
def test_an_image_ending_after_its_message_was_deleted_announces_nothing(stack: GatewayServer, db: str) -> None:
    """No `message.updated` after `message.deleted`: a client applying events in order would show
    the deleted message again."""
    master, other = person(), person()
    room = new_room(master)
    add_member(room, other, "member")
    image_id, key = uploaded(room, master, png((640, 480)), process=False)
    with subscribed(other, room) as ws:
        sent = post(room, master, "soon gone", image_ids=[image_id]).body["message"]
        assert created(ws)["data"]["id"] == sent["id"]
        assert call("DELETE", f"/api/v1/rooms/{room}/messages/{sent['id']}", token=master.token).status == 204
        assert receive(ws)["type"] == "message.deleted"
        assert run(s3_body(key)) == []  # the image ends ready: its message is gone
        assert silent(ws)
