"""The AI worker's database steps (functions/ai_steps) against the real database, through the handler
the worker invokes: the contract is enforced before any statement (a forged, malformed, oversized or
other-version request is refused), a job owns its message or nothing happens, each delta goes to the
audience of its moment (a private exchange to its requester, a removed member to nobody), the first
delta waits for the reply's announcement, and the text is stored once. No worker runs here: the
replies stay pending until a step ends them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from ai_steps import handler as steps_handler
from ai_steps import steps

from core.ai_steps import StepRejected
from tests.client import call
from tests.integration.realtime.realtime_helpers import sql
from tests.integration.rooms.rooms_helpers import Person, Team, sent, team


@pytest.fixture(autouse=True)
def queues(s3_endpoint: str) -> None:
    """The AI replies queue exists (moto), so a reply stays pending: no worker reads it here."""


def invoke(event: Any) -> dict[str, Any]:
    return dict(steps_handler.handler(event, None))


def pending(room: Team, who: Person, content: str = "what do you think?", **extra: Any) -> dict[str, Any]:
    """A question with its AI reply pending, and the reply's job as the worker gets it."""
    reply = sent(room.room, who, content, invoke_ai=True, **extra)["ai_message"]
    ((job_id,),) = sql("SELECT job_id FROM messages WHERE id = :m", m=reply["id"])
    return {"room_id": room.room, "message_id": reply["id"], "job_id": str(job_id), "seq": reply["seq"]}


PAID = {"provider": "echo", "model": "echo", "usage": {"input_tokens": 12, "output_tokens": 3}}


def job_of(found: dict[str, Any]) -> dict[str, str]:
    return {k: found[k] for k in ("room_id", "message_id", "job_id")}


def connect(who: Person, room: str) -> str:
    connection_id = f"c{uuid.uuid4().hex[:15]}"
    sql(
        "INSERT INTO realtime_connections (connection_id, user_id, session_id, connected_at, expires_at) "
        "SELECT :c, id, (SELECT id FROM auth_sessions WHERE user_id = users.id), now(), now() + interval '1 hour' "
        "FROM users WHERE id = :u",
        c=connection_id,
        u=who.id,
    )
    sql("INSERT INTO realtime_subscriptions (connection_id, room_id) VALUES (:c, :r)", c=connection_id, r=room)
    return connection_id


def announced(room: str) -> None:
    """What the fan-out does once it has pushed the room's events: they leave the outbox."""
    sql("DELETE FROM realtime_events WHERE room_id = :r", r=room)


def row(message_id: str) -> tuple[Any, ...]:
    ((found,),) = [sql("SELECT content, status, job_id FROM messages WHERE id = :m", m=message_id)]
    return tuple(found)


def test_start_reads_the_job_and_the_context_the_requester_may_show(db: str) -> None:
    room = team()
    sent(room.room, room["admin"], "earlier, in public")
    found = pending(room, room["member"], "the question")
    answer = invoke({"v": 1, "step": "start", "job": job_of(found)})
    assert answer["v"] == 1 and answer["outcome"] == "ready"
    context = answer["context"]
    assert context["seq"] == found["seq"] and context["only"] is None
    assert (context["provider"], context["model"]) == (None, None)  # the room names none: the worker's defaults
    assert [(m["role"], m["text"]) for m in context["messages"]] == [
        ("user", "earlier, in public"),
        ("user", "the question"),
    ]
    assert context["messages"][-1]["author"] == room["member"].username


def test_a_private_exchange_is_for_its_requester_alone(db: str) -> None:
    room = team()
    found = pending(room, room["member"], "just between us", private=True)
    answer = invoke({"v": 1, "step": "start", "job": job_of(found)})
    assert answer["context"]["only"] == room["member"].id
    mine, theirs = connect(room["member"], room.room), connect(room["admin"], room.room)
    announced(room.room)
    delta = invoke({"v": 1, "step": "delta", "job": job_of(found), "first": True})
    assert delta == {"v": 1, "current": True, "connections": [mine]} and theirs not in delta["connections"]


def test_a_forged_or_misdirected_job_is_stale_and_changes_nothing(db: str) -> None:
    room, other = team(), team()
    found = pending(room, room["member"])
    before = row(found["message_id"])
    forged = [
        {**job_of(found), "job_id": str(uuid.uuid4())},
        {**job_of(found), "room_id": other.room},
        {**job_of(found), "message_id": str(uuid.uuid4())},
    ]
    for job in forged:
        stale = {"v": 1, "outcome": "stale", "context": None, "input_tokens": None}
        assert invoke({"v": 1, "step": "start", "job": job}) == stale
        assert invoke({"v": 1, "step": "delta", "job": job, "first": False})["current"] is False
        for status, text_ in (("completed", "forged"), ("superseded", "")):  # nothing stored, nothing charged
            assert invoke({"v": 1, "step": "finish", "job": job, "text": text_, "status": status, **PAID}) == {
                "v": 1,
                "done": False,
                "notices": [],
            }
    assert row(found["message_id"]) == before
    charged = "SELECT 1 FROM balance_transactions WHERE kind = 'charge' AND room_id IN (:a, :b)"
    assert sql(charged, a=room.room, b=other.room) == []


