"""Streamed AI replies over real WebSockets through the local stack: the gateway's WebSocket API, the
fan-out pumped from the room-events FIFO queue, the ai_worker pumped from the ai_replies queue.
Deltas concatenate to the stored text; a failure ends `failed` with its message.completed; a private
exchange streams to its requester alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from websockets.sync.client import ClientConnection

from core import room_events
from core.config import reset_settings
from local.gateway import GatewayServer
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import message
from tests.integration.realtime.realtime_helpers import (
    ask,
    eventually,
    open_socket,
    realtime_server,
    receive,
    silent,
    sql,
)
from tests.integration.rooms.rooms_helpers import Behaviour, OpenAIServer, Person, add_member, new_room, person
from tests.integration.rooms.rooms_helpers import send as post

WORDS = " ".join(f"word{i}" for i in range(40)) + "  and the end."


@pytest.fixture(scope="module")
def stack(database_url: str, s3_endpoint: str, worker: SqsPump) -> Iterator[GatewayServer]:
    url = os.environ[room_events.QUEUE_URL_ENV]
    room_events.sqs_client.cache_clear()
    room_events._paused_until = 0.0
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint)
    fanout = SqsPump("fanout", url, sqs, wait_s=1, batch_size=10)
    with realtime_server() as server:
        fanout.start()
        # Nudges earlier modules left (no fan-out ran there) name rooms that are gone: let the fan-out
        # work through them first, so this module's events are not queued behind them.
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        assert eventually(
            lambda: (
                not any(
                    int(v) for v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"].values()
                )
            ),
            180,  # ~540 nudges after the whole rooms folder drain at ~12 a second on a busy 2-core machine
        )
        try:
            yield server
        finally:
            fanout.stop()


@pytest.fixture(autouse=True)
def settled(stack: GatewayServer, db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ROOMS_AI_ECHO_DELAY_S", "0.01")
    reset_settings()
    yield
    assert eventually(lambda: sql("SELECT 1 FROM messages WHERE status = 'pending' LIMIT 1") == [], 15)
    assert eventually(lambda: sql("SELECT 1 FROM realtime_events LIMIT 1") == [])
    monkeypatch.undo()
    reset_settings()


@contextmanager
def subscribed(who: Person, room: str) -> Iterator[ClientConnection]:
    with open_socket(who) as ws:
        assert ask(ws, {"action": "subscribe", "room_id": room})["type"] == "subscribed"
        yield ws


def until_completed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every frame up to and including the reply's message.completed (a master's `balance.changed`
    may come before or after it)."""
    frames = []
    while not frames or frames[-1]["type"] != "message.completed":
        frames.append(receive(ws, timeout=15))
    return frames


def test_streamed_deltas_concatenate_to_the_stored_text(stack: GatewayServer, db: str) -> None:
    ada, bob = person(), person()
    room = new_room(ada)
    add_member(room, bob, "member")
    with subscribed(ada, room) as watching:
        body = post(room, bob, WORDS, invoke_ai=True).body
        reply = body["ai_message"]
        frames = until_completed(watching)
    created = [f for f in frames if f["type"] == "message.created"]
    assert [(f["seq"], f["data"]["kind"], f["data"]["status"]) for f in created] == [
        (1, "human", "completed"),
        (2, "ai", "pending"),
    ]
    deltas = [f for f in frames if f["type"] == "message.delta"]
    assert len(deltas) >= 2  # streamed, not one block
    assert {(d["seq"], d["data"]["message_id"]) for d in deltas} == {(2, reply["id"])}
    assert [d["data"]["index"] for d in deltas] == list(range(len(deltas)))
    text = "".join(d["data"]["text"] for d in deltas)
    assert [d["data"]["offset"] for d in deltas] == [
        len("".join(x["data"]["text"] for x in deltas[:i])) for i in range(len(deltas))
    ]
    completed = frames[-1]
    assert (completed["seq"], completed["data"]["id"], completed["data"]["status"]) == (2, reply["id"], "completed")
    stored = message(room, ada, reply["id"])
    assert text == completed["data"]["content"] == stored["content"] == WORDS
    assert frames.index(created[1]) < frames.index(deltas[0])  # the pending reply is announced first


def test_a_provider_failure_ends_failed_with_a_completed_event(
    stack: GatewayServer, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer() as server:
        server.behaviour = Behaviour(status=500)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        reset_settings()
        ada = person()
        room = new_room(ada)
        call("PATCH", f"/api/v1/rooms/{room}", {"ai_provider": "openai"}, token=ada.token)
        with subscribed(ada, room) as ws:
            reply = post(room, ada, "fail please", invoke_ai=True).body["ai_message"]
            frames = until_completed(ws)
    assert [f["type"] for f in frames if f["type"] != "room.updated"] == [
        "message.created",
        "message.created",
        "message.completed",
    ]
    assert (frames[-1]["data"]["id"], frames[-1]["data"]["status"], frames[-1]["data"]["content"]) == (
        reply["id"],
        "failed",
        "",
    )
    assert message(room, ada, reply["id"])["status"] == "failed"


def test_a_private_reply_streams_to_its_requester_alone(stack: GatewayServer, db: str) -> None:
    asker, teammate = person(), person()
    room = new_room(asker)
    add_member(room, teammate, "member")
    with subscribed(asker, room) as mine, subscribed(teammate, room) as theirs:
        post(room, asker, "between us two", invoke_ai=True, private=True)
        frames = until_completed(mine)
        assert "".join(f["data"]["text"] for f in frames if f["type"] == "message.delta") == "between us two"
        assert silent(theirs)
        assert post(room, teammate, "in public").status == 201
        assert receive(theirs)["seq"] == 3
        # The asker is the room's master: the reply's charge may send them `balance.changed` first.
        frame = receive(mine)
        while frame["type"] == "balance.changed":
            frame = receive(mine)
        assert frame["seq"] == 3
