"""core.push, the one module that posts frames to connections: without a network or a database."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core import push


class Client:
    def __init__(self, gone: Sequence[str] = (), failing: Sequence[str] = ()) -> None:
        self.gone, self.failing = set(gone), set(failing)
        self.posts: dict[str, Any] = {}
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> None:
        with self.lock:
            self.threads.add(threading.get_ident())
        if ConnectionId in self.gone:
            gone: Any = {"Error": {"Code": "GoneException"}, "ResponseMetadata": {"HTTPStatusCode": 410}}
            raise ClientError(gone, "PostToConnection")
        if ConnectionId in self.failing:
            raise TimeoutError("no route to execute-api")
        with self.lock:
            self.posts[ConnectionId] = json.loads(Data)


def test_push_sends_each_and_forgets_the_gone() -> None:
    client = Client(gone=["b"], failing=["c"])
    forgotten: list[Sequence[str]] = []
    delivery = push.push(
        {"type": "typing", "room_id": "r"}, ["a", "b", "c", "d"], client=client, forget_gone=forgotten.append
    )
    assert sorted(delivery.sent) == ["a", "d"] and delivery.gone == ["b"] and delivery.failed == ["c"]
    assert forgotten == [["b"]]
    assert client.posts == {"a": {"type": "typing", "room_id": "r"}, "d": {"type": "typing", "room_id": "r"}}


def test_nothing_gone_nothing_forgotten_and_no_recipients_no_calls() -> None:
    forgotten: list[Sequence[str]] = []
    assert push.push({"type": "x"}, [], client=Client(), forget_gone=forgotten.append).sent == []
    assert push.push({"type": "x"}, ["a"], client=Client(), forget_gone=forgotten.append).sent == ["a"]
    assert forgotten == []


def test_many_recipients_are_posted_concurrently_within_the_bound() -> None:
    client = Client()
    ids = [f"c{i}" for i in range(40)]
    assert sorted(push.post({"type": "x"}, ids, client=client).sent) == sorted(ids)
    assert 1 <= len(client.threads) <= push.MAX_PARALLEL_POSTS


def test_frames_are_compact_json_and_never_over_api_gateways_limit() -> None:
    assert push.encode({"type": "typing", "data": {"user": "é"}}) == '{"type":"typing","data":{"user":"é"}}'
    with pytest.raises(ValueError, match="over API Gateway"):
        push.post({"type": "x", "data": "a" * push.MAX_FRAME_BYTES}, ["a"], client=Client())
