"""AI replies through the handler and the ai_worker (pumped from the ai_replies queue, as in `make dev`):
201 at once with a `pending` reply, then the worker streams the answer from echo (local default) or an
OpenAI-compatible endpoint (a real HTTP server on 127.0.0.1 speaking server-sent events) and ends it
`completed` or `failed`; regenerate in place (202); what the model is shown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ai_worker.settings import AiWorkerSettings
from core import db as core_db
from core.config import reset_settings
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered
from tests.integration.rooms.rooms_helpers import Behaviour, OpenAIServer, Team, history, sent, team

API_KEY = "sk-local-test-key"


@pytest.fixture
def openai(db: str, worker: SqsPump, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        reset_settings()
        try:
            yield server
        finally:
            monkeypatch.undo()
            reset_settings()


def openai_room(model: str = "test-model") -> Team:
    room = team()
    patch = {"ai_provider": "openai", "ai_model": model}
    assert call("PATCH", f"/api/v1/rooms/{room.room}", patch, token=room["admin"].token).status == 200
    return room


def last_seq(room_id: str) -> int:
    with core_db.get_engine().connect() as conn:
        return int(conn.execute(text("SELECT last_seq FROM rooms WHERE id = :r"), {"r": room_id}).scalar_one())


def ask(room: Team, content: str, who: str = "member", **extra: bool) -> dict:
    """Send with invoke_ai and wait for the reply to end: (the 201 body, with the ended reply)."""
    body = sent(room.room, room[who], content, invoke_ai=True, **extra)
    body["ai_message"] = answered(room.room, room[who], body["ai_message"]["id"])
    return body


def test_the_reply_is_pending_at_once_then_echo_completes_it(db: str, worker: SqsPump) -> None:
    room = team()
    body = sent(room.room, room["member"], "What's up  today?", invoke_ai=True)
    human, reply = body["message"], body["ai_message"]
    assert (reply["kind"], reply["sender"], reply["status"], reply["content"]) == ("ai", None, "pending", "")
    assert (reply["seq"], reply["reply_to"], reply["visibility"]) == (human["seq"] + 1, human["id"], "public")
    done = answered(room.room, room["reader"], reply["id"])
    assert (done["status"], done["content"], done["seq"]) == ("completed", "What's up  today?", reply["seq"])
    assert [m["kind"] for m in history(room.room, room["reader"])] == ["ai", "human"]


def test_posting_does_not_wait_for_the_provider(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(reply="slow but sure", delay_s=1.5)
    started = time.monotonic()
    body = sent(room.room, room["member"], "think hard", invoke_ai=True)
    assert time.monotonic() - started < 1.0 and body["ai_message"]["status"] == "pending"
    assert sent(room.room, room["guest"], "meanwhile")["message"]["seq"] == 3  # the reply holds seq 2
    assert answered(room.room, room["member"], body["ai_message"]["id"])["content"] == "slow but sure"


def test_openai_compatible_streaming_and_what_the_endpoint_is_sent(openai: OpenAIServer) -> None:
    room = openai_room()
    sent(room.room, room["guest"], "earlier words")
    openai.behaviour = Behaviour(reply="forty-two, as streamed", chunk_delay_s=0.02)
    body = ask(room, "the question")
    assert (body["ai_message"]["content"], body["ai_message"]["status"]) == ("forty-two, as streamed", "completed")
    (request,) = openai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["headers"]["Accept"] == "text/event-stream"
    sent_body = request["body"]
    assert (sent_body["model"], sent_body["stream"]) == ("test-model", True)
    assert sent_body["max_tokens"] == AiWorkerSettings.current().rooms_ai_max_output_tokens
    roles = [m["role"] for m in sent_body["messages"]]
    assert roles == ["system", "user", "user"]
    assert '"team"' in sent_body["messages"][0]["content"]
    assert sent_body["messages"][1]["content"] == f"{room['guest'].username}: earlier words"
    assert sent_body["messages"][2]["content"] == f"{room['member'].username}: the question"


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(status=500),
        Behaviour(status=401),
        Behaviour(raw_body=b"not json"),
        Behaviour(raw_body=b'data: {"choices": []}\n\ndata: [DONE]\n\n'),
        Behaviour(reply="half an answer", stream_error=True),
    ],
    ids=["server-error", "unauthorized", "not-json", "no-text", "error-mid-stream"],
)
def test_a_provider_failure_ends_the_reply_failed_and_keeps_the_question(
    openai: OpenAIServer, behaviour: Behaviour
) -> None:
    room = openai_room()
    openai.behaviour = behaviour
    body = ask(room, "hi")
    assert body["message"]["status"] == "completed"
    assert (body["ai_message"]["status"], body["ai_message"]["content"]) == ("failed", "")
    assert [(m["kind"], m["status"]) for m in history(room.room, room["reader"])] == [
        ("ai", "failed"),
        ("human", "completed"),
    ]


def test_redirects_are_not_followed_so_the_key_stays_put(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(status=302, location=openai.base_url + "/elsewhere")
    assert ask(room, "hi")["ai_message"]["status"] == "failed"
    assert [r["path"] for r in openai.requests] == ["/v1/chat/completions"]


def test_a_provider_timeout_ends_the_reply_failed(openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    room = openai_room()
    monkeypatch.setenv("ROOMS_AI_TIMEOUT_S", "0.5")
    reset_settings()
    openai.behaviour = Behaviour(reply="one two three four five six", chunk_delay_s=0.3)
    started = time.monotonic()
    body = ask(room, "slow one")
    assert time.monotonic() - started < 3
    assert body["ai_message"]["status"] == "failed"
    assert last_seq(room.room) == 2


def test_regenerate_rewrites_the_ai_message_in_place(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(status=503)
    first = ask(room, "try me")
    assert first["ai_message"]["status"] == "failed"
    sent(room.room, room["guest"], "later message")
    seq_before = last_seq(room.room)
    openai.behaviour = Behaviour(reply="second try")
    url = f"/api/v1/rooms/{room.room}/messages/{first['message']['id']}/regenerate"
    answer = call("POST", url, token=room["admin"].token)
    assert answer.status == 202, answer.body
    again = answer.body
    assert (again["id"], again["seq"], again["reply_to"]) == (
        first["ai_message"]["id"],
        first["ai_message"]["seq"],
        first["message"]["id"],
    )
    assert (again["status"], again["content"]) == ("pending", "")
    done = answered(room.room, room["admin"], again["id"])
    assert (done["status"], done["content"]) == ("completed", "second try")
    assert done["created_at"] == first["ai_message"]["created_at"] and done["updated_at"] > done["created_at"]
    assert last_seq(room.room) == seq_before  # no new seq
    # The context of a regeneration ends at its question: the later message is not in it.
    contents = [m["content"] for m in openai.requests[-1]["body"]["messages"]]
    assert contents[-1].endswith(": try me") and not any("later message" in c for c in contents)
    openai.behaviour = Behaviour(status=500)
    assert call("POST", url, token=room["member"].token).status == 202
    failed = answered(room.room, room["member"], again["id"])
    assert (failed["id"], failed["status"], failed["content"]) == (first["ai_message"]["id"], "failed", "")
    assert len(history(room.room, room["reader"])) == 3


def test_regenerate_needs_a_human_message_with_a_live_ai_reply(db: str, worker: SqsPump) -> None:
    room = team()
    plain = sent(room.room, room["member"], "no ai here")["message"]
    asked = sent(room.room, room["member"], "ai please", invoke_ai=True)
    url = f"/api/v1/rooms/{room.room}/messages/{{}}/regenerate"
    for message_id in (plain["id"], asked["ai_message"]["id"]):
        answer = call("POST", url.format(message_id), token=room["member"].token)
        assert (answer.status, answer.error_code) == (409, "conflict")
    reply_url = f"/api/v1/rooms/{room.room}/messages/{asked['ai_message']['id']}"
    assert call("DELETE", reply_url, token=room["admin"].token).status == 204
    assert call("POST", url.format(asked["message"]["id"]), token=room["member"].token).status == 409
    assert (
        call(
            "DELETE", f"/api/v1/rooms/{room.room}/messages/{asked['message']['id']}", token=room["member"].token
        ).status
        == 204
    )
    assert call("POST", url.format(asked["message"]["id"]), token=room["member"].token).status == 404
    unknown = "0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10"
    assert call("POST", url.format(unknown), token=room["member"].token).status == 404


def test_the_model_sees_only_what_it_may(openai: OpenAIServer) -> None:
    room = openai_room()
    member, admin, guest = room["member"], room["admin"], room["guest"]
    before_cutoff = sent(room.room, guest, "ancient history")["message"]
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("UPDATE messages SET created_at = :t WHERE id = :m"),
            {"t": datetime.now(UTC) - timedelta(days=2), "m": before_cutoff["id"]},
        )
    cutoff = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    call("PATCH", f"/api/v1/rooms/{room.room}", {"ai_context_cutoff_at": cutoff}, token=admin.token)
    sent(room.room, guest, "kept public")
    excluded = sent(room.room, guest, "keep me out")["message"]
    call("PATCH", f"/api/v1/rooms/{room.room}/messages/{excluded['id']}", {"exclude_from_ai": True}, token=guest.token)
    deleted = sent(room.room, guest, "regretted")["message"]
    call("DELETE", f"/api/v1/rooms/{room.room}/messages/{deleted['id']}", token=guest.token)
    openai.behaviour = Behaviour(reply="admin secret answer")
    ask(room, "admin secret question", who="admin", private=True)
    openai.behaviour = Behaviour(reply="member private answer")
    ask(room, "member private question", private=True)
    openai.behaviour = Behaviour(status=500)
    sent(room.room, guest, "public question that failed", invoke_ai=False)
    ask(room, "asked in public")  # its failed reply must not be shown
    openai.behaviour = Behaviour(reply="ok")

    ask(room, "public ask")
    public = [m["content"] for m in openai.requests[-1]["body"]["messages"][1:]]
    assert public == [
        f"{guest.username}: kept public",
        f"{guest.username}: public question that failed",
        f"{member.username}: asked in public",
        f"{member.username}: public ask",
    ]

    ask(room, "private ask", private=True)
    private = [m["content"] for m in openai.requests[-1]["body"]["messages"][1:]]
    assert f"{member.username}: member private question" in private
    assert "member private answer" in private and "ok" in private
    assert not any("admin secret" in c for c in private)
    assert private[-1] == f"{member.username}: private ask"


def test_the_context_is_trimmed_to_the_budget_newest_kept(
    openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = openai_room()
    for i in range(40):
        sent(room.room, room["guest"], f"message number {i} " + "x" * 200)
    monkeypatch.setenv("ROOMS_AI_CONTEXT_TOKENS", "600")
    reset_settings()
    openai.behaviour = Behaviour(reply="the older ones")
    ask(room, "summarize")
    turns = openai.requests[-1]["body"]["messages"]
    assert sum(len(m["content"]) for m in turns) <= 600 * 4
    # The oldest that do not fit are summarized (ai_worker.summaries; test_ai_summaries.py) ahead of the rest.
    assert turns[1]["content"] == "Summary of the earlier conversation: the older ones"
    kept = [m["content"] for m in turns[2:-1]]
    assert kept and kept[-1].startswith(f"{room['guest'].username}: message number 39 ")
    numbers = [int(c.split("message number ")[1].split()[0]) for c in kept]
    assert numbers == list(range(40 - len(numbers), 40))


def test_the_api_key_can_come_from_secrets_manager(
    openai: OpenAIServer, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from ai_worker import providers

    arn = boto3.client("secretsmanager").create_secret(
        Name=f"openai-{time.time_ns()}", SecretString='{"api_key": "sk-from-the-secret"}'
    )["ARN"]
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY_SECRET_ARN", arn)
    reset_settings()
    providers._key_from_secret.cache_clear()
    try:
        room = openai_room()
        assert ask(room, "hi")["ai_message"]["status"] == "completed"
    finally:
        providers._key_from_secret.cache_clear()
    assert openai.requests[-1]["headers"]["Authorization"] == "Bearer sk-from-the-secret"
