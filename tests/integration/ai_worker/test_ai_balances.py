"""AI token balances in the ai_worker (issue 19.4): a completed reply is charged to the room's master
with the provider's usage figures (estimated for echo), once per job; a failed reply is not charged;
the worker refuses (fails, uncharged) a call the master can no longer pay for; concurrent charges
never drive a balance below zero; `balance.changed` reaches the master's WebSocket connections."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ai_worker import providers, worker
from ai_worker.providers import BedrockProvider, ChatMessage, Usage
from core import ai_replies, balances
from core import db as core_db
from core.ai_replies import Job
from core.config import reset_settings
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered
from tests.integration.ai_worker.test_bedrock_stream import OPTIONS, BedrockEndpoint, answer
from tests.integration.realtime.realtime_helpers import open_socket, realtime_server, receive, silent
from tests.integration.rooms.room_images_helpers import png, uploaded
from tests.integration.rooms.rooms_helpers import Behaviour, OpenAIServer, Person, Team, person, sent, team

WELCOME = balances.BalancesSettings().balances_welcome_tokens


def charges(user: Person) -> list[Any]:
    with core_db.get_engine().connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT delta, balance_after, input_tokens, output_tokens, shortfall, provider, model, room_id, "
                    "message_id, job_id FROM balance_transactions WHERE user_id = :u AND kind = 'charge' "
                    "ORDER BY created_at"
                ),
                {"u": user.id},
            )
        )


def tokens_of(user: Person) -> int:
    answer = call("GET", "/api/v1/me/balance", token=user.token)
    assert answer.status == 200, answer.body
    return int(answer.body["tokens"])


def set_tokens(user: Person, tokens: int) -> None:
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO balances (user_id, tokens) VALUES (:u, :t) "
                "ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens"
            ),
            {"u": user.id, "t": tokens},
        )


@pytest.fixture
def held_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs are not queued (the module's pump would take them): the test runs them itself."""
    monkeypatch.setattr(ai_replies, "enqueue", lambda job, **_: True)


def job_of(message_id: str) -> Job:
    with core_db.get_engine().connect() as conn:
        row = conn.execute(text("SELECT room_id, job_id FROM messages WHERE id = :m"), {"m": message_id}).one()
    return Job(room_id=row.room_id, message_id=uuid.UUID(message_id), job_id=row.job_id)


def test_a_completed_reply_is_charged_to_the_master_with_its_usage(db: str, worker: SqsPump) -> None:
    room = team()
    body = sent(room.room, room["member"], "a question of some length", invoke_ai=True)
    done = answered(room.room, room["member"], body["ai_message"]["id"])
    assert done["status"] == "completed"
    (charge,) = charges(room["master"])
    assert charge.input_tokens > 0 and charge.output_tokens == 7  # echo: 25 characters, ~4 each
    assert charge.delta == -(charge.input_tokens + charge.output_tokens) and charge.shortfall == 0
    assert (charge.provider, charge.model) == ("echo", "echo")
    assert (str(charge.room_id), str(charge.message_id)) == (room.room, done["id"])
    assert tokens_of(room["master"]) == WELCOME + charge.delta == charge.balance_after
    assert charges(room["member"]) == [] and tokens_of(room["member"]) == WELCOME  # the asker pays nothing


def test_a_redelivered_job_is_charged_once(db: str, held_jobs: None) -> None:
    room = team()
    body = sent(room.room, room["member"], "once only", invoke_ai=True)
    job = job_of(body["ai_message"]["id"])
    assert worker.run(job) == "completed"
    assert worker.run(job) == "stale"  # the queue delivers it again
    assert len(charges(room["master"])) == 1
    (charge,) = charges(room["master"])
    with core_db.session_scope() as session:  # and the ledger's unique key holds even past `finish`
        again = balances.charge(
            session,
            room_id=job.room_id,
            message_id=job.message_id,
            job_id=job.job_id,
            provider="echo",
            model="echo",
            input_tokens=10,
            output_tokens=10,
        )
    assert again is None and charges(room["master"]) == [charge]


def test_the_worker_refuses_a_call_the_master_can_no_longer_pay_for(db: str, held_jobs: None) -> None:
    room = team()
    body = sent(room.room, room["member"], "expensive question", invoke_ai=True)
    set_tokens(room["master"], 3)  # spent meanwhile (other rooms' replies)
    assert worker.run(job_of(body["ai_message"]["id"])) == "unpaid"
    reply = call("GET", f"/api/v1/rooms/{room.room}/messages/{body['ai_message']['id']}", token=room["member"].token)
    assert reply.body["status"] == "failed"
    assert charges(room["master"]) == [] and tokens_of(room["master"]) == 3


