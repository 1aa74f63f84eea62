"""What the AI is shown: filtering rules and trimming to the token budget (pure functions)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ai_steps.context import HistoryMessage, build, estimate_tokens, system_prompt, usable

from core.ai_steps import ChatMessage

ME, OTHER = uuid.uuid4(), uuid.uuid4()
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SYSTEM = system_prompt("team")


def msg(seq: int, content: str = "", **changes: object) -> HistoryMessage:
    base = HistoryMessage(
        id=uuid.uuid4(),
        seq=seq,
        kind="human",
        author="ann",
        content=content or f"message {seq}",
        status="completed",
        visibility="public",
        requester_id=None,
        exclude_from_ai=False,
        deleted=False,
        created_at=T0 + timedelta(minutes=seq),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def contents(turns: list[ChatMessage]) -> list[str]:
    return [t.content for t in turns]


def run(history: list[HistoryMessage], prompt: HistoryMessage, **options: object) -> list[ChatMessage]:
    settings: dict[str, object] = {
        "requester_id": ME,
        "private": False,
        "cutoff": None,
        "budget_tokens": 10_000,
        "system": SYSTEM,
    }
    return build(history, prompt, **{**settings, **options})  # type: ignore[arg-type]


def test_turns_are_oldest_first_end_with_the_prompt_and_name_their_authors() -> None:
    history = [msg(2, "b", author="bob"), msg(1, "a"), msg(3, "answer", kind="ai", author=None)]
    turns = run(history, msg(4, "question", author="cy"))
    assert contents(turns) == ["ann: a", "bob: b", "answer", "cy: question"]
    assert [t.role for t in turns] == ["user", "user", "assistant", "user"]
    assert turns[-1].text == "question" and turns[-1].author == "cy"


def test_deleted_excluded_and_failed_messages_are_skipped() -> None:
    history = [
        msg(1, "deleted", deleted=True),
        msg(2, "excluded", exclude_from_ai=True),
        msg(3, "", kind="ai", author=None, status="failed"),
        msg(4, "kept"),
    ]
    assert contents(run(history, msg(5, "q"))) == ["ann: kept", "ann: q"]


def test_messages_before_the_cutoff_are_skipped() -> None:
    history = [msg(1, "old"), msg(2, "older than cutoff"), msg(3, "new")]
    cutoff = T0 + timedelta(minutes=3)
    assert contents(run(history, msg(4, "q"), cutoff=cutoff)) == ["ann: new", "ann: q"]


def test_the_prompt_is_kept_even_if_excluded_or_before_the_cutoff() -> None:
    prompt = msg(2, "q", exclude_from_ai=True)
    assert contents(run([msg(1, "a")], prompt, cutoff=T0 + timedelta(days=1))) == ["ann: q"]


def test_a_public_request_sees_no_private_exchange_not_even_the_requesters() -> None:
    history = [
        msg(1, "mine", visibility="private", requester_id=ME),
        msg(2, "my answer", kind="ai", author=None, visibility="private", requester_id=ME),
        msg(3, "theirs", visibility="private", requester_id=OTHER),
        msg(4, "public"),
    ]
    assert contents(run(history, msg(5, "q"))) == ["ann: public", "ann: q"]


def test_a_private_request_sees_the_requesters_private_exchanges_only() -> None:
    history = [
        msg(1, "mine", visibility="private", requester_id=ME),
        msg(2, "my answer", kind="ai", author=None, visibility="private", requester_id=ME),
        msg(3, "theirs", visibility="private", requester_id=OTHER),
        msg(4, "their answer", kind="ai", author=None, visibility="private", requester_id=OTHER),
        msg(5, "public"),
    ]
    turns = run(history, msg(6, "q", visibility="private", requester_id=ME), private=True)
    assert contents(turns) == ["ann: mine", "my answer", "ann: public", "ann: q"]


def test_messages_at_or_after_the_prompt_are_not_context() -> None:
    history = [msg(1, "before"), msg(3, "after"), msg(2, "the prompt itself")]
    prompt = msg(2, "the prompt itself")
    assert contents(run(history, prompt)) == ["ann: before", "ann: the prompt itself"]


def test_usable_is_the_rule_the_builder_applies() -> None:
    assert usable(msg(1), requester_id=ME, private=False, cutoff=None)
    assert not usable(msg(1, deleted=True), requester_id=ME, private=False, cutoff=None)
    assert not usable(msg(1, visibility="private", requester_id=ME), requester_id=ME, private=False, cutoff=None)
    assert usable(msg(1, visibility="private", requester_id=ME), requester_id=ME, private=True, cutoff=None)


def test_the_estimate_is_about_four_characters_a_token_plus_overhead() -> None:
    assert estimate_tokens("") == 4
    assert estimate_tokens("abcd") == 5
    assert estimate_tokens("x" * 400) == 104


def test_trimming_keeps_the_newest_messages_that_fit() -> None:
    history = [msg(i, "x" * 96) for i in range(1, 51)]  # "ann: " + 96 chars = 101 chars = 26 + 4 tokens each
    budget = estimate_tokens(SYSTEM) + estimate_tokens("ann: q") + 30 * 10
    turns = run(history, msg(51, "q"), budget_tokens=budget)
    assert len(turns) == 11
    assert turns[-1].content == "ann: q"
    kept = [m.seq for m in history[-10:]]
    assert kept == list(range(41, 51))
    total = estimate_tokens(SYSTEM) + sum(estimate_tokens(t.content) for t in turns)
    assert total <= budget


def test_trimming_stops_at_the_first_message_that_does_not_fit() -> None:
    """The window stays contiguous: an old short message is not pulled in past a long newer one."""
    history = [msg(1, "short"), msg(2, "y" * 4000), msg(3, "recent")]
    budget = estimate_tokens(SYSTEM) + estimate_tokens("ann: q") + estimate_tokens("ann: recent") + 50
    assert contents(run(history, msg(4, "q"), budget_tokens=budget)) == ["ann: recent", "ann: q"]


def test_a_prompt_over_the_budget_alone_is_cut_to_fit() -> None:
    budget = estimate_tokens(SYSTEM) + 100
    turns = run([msg(1, "older")], msg(2, "z" * 4000), budget_tokens=budget)
    assert len(turns) == 1
    assert turns[0].text.startswith("zzz") and estimate_tokens(turns[0].content) <= 100
