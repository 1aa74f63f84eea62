"""Context summaries (issue 19.2) through the handler and the ai_worker (pumped, as in `make dev`):
over the budget, the oldest messages are summarized once by the room's provider (echo: deterministic),
cached, reused by the next replies, and remade after an edit, a delete, an exclusion or a cutoff move;
GET /rooms/{id} says whether the shared context starts with one; no summary carries a private
exchange or an excluded message to anyone else's context."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ai_worker import providers
from core import db as core_db
from core.config import reset_settings
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered
from tests.integration.ai_worker.test_ai_balances import charges
from tests.integration.rooms.rooms_helpers import Behaviour, OpenAIServer, Team, sent, team

FILLER = "x" * 40


@pytest.fixture
def small(db: str, worker: SqsPump, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The smallest context budget, no echo delay, and every summarization the provider makes (its
    transcript), counted."""
    calls: list[str] = []
    original = providers.EchoProvider.summarize

    def counted(self: providers.EchoProvider, messages: Any, **kwargs: Any) -> str:
        calls.append(messages[-1].text)
        return original(self, messages, **kwargs)

    monkeypatch.setattr(providers.EchoProvider, "summarize", counted)
    monkeypatch.setenv("ROOMS_AI_CONTEXT_TOKENS", "256")
    monkeypatch.setenv("ROOMS_AI_ECHO_DELAY_S", "0")
    reset_settings()
    try:
        yield calls
    finally:
        monkeypatch.undo()
        reset_settings()


def ask(room: Team, content: str, who: str = "member", **extra: bool) -> dict[str, Any]:
    body = sent(room.room, room[who], content, invoke_ai=True, **extra)
    done = answered(room.room, room[who], body["ai_message"]["id"])
    assert done["status"] == "completed", done
    return body


def chatter(room: Team, count: int, who: str = "guest", start: int = 0) -> list[dict[str, Any]]:
    return [sent(room.room, room[who], f"line {i} {FILLER}")["message"] for i in range(start, start + count)]


def rows(room_id: str) -> list[Any]:
    with core_db.get_engine().connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT requester_id, from_seq, through_seq, content, token_estimate, provider, model, revision "
                    "FROM message_context_summaries WHERE room_id = :r ORDER BY requester_id NULLS FIRST"
                ),
                {"r": room_id},
            ).all()
        )


def shared(room_id: str) -> Any:
    found = [r for r in rows(room_id) if r.requester_id is None]
    return found[0] if found else None


def ai_context(room: Team, who: str = "reader") -> dict[str, Any]:
    answer = call("GET", f"/api/v1/rooms/{room.room}", token=room[who].token)
    assert answer.status == 200, answer.body
    return dict(answer.body["ai_context"])


def test_a_short_conversation_needs_no_summary(small: list[str]) -> None:
    room = team()
    chatter(room, 2)
    ask(room, "anything?")
    assert small == [] and rows(room.room) == []
    assert ai_context(room) == {"summary_in_use": False, "summarized_through_seq": None}


def test_over_the_budget_the_oldest_are_summarized_once_then_reused(small: list[str]) -> None:
    room = team()
    lines = chatter(room, 12)
    ask(room, "first question")
    assert len(small) == 1
    summary = shared(room.room)
    assert summary is not None and summary.from_seq == 1 and summary.through_seq < lines[-1]["seq"]
    assert (summary.provider, summary.model) == ("echo", "echo")
    # Echo keeps the first words of each summarized line, oldest first: deterministic.
    assert summary.content.startswith(f"{room['guest'].username}: line 0 {FILLER}")
    guest = room["guest"].username
    assert small[0].splitlines() == [f"{guest}: line {i} {FILLER}" for i in range(summary.through_seq)]
    assert 0 < summary.token_estimate <= 64  # a quarter of the budget
    assert ai_context(room) == {"summary_in_use": True, "summarized_through_seq": summary.through_seq}

    ask(room, "second question")
    ask(room, "third question")
    assert len(small) == 1  # reused: no provider call
    assert shared(room.room).revision == summary.revision


