"""AI replies through the handler: echo (local default), an OpenAI-compatible endpoint (a real
HTTP server on 127.0.0.1), Bedrock (botocore Stubber); failures and timeouts stored as `failed`,
regenerate in place, what the model is shown, and no transaction held during the call."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from core.config import reset_settings
from rooms.settings import RoomsSettings
from tests.client import call
from tests.integration.rooms.rooms_helpers import Behaviour, OpenAIServer, Team, history, sent, team

API_KEY = "sk-local-test-key"


@pytest.fixture
def openai(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
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


def test_echo_is_the_local_default_and_answers_with_the_question(db: str) -> None:
    room = team()
    body = sent(room.room, room["member"], "What's up?", invoke_ai=True)
    human, reply = body["message"], body["ai_message"]
    assert (reply["kind"], reply["sender"], reply["status"]) == ("ai", None, "completed")
    assert reply["content"] == "What's up?"
    assert (reply["seq"], reply["reply_to"], reply["visibility"]) == (human["seq"] + 1, human["id"], "public")
    assert [m["kind"] for m in history(room.room, room["reader"])] == ["ai", "human"]


def test_openai_compatible_reply_and_what_the_endpoint_is_sent(openai: OpenAIServer) -> None:
    room = openai_room()
    sent(room.room, room["guest"], "earlier words")
    openai.behaviour = Behaviour(reply="forty-two")
    body = sent(room.room, room["member"], "the question", invoke_ai=True)
    assert (body["ai_message"]["content"], body["ai_message"]["status"]) == ("forty-two", "completed")
    (request,) = openai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    sent_body = request["body"]
    assert sent_body["model"] == "test-model"
    assert sent_body["max_tokens"] == RoomsSettings.current().rooms_ai_max_output_tokens
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
        Behaviour(raw_body=b'{"choices": []}'),
    ],
    ids=["server-error", "unauthorized", "not-json", "no-choices"],
)
def test_a_provider_failure_stores_a_failed_ai_message_and_keeps_the_question(
    openai: OpenAIServer, behaviour: Behaviour
) -> None:
    room = openai_room()
    openai.behaviour = behaviour
    answer = call(
        "POST", f"/api/v1/rooms/{room.room}/messages", {"content": "hi", "invoke_ai": True}, token=room["member"].token
    )
    assert answer.status == 201, answer.body
    assert answer.body["message"]["status"] == "completed"
    assert (answer.body["ai_message"]["status"], answer.body["ai_message"]["content"]) == ("failed", "")
    assert [(m["kind"], m["status"]) for m in history(room.room, room["reader"])] == [
        ("ai", "failed"),
        ("human", "completed"),
    ]


def test_redirects_are_not_followed_so_the_key_stays_put(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(status=302, location=openai.base_url + "/elsewhere")
    assert sent(room.room, room["member"], "hi", invoke_ai=True)["ai_message"]["status"] == "failed"
    assert [r["path"] for r in openai.requests] == ["/v1/chat/completions"]


def test_a_provider_timeout_is_a_failed_message_within_the_deadline(
    openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = openai_room()
    monkeypatch.setenv("ROOMS_AI_TIMEOUT_S", "0.3")
    reset_settings()
    openai.behaviour = Behaviour(delay_s=2.0)
    started = time.monotonic()
    body = sent(room.room, room["member"], "slow one", invoke_ai=True)
    assert time.monotonic() - started < 1.5
    assert body["ai_message"]["status"] == "failed"
    assert last_seq(room.room) == 2


def test_no_transaction_or_connection_is_held_while_the_provider_thinks(openai: OpenAIServer) -> None:
    """With one pooled connection, a transaction held during the call would block this other sender.

    The other sender goes through the logic on the same engine (a resolver serves one request at a
    time, as a Lambda container does), the asker through the handler.
    """
    from rooms import replies

    room = openai_room()
    openai.behaviour = Behaviour(reply="done", delay_s=1.5)
    result: dict[str, Any] = {}

    def ask() -> None:
        result["body"] = sent(room.room, room["member"], "think hard", invoke_ai=True)

    asker = threading.Thread(target=ask)
    asker.start()
    deadline = time.monotonic() + 5
    while not openai.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert openai.requests, "the provider was never called"
    started = time.monotonic()
    meanwhile, _ = replies.send(
        core_db.session_scope,
        uuid.UUID(room.room),
        uuid.UUID(room["guest"].id),
        "meanwhile",
        invoke_ai=False,
        private=False,
    )
    assert time.monotonic() - started < 1.0
    asker.join(10)
    assert meanwhile.seq == 2
    assert (result["body"]["message"]["seq"], result["body"]["ai_message"]["seq"]) == (1, 3)


def test_regenerate_rewrites_the_ai_message_in_place(openai: OpenAIServer) -> None:
    room = openai_room()
    openai.behaviour = Behaviour(status=503)
    first = sent(room.room, room["member"], "try me", invoke_ai=True)
    assert first["ai_message"]["status"] == "failed"
    sent(room.room, room["guest"], "later message")
    seq_before = last_seq(room.room)
    openai.behaviour = Behaviour(reply="second try")
    url = f"/api/v1/rooms/{room.room}/messages/{first['message']['id']}/regenerate"
    answer = call("POST", url, token=room["admin"].token)
    assert answer.status == 200, answer.body
    again = answer.body
    assert (again["id"], again["seq"], again["reply_to"]) == (
        first["ai_message"]["id"],
        first["ai_message"]["seq"],
        first["message"]["id"],
    )
    assert (again["status"], again["content"]) == ("completed", "second try")
    assert again["created_at"] == first["ai_message"]["created_at"] and again["updated_at"] > again["created_at"]
    assert last_seq(room.room) == seq_before  # no new seq
    # The context of a regeneration ends at its question: the later message is not in it.
    contents = [m["content"] for m in openai.requests[-1]["body"]["messages"]]
    assert contents[-1].endswith(": try me") and not any("later message" in c for c in contents)
    openai.behaviour = Behaviour(status=500)
    failed = call("POST", url, token=room["member"].token).body
    assert (failed["id"], failed["status"], failed["content"]) == (first["ai_message"]["id"], "failed", "")
    assert len(history(room.room, room["reader"])) == 3


def test_regenerate_needs_a_human_message_with_a_live_ai_reply(db: str) -> None:
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
    sent(room.room, admin, "admin secret question", invoke_ai=True, private=True)
    openai.behaviour = Behaviour(reply="member private answer")
    sent(room.room, member, "member private question", invoke_ai=True, private=True)
    openai.behaviour = Behaviour(status=500)
    sent(room.room, guest, "public question that failed", invoke_ai=False)
    sent(room.room, member, "asked in public", invoke_ai=True)  # its failed reply must not be shown
    openai.behaviour = Behaviour(reply="ok")

    sent(room.room, member, "public ask", invoke_ai=True)
    public = [m["content"] for m in openai.requests[-1]["body"]["messages"][1:]]
    assert public == [
        f"{guest.username}: kept public",
        f"{guest.username}: public question that failed",
        f"{member.username}: asked in public",
        f"{member.username}: public ask",
    ]

    sent(room.room, member, "private ask", invoke_ai=True, private=True)
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
    sent(room.room, room["member"], "summarize", invoke_ai=True)
    turns = openai.requests[-1]["body"]["messages"]
    assert sum(len(m["content"]) for m in turns) <= 600 * 4
    kept = [m["content"] for m in turns[1:-1]]
    assert kept and kept[-1].startswith(f"{room['guest'].username}: message number 39 ")
    numbers = [int(c.split("message number ")[1].split()[0]) for c in kept]
    assert numbers == list(range(40 - len(numbers), 40))


def test_the_api_key_can_come_from_secrets_manager(
    openai: OpenAIServer, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from rooms import ai

    arn = boto3.client("secretsmanager").create_secret(
        Name=f"openai-{time.time_ns()}", SecretString='{"api_key": "sk-from-the-secret"}'
    )["ARN"]
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY_SECRET_ARN", arn)
    reset_settings()
    ai._key_from_secret.cache_clear()
    try:
        room = openai_room()
        assert sent(room.room, room["member"], "hi", invoke_ai=True)["ai_message"]["status"] == "completed"
    finally:
        ai._key_from_secret.cache_clear()
    assert openai.requests[-1]["headers"]["Authorization"] == "Bearer sk-from-the-secret"


def test_bedrock_rooms_use_converse_with_the_configured_model(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.stub import ANY, Stubber

    from rooms import ai

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url="https://bedrock.invalid")
    stubber = Stubber(client)
    stubber.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "from bedrock"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13},
            "metrics": {"latencyMs": 100},
        },
        {
            "modelId": RoomsSettings.current().rooms_bedrock_model,
            "system": ANY,
            "messages": ANY,
            "inferenceConfig": {"maxTokens": RoomsSettings.current().rooms_ai_max_output_tokens},
        },
    )
    stubber.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    monkeypatch.setattr(ai, "_bedrock_client", lambda timeout: client)
    room = team()
    call("PATCH", f"/api/v1/rooms/{room.room}", {"ai_provider": "bedrock"}, token=room["admin"].token)
    with stubber:
        ok = sent(room.room, room["member"], "hello bedrock", invoke_ai=True)["ai_message"]
        throttled = sent(room.room, room["member"], "again", invoke_ai=True)["ai_message"]
        stubber.assert_no_pending_responses()
    assert (ok["content"], ok["status"]) == ("from bedrock", "completed")
    assert (throttled["content"], throttled["status"]) == ("", "failed")