@pytest.mark.usefixtures("media_env")
def test_the_worker_counts_the_contexts_images_before_the_call(db: str, held_jobs: None) -> None:
    """A 1280 x 960 picture is ~1,639 tokens: a balance that covers the words (system prompt and
    reserve included) is still too little for the same question with the picture."""
    plain, pictured = team(), team()
    image_id, _ = uploaded(pictured.room, pictured["member"], png((1280, 960)))
    asked = [
        sent(plain.room, plain["member"], "what is this?", invoke_ai=True),
        sent(pictured.room, pictured["member"], "what is this?", invoke_ai=True, image_ids=[image_id]),
    ]
    for room in (plain, pictured):
        set_tokens(room["master"], 1500)  # words, prompt and the 256 reserve: well under; the picture: over
    outcomes = [worker.run(job_of(body["ai_message"]["id"])) for body in asked]
    assert outcomes == ["completed", "unpaid"]
    assert tokens_of(pictured["master"]) == 1500 and charges(pictured["master"]) == []


@pytest.fixture
def openai(db: str, worker: SqsPump, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        reset_settings()
        try:
            yield server
        finally:
            monkeypatch.undo()
            reset_settings()


def openai_room() -> Team:
    room = team()
    patch = {"ai_provider": "openai", "ai_model": "test-model"}
    assert call("PATCH", f"/api/v1/rooms/{room.room}", patch, token=room["admin"].token).status == 200
    return room


def test_openai_usage_figures_are_what_is_charged(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(reply="counted", usage={"prompt_tokens": 321, "completion_tokens": 12})
    body = sent(room.room, room["member"], "count me", invoke_ai=True)
    assert answered(room.room, room["member"], body["ai_message"]["id"])["status"] == "completed"
    assert openai.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    (charge,) = charges(room["master"])
    assert (charge.input_tokens, charge.output_tokens, charge.delta) == (321, 12, -333)
    assert (charge.provider, charge.model) == ("openai", "test-model")


def test_a_failed_reply_is_not_charged(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(reply="half an", stream_error=True, usage={"prompt_tokens": 5, "completion_tokens": 5})
    body = sent(room.room, room["member"], "fail me", invoke_ai=True)
    assert answered(room.room, room["member"], body["ai_message"]["id"])["status"] == "failed"
    assert charges(room["master"]) == [] and tokens_of(room["master"]) == WELCOME


def test_usage_beyond_the_balance_takes_it_to_zero_and_records_the_shortfall(openai: OpenAIServer) -> None:
    room = openai_room()
    set_tokens(room["master"], 400)  # covers the estimate, not what the model then used
    openai.behaviour = Behaviour(reply="long", usage={"prompt_tokens": 300, "completion_tokens": 250})
    body = sent(room.room, room["member"], "go long", invoke_ai=True)
    assert answered(room.room, room["member"], body["ai_message"]["id"])["status"] == "completed"
    (charge,) = charges(room["master"])
    assert (charge.delta, charge.balance_after, charge.shortfall) == (-400, 0, 150)
    refused = call(
        "POST",
        f"/api/v1/rooms/{room.room}/messages",
        {"content": "more", "invoke_ai": True},
        token=room["member"].token,
    )
    assert refused.status == 402


def test_bedrock_reports_its_usage_from_the_metadata_event() -> None:
    with BedrockEndpoint() as bedrock:
        bedrock.frames = answer("Hel", "lo")
        provider = BedrockProvider(bedrock.client())
        assert list(provider.stream([ChatMessage("user", "hi")], **OPTIONS)) == ["Hel", "lo"]
    assert provider.usage == Usage(3, 2)


def test_echo_estimates_its_usage() -> None:
    provider = providers.EchoProvider(delay_s=0)
    words = list(
        provider.stream([ChatMessage("user", "a" * 40)], system="s" * 8, model="echo", timeout=1, max_tokens=9)
    )
    assert "".join(words) == "a" * 40
    assert provider.usage == Usage(balances.estimate_tokens("s" * 8) + balances.estimate_tokens("a" * 40), 10, True)


# --- concurrency: one conditional UPDATE, never below zero ---


def test_concurrent_charges_never_drive_a_balance_below_zero(db: str) -> None:
    room = team()
    message_id = uuid.UUID(sent(room.room, room["member"], "shared")["message"]["id"])
    set_tokens(room["master"], 5_500)
    start = threading.Barrier(12)
    results: list[balances.Change | None] = []
    errors: list[BaseException] = []

    def charge() -> None:
        try:
            start.wait()
            with core_db.session_scope() as session:
                change = balances.charge(
                    session,
                    room_id=uuid.UUID(room.room),
                    message_id=message_id,
                    job_id=uuid.uuid4(),
                    provider="echo",
                    model="echo",
                    input_tokens=600,
                    output_tokens=400,
                )
            results.append(change)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=charge) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(results) == 12
    rows = charges(room["master"])
    assert tokens_of(room["master"]) == 0
    assert sum(-r.delta for r in rows) == 5_500  # exactly what there was, never more
    assert sorted(-r.delta for r in rows).count(1000) == 5 and sum(r.shortfall for r in rows) == 12_000 - 5_500
    assert all(r.balance_after >= 0 for r in rows)


# --- realtime ---


def test_balance_changes_reach_the_masters_connections_only(db: str, worker: SqsPump) -> None:
    room = team()
    with realtime_server(), open_socket(room["master"]) as master, open_socket(room["member"]) as member:
        body = sent(room.room, room["member"], "tell the master", invoke_ai=True)
        frame = receive(master, timeout=15)
        assert frame["type"] == "balance.changed" and frame["room_id"] == room.room
        (charge,) = charges(room["master"])
        assert frame["data"] == {
            "tokens": charge.balance_after,
            "delta": charge.delta,
            "kind": "charge",
            "shortfall": 0,
            "transaction_id": frame["data"]["transaction_id"],
        }
        assert silent(member)
        assert answered(room.room, room["member"], body["ai_message"]["id"])["status"] == "completed"
        with core_db.session_scope() as session:
            granted = balances.grant(session, uuid.UUID(room["master"].id), 500, actor="tests")
        assert balances.announce(granted) == 1
        frame = receive(master)
        assert (frame["type"], frame["room_id"], frame["data"]["kind"], frame["data"]["delta"]) == (
            "balance.changed",
            None,
            "grant",
            500,
        )
        assert frame["data"]["tokens"] == charge.balance_after + 500


def test_a_stranger_is_never_charged_and_learns_nothing(db: str) -> None:
    room, stranger = team(), person()
    answer = call(
        "POST", f"/api/v1/rooms/{room.room}/messages", {"content": "x", "invoke_ai": True}, token=stranger.token
    )
    assert answer.status == 404
    set_tokens(room["master"], 0)
    answer = call(
        "POST", f"/api/v1/rooms/{room.room}/messages", {"content": "x", "invoke_ai": True}, token=stranger.token
    )
    assert answer.status == 404  # not 402: the room's master and balance stay unknown to outsiders


def test_a_reply_regenerated_mid_stream_is_charged_what_it_used(
    db: str, held_jobs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regenerating (or deleting) a reply while its provider streams used to cost nothing: a member
    could burn the master's provider calls, stream after stream, uncharged. The superseded job is
    charged what it was sent and what had streamed (estimated), once; the new job its own reply."""
    room = team()
    body = sent(room.room, room["member"], "a question worth a long answer", invoke_ai=True)
    first = job_of(body["ai_message"]["id"])
    regenerate = f"/api/v1/rooms/{room.room}/messages/{body['message']['id']}/regenerate"
    streamed = "the first half of an answer, " * 4

    def stream_then_regenerate(*args: Any, **kwargs: Any) -> Iterator[str]:
        yield streamed
        for _ in range(2):  # twice: the job in between never starts
            assert call("POST", regenerate, token=room["member"].token).status == 202
        for _ in range(50):  # the worker finds out at its next delta
            yield "and more that nobody sees. "

    real_stream = providers.stream_within
    monkeypatch.setattr(providers, "stream_within", stream_then_regenerate)
    assert worker.run(first) == "superseded"
    (charge,) = charges(room["master"])
    assert (charge.job_id, str(charge.message_id)) == (first.job_id, body["ai_message"]["id"])
    assert charge.input_tokens > 0 and charge.output_tokens >= len(streamed) // 4
    assert charge.delta == -(charge.input_tokens + charge.output_tokens)
    assert tokens_of(room["master"]) == WELCOME + charge.delta
    assert charges(room["member"]) == []  # the asker pays nothing

    assert worker.run(first) == "stale"  # delivered again: charged once
    assert len(charges(room["master"])) == 1

    monkeypatch.setattr(providers, "stream_within", real_stream)
    third = job_of(body["ai_message"]["id"])
    assert third.job_id != first.job_id
    assert worker.run(third) == "completed"
    assert [c.job_id for c in charges(room["master"])] == [first.job_id, third.job_id]
    reply = call("GET", f"/api/v1/rooms/{room.room}/messages/{body['ai_message']['id']}", token=room["member"].token)
    assert reply.body["status"] == "completed" and "nobody sees" not in reply.body["content"]
