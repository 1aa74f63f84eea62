"""Rooms, members and ownership through the real handler and PostgreSQL (API.md, Rooms)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db as core_db
from tests.client import call
from tests.integration.rooms.rooms_helpers import add_member, new_room, person, role_of, team


def test_creating_a_room_makes_the_creator_master(db: str) -> None:
    owner = person()
    answer = call("POST", "/api/v1/rooms", {"name": "Design", "description": "pixels"}, token=owner.token)
    assert answer.status == 201
    room = answer.body
    assert (room["name"], room["description"], room["my_role"]) == ("Design", "pixels", "master")
    assert room["ai_provider"] is None and room["ai_model"] is None and room["ai_context_cutoff_at"] is None
    assert room["created_at"].endswith("Z")
    no_summary = {"summary_in_use": False, "summarized_through_seq": None}
    assert call("GET", f"/api/v1/rooms/{room['id']}", token=owner.token).body == {**room, "ai_context": no_summary}


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x" * 101}, {"name": "ok", "description": "d" * 2001}, {"name": "ok", "extra": 1}],
)
def test_room_bodies_are_validated(db: str, body: dict[str, object]) -> None:
    answer = call("POST", "/api/v1/rooms", body, token=person().token)
    assert (answer.status, answer.error_code) == (422, "validation_error")
    assert answer.body["error"]["details"]


def test_a_body_that_is_not_json_is_400(db: str) -> None:
    answer = call("POST", "/api/v1/rooms", raw_body="{nope", token=person().token)
    assert (answer.status, answer.error_code) == (400, "bad_request")


def test_my_rooms_lists_only_mine_newest_joined_first_with_keyset_pages(db: str) -> None:
    me, other = person(), person()
    mine = [new_room(me, f"r{i}") for i in range(5)]
    new_room(other, "not mine")
    theirs = new_room(other, "joined later")
    add_member(theirs, me, "reader")
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = call("GET", f"/api/v1/rooms{query}", token=me.token).body
        seen += [(r["id"], r["my_role"]) for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [(theirs, "reader")] + [(r, "master") for r in reversed(mine)]


@pytest.mark.parametrize("path", ["/rooms", "/rooms/{room}/members", "/rooms/{room}/messages", "/invitations"])
def test_a_tampered_cursor_is_400(db: str, path: str) -> None:
    owner = person()
    room = new_room(owner)
    answer = call("GET", "/api/v1" + path.format(room=room) + "?cursor=bm90LW91cnM", token=owner.token)
    assert (answer.status, answer.error_code) == (400, "bad_request")


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_a_bad_limit_is_400(db: str, limit: str) -> None:
    owner = person()
    answer = call("GET", f"/api/v1/rooms/{new_room(owner)}/messages?limit={limit}", token=owner.token)
    assert answer.status == 400


def test_admins_change_settings_including_ai_and_reset_them_with_null(db: str) -> None:
    room = team()
    patch = {
        "name": "Renamed",
        "ai_provider": "echo",
        "ai_model": "anything:v1",
        "ai_context_cutoff_at": "2026-01-02T03:04:05Z",
    }
    answer = call("PATCH", f"/api/v1/rooms/{room.room}", patch, token=room["admin"].token)
    assert answer.status == 200, answer.body
    assert answer.body["name"] == "Renamed" and answer.body["my_role"] == "admin"
    assert (answer.body["ai_provider"], answer.body["ai_model"]) == ("echo", "anything:v1")
    assert answer.body["ai_context_cutoff_at"] == "2026-01-02T03:04:05Z"
    reset = {"ai_provider": None, "ai_model": None, "ai_context_cutoff_at": None}
    answer = call("PATCH", f"/api/v1/rooms/{room.room}", reset, token=room["master"].token)
    assert answer.status == 200
    assert (answer.body["ai_provider"], answer.body["ai_model"], answer.body["ai_context_cutoff_at"]) == (None,) * 3
    assert answer.body["name"] == "Renamed"


@pytest.mark.parametrize(
    "patch",
    [
        {"name": None},
        {"name": ""},
        {"ai_provider": "skynet"},
        {"ai_model": "bad model with spaces"},
        {"ai_context_cutoff_at": "2026-01-02T03:04:05"},  # no time zone
        {"ai_context_cutoff_at": 0},  # JSON has no time type: only a string is one
        {"owner": "me"},
    ],
)
def test_room_patches_are_validated(db: str, patch: dict[str, object]) -> None:
    owner = person()
    answer = call("PATCH", f"/api/v1/rooms/{new_room(owner)}", patch, token=owner.token)
    assert (answer.status, answer.error_code) == (422, "validation_error"), answer.body


def test_a_provider_or_model_this_deployment_cannot_use_is_409(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import reset_settings

    owner = person()
    room = new_room(owner)
    monkeypatch.setenv("ROOMS_AI_MODELS", "amazon.nova-lite-v1:0")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    reset_settings()
    try:
        openai = call("PATCH", f"/api/v1/rooms/{room}", {"ai_provider": "openai"}, token=owner.token)
        model = call("PATCH", f"/api/v1/rooms/{room}", {"ai_model": "some.other-model"}, token=owner.token)
        allowed = call("PATCH", f"/api/v1/rooms/{room}", {"ai_model": "amazon.nova-lite-v1:0"}, token=owner.token)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert (openai.status, openai.body["error"]["details"][0]["field"]) == (409, "ai_provider")
    assert (model.status, model.body["error"]["details"][0]["field"]) == (409, "ai_model")
    assert allowed.status == 200


def test_deleting_a_room_is_a_soft_delete(db: str) -> None:
    owner = person()
    room = new_room(owner)
    assert call("DELETE", f"/api/v1/rooms/{room}", token=owner.token).status == 204
    assert call("GET", f"/api/v1/rooms/{room}", token=owner.token).status == 404
    assert call("DELETE", f"/api/v1/rooms/{room}", token=owner.token).status == 404
    with core_db.get_engine().connect() as conn:
        assert conn.execute(text("SELECT deleted_at IS NOT NULL FROM rooms WHERE id = :r"), {"r": room}).scalar()


def test_members_are_listed_in_joining_order_with_keyset_pages(db: str) -> None:
    room = team()
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = call("GET", f"/api/v1/rooms/{room.room}/members{query}", token=room["reader"].token).body
        seen += [(m["user"]["username"], m["role"]) for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [(room[r].username, r) for r in ("master", "reader", "guest", "member", "admin")]
    assert set(call("GET", f"/api/v1/rooms/{room.room}/members", token=room["guest"].token).body["items"][0]) == {
        "user",
        "role",
        "joined_at",
    }


def test_admins_manage_only_below_their_role_and_never_grant_master(db: str) -> None:
    room = team()
    url = f"/api/v1/rooms/{room.room}/members"
    admin, master = room["admin"].token, room["master"].token
    assert call("PATCH", f"{url}/{room['reader'].id}", {"role": "member"}, token=admin).status == 200
    assert role_of(room.room, room["reader"]) == "member"
    # Not to their own level, not over an equal, not over the master, not themselves.
    assert call("PATCH", f"{url}/{room['guest'].id}", {"role": "admin"}, token=admin).status == 403
    other_admin = person()
    add_member(room.room, other_admin, "admin")
    assert call("PATCH", f"{url}/{other_admin.id}", {"role": "reader"}, token=admin).status == 403
    assert call("PATCH", f"{url}/{room['master'].id}", {"role": "reader"}, token=admin).status == 403
    assert call("PATCH", f"{url}/{room['admin'].id}", {"role": "reader"}, token=admin).status == 403
    # The master may make admins and demote them.
    assert call("PATCH", f"{url}/{room['guest'].id}", {"role": "admin"}, token=master).status == 200
    assert call("PATCH", f"{url}/{other_admin.id}", {"role": "guest"}, token=master).status == 200
    assert role_of(room.room, other_admin) == "guest"
    # master only by transfer; the master cannot demote themselves.
    answer = call("PATCH", f"{url}/{room['member'].id}", {"role": "master"}, token=master)
    assert (answer.status, answer.body["error"]["details"][0]["field"]) == (422, "role")
    assert call("PATCH", f"{url}/{room['master'].id}", {"role": "admin"}, token=master).status == 403
    assert call("PATCH", f"{url}/{room['member'].id}", {"role": "owner"}, token=master).status == 422


def test_changing_or_removing_someone_who_is_not_a_member_is_404(db: str) -> None:
    room = team()
    stranger = person()
    url = f"/api/v1/rooms/{room.room}/members/{stranger.id}"
    assert call("PATCH", url, {"role": "reader"}, token=room["admin"].token).status == 404
    assert call("DELETE", url, token=room["admin"].token).status == 404


def test_members_leave_admins_remove_lower_roles_the_master_cannot_leave(db: str) -> None:
    room = team()
    url = f"/api/v1/rooms/{room.room}/members"
    assert call("DELETE", f"{url}/{room['reader'].id}", token=room["reader"].token).status == 204
    assert role_of(room.room, room["reader"]) is None
    assert call("GET", f"/api/v1/rooms/{room.room}", token=room["reader"].token).status == 404
    assert call("DELETE", f"{url}/{room['admin'].id}", token=room["member"].token).status == 403
    assert call("DELETE", f"{url}/{room['member'].id}", token=room["admin"].token).status == 204
    other_admin = person()
    add_member(room.room, other_admin, "admin")
    assert call("DELETE", f"{url}/{other_admin.id}", token=room["admin"].token).status == 403
    assert call("DELETE", f"{url}/{room['master'].id}", token=room["admin"].token).status == 403
    answer = call("DELETE", f"{url}/{room['master'].id}", token=room["master"].token)
    assert (answer.status, answer.error_code) == (409, "conflict")
    assert call("DELETE", f"{url}/{room['admin'].id}", token=room["admin"].token).status == 204  # admins may leave
    assert role_of(room.room, room["master"]) == "master"


def test_transferring_ownership_makes_the_old_master_admin(db: str) -> None:
    room = team()
    url = f"/api/v1/rooms/{room.room}/owner"
    answer = call("PATCH", url, {"user_id": room["guest"].id}, token=room["master"].token)
    assert answer.status == 200, answer.body
    assert (answer.body["user"]["id"], answer.body["role"]) == (room["guest"].id, "master")
    assert role_of(room.room, room["guest"]) == "master"
    assert role_of(room.room, room["master"]) == "admin"
    # The old master is now an admin: no second transfer, no delete; the new one can.
    assert call("PATCH", url, {"user_id": room["member"].id}, token=room["master"].token).status == 403
    assert call("DELETE", f"/api/v1/rooms/{room.room}", token=room["master"].token).status == 403
    assert (
        call("DELETE", f"/api/v1/rooms/{room.room}/members/{room['master'].id}", token=room["master"].token).status
        == 204
    )
    assert call("DELETE", f"/api/v1/rooms/{room.room}", token=room["guest"].token).status == 204


def test_transfer_needs_a_member_other_than_yourself(db: str) -> None:
    room = team()
    url = f"/api/v1/rooms/{room.room}/owner"
    master = room["master"].token
    stranger = call("PATCH", url, {"user_id": person().id}, token=master)
    assert (stranger.status, stranger.body["error"]["details"][0]["field"]) == (409, "user_id")
    yourself = call("PATCH", url, {"user_id": room["master"].id}, token=master)
    assert (yourself.status, yourself.error_code) == (409, "conflict")
    assert call("PATCH", url, {"user_id": "nope"}, token=master).status == 422
    assert role_of(room.room, room["master"]) == "master"


def test_the_database_allows_one_master_per_room(db: str) -> None:
    from sqlalchemy.exc import DBAPIError

    room = team()
    with pytest.raises(DBAPIError), core_db.get_engine().begin() as conn:
        conn.execute(
            text("UPDATE room_members SET role = 'master' WHERE room_id = :r AND user_id = :u"),
            {"r": room.room, "u": room["admin"].id},
        )