def test_a_growing_conversation_extends_the_summary_from_its_text(small: list[str]) -> None:
    room = team()
    chatter(room, 12)
    ask(room, "first question")
    first = shared(room.room)
    chatter(room, 12, start=12)
    ask(room, "second question")
    assert len(small) == 2
    second = shared(room.room)
    assert second.from_seq == first.from_seq and second.through_seq > first.through_seq
    assert second.revision != first.revision
    # The extension summarized the previous summary and the newly overflowed messages only.
    assert small[1].startswith("Summary so far: " + first.content)
    assert f"line 0 {FILLER}" not in small[1].split("\n", 1)[1]


@pytest.mark.parametrize("change", ["edit", "delete", "exclude"])
def test_a_change_in_the_range_invalidates_it_and_the_next_reply_remakes_it(small: list[str], change: str) -> None:
    room = team()
    lines = chatter(room, 12)
    ask(room, "first question")
    assert len(small) == 1
    through = shared(room.room).through_seq
    outside = next(m for m in reversed(lines) if m["seq"] > through)
    url = f"/api/v1/rooms/{room.room}/messages/{outside['id']}"
    # A change after the summary's range keeps it.
    assert call("PATCH", url, {"content": "changed later"}, token=room["guest"].token).status == 200
    assert shared(room.room) is not None
    target = lines[1]
    url = f"/api/v1/rooms/{room.room}/messages/{target['id']}"
    if change == "edit":
        answer = call("PATCH", url, {"content": "line one, corrected"}, token=room["guest"].token)
    elif change == "delete":
        answer = call("DELETE", url, token=room["guest"].token)
    else:
        answer = call("PATCH", url, {"exclude_from_ai": True}, token=room["admin"].token)
    assert answer.status in (200, 204), answer.body
    assert rows(room.room) == []  # gone with the change itself
    assert ai_context(room)["summary_in_use"] is False
    ask(room, "second question")
    assert len(small) == 2
    assert shared(room.room) is not None
    if change == "edit":
        assert f"{room['guest'].username}: line one, corrected" in small[1].splitlines()
    else:
        assert f"line 1 {FILLER}" not in small[1] and f"line 2 {FILLER}" in small[1]
    ask(room, "third question")
    assert len(small) == 2


def test_moving_the_cutoff_invalidates_it(small: list[str]) -> None:
    room = team()
    lines = chatter(room, 12)
    ask(room, "first question")
    before = shared(room.room)
    # The first three messages move before the new cutoff.
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("UPDATE messages SET created_at = :t WHERE room_id = :r AND seq <= 3"),
            {"t": datetime.now(UTC) - timedelta(days=2), "r": room.room},
        )
    assert rows(room.room) == []  # the trigger: their time changed
    ask(room, "second question")
    assert len(small) == 2
    remade = shared(room.room)
    cutoff = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    patch = call("PATCH", f"/api/v1/rooms/{room.room}", {"ai_context_cutoff_at": cutoff}, token=room["admin"].token)
    assert patch.status == 200, patch.body
    assert ai_context(room)["summary_in_use"] is False  # made under another cutoff
    ask(room, "third question")
    assert len(small) == 3
    after = shared(room.room)
    assert after.revision not in (before.revision, remade.revision)
    assert after.from_seq == 4 and small[2].startswith(f"{room['guest'].username}: line 3 {FILLER}")
    assert ai_context(room) == {"summary_in_use": True, "summarized_through_seq": after.through_seq}
    assert lines[3]["seq"] == 4


