"""core.room_events without a database: what publish refuses, what a nudge sends, and how the fan-out
reports a batch of the FIFO queue (a failed room and everything after it comes back)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from core import room_events

ROOM_A, ROOM_B = uuid.uuid4(), uuid.uuid4()


class Sqs:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send_message(self, **kwargs: Any) -> None:
        if self.fail:
            raise ConnectionError("no route")
        self.sent.append(kwargs)


def test_publish_refuses_unknown_types_and_message_events_without_seq() -> None:
    with pytest.raises(ValueError, match="unknown"):
        room_events.publish(None, ROOM_A, "message.exploded", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seq"):
        room_events.publish(None, ROOM_A, "message.created", {})  # type: ignore[arg-type]
    assert {"message.delta", "message.completed"} <= room_events.TYPES  # the AI worker's, later


def test_a_nudge_per_room_grouped_by_room_and_never_deduplicated_by_content(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(room_events.QUEUE_URL_ENV, "http://sqs/q.fifo")
    sqs = Sqs()
    room_events.nudge([ROOM_A, ROOM_A, ROOM_B], client=sqs)
    assert [m["MessageGroupId"] for m in sqs.sent] == [str(ROOM_A), str(ROOM_A), str(ROOM_B)]
    assert len({m["MessageDeduplicationId"] for m in sqs.sent}) == 3
    assert json.loads(sqs.sent[2]["MessageBody"]) == {"room_id": str(ROOM_B)}


def test_a_failed_nudge_is_logged_not_raised_and_pauses_nudging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(room_events.QUEUE_URL_ENV, "http://sqs/q.fifo")
    monkeypatch.setattr(room_events, "_paused_until", 0.0)  # and back to it after the test
    failing = Sqs(fail=True)
    room_events.nudge([ROOM_A], client=failing)  # the events wait in the outbox for the sweep
    later = Sqs()
    room_events.nudge([ROOM_B], client=later)  # an unreachable queue costs one timeout a minute, not one a request
    assert later.sent == []
    room_events._paused_until = 0.0  # a minute later
    room_events.nudge([ROOM_B], client=later)
    assert len(later.sent) == 1


def test_no_queue_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(room_events.QUEUE_URL_ENV, raising=False)
    sqs = Sqs()
    room_events.nudge([ROOM_A], client=sqs)
    assert sqs.sent == []


def _record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "body": body}


def test_the_fanout_delivers_each_room_once_and_returns_a_failure_and_what_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fanout import handler

    delivered: list[uuid.UUID] = []

    def deliver(room: uuid.UUID) -> int:
        if room == ROOM_B:
            raise RuntimeError("database away")
        delivered.append(room)
        return 1

    def sweep() -> None:
        raise RuntimeError("sweep failures never fail the batch")

    monkeypatch.setattr(room_events, "deliver", deliver)
    monkeypatch.setattr(room_events, "sweep", sweep)
    a, b = json.dumps({"room_id": str(ROOM_A)}), json.dumps({"room_id": str(ROOM_B)})
    records = [_record("1", a), _record("2", "not json"), _record("3", a), _record("4", b), _record("5", a)]
    answer = handler.handler({"Records": records}, None)
    assert delivered == [ROOM_A]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "5"}]}


def test_frames_carry_seq_only_when_they_have_one() -> None:
    event = room_events.RoomEvent(1, "member.left", None, '{"user":{"id":"u"}}', None)
    assert event.frame(ROOM_A) == {"type": "member.left", "room_id": str(ROOM_A), "data": {"user": {"id": "u"}}}
    message = room_events.RoomEvent(2, "message.deleted", 7, '{"id":"m"}', None)
    assert message.frame(ROOM_A)["seq"] == 7
