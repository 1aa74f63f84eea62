"""Groups (issue 19.3) and inviting a whole group to a room: who may see and change a group, the
limits, what an invitation of a group makes and skips, and the abuse cases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from core.config import reset_settings
from rooms import group_invitations, groups
from tests.client import Answer, call
from tests.integration.rooms.rooms_helpers import Person, add_member, person, role_of, team
from tests.statements import counting

GROUPS = "/api/v1/groups"


def create(manager: Person, members: list[Person], name: str = "crew") -> dict[str, Any]:
    answer = call("POST", GROUPS, {"name": name, "members": [m.username for m in members]}, token=manager.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def invite_group(room_id: str, who: Person, group_id: str, role: str | None = None) -> Answer:
    body: dict[str, Any] = {"group_id": group_id}
    if role:
        body["role"] = role
    return call("POST", f"/api/v1/rooms/{room_id}/invitations", body, token=who.token)


def invitations_count(room_id: str) -> int:
    with core_db.get_engine().connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM room_invitations WHERE room_id = :r"), {"r": room_id}).scalar() or 0
        )


# --- groups ---


def test_the_creator_manages_a_group_of_the_named_users(db: str) -> None:
    manager, ann, bob = person(), person(), person()
    made = call(
        "POST",
        GROUPS,
        {"name": "crew", "members": [ann.username.upper(), bob.username, ann.username]},
        token=manager.token,
    )
    assert made.status == 201, made.body
    assert set(made.body) == {"id", "name", "manager", "member_count", "created_at"}
    assert made.body["manager"]["id"] == manager.id and made.body["member_count"] == 2
    group = made.body["id"]
    # Members see it and its members; the manager is not one unless listed.
    for who in (manager, ann, bob):
        assert call("GET", f"{GROUPS}/{group}", token=who.token).body == made.body
        listed = call("GET", f"{GROUPS}/{group}/members", token=who.token).body
        assert {m["user"]["id"] for m in listed["items"]} == {ann.id, bob.id}
        assert [g["id"] for g in call("GET", GROUPS, token=who.token).body["items"]] == [group]


def test_a_group_is_404_to_anyone_outside_it(db: str) -> None:
    manager, member, outsider = person(), person(), person()
    group = create(manager, [member])["id"]
    unknown = "0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10"
    for gid in (group, unknown):
        for method, path, body in (
            ("GET", "", None),
            ("PATCH", "", {"name": "mine now"}),
            ("DELETE", "", None),
            ("GET", "/members", None),
            ("POST", "/members", {"username": outsider.username}),
            ("DELETE", f"/members/{member.id}", None),
            ("DELETE", f"/members/{outsider.id}", None),
        ):
            answer = call(method, f"{GROUPS}/{gid}{path}", body, token=outsider.token)
            assert (answer.status, answer.error_code) == (404, "not_found"), (method, path, answer.body)
    assert call("GET", GROUPS, token=outsider.token).body["items"] == []
    assert call("GET", f"{GROUPS}/{group}", token=manager.token).body["member_count"] == 1


def test_only_the_manager_changes_a_group_members_may_leave(db: str) -> None:
    manager, ann, bob, carl = person(), person(), person(), person()
    group = create(manager, [ann, bob])["id"]
    for method, path, body in (
        ("PATCH", "", {"name": "taken over"}),
        ("DELETE", "", None),
        ("POST", "/members", {"username": carl.username}),
        ("DELETE", f"/members/{bob.id}", None),
    ):
        answer = call(method, f"{GROUPS}/{group}{path}", body, token=ann.token)
        assert (answer.status, answer.error_code) == (403, "forbidden"), (method, path, answer.body)
    renamed = call("PATCH", f"{GROUPS}/{group}", {"name": "renamed"}, token=manager.token)
    assert (renamed.status, renamed.body["name"]) == (200, "renamed")
    added = call("POST", f"{GROUPS}/{group}/members", {"username": carl.username}, token=manager.token)
    assert added.status == 201 and added.body["user"]["id"] == carl.id
    again = call("POST", f"{GROUPS}/{group}/members", {"username": carl.username.upper()}, token=manager.token)
    assert (again.status, again.error_code) == (409, "conflict")
    assert call("DELETE", f"{GROUPS}/{group}/members/{bob.id}", token=manager.token).status == 204
    assert call("DELETE", f"{GROUPS}/{group}/members/{ann.id}", token=ann.token).status == 204  # leaves
    assert call("GET", f"{GROUPS}/{group}", token=ann.token).status == 404  # gone for her
    assert call("DELETE", f"{GROUPS}/{group}/members/{ann.id}", token=manager.token).status == 404
    assert call("GET", f"{GROUPS}/{group}", token=manager.token).body["member_count"] == 1
    assert call("DELETE", f"{GROUPS}/{group}", token=manager.token).status == 204
    assert call("GET", f"{GROUPS}/{group}", token=carl.token).status == 404


def test_unknown_usernames_are_409_naming_each(db: str) -> None:
    manager, ann = person(), person()
    answer = call(
        "POST", GROUPS, {"name": "x", "members": [ann.username, "nobody_here", "ghost_2"]}, token=manager.token
    )
    assert (answer.status, answer.error_code) == (409, "conflict")
    assert sorted(d["message"] for d in answer.body["error"]["details"]) == [
        "no user named ghost_2",
        "no user named nobody_here",
    ]
    assert call("GET", GROUPS, token=manager.token).body["items"] == []  # nothing made
    bad = call("POST", GROUPS, {"name": "x", "members": ["no spaces allowed"]}, token=manager.token)
    assert bad.status == 422


def test_a_group_holds_at_most_the_limit(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(groups, "GROUP_MAX_MEMBERS", 3)
    manager = person()
    people = [person() for _ in range(4)]
    too_many = call("POST", GROUPS, {"name": "x", "members": [p.username for p in people]}, token=manager.token)
    assert (too_many.status, too_many.error_code) == (409, "group_full")
    assert "at most 3" in too_many.body["error"]["message"]
    group = create(manager, people[:3])["id"]
    full = call("POST", f"{GROUPS}/{group}/members", {"username": people[3].username}, token=manager.token)
    assert (full.status, full.error_code) == (409, "group_full")
    # The schema's own ceiling (the default limit) is a 422 before any query.
    monkeypatch.undo()
    huge = call("POST", GROUPS, {"name": "x", "members": [f"user_{i:04d}" for i in range(101)]}, token=manager.token)
    assert huge.status == 422


def test_my_groups_page_with_a_keyset_cursor(db: str) -> None:
    manager = person()
    made = [create(manager, [], name=f"g{i}")["id"] for i in range(5)]
    first = call("GET", f"{GROUPS}?limit=2", token=manager.token).body
    second = call("GET", f"{GROUPS}?limit=2&cursor={first['next_cursor']}", token=manager.token).body
    third = call("GET", f"{GROUPS}?limit=2&cursor={second['next_cursor']}", token=manager.token).body
    seen = [g["id"] for page in (first, second, third) for g in page["items"]]
    assert seen == made[::-1] and third["next_cursor"] is None
    assert call("GET", f"{GROUPS}?cursor=garbage", token=manager.token).status == 400


# --- inviting a group ---


def test_inviting_a_group_invites_each_member_not_in_the_room_once(db: str) -> None:
    room = team()
    admin = room["admin"]
    fresh = [person() for _ in range(3)]
    already_invited = person()
    call("POST", f"/api/v1/rooms/{room.room}/invitations", {"username": already_invited.username}, token=admin.token)
    group = create(admin, [room["reader"], *fresh, already_invited, admin])
    answer = invite_group(room.room, admin, group["id"], role="guest")
    assert answer.status == 201, answer.body
    body = answer.body
    assert body["group"] == {"id": group["id"], "name": "crew"} and body["role"] == "guest"
    assert sorted(i["user"]["id"] for i in body["invited"]) == sorted(p.id for p in fresh)
    invited = {i["user"]["id"]: i for i in body["invited"]}
    assert {(s["user"]["id"], s["reason"]) for s in body["skipped"]} == {
        (room["reader"].id, "already_member"),
        (admin.id, "already_member"),
        (already_invited.id, "already_invited"),
    }
    # Each invitee has one invitation by name, accepts it by its id, and joins with the role.
    for who in fresh:
        made = invited[who.id]
        pending = call("GET", "/api/v1/invitations", token=who.token).body["items"]
        assert [p["id"] for p in pending] == [made["id"]] and pending[0]["role"] == "guest"
        assert "token" not in made
    assert call("POST", f"/api/v1/invitations/{invited[fresh[0].id]['id']}/accept", token=fresh[0].token).status == 200
    assert role_of(room.room, fresh[0]) == "guest"
    assert call("POST", f"/api/v1/invitations/{invited[fresh[2].id]['id']}/accept", token=fresh[1].token).status == 404
    # Again: nobody is invited twice.
    again = invite_group(room.room, admin, group["id"]).body
    assert again["invited"] == []
    reasons = {s["user"]["id"]: s["reason"] for s in again["skipped"]}
    assert reasons[fresh[0].id] == "already_member" and reasons[fresh[1].id] == "already_invited"
    assert invitations_count(room.room) == 1 + 3


def test_only_the_manager_of_a_group_may_invite_it(db: str) -> None:
    room = team()
    admin, invitee = room["admin"], person()
    theirs = create(person(), [invitee])["id"]  # admin neither manages nor belongs to it
    refused = invite_group(room.room, admin, theirs)
    assert (refused.status, refused.error_code) == (409, "conflict")
    assert refused.body["error"]["details"][0]["type"] == "unknown_group"
    unknown = invite_group(room.room, admin, "0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10")
    assert (unknown.status, unknown.body["error"]) == (
        409,
        {**refused.body["error"], "request_id": unknown.body["error"]["request_id"]},
    )
    assert invitations_count(room.room) == 0
    # Belonging is not enough: the members were added without being asked (no invitation spam).
    shared = create(person(), [admin, invitee])["id"]
    member_of = invite_group(room.room, admin, shared)
    assert (member_of.status, member_of.body["error"]["details"][0]["type"]) == (409, "unknown_group")
    assert invitations_count(room.room) == 0
    mine = create(admin, [invitee])["id"]
    answer = invite_group(room.room, admin, mine)
    assert answer.status == 201 and [i["user"]["id"] for i in answer.body["invited"]] == [invitee.id]


def test_whole_group_invitations_are_limited_per_user(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOMS_GROUP_INVITATIONS_PER_MINUTE", "2")
    reset_settings()
    try:
        room = team()
        admin = room["admin"]
        answers = [invite_group(room.room, admin, create(admin, [person()])["id"]) for _ in range(3)]
        assert [a.status for a in answers] == [201, 201, 429]
        assert int(answers[2].headers["Retry-After"][0]) >= 1
        assert invitations_count(room.room) == 2
    finally:
        monkeypatch.undo()
        reset_settings()


def test_below_admin_or_outside_the_room_a_group_cannot_be_invited(db: str) -> None:
    room = team()
    invitee = person()
    for role in ("reader", "guest", "member"):
        group = create(room[role], [invitee])["id"]
        answer = invite_group(room.room, room[role], group)
        assert (answer.status, answer.error_code) == (403, "forbidden")
    outsider = person()
    group = create(outsider, [invitee])["id"]
    answer = invite_group(room.room, outsider, group)
    assert (answer.status, answer.error_code) == (404, "not_found")
    assert invitations_count(room.room) == 0


def test_a_group_invitation_is_at_most_member_and_names_one_invitee_kind(db: str) -> None:
    room = team()
    group = create(room["admin"], [person()])["id"]
    for role in ("admin", "master"):
        assert invite_group(room.room, room["admin"], group, role=role).status == 422
    both = call(
        "POST",
        f"/api/v1/rooms/{room.room}/invitations",
        {"group_id": group, "username": room["reader"].username},
        token=room["admin"].token,
    )
    assert (both.status, both.error_code) == (422, "validation_error")
    assert invitations_count(room.room) == 0


def test_over_the_per_request_limit_nothing_is_sent(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_invitations, "INVITATIONS_PER_REQUEST", 2)
    room = team()
    members = [person() for _ in range(3)]
    group = create(room["admin"], [room["member"], *members])["id"]
    answer = invite_group(room.room, room["admin"], group)
    assert (answer.status, answer.error_code) == (409, "too_many_invitations")
    assert "3 invitations" in answer.body["error"]["message"] and "at most 2" in answer.body["error"]["message"]
    assert invitations_count(room.room) == 0
    # Once one is in the room, the rest fit.
    add_member(room.room, members[0], "reader")
    assert len(invite_group(room.room, room["admin"], group).body["invited"]) == 2


def test_inviting_a_group_costs_the_same_statements_for_5_or_60_members(db: str) -> None:
    room = team()
    small = create(room["admin"], [person() for _ in range(5)])["id"]
    large = create(room["admin"], [person() for _ in range(60)])["id"]
    counts = []
    for group in (small, large):
        with counting() as seen:
            answer = invite_group(room.room, room["admin"], group)
        assert answer.status == 201
        counts.append(len(seen))
    assert counts[0] == counts[1] <= 8, counts
    assert invitations_count(room.room) == 65


def test_group_routes_need_a_token(db: str) -> None:
    group = "6f0c6d36-1d7e-4b8e-9a57-9d7b1b0f8c11"
    for method, path in (("GET", GROUPS), ("POST", GROUPS), ("GET", f"{GROUPS}/{group}/members")):
        assert call(method, path, {}).status == 401