def test_no_summary_carries_a_private_exchange_or_an_excluded_message_to_anyone_else(small: list[str]) -> None:
    """Abuse: an admin's private AI exchange and an excluded message sit among many public messages;
    every other context (shared, another member's private one) is summarized without them, and a
    private summary never serves anyone else's request."""
    room = team()
    chatter(room, 3)
    ask(room, "ADMINSECRET what is the launch code", who="admin", private=True)
    sent(room.room, room["admin"], "ADMINPRIVATE note to self", private=True)
    hidden = sent(room.room, room["guest"], "EXCLUDEDSECRET do not tell the AI")["message"]
    assert (
        call(
            "PATCH",
            f"/api/v1/rooms/{room.room}/messages/{hidden['id']}",
            {"exclude_from_ai": True},
            token=room["guest"].token,
        ).status
        == 200
    )
    chatter(room, 12, start=3)

    ask(room, "MEMBERPRIVATE my own question", private=True)  # the member's private scope
    ask(room, "a public question")  # the shared scope
    ask(room, "ADMINSECRET again", who="admin", private=True)  # the admin's private scope
    by_scope = {r.requester_id: r for r in rows(room.room)}
    member, admin = room["member"], room["admin"]
    assert set(map(str, filter(None, by_scope))) == {member.id, admin.id} and None in by_scope
    for summary in (by_scope[None], next(r for k, r in by_scope.items() if str(k) == member.id)):
        assert "ADMINSECRET" not in summary.content and "ADMINPRIVATE" not in summary.content
        assert "EXCLUDEDSECRET" not in summary.content
    assert "MEMBERPRIVATE" not in by_scope[None].content
    own = next(r for k, r in by_scope.items() if str(k) == admin.id)
    assert "ADMINSECRET" in own.content and "EXCLUDEDSECRET" not in own.content
    # What the provider was given to summarize, whoever asked.
    assert all("EXCLUDEDSECRET" not in transcript for transcript in small)
    assert sum("ADMINSECRET" in t for t in small) == 1  # the admin's own private scope only
    # GET /rooms/{id} speaks of the shared context only, the same for everyone.
    assert ai_context(room, "reader") == ai_context(room, "admin") == ai_context(room, "member")
    assert ai_context(room)["summarized_through_seq"] == by_scope[None].through_seq


