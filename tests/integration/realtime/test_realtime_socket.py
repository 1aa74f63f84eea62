"""Realtime through the local stack's gateway on a real port, with a real WebSocket client: tickets at
the handshake, subscribing, ping, bad frames, typing, disconnect, and the Management API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from local.gateway import GatewayServer
from local.websocket import WS_PATH
from tests.integration.realtime.realtime_helpers import (
    WAIT_S,
    ask,
    eventually,
    open_socket,
    realtime_server,
    receive,
    send,
    silent,
    sql,
    ticket,
)
from tests.integration.rooms.rooms_helpers import add_member, new_room, person


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[GatewayServer]:
    with realtime_server() as srv:
        yield srv


def _refused_with(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=WAIT_S)
    return refused.value.response.status_code


def test_a_ticket_opens_one_connection_once(server: GatewayServer, db: str) -> None:
    ada = person()
    issued = ticket(ada)
    assert issued["url"] == f"ws://127.0.0.1:{server.server_address[1]}{WS_PATH}"
    assert issued["expires_in"] == 60 and len(issued["ticket"]) >= 43
    # Stored as its digest only: the table never holds the ticket itself.
    assert sql("SELECT 1 FROM realtime_tickets WHERE digest = :t", t=issued["ticket"]) == []

    url = f"{issued['url']}?ticket={issued['ticket']}"
    with connect(url, open_timeout=WAIT_S) as ws:
        assert ask(ws, {"action": "ping"}) == {"type": "pong"}
        ((user_id, lifetime),) = sql(
            "SELECT user_id, expires_at - connected_at FROM realtime_connections WHERE user_id = :u", u=ada.id
        )
        assert str(user_id) == ada.id and lifetime.total_seconds() == 2 * 3600
        assert _refused_with(url) == 401  # spent, even while its connection is open
    assert _refused_with(url) == 401


def test_unknown_expired_and_revoked_tickets_are_refused_at_the_handshake(server: GatewayServer, db: str) -> None:
    ada = person()
    base = ticket(ada)["url"]
    assert _refused_with(base) == 401
    assert _refused_with(f"{base}?ticket=") == 401
    assert _refused_with(f"{base}?ticket=not-a-ticket") == 401

    expired = ticket(ada)
    sql("UPDATE realtime_tickets SET expires_at = now() - interval '1 second'")
    assert _refused_with(f"{base}?ticket={expired['ticket']}") == 401

    revoked = ticket(ada)
    sql("UPDATE auth_sessions SET revoked_at = now() WHERE user_id = :u", u=ada.id)
    assert _refused_with(f"{base}?ticket={revoked['ticket']}") == 401
    assert sql("SELECT 1 FROM realtime_connections") == []


def test_a_reader_subscribes_and_a_stranger_learns_nothing(server: GatewayServer, db: str) -> None:
    owner, reader, stranger = person(), person(), person()
    room = new_room(owner)
    add_member(room, reader, "reader")
    with open_socket(reader) as ws:
        answer = ask(ws, {"action": "subscribe", "room_id": room})
        assert answer == {"type": "subscribed", "room_id": room, "data": {"role": "reader"}}
        assert ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"  # idempotent
        assert len(sql("SELECT 1 FROM realtime_subscriptions WHERE room_id = :r", r=room)) == 1
        assert ask(ws, {"action": "unsubscribe", "room_id": room}) == {
            "type": "unsubscribed",
            "room_id": room,
            "data": {},
        }
        assert sql("SELECT 1 FROM realtime_subscriptions") == []

    deleted = new_room(owner)
    sql("UPDATE rooms SET deleted_at = now() WHERE id = :r", r=deleted)
    unknown = "00000000-0000-4000-8000-000000000000"
    with open_socket(stranger) as ws:
        answers = [ask(ws, {"action": "subscribe", "room_id": r}) for r in (room, deleted, unknown)]
    for answer, asked in zip(answers, (room, deleted, unknown), strict=True):
        assert answer["type"] == "error" and answer["room_id"] == asked
        assert answer["error"]["code"] == "not_found"
    assert len({a["error"]["message"] for a in answers}) == 1  # a foreign room reads like no room at all
    assert sql("SELECT 1 FROM realtime_subscriptions") == []


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_request"),
        ("", "bad_request"),
        ("[" * 40 + "]" * 40, "bad_request"),
        ("[]", "validation_error"),
        ('"ping"', "validation_error"),
        (json.dumps({"action": "dance"}), "validation_error"),
        (json.dumps({"no": "action"}), "validation_error"),
        (json.dumps({"action": "subscribe"}), "validation_error"),
        (json.dumps({"action": "typing", "room_id": "not-a-uuid"}), "validation_error"),
        (json.dumps({"action": "subscribe", "room_id": 7}), "validation_error"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_connection_stays(
    server: GatewayServer, db: str, frame: str, code: str
) -> None:
    with open_socket(person()) as ws:
        answer = ask(ws, frame)
        assert answer["type"] == "error" and answer["error"]["code"] == code, answer
        assert set(answer["error"]) == {"code", "message"}
        assert ask(ws, {"action": "ping"}) == {"type": "pong"}


def test_a_binary_frame_is_refused_in_an_error_frame(server: GatewayServer, db: str) -> None:
    with open_socket(person()) as ws:
        ws.send(b'{"action": "ping"}')
        assert receive(ws)["error"]["code"] == "bad_request"
        assert ask(ws, {"action": "ping"}) == {"type": "pong"}


def test_typing_reaches_the_other_subscribers_once_per_3_seconds(server: GatewayServer, db: str) -> None:
    typist, teammate, reader, bystander = person(), person(), person(), person()
    room = new_room(typist)
    add_member(room, teammate, "member")
    add_member(room, reader, "reader")
    add_member(room, bystander, "member")
    with (
        open_socket(typist) as mine,
        open_socket(typist) as my_other_tab,
        open_socket(teammate) as theirs,
        open_socket(reader) as readers,
        open_socket(bystander) as unsubscribed,
    ):
        for ws in (mine, my_other_tab, theirs, readers):
            assert ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        send(mine, {"action": "typing", "room_id": room})
        expected = {"type": "typing", "room_id": room, "data": {"user": {"id": typist.id, "username": typist.username}}}
        assert receive(theirs) == expected
        assert receive(readers) == expected  # readers see who types, they just cannot type
        assert silent(mine) and silent(my_other_tab) and silent(unsubscribed)

        send(mine, {"action": "typing", "room_id": room})  # under 3 s later: throttled, and no answer either
        send(my_other_tab, {"action": "typing", "room_id": room})  # per user, whatever the connection
        assert silent(theirs) and silent(mine) and silent(my_other_tab)

        sql("UPDATE realtime_typing SET typed_at = typed_at - interval '3 seconds'")
        send(my_other_tab, {"action": "typing", "room_id": room})
        assert receive(theirs) == expected
        assert receive(readers) == expected

        refused = ask(readers, {"action": "typing", "room_id": room})
        assert refused["type"] == "error" and refused["error"]["code"] == "forbidden"
        assert silent(theirs)
    assert sql("SELECT count(*) FROM realtime_typing") == [(1,)]  # the throttle's clock; no event is stored


def test_closing_removes_the_connection_and_its_subscriptions(server: GatewayServer, db: str) -> None:
    ada = person()
    room = new_room(ada)
    with open_socket(ada) as ws:
        assert ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        assert len(sql("SELECT 1 FROM realtime_connections")) == 1
    assert eventually(lambda: sql("SELECT 1 FROM realtime_connections") == [])
    assert sql("SELECT 1 FROM realtime_subscriptions") == []


def test_a_push_to_a_gone_connection_deletes_it(server: GatewayServer, db: str) -> None:
    typist, teammate, ghost = person(), person(), person()
    room = new_room(typist)
    add_member(room, teammate, "member")
    add_member(room, ghost, "member")
    # A connection whose $disconnect never reached us: API Gateway answers 410 for it.
    sql(
        "INSERT INTO realtime_connections (connection_id, user_id, session_id, connected_at, expires_at) "
        "SELECT 'GoneGoneGone0A=', id, (SELECT id FROM auth_sessions WHERE user_id = users.id), now(), "
        "now() + interval '2 hours' FROM users WHERE id = :u",
        u=ghost.id,
    )
    sql("INSERT INTO realtime_subscriptions (connection_id, room_id) VALUES ('GoneGoneGone0A=', :r)", r=room)
    with open_socket(typist) as mine, open_socket(teammate) as theirs:
        assert ask(theirs, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        send(mine, {"action": "typing", "room_id": room})
        assert receive(theirs)["type"] == "typing"  # the live one still gets it
        assert eventually(
            lambda: sql("SELECT 1 FROM realtime_connections WHERE connection_id = 'GoneGoneGone0A='") == []
        )
        assert sql("SELECT 1 FROM realtime_subscriptions WHERE connection_id = 'GoneGoneGone0A='") == []
        assert len(sql("SELECT 1 FROM realtime_connections")) == 2


def test_the_management_api_answers_boto3_unchanged(server: GatewayServer, db: str) -> None:
    from core.push import PushSettings

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=PushSettings.current().realtime_management_url,
        config=Config(retries={"total_max_attempts": 1}),
    )
    ada = person()
    with open_socket(ada) as ws:
        ((connection_id,),) = sql("SELECT connection_id FROM realtime_connections")
        assert connection_id.endswith("=")  # shaped like API Gateway's: the path must be %-encoded
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"hello"}')
        assert receive(ws) == {"type": "hello"}
        described = client.get_connection(ConnectionId=connection_id)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        assert described["ConnectedAt"] <= described["LastActiveAt"]
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)
    assert eventually(lambda: sql("SELECT 1 FROM realtime_connections") == [])  # $disconnect ran
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="NeverWasThere0A=")
