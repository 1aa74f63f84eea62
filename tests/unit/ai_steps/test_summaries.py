"""Context summaries' plan (pure): when a summary is needed, reused, extended or left alone, what the
provider is asked to summarize (scoped to what the request may show), and the echo provider's
deterministic summary."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from ai_steps import summaries
from ai_steps.context import estimate_tokens

from ai_worker.providers import ChatMessage, EchoProvider, ProviderError
from core.context_summaries import Summary
from tests.unit.ai_steps.test_context import ME, OTHER, SYSTEM, T0, msg

ROOM = uuid.uuid4()
LINE = "y" * 60  # ~20 estimated tokens a message


def history(count: int, **changes: Any) -> list[Any]:
    return [msg(seq, f"m{seq} {LINE}", **changes) for seq in range(1, count + 1)]


def cached(through: int, *, from_seq: int = 1, cutoff: Any = None, tokens: int = 30) -> Summary:
    return Summary(
        room_id=ROOM,
        requester_id=None,
        from_seq=from_seq,
        through_seq=through,
        content="the story so far",
        token_estimate=tokens,
        provider="echo",
        model="echo",
        cutoff_at=cutoff,
        revision=uuid.uuid4(),
    )


def plan(messages: list[Any], prompt_seq: int, **options: Any) -> summaries.Plan:
    settings: dict[str, Any] = {
        "room_id": ROOM,
        "requester_id": ME,
        "private": False,
        "cutoff": None,
        "budget_tokens": 400,
        "summary_tokens": 600,
        "system": SYSTEM,
        "cached": None,
        "complete": True,
        "provider": "echo",
        "model": "echo",
    }
    return summaries.plan(messages, msg(prompt_seq, "the question"), **{**settings, **options})


def cost(turns: tuple[ChatMessage, ...]) -> int:
    return estimate_tokens(SYSTEM) + sum(estimate_tokens(t.content) for t in turns)


def test_everything_fits_no_summary() -> None:
    result = plan(history(3), 4)
    assert result.pending is None and result.reused is None
    assert [t.text for t in result.turns] == [f"m{i} {LINE}" for i in (1, 2, 3)] + ["the question"]


def test_over_the_budget_the_oldest_are_summarized_and_the_newest_kept_within_half() -> None:
    messages = history(20)
    result = plan(messages, 21)
    pending = result.pending
    assert pending is not None and result.reused is None
    assert (pending.draft.from_seq, pending.low) == (1, 1)
    assert pending.draft.through_seq == pending.high < 20
    assert pending.draft.requester_id is None and (pending.extends, pending.invalid) == (None, None)
    kept = [t.text for t in pending.kept]
    assert kept[-1] == "the question" and kept[-2] == f"m20 {LINE}"
    assert kept[0] == f"m{pending.high + 1} {LINE}"  # contiguous: nothing between summary and kept
    assert pending.transcript.splitlines() == [f"ann: m{i} {LINE}" for i in range(1, pending.high + 1)]
    assert [f[0] for f in pending.fingerprint] == [m.id for m in messages[: pending.high]]
    assert pending.fingerprint[0][1:] == ("completed", summaries.digest(f"m1 {LINE}"))
    limit = summaries.summary_limit(400, 600)
    assert limit == 100 and pending.max_tokens == limit
    # With the longest summary at its head, the context is still within the budget, and leaves room.
    assert cost(pending.kept) + limit <= 400
    # Until it is made, the context is the plain trimmed one.
    assert result.turns == pending.fallback and result.turns[-1].text == "the question"


def test_what_is_summarized_at_once_is_at_most_a_budget_the_newest_of_it() -> None:
    pending = plan(history(60), 61).pending
    assert pending is not None and pending.draft.from_seq == pending.low > 1
    assert estimate_tokens(pending.transcript) <= 400 + 4 * len(pending.fingerprint)
    assert pending.transcript.splitlines()[-1] == f"ann: m{pending.high} {LINE}"


def test_a_valid_summary_is_reused_while_what_follows_fits() -> None:
    summary = cached(20)
    result = plan(history(24)[20:], 25, cached=summary)
    assert result.pending is None and result.reused is summary
    assert result.turns[0].text == "Summary of the earlier conversation: the story so far"
    assert [t.text for t in result.turns[1:]] == [f"m{i} {LINE}" for i in (21, 22, 23, 24)] + ["the question"]


def test_a_valid_summary_is_extended_when_what_follows_no_longer_fits() -> None:
    summary = cached(10, tokens=30)
    result = plan(history(25)[10:], 26, cached=summary)
    pending = result.pending
    assert pending is not None and pending.extends == summary.revision and pending.invalid is None
    assert (pending.draft.from_seq, pending.low) == (1, 11)
    lines = pending.transcript.splitlines()
    assert lines[0] == "Summary so far: the story so far" and lines[1] == f"ann: m11 {LINE}"


def test_a_summary_made_under_another_cutoff_is_replaced() -> None:
    stale = cached(10, cutoff=T0)
    result = plan(history(20), 21, cached=stale)
    assert result.pending is not None and result.reused is None
    assert (result.pending.extends, result.pending.invalid) == (None, stale.revision)
    assert result.pending.draft.from_seq == 1


def test_the_cutoff_is_recorded_and_applied() -> None:
    cutoff = T0 + timedelta(minutes=5, seconds=30)
    result = plan(history(25), 26, cutoff=cutoff)
    assert result.pending is not None
    assert result.pending.draft.cutoff_at == cutoff and result.pending.draft.from_seq == 6


def test_regenerating_an_older_question_leaves_a_later_summary_alone() -> None:
    result = plan(history(30), 25, cached=cached(26))
    assert result.pending is None and result.reused is None
    assert result.turns[-1].text == "the question" and all("story" not in t.text for t in result.turns)


def test_a_public_request_summarizes_no_private_message_a_private_one_only_its_own() -> None:
    messages = history(20)
    messages[2] = msg(3, "OTHERSECRET", visibility="private", requester_id=OTHER)
    messages[3] = msg(4, "MINE", visibility="private", requester_id=ME)
    messages[4] = msg(5, "EXCLUDED", exclude_from_ai=True)
    public = plan(messages, 21).pending
    private = plan(messages, 21, private=True).pending
    assert public is not None and private is not None
    assert public.draft.requester_id is None and private.draft.requester_id == ME
    for secret in ("OTHERSECRET", "EXCLUDED"):
        assert secret not in public.transcript and secret not in private.transcript
    assert "MINE" not in public.transcript and "ann: MINE" in private.transcript.splitlines()


def test_echo_summarizes_deterministically_within_its_limit() -> None:
    echo = EchoProvider(delay_s=0)
    transcript = [ChatMessage("user", "ann: one two three four five six seven\nbob: short\n\n")]
    options: dict[str, Any] = {"system": "s", "model": "echo", "timeout": 1.0}
    assert echo.summarize(transcript, max_tokens=100, **options) == "ann: one two three four five / bob: short"
    assert echo.summarize(transcript, max_tokens=2, **options) == "ann: one"
    with pytest.raises(ProviderError):
        echo.summarize([ChatMessage("assistant", "x")], max_tokens=10, **options)


def test_the_summarizer_is_told_which_messages_had_images() -> None:
    from core.room_images import MessageImage

    picture = MessageImage(id=uuid.uuid4(), status="ready", content_type="image/png", width=800, height=600)
    messages = history(20)
    messages[0] = replace(messages[0], images=(picture, picture))
    messages[1] = replace(messages[1], images=(picture,))
    pending = plan(messages, 21).pending
    assert pending is not None
    first, second, third = pending.transcript.splitlines()[:3]
    assert first.endswith("[2 images attached, not shown here]") and first.startswith("ann: m1 ")
    assert second.endswith("[1 image attached, not shown here]")
    assert "image" not in third
