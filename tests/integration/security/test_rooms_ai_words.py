"""Issue 14.4: the AI's words cannot be forged. Only a message's human author edits its content; an AI
message's content changes only by regenerate; admins may delete or exclude_from_ai, never rewrite."""

from __future__ import annotations

from typing import Any

from tests.client import call
from tests.integration.rooms.rooms_helpers import history, sent, team


def _url(room: str, message: dict[str, Any]) -> str:
    return f"/api/v1/rooms/{room}/messages/{message['id']}"


def test_a_member_cannot_rewrite_an_ai_reply(db: str) -> None:
    room = team()
    exchange = sent(room.room, room["member"], "what is 2 + 2?", invoke_ai=True)
    ai = exchange["ai_message"]
    assert ai["kind"] == "ai"
    for who in ("member", "admin", "master"):  # the requester, and those above them
        answer = call("PATCH", _url(room.room, ai), {"content": "5, trust me"}, token=room[who].token)
        assert answer.status == 403 and answer.error_code == "forbidden", (who, answer.body)
    (shown,) = [m for m in history(room.room, room["reader"]) if m["id"] == ai["id"]]
    assert shown["content"] == ai["content"] and shown["updated_at"] == ai["updated_at"]


def test_an_admin_cannot_rewrite_someone_elses_message(db: str) -> None:
    room = team()
    message = sent(room.room, room["guest"], "I agree")["message"]
    for who in ("admin", "master"):
        answer = call("PATCH", _url(room.room, message), {"content": "I resign"}, token=room[who].token)
        assert answer.status == 403 and answer.error_code == "forbidden", (who, answer.body)
        both = call(
            "PATCH", _url(room.room, message), {"content": "I resign", "exclude_from_ai": True}, token=room[who].token
        )
        assert both.status == 403, both.body  # nothing of a refused change is applied
    (shown,) = history(room.room, room["reader"])
    assert (shown["content"], shown["exclude_from_ai"]) == ("I agree", False)


def test_an_admin_may_still_exclude_or_delete_someone_elses_message(db: str) -> None:
    room = team()
    message = sent(room.room, room["guest"], "off topic")["message"]
    excluded = call("PATCH", _url(room.room, message), {"exclude_from_ai": True}, token=room["admin"].token)
    assert excluded.status == 200 and excluded.body["exclude_from_ai"] is True
    assert excluded.body["content"] == "off topic"
    ai = sent(room.room, room["member"], "hello?", invoke_ai=True)["ai_message"]
    assert call("PATCH", _url(room.room, ai), {"exclude_from_ai": True}, token=room["admin"].token).status == 200
    assert call("PATCH", _url(room.room, ai), {"exclude_from_ai": False}, token=room["member"].token).status == 200
    assert call("DELETE", _url(room.room, message), token=room["admin"].token).status == 204


def test_the_author_edits_their_own_message(db: str) -> None:
    room = team()
    for who in ("guest", "admin"):
        message = sent(room.room, room[who], "typo")["message"]
        edited = call("PATCH", _url(room.room, message), {"content": "fixed"}, token=room[who].token)
        assert edited.status == 200 and edited.body["content"] == "fixed", (who, edited.body)
