"""Unread counts (POST /rooms/{id}/read, GET /rooms), the oldest-first backfill list
(GET /rooms/{id}/messages?after_seq=N) and one message (GET /rooms/{id}/messages/{mid})."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from core.config import reset_settings
from tests.client import Answer, call
from tests.integration.rooms.rooms_helpers import add_member, history, new_room, person, sent, team
from tests.integration.social import Member as Person
from tests.statements import counting


def mark_read(room_id: str, who: Person, seq: Any) -> Answer:
    return call("POST", f"/api/v1/rooms/{room_id}/read", {"seq": seq}, token=who.token)


def listed(room_id: str, who: Person) -> dict[str, Any]:
    """My entry for this room in GET /rooms."""
    answer = call("GET", "/api/v1/rooms?limit=100", token=who.token)
    assert answer.status == 200, answer.body
    (entry,) = [r for r in answer.body["items"] if r["id"] == room_id]
    return dict(entry)


def unread(room_id: str, who: Person) -> int:
    return int(listed(room_id, who)["unread_count"])


def test_unread_counts_what_others_sent_after_my_last_read_seq(db: str) -> None:
    ada, bob = person(), person()
    room = new_room(ada)
    add_member(room, bob, "member")
    assert (unread(room, ada), listed(room, ada)["last_message"], listed(room, ada)["last_read_seq"]) == (0, None, 0)
    for i in range(3):
        sent(room, ada, f"a{i}")
    assert (unread(room, ada), unread(room, bob)) == (0, 3)  # my own messages are read
    last = listed(room, bob)["last_message"]
    assert (last["seq"], last["content"], last["sender"]["username"]) == (3, "a2", ada.username)

    assert mark_read(room, bob, 2).status == 204
    assert (unread(room, bob), listed(room, bob)["last_read_seq"]) == (1, 2)
    sent(room, bob, "b0")
    assert (unread(room, ada), unread(room, bob)) == (1, 1)
    assert listed(room, ada)["last_message"]["content"] == listed(room, bob)["last_message"]["content"] == "b0"
    assert mark_read(room, bob, 4).status == 204
    assert unread(room, bob) == 0

    deleted = sent(room, ada, "oops")["message"]
    assert unread(room, bob) == 1
    assert call("DELETE", f"/api/v1/rooms/{room}/messages/{deleted['id']}", token=ada.token).status == 204
    assert unread(room, bob) == 0  # a deleted message is neither unread nor the last one
    assert listed(room, bob)["last_message"]["content"] == "b0"


def test_private_ai_exchanges_count_only_for_their_requester(db: str) -> None:
    room = team()
    asker, other = room["member"], room["reader"]
    sent(room.room, room["admin"], "public question")
    body = sent(room.room, asker, "just for me", invoke_ai=True, private=True)
    ai_message = body["ai_message"]
    assert ai_message["visibility"] == "private"
    # The asker's own question is read; the answer to it is new. Others see neither.
    assert unread(room.room, asker) == 2
    assert listed(room.room, asker)["last_message"]["id"] == ai_message["id"]
    assert unread(room.room, other) == 1
    assert listed(room.room, other)["last_message"]["content"] == "public question"
    public = sent(room.room, asker, "for everyone", invoke_ai=True)
    assert unread(room.room, other) == 3  # a public question and its answer
    assert unread(room.room, asker) == 3  # both answers
    assert listed(room.room, other)["last_message"]["id"] == public["ai_message"]["id"]


def test_read_never_moves_backwards_and_cannot_pass_the_newest_seq(db: str) -> None:
    room = team()
    reader = room["reader"]
    for i in range(4):
        sent(room.room, room["member"], f"m{i}")
    assert mark_read(room.room, reader, 3).status == 204
    assert mark_read(room.room, reader, 1).status == 204
    assert mark_read(room.room, reader, 0).status == 204
    assert (listed(room.room, reader)["last_read_seq"], unread(room.room, reader)) == (3, 1)

    beyond = mark_read(room.room, reader, 5)
    assert (beyond.status, beyond.error_code) == (409, "conflict"), beyond.body
    assert listed(room.room, reader)["last_read_seq"] == 3  # unchanged
    assert mark_read(room.room, reader, 4).status == 204
    assert unread(room.room, reader) == 0

    stranger = person()
    assert mark_read(room.room, stranger, 1).status == 404
    assert mark_read(str(uuid.uuid4()), reader, 1).status == 404
    assert call("DELETE", f"/api/v1/rooms/{room.room}", token=room["master"].token).status == 204
    assert mark_read(room.room, reader, 1).status == 404


@pytest.mark.parametrize("body", [{"seq": -1}, {"seq": "2"}, {"seq": 1.5}, {"seq": True}, {}, {"seq": 1, "x": 1}])
def test_read_bodies_are_validated(db: str, body: dict[str, Any]) -> None:
    room = team()
    answer = call("POST", f"/api/v1/rooms/{room.room}/read", body, token=room["reader"].token)
    assert (answer.status, answer.error_code) == (422, "validation_error"), answer.body


def test_a_seq_written_as_a_whole_double_is_a_seq(db: str) -> None:
    """JSON Schema's integer (the contract's type) includes 2.0: a client whose numbers are doubles
    may send it; 1.5, "2" and true stay 422 (above)."""
    room = team()
    for i in range(2):
        sent(room.room, room["member"], f"m{i}")
    answer = call("POST", f"/api/v1/rooms/{room.room}/read", {"seq": 2.0}, token=room["reader"].token)
    assert answer.status == 204, answer.body
    assert listed(room.room, room["reader"])["last_read_seq"] == 2
    huge = call("POST", f"/api/v1/rooms/{room.room}/read", {"seq": 1125899906842625.0}, token=room["reader"].token)
    assert (huge.status, huge.error_code) == (409, "conflict"), huge.body  # a seq, beyond the newest


def test_a_newcomer_starts_with_the_history_read(db: str) -> None:
    room = team()
    for i in range(3):
        sent(room.room, room["member"], f"m{i}")
    newcomer = person()
    made = call(
        "POST", f"/api/v1/rooms/{room.room}/invitations", {"username": newcomer.username}, token=room["admin"].token
    )
    assert made.status == 201, made.body
    assert call("POST", f"/api/v1/invitations/{made.body['token']}/accept", token=newcomer.token).status == 200
    entry = listed(room.room, newcomer)
    assert (entry["last_read_seq"], entry["unread_count"], entry["last_message"]["seq"]) == (3, 0, 3)
    sent(room.room, room["member"], "welcome")
    assert unread(room.room, newcomer) == 1


def test_unread_counts_stop_at_the_cap(db: str) -> None:
    from rooms.schemas import UNREAD_CAP

    ada, bob = person(), person()
    room = new_room(ada)
    add_member(room, bob, "member")
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO messages (id, room_id, seq, sender_id, kind, content) "
                "SELECT gen_random_uuid(), :r, g, :a, 'human', 'm' || g FROM generate_series(1, :n) g"
            ),
            {"r": room, "a": ada.id, "n": UNREAD_CAP + 5},
        )
        conn.execute(text("UPDATE rooms SET last_seq = :n WHERE id = :r"), {"r": room, "n": UNREAD_CAP + 5})
    assert unread(room, bob) == UNREAD_CAP
    assert listed(room, bob)["last_message"]["seq"] == UNREAD_CAP + 5
    assert mark_read(room, bob, 4).status == 204
    assert unread(room, bob) == UNREAD_CAP  # 1001 unread
    assert mark_read(room, bob, 100).status == 204
    assert unread(room, bob) == UNREAD_CAP - 95


def after(room_id: str, who: Person, query: str) -> dict[str, Any]:
    answer = call("GET", f"/api/v1/rooms/{room_id}/messages?{query}", token=who.token)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def test_after_seq_backfills_oldest_first_without_gaps_or_repeats_while_messages_arrive(db: str) -> None:
    room = team()
    reader = room["reader"]
    for i in range(5):
        sent(room.room, room["member"], f"m{i}")
    sent(room.room, room["admin"], "a note to self", private=True)  # seq 6: not the reader's
    seqs: list[int] = []
    page = after(room.room, reader, "after_seq=2&limit=2")
    for arriving in range(6):
        seqs += [m["seq"] for m in page["items"]]
        if arriving < 4:  # more messages arrive while the client pages
            sent(room.room, room["guest"], f"late {arriving}")
        if page["next_cursor"]:
            page = after(room.room, reader, f"limit=2&cursor={page['next_cursor']}")
        else:  # caught up for now: later, poll on from the last seq seen
            page = after(room.room, reader, f"limit=2&after_seq={seqs[-1]}")
    assert page["items"] == [] and page["next_cursor"] is None
    assert seqs == [3, 4, 5, 7, 8, 9, 10]  # ascending, nothing skipped but what the reader may not see
    assert [m["seq"] for m in after(room.room, room["admin"], "after_seq=4")["items"]] == [5, 6, 7, 8, 9, 10]


def test_after_seq_and_cursor_combine(db: str) -> None:
    room = team()
    reader = room["reader"]
    for i in range(6):
        sent(room.room, room["member"], f"m{i}")
    first = after(room.room, reader, "after_seq=0&limit=2")
    assert [m["seq"] for m in first["items"]] == [1, 2]
    ascending = first["next_cursor"]
    # The cursor alone continues oldest first; with after_seq too, both bound the list from below.
    assert [m["seq"] for m in after(room.room, reader, f"limit=2&cursor={ascending}")["items"]] == [3, 4]
    again = after(room.room, reader, f"after_seq=0&limit=2&cursor={ascending}")
    assert [m["seq"] for m in again["items"]] == [3, 4]
    assert [m["seq"] for m in after(room.room, reader, f"after_seq=4&limit=2&cursor={ascending}")["items"]] == [5, 6]
    # The history's cursor continues newest first; with after_seq, above it only (a window).
    newest = after(room.room, reader, "limit=2")
    assert [m["seq"] for m in newest["items"]] == [6, 5]
    assert [m["seq"] for m in after(room.room, reader, f"limit=2&cursor={newest['next_cursor']}")["items"]] == [4, 3]
    window = after(room.room, reader, f"after_seq=2&limit=5&cursor={newest['next_cursor']}")
    assert [m["seq"] for m in window["items"]] == [4, 3] and window["next_cursor"] is None
    for bad in ("after_seq=-1", "after_seq=x", "after_seq=9007199254740992"):
        answer = call("GET", f"/api/v1/rooms/{room.room}/messages?{bad}", token=reader.token)
        assert (answer.status, answer.error_code) == (400, "bad_request"), (bad, answer.body)
    assert call("GET", f"/api/v1/rooms/{room.room}/messages?after_seq=0", token=person().token).status == 404


def test_one_message_and_its_404s(db: str) -> None:
    room = team()
    public = sent(room.room, room["member"], "hello")["message"]
    private = sent(room.room, room["admin"], "mine", private=True)["message"]
    gone = sent(room.room, room["member"], "bye")["message"]
    assert call("DELETE", f"/api/v1/rooms/{room.room}/messages/{gone['id']}", token=room["member"].token).status == 204
    other_room = new_room(room["reader"])
    elsewhere = sent(other_room, room["reader"], "elsewhere")["message"]

    def get(message_id: str, who: Person, room_id: str = room.room) -> Answer:
        return call("GET", f"/api/v1/rooms/{room_id}/messages/{message_id}", token=who.token)

    answer = get(public["id"], room["reader"])
    assert answer.status == 200 and answer.body == public
    assert get(private["id"], room["admin"]).body == private
    for message_id, who in (
        (private["id"], room["reader"]),  # someone else's private message
        (private["id"], room["master"]),
        (gone["id"], room["member"]),  # deleted
        (elsewhere["id"], room["reader"]),  # another room's, even one I am in
        (str(uuid.uuid4()), room["reader"]),
        (public["id"], person()),  # not a member
    ):
        assert get(message_id, who).status == 404, message_id
    assert get(public["id"], room["reader"], str(uuid.uuid4())).status == 404
    assert history(room.room, room["reader"])[0]["id"] == public["id"]


@pytest.fixture
def generous_ai_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`other` asks the AI in 20 rooms within a minute, past the default per-user budget."""
    monkeypatch.setenv("ROOMS_AI_REPLIES_PER_MINUTE", "100")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_my_rooms_is_one_statement_a_page_for_1_and_20_rooms(db: str, generous_ai_budget: None) -> None:
    me, other = person(), person()
    rooms = [new_room(other, f"room {i}") for i in range(20)]
    for i, room in enumerate(rooms):
        add_member(room, me, "reader")
        sent(room, other, f"hello {i}")
        sent(room, other, "private", private=True)
        sent(room, other, "asked", invoke_ai=True)

    def statements(limit: int) -> int:
        with counting() as seen:
            answer = call("GET", f"/api/v1/rooms?limit={limit}", token=me.token)
        assert answer.status == 200, answer.body
        assert len(answer.body["items"]) == limit
        assert {r["unread_count"] for r in answer.body["items"]} == {3}
        assert {r["last_message"]["kind"] for r in answer.body["items"]} == {"ai"}
        return len(seen)

    assert statements(1) == statements(20) == 1
    seen_ids, cursor = [], None
    while True:
        page = call("GET", "/api/v1/rooms?limit=7" + (f"&cursor={cursor}" if cursor else ""), token=me.token).body
        seen_ids += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen_ids == rooms[::-1]
