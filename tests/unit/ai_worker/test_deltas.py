"""message.delta coalescing: the first chunk at once, then at most one event per interval, each with its
index and offset, and their texts concatenate to the answer; a job that is no longer current stops;
each delta goes to the audience the `delta` step names at that moment, and the connections a push
found gone are handed to the next step to forget."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ai_worker.worker import Deltas, Request, Superseded
from core.ai_replies import Job
from core.push import Delivery

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
    """core.push.post's stand-in at the network's edge: records each frame and its connections."""

    def __init__(self, gone: Sequence[str] = ()) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.targets: list[list[str]] = []
        self.gone = list(gone)

    def __call__(self, frame: dict[str, Any], connection_ids: Sequence[str]) -> Delivery:
        assert (frame["type"], frame["room_id"], frame["seq"]) == ("message.delta", str(JOB.room_id), 7)
        self.events.append((time.monotonic(), frame["data"]))
        self.targets.append(list(connection_ids))
        gone, self.gone = self.gone, []
        return Delivery(sent=[c for c in connection_ids if c not in gone], gone=gone)


class Audience:
    """The `delta` step's answers, in order (None: the job no longer owns its message)."""

    def __init__(self, *answers: Sequence[str] | None, default: Sequence[str] | None = ("c1",)) -> None:
        self.answers = list(answers)
        self.default = default
        self.asked: list[tuple[bool, list[str]]] = []

    def __call__(self, job: Job, first: bool, gone: Sequence[str]) -> Sequence[str] | None:
        assert job == JOB
        self.asked.append((first, list(gone)))
        return self.answers.pop(0) if self.answers else self.default


def test_deltas_are_coalesced_to_one_per_interval_and_concatenate() -> None:
    pushed = Pushed()
    deltas = Deltas(REQUEST, 0.1, audience=Audience(), post=pushed)
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
    deltas = Deltas(REQUEST, 0.0, audience=Audience(["c1"], None), post=pushed)
    deltas.add("first ")
    deltas.add("second")
    with pytest.raises(Superseded):  # raised in the stream's thread, whichever push found out
        deltas.flush()
    deltas.close()
    assert [data["text"] for _, data in pushed.events] == ["first "]


def test_only_the_first_delta_asks_for_the_announcement_and_each_goes_to_the_audience_of_its_moment() -> None:
    pushed = Pushed()
    audience = Audience(["c1", "c2"], ["c2"], [])
    deltas = Deltas(REQUEST, 0.0, audience=audience, post=pushed)
    for chunk in ("a", "b", "c"):
        deltas.add(chunk)
        deltas.flush()
    deltas.close()
    assert [first for first, _ in audience.asked] == [True, False, False]
    assert pushed.targets == [["c1", "c2"], ["c2"]]  # the member removed meanwhile gets nothing more
    assert [data["text"] for _, data in pushed.events] == ["a", "b"]  # nobody left: nothing posted


def test_connections_found_gone_are_handed_to_the_next_step() -> None:
    pushed = Pushed(gone=["c2"])
    audience = Audience(["c1", "c2"], ["c1"])
    deltas = Deltas(REQUEST, 0.0, audience=audience, post=pushed)
    deltas.add("a")
    deltas.flush()
    deltas.add("b")
    deltas.flush()
    deltas.close()
    assert audience.asked == [(True, []), (False, ["c2"])]
    assert deltas.gone == []


def test_the_stream_does_not_wait_for_a_slow_push() -> None:
    """A push to many connections takes a while: the chunks meanwhile gather into the next delta."""
    pushed = Pushed()

    def slow(frame: dict[str, Any], connection_ids: Sequence[str]) -> Delivery:
        time.sleep(0.2)
        return pushed(frame, connection_ids)

    deltas = Deltas(REQUEST, 0.0, audience=Audience(), post=slow)
    started = time.monotonic()
    for i in range(10):
        deltas.add(f"{i} ")
    assert time.monotonic() - started < 0.1  # ten chunks in while the first push is still going
    deltas.flush()
    deltas.close()
    texts = [data["text"] for _, data in pushed.events]
    assert texts == ["0 ", "1 2 3 4 5 6 7 8 9 "]
