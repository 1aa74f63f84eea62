"""The AI kill switch stops queued work too: a reply asked for while AI replies were on, whose job
is still in the queue when an operator switches them off, is never generated. It ends `failed`,
the provider is not called and the room's master is not charged. (Its own module: the queue is
pumped only after the switch, not by this folder's module-wide worker.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import flags
from core.config import reset_settings
from tests.integration.ai_worker.ai_helpers import ai_worker_pump, answered
from tests.integration.ai_worker.test_ai_balances import charges, tokens_of
from tests.integration.rooms.rooms_helpers import sent, team


@pytest.fixture
def flags_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "feature_flags.json"
    path.write_text(json.dumps(flags.BASELINE), encoding="utf-8")  # AI replies on
    monkeypatch.setenv("FEATURE_FLAGS_FILE", str(path))
    reset_settings()
    yield path
    monkeypatch.undo()
    reset_settings()


def _switch_off(path: Path) -> None:
    path.write_text(json.dumps({**flags.BASELINE, flags.AI_REPLIES: {"default": False}}) + "\n", encoding="utf-8")


def test_a_reply_queued_before_the_switch_off_is_never_generated(db: str, s3_endpoint: str, flags_file: Path) -> None:
    room = team()
    before = tokens_of(room["master"])
    asked = sent(room.room, room["member"], "are you there?", invoke_ai=True)
    assert asked["ai_message"]["status"] == "pending"  # queued while AI replies were on
    _switch_off(flags_file)
    with ai_worker_pump(s3_endpoint):
        reply = answered(room.room, room["member"], asked["ai_message"]["id"])
    assert reply["status"] == "failed" and reply["content"] == ""  # the echo provider would have answered
    assert tokens_of(room["master"]) == before and charges(room["master"]) == []


def test_with_the_switch_on_the_same_job_is_answered(db: str, s3_endpoint: str, flags_file: Path) -> None:
    """The control: the flags file alone does not fail a reply."""
    room = team()
    asked = sent(room.room, room["member"], "are you there?", invoke_ai=True)
    with ai_worker_pump(s3_endpoint):
        reply = answered(room.room, room["member"], asked["ai_message"]["id"])
    assert reply["status"] == "completed" and reply["content"], reply
