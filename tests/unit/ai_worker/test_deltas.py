"""message.delta coalescing: the first chunk at once, then at most one event per interval, each with its
index and offset, and their texts concatenate to the answer; a job that is no longer current stops."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ai_worker.worker import Deltas, Request, Superseded
from core.ai_replies import Job

JOB = Job(room_id=uuid.uuid4(), message_id=uuid.uuid4(), job_id=uuid.uuid4())
REQUEST = Request(
    job=JOB,
    seq=7,
    only=None,
    pending_until=datetime.now(UTC) + timedelta(minutes=1),
    provider="echo",
    model="echo",
    system="s",
    messages=(),
)


class Pushed:
    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []

    def __call__(self, room_id: uuid.UUID, type: str, data: dict[str, Any], *, seq: int, only: Any) -> int:
        assert (room_id, type, seq, only) == (JOB.room_id, "message.delta", 7, None)
        self.events.append((time.monotonic(), data))
        return 1


def test_deltas_are_coalesced_to_one_per_interval_and_concatenate() -> None:
    pushed = Pushed()
    deltas = Deltas(REQUEST, 0.1, push=pushed, still_current=lambda job: True, announced=lambda: True)
    words = [f"w{i} " for i in range(60)]
    for word in words:  # 60 chunks over ~0.6 s
        deltas.add(word)
        time.sleep(0.01)
    deltas.flush()
    deltas.close()
    events = [data for _, data in pushed.events]
    assert 5 <= len(events) <= 9  # ~10 a second, not 60
    assert events[0]["text"] == "w0 "  # the first token is not held back
    assert [e["index"] for e in events] == list(range(len(events)))
    assert "".join(e["text"] for e in events) == "".join(words)
    offsets = [sum(len(e["text"]) for e in events[:i]) for i in range(len(events))]
    assert [e["offset"] for e in events] == offsets
    assert {e["message_id"] for e in events} == {str(JOB.message_id)}
    gaps = [b - a for (a, _), (b, _) in zip(pushed.events, pushed.events[1:], strict=False)]
    assert min(gaps[:-1]) >= 0.095  # the last one is the final flush


def test_a_job_that_is_no_longer_current_stops_the_stream() -> None:
    pushed = Pushed()
    current = iter([True, False])
    deltas = Deltas(REQUEST, 0.0, push=pushed, still_current=lambda job: next(current), announced=lambda: True)
    deltas.add("first ")
    deltas.add("second")
    with pytest.raises(Superseded):  # raised in the stream's thread, whichever push found out
        deltas.flush()
    deltas.close()
    assert [data["text"] for _, data in pushed.events] == ["first "]


def test_the_first_delta_waits_for_the_reply_to_be_announced() -> None:
    pushed = Pushed()
    answers = iter([False, False, True])
    deltas = Deltas(REQUEST, 0.0, push=pushed, still_current=lambda job: True, announced=lambda: next(answers))
    started = time.monotonic()
    deltas.add("first")
    deltas.flush()
    assert len(pushed.events) == 1 and pushed.events[0][0] - started >= 0.04  # two polls of 20 ms
    deltas.add("second")  # only the first waits
    deltas.flush()
    deltas.close()
    assert len(pushed.events) == 2


def test_the_stream_does_not_wait_for_a_slow_push() -> None:
    """A push to many connections takes a while: the chunks meanwhile gather into the next delta."""
    pushed = Pushed()

    def slow(*args: Any, **kwargs: Any) -> int:
        time.sleep(0.2)
        return pushed(*args, **kwargs)

    deltas = Deltas(REQUEST, 0.0, push=slow, still_current=lambda job: True, announced=lambda: True)
    started = time.monotonic()
    for i in range(10):
        deltas.add(f"{i} ")
    assert time.monotonic() - started < 0.1  # ten chunks in while the first push is still going
    deltas.flush()
    deltas.close()
    texts = [data["text"] for _, data in pushed.events]
    assert texts == ["0 ", "1 2 3 4 5 6 7 8 9 "]
