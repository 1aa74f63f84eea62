"""Invitations: by username and by link; accept, decline, expiry, reuse, and who may use which."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from tests.client import Answer, call
from tests.integration.rooms.rooms_helpers import Person, Team, person, role_of, team


def invite(room: Team, body: dict[str, Any], by: str = "admin") -> Answer:
    return call("POST", f"/api/v1/rooms/{room.room}/invitations", body, token=room[by].token)


def accept(key: str, who: Person) -> Answer:
    return call("POST", f"/api/v1/invitations/{key}/accept", token=who.token)


def decline(key: str, who: Person) -> Answer:
    return call("POST", f"/api/v1/invitations/{key}/decline", token=who.token)


def test_a_link_invitation_is_accepted_once_with_its_role(db: str) -> None:
    room = team()
    made = invite(room, {"role": "guest"})
    assert made.status == 201
    assert set(made.body) == {"id", "token", "role", "expires_at"}
    assert made.body["role"] == "guest" and len(made.body["token"]) >= 43
    newcomer = person()
    joined = accept(made.body["token"], newcomer)
    assert joined.status == 200, joined.body
    assert joined.body["role"] == "guest" and joined.body["user"]["id"] == newcomer.id
    assert joined.body["room"]["id"] == room.room and joined.body["room"]["my_role"] == "guest"
    assert role_of(room.room, newcomer) == "guest"
    # Spent: nobody can use it again.
    assert accept(made.body["token"], person()).status == 404
    assert decline(made.body["token"], person()).status == 404


def test_the_role_defaults_to_member_and_is_at_most_member(db: str) -> None:
    room = team()
    assert invite(room, {}).body["role"] == "member"
    for role in ("admin", "master", "owner"):
        answer = invite(room, {"role": role})
        assert (answer.status, answer.body["error"]["details"][0]["field"]) == (422, "role")


def test_tokens_are_stored_hashed(db: str) -> None:
    made = invite(team(), {}).body
    with core_db.get_engine().connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM room_invitations WHERE id = :i"), {"i": made["id"]}).scalar()
    assert stored == hashlib.sha256(made["token"].encode()).hexdigest()


def test_an_invitation_by_username_is_for_that_user_only(db: str) -> None:
    room = team()
    invitee, intruder = person(), person()
    made = invite(room, {"username": invitee.username.upper(), "role": "reader"}).body
    assert accept(made["token"], intruder).status == 404
    assert decline(made["token"], intruder).status == 404
    assert accept(made["id"], intruder).status == 404
    # The invitee sees it (without its token) and may accept it by id.
    pending = call("GET", "/api/v1/invitations", token=invitee.token).body
    assert [i["id"] for i in pending["items"]] == [made["id"]]
    item = pending["items"][0]
    assert "token" not in item
    assert item["room"] == {"id": room.room, "name": "team"} and item["role"] == "reader"
    assert item["invited_by"]["username"] == room["admin"].username
    assert call("GET", "/api/v1/invitations", token=intruder.token).body["items"] == []
    assert accept(made["id"], invitee).status == 200
    assert role_of(room.room, invitee) == "reader"
    assert call("GET", "/api/v1/invitations", token=invitee.token).body["items"] == []


def test_the_invitee_may_also_accept_with_the_token(db: str) -> None:
    room = team()
    invitee = person()
    made = invite(room, {"username": invitee.username}).body
    assert accept(made["token"], invitee).status == 200


def test_declining_removes_it_and_it_cannot_be_accepted_after(db: str) -> None:
    room = team()
    invitee = person()
    by_name = invite(room, {"username": invitee.username}).body
    assert decline(by_name["id"], invitee).status == 204
    assert call("GET", "/api/v1/invitations", token=invitee.token).body["items"] == []
    assert accept(by_name["token"], invitee).status == 404
    link = invite(room, {}).body
    assert decline(link["token"], person()).status == 204
    assert accept(link["token"], invitee).status == 404
    assert role_of(room.room, invitee) is None


def test_an_expired_invitation_is_404_and_not_listed(db: str) -> None:
    room = team()
    invitee = person()
    made = invite(room, {"username": invitee.username}).body
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("UPDATE room_invitations SET expires_at = now() - interval '1 second' WHERE id = :i"),
            {"i": made["id"]},
        )
    assert call("GET", "/api/v1/invitations", token=invitee.token).body["items"] == []
    assert accept(made["token"], invitee).status == 404
    assert decline(made["id"], invitee).status == 404


def test_invitations_to_a_deleted_room_are_404(db: str) -> None:
    room = team()
    invitee = person()
    made = invite(room, {"username": invitee.username}).body
    assert call("DELETE", f"/api/v1/rooms/{room.room}", token=room["master"].token).status == 204
    assert call("GET", "/api/v1/invitations", token=invitee.token).body["items"] == []
    assert accept(made["token"], invitee).status == 404


def test_a_member_accepting_a_link_is_409_and_the_link_stays_usable(db: str) -> None:
    room = team()
    link = invite(room, {}).body["token"]
    answer = accept(link, room["reader"])
    assert (answer.status, answer.error_code) == (409, "conflict")
    assert role_of(room.room, room["reader"]) == "reader"  # not changed by the invitation
    assert accept(link, person()).status == 200


def test_inviting_an_unknown_user_or_a_member_is_409(db: str) -> None:
    room = team()
    unknown = invite(room, {"username": "nobody_here"})
    assert (unknown.status, unknown.body["error"]["details"][0]["field"]) == (409, "username")
    assert invite(room, {"username": "x"}).status == 422  # not a username at all
    member = invite(room, {"username": room["guest"].username})
    assert (member.status, member.error_code) == (409, "conflict")


@pytest.mark.parametrize("key", ["unknown-token", "0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10", "x" * 201])
def test_unknown_or_malformed_invitations_are_404(db: str, key: str) -> None:
    someone = person()
    assert accept(key, someone).status == 404
    assert decline(key, someone).status == 404


def test_pending_invitations_are_keyset_paged_newest_first(db: str) -> None:
    rooms = [team() for _ in range(3)]
    invitee = person()
    made = [invite(room, {"username": invitee.username}).body["id"] for room in rooms]
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = call("GET", f"/api/v1/invitations{query}", token=invitee.token).body
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