def test_an_openai_room_gets_one_summarization_call_then_the_summary_heads_its_context(
    small: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        reset_settings()
        room = team()
        patch = {"ai_provider": "openai", "ai_model": "test-model"}
        assert call("PATCH", f"/api/v1/rooms/{room.room}", patch, token=room["admin"].token).status == 200
        chatter(room, 12)
        usage = {"prompt_tokens": 100, "completion_tokens": 10}
        server.behaviour = Behaviour(reply="the team said lines zero to nine", usage=usage)
        ask(room, "first question")
        ask(room, "second question")
    # The summary's call is charged with the reply that made it (one charge per job), to the master.
    assert [(c.input_tokens, c.output_tokens) for c in charges(room["master"])] == [(200, 20), (100, 10)]
    summarizing = [r for r in server.requests if "condense" in r["body"]["messages"][0]["content"]]
    assert len(summarizing) == 1 and len(server.requests) == 3
    transcript = summarizing[0]["body"]["messages"][1]["content"]
    assert transcript.startswith(f"{room['guest'].username}: line 0 {FILLER}")
    assert summarizing[0]["body"]["max_tokens"] == 64
    replies = [r for r in server.requests if r not in summarizing]
    for reply in replies:
        turns = reply["body"]["messages"]
        assert turns[1]["content"] == "Summary of the earlier conversation: the team said lines zero to nine"
        assert sum(len(t["content"]) for t in turns) <= 256 * 4
    summary = shared(room.room)
    assert (summary.provider, summary.model, summary.content) == (
        "openai",
        "test-model",
        "the team said lines zero to nine",
    )


def test_a_failed_summarization_trims_the_context_and_caches_nothing(
    small: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: providers.EchoProvider, messages: Any, **kwargs: Any) -> str:
        small.append("failed")
        raise providers.ProviderError("down")

    monkeypatch.setattr(providers.EchoProvider, "summarize", broken)
    room = team()
    chatter(room, 12)
    body = ask(room, "still answered")
    assert answered(room.room, room["member"], body["ai_message"]["id"])["content"] == "still answered"
    assert small == ["failed"] and rows(room.room) == []


def _pending(room: Team, lines: list[dict[str, Any]]) -> Any:
    """The plan the worker would make for a public question after `lines` (read back as it reads them)."""
    from ai_steps import context, summaries

    def history_message(m: dict[str, Any]) -> context.HistoryMessage:
        return context.HistoryMessage(
            id=uuid.UUID(m["id"]),
            seq=m["seq"],
            kind=m["kind"],
            author=m["sender"]["username"],
            content=m["content"],
            status=m["status"],
            visibility=m["visibility"],
            requester_id=None,
            exclude_from_ai=False,
            deleted=False,
            created_at=datetime.fromisoformat(m["created_at"]),
        )

    question = sent(room.room, room["member"], "the question")["message"]
    result = summaries.plan(
        [history_message(m) for m in lines],
        history_message(question),
        room_id=uuid.UUID(room.room),
        requester_id=uuid.UUID(room["member"].id),
        private=False,
        cutoff=None,
        budget_tokens=256,
        summary_tokens=600,
        system=context.system_prompt("team"),
        cached=None,
        complete=True,
        provider="echo",
        model="echo",
    )
    assert result.pending is not None
    return result.pending


def _store(pending: Any) -> bool:
    from dataclasses import replace

    from ai_steps import summaries

    made = replace(pending.draft, content="made", token_estimate=10)
    with core_db.session_scope() as session:
        return summaries.store(session, pending, made)


def test_a_summary_is_not_stored_over_a_change_made_while_it_was_being_made(db: str) -> None:
    room = team()
    lines = chatter(room, 12)
    pending = _pending(room, lines)
    url = f"/api/v1/rooms/{room.room}/messages/{lines[0]['id']}"
    assert call("PATCH", url, {"content": "edited meanwhile"}, token=room["guest"].token).status == 200
    assert _store(pending) is False and rows(room.room) == []
    pending = _pending(room, _fresh(room, lines))
    assert _store(pending) is True and len(rows(room.room)) == 1
    # Another writer's summary is not overwritten by one that read none.
    assert _store(_pending(room, _fresh(room, lines))) is False


def test_an_edit_in_flight_finishes_before_the_summary_is_stored_and_wins(db: str) -> None:
    room = team()
    lines = chatter(room, 12)
    pending = _pending(room, lines)
    result: list[bool] = []
    with core_db.get_engine().connect() as editor:
        transaction = editor.begin()
        editor.execute(text("UPDATE messages SET content = 'in flight' WHERE id = :m"), {"m": lines[1]["id"]})
        writer = threading.Thread(target=lambda: result.append(_store(pending)))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # waiting for the edit's row lock (FOR SHARE)
        transaction.commit()
    writer.join(5)
    assert result == [False] and rows(room.room) == []


def test_an_extension_is_not_stored_over_a_summary_invalidated_meanwhile(db: str) -> None:
    from core import context_summaries

    room = team()
    lines = chatter(room, 12)
    assert _store(_pending(room, lines)) is True
    (row,) = rows(room.room)
    summary = context_summaries.Summary(room_id=uuid.UUID(room.room), cutoff_at=None, **row._asdict())
    assert (
        call("DELETE", f"/api/v1/rooms/{room.room}/messages/{lines[0]['id']}", token=room["guest"].token).status == 204
    )
    later = sent(room.room, room["guest"], "later")["message"]
    draft = replace_draft(summary, later["seq"])
    with core_db.session_scope() as session:
        assert context_summaries.extend(session, draft, summary.revision) is False
    assert rows(room.room) == []


def replace_draft(summary: Any, through: int) -> Any:
    from core.context_summaries import Draft

    return Draft(
        room_id=summary.room_id,
        requester_id=None,
        from_seq=summary.from_seq,
        through_seq=through,
        content="extended",
        token_estimate=5,
        provider="echo",
        model="echo",
        cutoff_at=None,
    )


def _fresh(room: Team, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines as they read now (edited content)."""
    by_id = {
        m["id"]: m
        for m in call("GET", f"/api/v1/rooms/{room.room}/messages?limit=100", token=room["guest"].token).body["items"]
    }
    return [by_id[m["id"]] for m in lines if m["id"] in by_id]
