"""Shared spaces (issue 20): spaces, members and their rules, ownership transfer, the audit of it all."""

from __future__ import annotations

from collections import Counter

import pytest

from core.config import reset_settings
from tests.client import call
from tests.integration.assets.space_world import add, audit_actions, new_space, team
from tests.integration.social import member


def test_the_creator_owns_a_new_space_and_only_members_see_it(db: str) -> None:
    ada, eve = member("ada"), member("eve")
    space = new_space(ada, "Holiday", quota_bytes=1000)
    assert space["name"] == "Holiday" and space["my_role"] == "owner" and space["quota_bytes"] == 1000
    assert call("GET", f"/api/v1/spaces/{space['id']}", token=ada.token).body == space
    answer = call("GET", f"/api/v1/spaces/{space['id']}", token=eve.token)
    assert (answer.status, answer.error_code) == (404, "not_found")
    unknown = call("GET", "/api/v1/spaces/0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10", token=eve.token)
    assert unknown.status == 404 and unknown.body["error"]["message"] == answer.body["error"]["message"]
    assert call("GET", "/api/v1/spaces", token=eve.token).body == {"items": [], "next_cursor": None}


def test_a_new_space_takes_the_stage_default_quota_unless_it_names_one(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = member()
    assert new_space(ada)["quota_bytes"] is None
    monkeypatch.setenv("SPACE_DEFAULT_QUOTA_BYTES", "5000")
    reset_settings()
    try:
        assert new_space(ada)["quota_bytes"] == 5000
        assert new_space(ada, quota_bytes=None)["quota_bytes"] is None
        assert new_space(ada, quota_bytes=7)["quota_bytes"] == 7
    finally:
        monkeypatch.undo()
        reset_settings()


def test_my_spaces_page_by_keyset_with_my_role(db: str) -> None:
    ada, bob = member(), member()
    made = [new_space(ada, f"s{i}")["id"] for i in range(5)]
    theirs = new_space(bob, "bob's")["id"]
    assert add(theirs, bob, ada, "viewer").status == 201
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = call(
            "GET", "/api/v1/spaces", token=ada.token, query=[("limit", "2")] + ([("cursor", cursor)] if cursor else [])
        )
        assert page.status == 200, page.body
        seen += [(s["id"], s["my_role"]) for s in page.body["items"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen == [(theirs, "viewer")] + [(s, "owner") for s in reversed(made)]
    rooms_cursor = call("GET", "/api/v1/spaces", token=ada.token, query=[("limit", "1")]).body["next_cursor"]
    other_list = call("GET", f"/api/v1/spaces/{theirs}/members", token=ada.token, query=[("cursor", rooms_cursor)])
    assert other_list.status == 400  # a cursor of another list


def test_owner_renames_sets_and_lifts_the_quota(db: str) -> None:
    world = team()
    path = f"/api/v1/spaces/{world.space}"
    answer = call("PATCH", path, {"name": "Summer", "quota_bytes": 10}, token=world["owner"].token)
    assert answer.status == 200 and answer.body["name"] == "Summer" and answer.body["quota_bytes"] == 10
    assert call("PATCH", path, {"name": "x"}, token=world["owner"].token).body["quota_bytes"] == 10
    assert call("PATCH", path, {"quota_bytes": None}, token=world["owner"].token).body["quota_bytes"] is None
    assert call("PATCH", path, {"name": None}, token=world["owner"].token).status == 422
    for role in ("editor", "viewer"):
        assert call("PATCH", path, {"name": "mine"}, token=world[role].token).status == 403


def test_members_are_managed_strictly_below_your_own_role(db: str) -> None:
    world = team()
    space, owner, editor, viewer = world.space, world["owner"], world["editor"], world["viewer"]
    newcomer, later = member(), member()
    assert add(space, editor, newcomer, "editor").status == 403  # an editor grants viewer only
    assert add(space, viewer, newcomer, "viewer").status == 403
    assert add(space, editor, newcomer, "owner").status == 422  # owner only by transfer
    added = add(space, editor, newcomer, "viewer")
    assert added.status == 201 and added.body["role"] == "viewer" and added.body["user"]["id"] == newcomer.id
    assert add(space, owner, newcomer, "viewer").status == 409  # already a member
    ghost = call(
        "POST", f"/api/v1/spaces/{space}/members", {"username": "nobody_here", "role": "viewer"}, token=owner.token
    )
    assert ghost.status == 409 and ghost.body["error"]["details"][0]["field"] == "username"
    members = f"/api/v1/spaces/{space}/members"
    # An editor may not promote, nor touch another editor or the owner.
    assert call("PATCH", f"{members}/{newcomer.id}", {"role": "editor"}, token=editor.token).status == 403
    assert call("PATCH", f"{members}/{editor.id}", {"role": "viewer"}, token=editor.token).status == 403
    assert call("PATCH", f"{members}/{owner.id}", {"role": "viewer"}, token=editor.token).status == 403
    assert call("DELETE", f"{members}/{owner.id}", token=editor.token).status == 403
    assert call("PATCH", f"{members}/{newcomer.id}", {"role": "owner"}, token=owner.token).status == 422
    promoted = call("PATCH", f"{members}/{newcomer.id}", {"role": "editor"}, token=owner.token)
    assert promoted.status == 200 and promoted.body["role"] == "editor"
    assert call("DELETE", f"{members}/{newcomer.id}", token=editor.token).status == 403  # an equal
    assert call("DELETE", f"{members}/{viewer.id}", token=editor.token).status == 204
    assert call("GET", f"/api/v1/spaces/{space}", token=viewer.token).status == 404  # removed: no longer sees it
    assert add(space, owner, later, "viewer").status == 201
    assert call("DELETE", f"{members}/{later.id}", token=later.token).status == 204  # leaving
    assert call("DELETE", f"{members}/{owner.id}", token=owner.token).status == 409  # the owner cannot leave
    assert call("PATCH", f"{members}/{member().id}", {"role": "viewer"}, token=owner.token).status == 404
    listed = call("GET", members, token=editor.token).body["items"]
    assert [(m["user"]["id"], m["role"]) for m in listed] == [
        (owner.id, "owner"),
        (editor.id, "editor"),
        (newcomer.id, "editor"),
    ]
    assert Counter(audit_actions(space)) == Counter(
        {
            "space.created": 1,
            "space.member_added": 4,
            "space.member_role_changed": 1,
            "space.member_removed": 1,
            "space.member_left": 1,
        }
    )


def test_ownership_transfer_makes_the_old_owner_an_editor(db: str) -> None:
    world = team()
    space, owner, editor, viewer = world.space, world["owner"], world["editor"], world["viewer"]
    path = f"/api/v1/spaces/{space}/owner"
    assert call("PATCH", path, {"user_id": editor.id}, token=editor.token).status == 403
    assert call("PATCH", path, {"user_id": owner.id}, token=owner.token).status == 409
    stranger = call("PATCH", path, {"user_id": member().id}, token=owner.token)
    assert stranger.status == 409 and stranger.body["error"]["details"][0]["field"] == "user_id"
    moved = call("PATCH", path, {"user_id": viewer.id}, token=owner.token)
    assert moved.status == 200 and moved.body["role"] == "owner" and moved.body["user"]["id"] == viewer.id
    roles = {
        m["user"]["id"]: m["role"]
        for m in call("GET", f"/api/v1/spaces/{space}/members", token=owner.token).body["items"]
    }
    assert roles == {owner.id: "editor", editor.id: "editor", viewer.id: "owner"}
    assert call("PATCH", path, {"user_id": owner.id}, token=owner.token).status == 403  # no longer owner
    assert call("DELETE", f"/api/v1/spaces/{space}/members/{owner.id}", token=owner.token).status == 204
    assert "space.owner_transferred" in audit_actions(space)


def test_only_the_owner_deletes_a_space_and_then_it_is_gone_for_everyone(db: str) -> None:
    world = team()
    path = f"/api/v1/spaces/{world.space}"
    assert call("DELETE", path, token=world["editor"].token).status == 403
    assert call("DELETE", path, token=world["owner"].token).status == 204
    for role in ("owner", "editor", "viewer"):
        assert call("GET", path, token=world[role].token).status == 404
        assert call("GET", "/api/v1/spaces", token=world[role].token).body["items"] == []
    assert audit_actions(world.space)[-1] == "space.deleted"  # the trail outlives the space


def test_the_member_limit_holds(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACE_MEMBER_LIMIT", "3")
    reset_settings()
    try:
        world = team()  # three members
        answer = add(world.space, world["owner"], member(), "viewer")
        assert answer.status == 409
    finally:
        monkeypatch.undo()
        reset_settings()
