"""Messages: sending, history (newest first, keyset), edits, soft deletes, private exchanges, and
constant statements per page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from tests.client import call
from tests.integration.rooms.rooms_helpers import add_member, history, new_room, person, sent, team
from tests.statements import counting


def test_sending_answers_201_with_the_message_and_no_ai_message(db: str) -> None:
    room = team()
    body = sent(room.room, room["guest"], "first")
    message = body["message"]
    assert body["ai_message"] is None
    assert (message["seq"], message["kind"], message["content"], message["status"]) == (
        1,
        "human",
        "first",
        "completed",
    )
    assert message["sender"] == {"id": room["guest"].id, "username": room["guest"].username, "avatar_url": None}
    assert (message["visibility"], message["exclude_from_ai"], message["reply_to"]) == ("public", False, None)
    assert message["room_id"] == room.room and message["created_at"].endswith("Z")
    assert sent(room.room, room["member"], "second")["message"]["seq"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"content": ""},
        {"content": "x" * 4001},
        {},
        {"content": "hi", "colour": "red"},
        {"content": "hi", "invoke_ai": "maybe"},
        {"content": "hi", "invoke_ai": 0},  # JSON booleans only (pydantic would read 0 as false)
        {"content": "hi", "private": 1},
        {"content": None},
    ],
)
def test_message_bodies_are_validated(db: str, body: dict[str, Any]) -> None:
    room = team()
    answer = call("POST", f"/api/v1/rooms/{room.room}/messages", body, token=room["member"].token)
    assert (answer.status, answer.error_code) == (422, "validation_error"), answer.body
    assert history(room.room, room["member"]) == []


def test_history_is_newest_first_by_seq_with_keyset_pages(db: str) -> None:
    room = team()
    for i in range(7):
        sent(room.room, room["guest"] if i % 2 else room["member"], f"m{i}")
    seqs, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = call("GET", f"/api/v1/rooms/{room.room}/messages{query}", token=room["reader"].token).body
        seqs += [m["seq"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seqs == [7, 6, 5, 4, 3, 2, 1]


def test_a_cursor_from_another_list_is_400(db: str) -> None:
    room = team()
    for _ in range(3):
        sent(room.room, room["member"])
    members_cursor = call("GET", f"/api/v1/rooms/{room.room}/members?limit=1", token=room["reader"].token).body
    answer = call(
        "GET",
        f"/api/v1/rooms/{room.room}/messages?cursor={members_cursor['next_cursor']}",
        token=room["reader"].token,
    )
    assert answer.status == 400


def test_authors_edit_their_messages_admins_exclude_them_others_403(db: str) -> None:
    room = team()
    message = sent(room.room, room["guest"], "typo")["message"]
    url = f"/api/v1/rooms/{room.room}/messages/{message['id']}"
    edited = call("PATCH", url, {"content": "fixed"}, token=room["guest"].token)
    assert edited.status == 200
    assert (edited.body["content"], edited.body["seq"], edited.body["id"]) == ("fixed", 1, message["id"])
    assert edited.body["updated_at"] > message["updated_at"]
    assert call("PATCH", url, {"exclude_from_ai": True}, token=room["member"].token).status == 403
    excluded = call("PATCH", url, {"exclude_from_ai": True}, token=room["admin"].token)
    assert excluded.status == 200 and excluded.body["exclude_from_ai"] is True
    assert call("PATCH", url, {}, token=room["guest"].token).body["content"] == "fixed"  # nothing to change
    for bad in ({"content": ""}, {"content": None}, {"exclude_from_ai": None}, {"exclude_from_ai": 0}, {"seq": 5}):
        assert call("PATCH", url, bad, token=room["guest"].token).status == 422, bad


def test_a_demoted_author_still_edits_their_own_message(db: str) -> None:
    room = team()
    message = sent(room.room, room["guest"], "before")["message"]
    call(
        "PATCH", f"/api/v1/rooms/{room.room}/members/{room['guest'].id}", {"role": "reader"}, token=room["admin"].token
    )
    url = f"/api/v1/rooms/{room.room}/messages/{message['id']}"
    assert call("PATCH", url, {"content": "after"}, token=room["guest"].token).status == 200


def test_deleting_is_soft_hides_the_message_and_keeps_seqs(db: str) -> None:
    room = team()
    first = sent(room.room, room["member"], "one")["message"]
    sent(room.room, room["member"], "two")
    url = f"/api/v1/rooms/{room.room}/messages/{first['id']}"
    assert call("DELETE", url, token=room["guest"].token).status == 403
    assert call("DELETE", url, token=room["member"].token).status == 204
    assert [m["content"] for m in history(room.room, room["reader"])] == ["two"]
    assert call("DELETE", url, token=room["admin"].token).status == 404
    assert call("PATCH", url, {"content": "back"}, token=room["member"].token).status == 404
    with core_db.get_engine().connect() as conn:
        row: Any = conn.execute(
            text("SELECT content, deleted_at FROM messages WHERE id = :m"), {"m": first["id"]}
        ).one()
    assert row.content == "one" and row.deleted_at is not None
    assert sent(room.room, room["member"], "three")["message"]["seq"] == 3


def test_a_message_is_only_reachable_under_its_own_room(db: str) -> None:
    room = team()
    other = new_room(room["admin"])
    message = sent(room.room, room["member"])["message"]
    for method in ("PATCH", "DELETE"):
        answer = call(
            method, f"/api/v1/rooms/{other}/messages/{message['id']}", {"content": "x"}, token=room["admin"].token
        )
        assert answer.status == 404
    unknown = "0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10"
    assert call("DELETE", f"/api/v1/rooms/{room.room}/messages/{unknown}", token=room["admin"].token).status == 404


def test_private_exchanges_are_visible_to_their_requester_only(db: str) -> None:
    room = team()
    sent(room.room, room["member"], "public hello")
    mine = sent(room.room, room["admin"], "just for me", invoke_ai=True, private=True)
    assert mine["message"]["visibility"] == "private" and mine["ai_message"]["visibility"] == "private"
    assert mine["ai_message"]["kind"] == "ai"  # pending, or failed at once when no queue takes the job
    assert [m["seq"] for m in history(room.room, room["admin"])] == [3, 2, 1]
    for role in ("master", "member", "reader"):
        assert [m["content"] for m in history(room.room, room[role])] == ["public hello"]
    # Others cannot touch what they cannot see, even the master.
    for message in (mine["message"], mine["ai_message"]):
        url = f"/api/v1/rooms/{room.room}/messages/{message['id']}"
        assert call("PATCH", url, {"exclude_from_ai": True}, token=room["master"].token).status == 404
        assert call("DELETE", url, token=room["master"].token).status == 404
    regenerate = f"/api/v1/rooms/{room.room}/messages/{mine['message']['id']}/regenerate"
    assert call("POST", regenerate, token=room["master"].token).status == 404
    assert call("POST", regenerate, token=room["admin"].token).status == 202
    # The next public message takes the next seq: private ones hold theirs.
    assert sent(room.room, room["member"], "after")["message"]["seq"] == 4


def test_a_private_message_without_ai_is_a_note_only_its_sender_sees(db: str) -> None:
    room = team()
    note = sent(room.room, room["guest"], "remember the milk", private=True)
    assert note["ai_message"] is None and note["message"]["visibility"] == "private"
    assert [m["content"] for m in history(room.room, room["guest"])] == ["remember the milk"]
    assert history(room.room, room["master"]) == []
    url = f"/api/v1/rooms/{room.room}/messages/{note['message']['id']}"
    assert call("PATCH", url, {"content": "and eggs"}, token=room["guest"].token).status == 200
    assert call("DELETE", url, token=room["admin"].token).status == 404


def test_list_requests_run_constant_statements_for_1_or_100_items(db: str) -> None:
    room = team()
    invitee = person()
    senders = [room[r] for r in ("guest", "member", "admin", "master")]
    with core_db.get_engine().begin() as conn:
        for i in range(1, 106):
            conn.execute(
                text(
                    "INSERT INTO messages (id, room_id, seq, sender_id, kind, content) "
                    "VALUES (gen_random_uuid(), :r, :seq, :s, :kind, :c)"
                ),
                {
                    "r": room.room,
                    "seq": i,
                    "s": None if i % 3 == 0 else senders[i % 4].id,
                    "kind": "ai" if i % 3 == 0 else "human",
                    "c": f"m{i}",
                },
            )
        conn.execute(text("UPDATE rooms SET last_seq = 105 WHERE id = :r"), {"r": room.room})
    for i in range(105):
        extra = new_room(room["master"], f"r{i}")
        add_member(extra, room["reader"], "guest")
        if i < 5:
            add_member(extra, person(), "reader")
        call("POST", f"/api/v1/rooms/{extra}/invitations", {"username": invitee.username}, token=room["master"].token)
    for _ in range(100):
        add_member(room.room, person(), "reader")

    def statements(path: str, who: Any) -> int:
        with counting() as seen:
            answer = call("GET", path, token=who.token)
        assert answer.status == 200, answer.body
        assert len(answer.body["items"]) in (1, 100)
        return len(seen)

    cases = [
        (f"/api/v1/rooms/{room.room}/messages", room["reader"]),
        (f"/api/v1/rooms/{room.room}/members", room["reader"]),
        ("/api/v1/rooms", room["reader"]),
        ("/api/v1/invitations", invitee),
    ]
    for path, who in cases:
        one, hundred = statements(f"{path}?limit=1", who), statements(f"{path}?limit=100", who)
        assert one == hundred <= 2, path
