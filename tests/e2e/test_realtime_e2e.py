"""`make dev`'s WebSocket API end to end: two users over real HTTP, tickets, real WebSocket clients on
the gateway's own port, typing between them, and the stack stopping with connections open."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e
WAIT_S = 10.0


def _register(stack: LocalStack) -> dict[str, Any]:
    name = f"rt{uuid.uuid4().hex[:10]}"
    body = {"email": f"{name}@example.com", "username": name, "password": "correct horse battery"}
    answer = requests.post(f"{stack.api}/api/v1/auth/register", json=body, timeout=WAIT_S)
    assert answer.status_code == 201, answer.text
    return {"token": answer.json()["access_token"], "id": answer.json()["user"]["id"], "username": name}


def _post(stack: LocalStack, path: str, token: str, body: Any = None) -> requests.Response:
    return requests.post(
        f"{stack.api}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT_S
    )


def _ask(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(frame))
    return dict(json.loads(ws.recv(timeout=WAIT_S)))


def test_two_users_over_the_local_websocket(local_stack: LocalStack) -> None:
    ada, bob = _register(local_stack), _register(local_stack)
    room = _post(local_stack, "/rooms", ada["token"], {"name": "realtime"}).json()["id"]
    invitation = _post(local_stack, f"/rooms/{room}/invitations", ada["token"], {"username": bob["username"]})
    assert _post(local_stack, f"/invitations/{invitation.json()['token']}/accept", bob["token"]).status_code == 200

    tickets = [_post(local_stack, "/realtime/tickets", who["token"]).json() for who in (ada, bob)]
    assert tickets[0]["url"] == f"ws://127.0.0.1:{local_stack.api_port}/ws" and tickets[0]["expires_in"] == 60
    urls = [f"{t['url']}?ticket={t['ticket']}" for t in tickets]
    with connect(urls[0], open_timeout=WAIT_S) as ada_ws, connect(urls[1], open_timeout=WAIT_S) as bob_ws:
        with pytest.raises(InvalidStatus) as reused:
            connect(urls[0], open_timeout=WAIT_S)
        assert reused.value.response.status_code == 401

        assert _ask(ada_ws, {"action": "ping"}) == {"type": "pong"}
        for ws in (ada_ws, bob_ws):
            assert _ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        assert _ask(bob_ws, {"action": "dance"})["error"]["code"] == "validation_error"

        ada_ws.send(json.dumps({"action": "typing", "room_id": room}))
        typing = json.loads(bob_ws.recv(timeout=WAIT_S))  # through boto3 and the emulated Management API
        assert typing == {
            "type": "typing",
            "room_id": room,
            "data": {"user": {"id": ada["id"], "username": ada["username"]}},
        }
    deadline = time.monotonic() + WAIT_S  # $disconnect runs after the close, in the stack's own time
    while local_stack.log().count("[websocket] disconnected") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local_stack.log().count("[websocket] disconnected") == 2


def test_a_message_reaches_both_members_through_the_fifo_queue_and_the_fanout(local_stack: LocalStack) -> None:
    """`make dev` pumps the room-events FIFO queue into the fan-out, which pushes via the Management API."""
    ada, bob = _register(local_stack), _register(local_stack)
    room = _post(local_stack, "/rooms", ada["token"], {"name": "events"}).json()["id"]
    invitation = _post(local_stack, f"/rooms/{room}/invitations", ada["token"], {"username": bob["username"]})
    assert _post(local_stack, f"/invitations/{invitation.json()['token']}/accept", bob["token"]).status_code == 200
    tickets = [_post(local_stack, "/realtime/tickets", who["token"]).json() for who in (ada, bob)]
    urls = [f"{t['url']}?ticket={t['ticket']}" for t in tickets]
    with connect(urls[0], open_timeout=WAIT_S) as ada_ws, connect(urls[1], open_timeout=WAIT_S) as bob_ws:
        for ws in (ada_ws, bob_ws):
            assert _ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        for who, text in ((bob, "hello ada"), (ada, "hello bob")):
            assert _post(local_stack, f"/rooms/{room}/messages", who["token"], {"content": text}).status_code == 201
        for ws in (ada_ws, bob_ws):
            got = [json.loads(ws.recv(timeout=WAIT_S)) for _ in range(2)]
            assert [(e["type"], e["seq"], e["data"]["content"]) for e in got] == [
                ("message.created", 1, "hello ada"),
                ("message.created", 2, "hello bob"),
            ]


def test_a_streamed_ai_reply_arrives_as_deltas_then_completed(local_stack: LocalStack) -> None:
    """`make dev` pumps the ai_replies queue into the ai_worker, which invokes ai_steps over Lambda's
    Invoke API for its database steps: the echo reply streams word by word."""
    ada = _register(local_stack)
    room = _post(local_stack, "/rooms", ada["token"], {"name": "ai"}).json()["id"]
    ticket = _post(local_stack, "/realtime/tickets", ada["token"]).json()
    question = "streamed word by word through the worker"
    with connect(f"{ticket['url']}?ticket={ticket['ticket']}", open_timeout=WAIT_S) as ws:
        assert _ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        posted = _post(local_stack, f"/rooms/{room}/messages", ada["token"], {"content": question, "invoke_ai": True})
        assert posted.status_code == 201 and posted.json()["ai_message"]["status"] == "pending"
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "message.completed":
            frames.append(json.loads(ws.recv(timeout=WAIT_S * 3)))
    kinds = [(f["type"], f["data"].get("kind")) for f in frames if f["type"] == "message.created"]
    assert kinds == [("message.created", "human"), ("message.created", "ai")]
    deltas = [f["data"] for f in frames if f["type"] == "message.delta"]
    assert deltas and "".join(d["text"] for d in deltas) == question
    assert (frames[-1]["data"]["status"], frames[-1]["data"]["content"]) == ("completed", question)
    # over the split: the worker had its database steps done by invoking ai_steps' live alias through
    # the local Lambda Invoke API (start, one per delta, finish), as in the cloud
    # (the finish step's access line is written once it returned, which can be after the fan-out
    # already pushed the message.completed that its commit nudged)
    line = "POST /2015-03-31/functions/ai_steps:live/invocations 200"
    deadline = time.monotonic() + WAIT_S
    while local_stack.log().count(line) < len(deltas) + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert local_stack.log().count(line) >= len(deltas) + 2, local_stack.log()[-3000:]