def test_each_delta_goes_to_the_audience_of_its_moment(db: str) -> None:
    room = team()
    found = pending(room, room["member"])
    announced(room.room)
    reader, guest = connect(room["reader"], room.room), connect(room["guest"], room.room)
    stranger = connect(team()["member"], room.room)  # subscribed without being a member: never
    first = invoke({"v": 1, "step": "delta", "job": job_of(found), "first": True})
    assert set(first["connections"]) == {reader, guest} and stranger not in first["connections"]
    sql("DELETE FROM room_members WHERE room_id = :r AND user_id = :u", r=room.room, u=room["guest"].id)
    later = invoke({"v": 1, "step": "delta", "job": job_of(found), "first": False, "gone": [reader]})
    assert later["connections"] == []  # the removed member gets nothing more; the gone one is forgotten
    assert sql("SELECT 1 FROM realtime_connections WHERE connection_id = :c", c=reader) == []


def test_the_first_delta_waits_for_the_reply_to_be_announced(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    room = team()
    found = pending(room, room["member"])  # its message.created waits in the outbox: no fan-out runs here
    monkeypatch.setattr(steps, "ANNOUNCE_WAIT_S", 0.5)
    started = time.monotonic()
    assert invoke({"v": 1, "step": "delta", "job": job_of(found), "first": True})["current"] is True
    assert time.monotonic() - started >= 0.5  # waited its longest, then went anyway
    started = time.monotonic()
    invoke({"v": 1, "step": "delta", "job": job_of(found), "first": False})
    assert time.monotonic() - started < 0.5  # only the first waits
    announced(room.room)
    started = time.monotonic()
    invoke({"v": 1, "step": "delta", "job": job_of(found), "first": True})
    assert time.monotonic() - started < 0.5  # announced: no wait


def test_finish_stores_the_text_once_with_message_completed(db: str) -> None:
    room = team()
    found = pending(room, room["member"])
    announced(room.room)
    done = {"v": 1, "step": "finish", "job": job_of(found), "text": "the answer", "status": "completed", **PAID}
    assert invoke(done)["done"] is True
    assert row(found["message_id"])[:2] == ("the answer", "completed")
    assert invoke({**done, "text": "again", "status": "failed"}) == {"v": 1, "done": False, "notices": []}
    assert row(found["message_id"])[:2] == ("the answer", "completed")
    events = [r.type for r in sql("SELECT type FROM realtime_events WHERE room_id = :r", r=room.room)]
    assert events == ["message.completed"]
    # charged once to the room's master, who is told (the worker posts the frame to these connections)
    charges = sql("SELECT input_tokens, output_tokens FROM balance_transactions WHERE job_id = :j", j=found["job_id"])
    assert [tuple(c) for c in charges] == [(12, 3)]
    # a regenerate's new job stops the old one: its steps find nothing to own
    assert invoke({"v": 1, "step": "start", "job": job_of(found)})["outcome"] == "stale"


def test_a_superseded_job_is_charged_what_it_used_once_and_stores_nothing(db: str) -> None:
    """The worker found its job replaced mid-stream (regenerated, twice even) or its message deleted:
    the call reached the provider, so the room's master pays for it; the message is the new job's."""
    room = team()
    found = pending(room, room["member"])
    announced(room.room)
    assert invoke({"v": 1, "step": "start", "job": job_of(found)})["input_tokens"] > 0  # admitted
    question = sql("SELECT reply_to_id FROM messages WHERE id = :m", m=found["message_id"])[0][0]
    regenerate = f"/api/v1/rooms/{room.room}/messages/{question}/regenerate"
    for _ in range(2):
        assert call("POST", regenerate, token=room["member"].token).status == 202
    before = row(found["message_id"])
    superseded = {"v": 1, "step": "finish", "job": job_of(found), "text": "", "status": "superseded", **PAID}
    assert invoke(superseded)["done"] is False
    assert row(found["message_id"]) == before  # still pending, under the newest job
    count = "SELECT count(*) FROM balance_transactions WHERE job_id = :j"
    charges = sql("SELECT input_tokens, output_tokens FROM balance_transactions WHERE job_id = :j", j=found["job_id"])
    assert [tuple(c) for c in charges] == [(12, 3)]
    invoke(superseded)  # delivered again: once per job
    assert sql(count, j=found["job_id"])[0][0] == 1

    # A job replaced before its worker started never called the provider: nothing to charge.
    ((unstarted,),) = sql("SELECT job_id FROM messages WHERE id = :m", m=found["message_id"])
    assert call("POST", regenerate, token=room["member"].token).status == 202
    invoke({**superseded, "job": {**job_of(found), "job_id": str(unstarted)}})
    assert sql(count, j=str(unstarted))[0][0] == 0

    # The message deleted while its job streamed: charged.
    gone = pending(room, room["member"], "and this one?")
    assert invoke({"v": 1, "step": "start", "job": job_of(gone)})["outcome"] == "ready"
    deleted = call("DELETE", f"/api/v1/rooms/{room.room}/messages/{gone['message_id']}", token=room["master"].token)
    assert deleted.status == 204, deleted.body
    assert invoke({**superseded, "job": job_of(gone)})["done"] is False
    assert sql(count, j=gone["job_id"])[0][0] == 1

    # A reply failed under its job (past its deadline) is never charged, whatever comes late.
    late = pending(room, room["member"], "too slow")
    assert invoke({"v": 1, "step": "start", "job": job_of(late)})["outcome"] == "ready"
    assert invoke({"v": 1, "step": "finish", "job": job_of(late), "text": "", "status": "failed"})["done"] is True
    for status, text_ in (("completed", "late answer"), ("superseded", "")):
        invoke({**superseded, "job": job_of(late), "status": status, "text": text_})
    assert sql(count, j=late["job_id"])[0][0] == 0


def test_a_summary_is_only_stored_for_the_jobs_own_room(db: str) -> None:
    from ai_steps import summaries as planning

    room, other = team(), team()
    found = pending(room, room["member"])
    announced(room.room)
    (question,) = sql(
        "SELECT id, seq, created_at FROM messages WHERE id = (SELECT reply_to_id FROM messages WHERE id = :m)",
        m=found["message_id"],
    )
    history = [
        planning.context.HistoryMessage(
            id=uuid.uuid4(),
            seq=0,
            kind="human",
            author="ann",
            content="x " * 3000,
            status="completed",
            visibility="public",
            requester_id=None,
            exclude_from_ai=False,
            deleted=False,
            created_at=question.created_at,
        )
    ]
    prompt = planning.context.HistoryMessage(
        id=question.id,
        seq=question.seq,
        kind="human",
        author="bob",
        content="q",
        status="completed",
        visibility="public",
        requester_id=None,
        exclude_from_ai=False,
        deleted=False,
        created_at=question.created_at,
    )
    plan = planning.plan(
        history,
        prompt,
        room_id=uuid.UUID(other.room),
        requester_id=uuid.UUID(room["member"].id),
        private=False,
        cutoff=None,
        budget_tokens=256,
        summary_tokens=600,
        system="s",
        cached=None,
        complete=True,
        provider="echo",
        model="echo",
    )
    assert plan.pending is not None
    state = planning.job_of(plan.pending).state
    with pytest.raises(StepRejected):  # another room's summary named under this job
        invoke(
            {
                "v": 1,
                "step": "summary",
                "job": job_of(found),
                "state": state,
                "answer": "s",
                "provider": "echo",
                "model": "echo",
            }
        )
    assert sql("SELECT 1 FROM message_context_summaries WHERE room_id IN (:a, :b)", a=room.room, b=other.room) == []


def test_a_reply_past_its_deadline_ends_failed_at_start(db: str) -> None:
    room = team()
    found = pending(room, room["member"])
    sql("UPDATE messages SET pending_until = now() - interval '1 second' WHERE id = :m", m=found["message_id"])
    assert invoke({"v": 1, "step": "start", "job": job_of(found)})["outcome"] == "failed"
    assert row(found["message_id"])[:2] == ("", "failed")


@pytest.mark.parametrize(
    "event",
    [
        None,
        "start",
        [],
        {},
        {"step": "start"},  # no version
        {"v": 2, "step": "start"},
        {"v": "1", "step": "start"},
        {"v": 1, "step": "drop_tables"},
        {"v": 1, "step": "finish", "text": "x", "status": "pending"},
        {"v": 1, "step": "finish", "text": "x", "status": "completed"},  # a completed reply names its cost
        {"v": 1, "step": "finish", "text": "", "status": "superseded"},  # so does a superseded one
        {"v": 1, "step": "finish", "text": "x", "status": "superseded", **PAID},  # which stores no text
        {"v": 1, "step": "finish", "text": "x", "status": "completed", **PAID, "usage": {"input_tokens": -1}},
        {"v": 1, "step": "finish", "text": "x" * (1024 * 1024 + 1), "status": "completed"},
        {"v": 1, "step": "delta", "first": False, "gone": ["c"] * 1001},
        {"v": 1, "step": "delta", "first": False, "gone": [""]},
        {"v": 1, "step": "start", "sql": "SELECT 1"},
        {"v": 1, "step": "summary", "state": {"draft": "x"}, "answer": "x", "provider": "echo", "model": "echo"},
        {"v": 1, "step": "start", "job": {"room_id": "not-a-uuid", "message_id": "x", "job_id": "y"}},
    ],
)
def test_anything_but_the_contract_is_refused_before_any_step_runs(db: str, event: Any) -> None:
    room = team()
    found = pending(room, room["member"])
    announced(room.room)
    if isinstance(event, dict) and "job" not in event and "step" in event:
        event = {**event, "job": job_of(found)}
    before = row(found["message_id"])
    with pytest.raises(StepRejected) as refused:
        invoke(event)
    assert "x" * 100 not in str(refused.value)  # names fields, never echoes values
    assert row(found["message_id"]) == before
    assert sql("SELECT 1 FROM realtime_events WHERE room_id = :r", r=room.room) == []
