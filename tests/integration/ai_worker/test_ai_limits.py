"""Abuse of AI replies: one member cannot flood the shared ai_replies queue (a per-user budget per
minute, across rooms, regenerate included), and a stranger learns nothing from the AI switch (404
for a room they are not in, before the flag's 503)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import flags
from core.config import reset_settings
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered
from tests.integration.rooms.rooms_helpers import add_member, person, send, sent, team


@pytest.fixture
def two_per_minute(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ROOMS_AI_REPLIES_PER_MINUTE", "2")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_a_member_gets_429_past_their_ai_budget_in_every_room(db: str, worker: SqsPump, two_per_minute: None) -> None:
    first, second = team(), team()
    member = first["member"]
    add_member(second.room, member, "member")  # the budget is the person's, not the room's

    asked = sent(first.room, member, "one?", invoke_ai=True)
    answered(first.room, member, asked["ai_message"]["id"])
    sent(second.room, member, "two?", invoke_ai=True)
    refused = send(first.room, member, "three?", invoke_ai=True)
    assert refused.status == 429, refused.body
    assert refused.body["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"][0]) <= 60
    regenerate = f"/api/v1/rooms/{first.room}/messages/{asked['message']['id']}/regenerate"
    assert call("POST", regenerate, None, token=member.token).status == 429
    # Nothing was stored for the refused attempt; plain messages and other members are not limited.
    assert sent(first.room, member, "just talking")["ai_message"] is None
    assert sent(first.room, first["admin"], "my turn?", invoke_ai=True)["ai_message"]["status"] == "pending"


@pytest.fixture
def ai_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    path = tmp_path / "feature_flags.json"
    path.write_text(json.dumps({**flags.BASELINE, "ai_replies": {"default": False}}), encoding="utf-8")
    monkeypatch.setenv("FEATURE_FLAGS_FILE", str(path))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_with_ai_off_a_stranger_still_gets_404_and_a_member_503(db: str, ai_off: None) -> None:
    room = team()
    stranger = person()
    answer = send(room.room, stranger, "hello?", invoke_ai=True)
    assert answer.status == 404, answer.body
    message = sent(room.room, room["member"], "plain")["message"]
    regenerate = f"/api/v1/rooms/{room.room}/messages/{message['id']}/regenerate"
    assert call("POST", regenerate, None, token=stranger.token).status == 404
    off = send(room.room, room["member"], "hello?", invoke_ai=True)
    assert off.status == 503 and off.body["error"]["code"] == "feature_disabled", off.body
