"""The ai_worker trusts no job: a job changes a message only while it is the pending AI message of the
job's room under that very job id. Redeliveries, forged and misdirected jobs are no-ops; a reply
whose job never ends reads `failed` past its deadline; a job on its last receive fails its reply."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from ai_worker import handler
from ai_worker import worker as logic
from core import ai_replies
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered, message
from tests.integration.realtime.realtime_helpers import sql
from tests.integration.rooms.rooms_helpers import Behaviour, OpenAIServer, history, sent, team


def _record(body: str, receives: int = 1) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ai_replies-local",
        "awsRegion": "us-east-1",
    }


def invoke(body: str, receives: int = 1) -> dict[str, Any]:
    return handler.handler({"Records": [_record(body, receives)]}, None)


def job_body(room_id: str, message_id: str, job_id: str) -> str:
    return json.dumps({"room_id": room_id, "message_id": message_id, "job_id": job_id})


def row(message_id: str) -> tuple[Any, ...]:
    ((found,),) = [tuple(sql("SELECT content, status, job_id, updated_at FROM messages WHERE id = :m", m=message_id))]
    return tuple(found)


def events_of(room_id: str) -> list[str]:
    return [r.type for r in sql("SELECT type FROM realtime_events WHERE room_id = :r ORDER BY position", r=room_id)]


def test_a_redelivered_job_changes_nothing(db: str, worker: SqsPump) -> None:
    room = team()
    body = sent(room.room, room["member"], "once only", invoke_ai=True)
    reply = body["ai_message"]
    (job_id,) = [r.job_id for r in sql("SELECT job_id FROM messages WHERE id = :m", m=reply["id"])]
    assert answered(room.room, room["member"], reply["id"])["status"] == "completed"
    before, events_before = row(reply["id"]), events_of(room.room)
    # The very job again, as SQS may deliver it twice.
    again = job_body(room.room, reply["id"], str(job_id))
    assert invoke(again) == {"batchItemFailures": []}
    assert worker_run(again) == "stale"
    assert row(reply["id"]) == before and events_of(room.room) == events_before


def worker_run(body: str) -> str:
    job = ai_replies.Job.parse(body)
    assert job is not None
    return logic.run(job)


def test_forged_and_misdirected_jobs_write_nothing(db: str, worker: SqsPump) -> None:
    """An attacker who could put jobs on the queue still cannot make the worker write anywhere: the job
    must match the database (this room, an AI message, pending, this job id)."""
    victim, other = team(), team()
    human = sent(victim.room, victim["guest"], "my own words")["message"]
    exchange = sent(victim.room, victim["member"], "a question", invoke_ai=True)
    reply = answered(victim.room, victim["member"], exchange["ai_message"]["id"])
    (real_job,) = [r.job_id for r in sql("SELECT job_id FROM messages WHERE id = :m", m=reply["id"])]
    theirs = sent(other.room, other["member"], "elsewhere", invoke_ai=True)["ai_message"]
    answered(other.room, other["member"], theirs["id"])
    # A pending reply the forger would like to hijack: regenerated, its new job still queued.
    call(
        "POST",
        f"/api/v1/rooms/{victim.room}/messages/{exchange['message']['id']}/regenerate",
        token=victim["admin"].token,
    )
    snapshot = {m: row(m) for m in (human["id"], reply["id"], theirs["id"])}
    forged = [
        job_body(victim.room, human["id"], str(uuid.uuid4())),  # a human message
        job_body(victim.room, human["id"], str(real_job)),
        job_body(other.room, reply["id"], str(real_job)),  # another room's id with this room's message
        job_body(victim.room, theirs["id"], str(real_job)),  # this room's id with another room's message
        job_body(other.room, theirs["id"], str(uuid.uuid4())),  # a finished reply under a made-up job
        job_body(victim.room, reply["id"], str(real_job)),  # the superseded job of a regenerated reply
        job_body(victim.room, reply["id"], str(uuid.uuid4())),
        "not json",
        json.dumps({"room_id": victim.room, "message_id": reply["id"]}),
    ]
    for body in forged:
        assert invoke(body) == {"batchItemFailures": []}, body
    regenerated = answered(victim.room, victim["member"], reply["id"])  # only its own job ends it
    assert regenerated["status"] == "completed" and regenerated["content"] == "a question"
    assert row(human["id"]) == snapshot[human["id"]] and row(theirs["id"]) == snapshot[theirs["id"]]
    assert [m["content"] for m in history(other.room, other["member"])] == ["elsewhere", "elsewhere"]


def test_a_pending_reply_past_its_deadline_reads_failed(openai_room_slow: tuple[Any, OpenAIServer]) -> None:
    room, server = openai_room_slow
    body = sent(room.room, room["member"], "will it ever end?", invoke_ai=True)
    reply = body["ai_message"]
    assert message(room.room, room["member"], reply["id"])["status"] == "pending"
    # The worker has the job and waits on a provider that answers after 4 s ...
    deadline = time.monotonic() + 20
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.requests, "the worker never called the provider"
    # ... while the reply's deadline passes (as if the worker hung or crashed).
    sql("UPDATE messages SET pending_until = now() - interval '1 second' WHERE id = :m", m=reply["id"])
    listed = {m["id"]: m for m in history(room.room, room["member"])}
    assert (listed[reply["id"]]["status"], listed[reply["id"]]["content"]) == ("failed", "")
    assert message(room.room, room["reader"], reply["id"])["status"] == "failed"
    assert events_of(room.room).count("message.completed") == 1  # announced once, by the first reader
    # The worker's own end, once the provider answers, changes nothing: failed is final.
    time.sleep(4.5)
    assert row(reply["id"])[:2] == ("", "failed")
    assert events_of(room.room).count("message.completed") == 1


def test_the_last_receive_of_a_crashing_job_fails_its_reply(
    db: str, worker: SqsPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = team()
    worker.stop()  # this test delivers the job itself
    try:
        reply = sent(room.room, room["member"], "crash please", invoke_ai=True)["ai_message"]
        (job_id,) = [r.job_id for r in sql("SELECT job_id FROM messages WHERE id = :m", m=reply["id"])]

        def crash(request: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the worker dies mid-stream")

        monkeypatch.setattr(logic, "generate", crash)
        body = job_body(room.room, reply["id"], str(job_id))
        for receives in (1, 2):  # retried by the queue: still pending, not failed yet
            assert len(invoke(body, receives)["batchItemFailures"]) == 1
            assert message(room.room, room["member"], reply["id"])["status"] == "pending"
        assert len(invoke(body, 3)["batchItemFailures"]) == 1  # on to the DLQ ...
        assert message(room.room, room["member"], reply["id"])["status"] == "failed"  # ... its reply ended
        assert events_of(room.room)[-1] == "message.completed"
    finally:
        worker.stop_event.clear()
        worker.start()


@pytest.fixture
def openai_room_slow(db: str, worker: SqsPump, monkeypatch: pytest.MonkeyPatch) -> Any:
    from core.config import reset_settings

    with OpenAIServer() as server:
        server.behaviour = Behaviour(reply="slow words", delay_s=4.0)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        reset_settings()
        room = team()
        call("PATCH", f"/api/v1/rooms/{room.room}", {"ai_provider": "openai"}, token=room["admin"].token)
        try:
            yield room, server
        finally:
            monkeypatch.undo()
            reset_settings()
