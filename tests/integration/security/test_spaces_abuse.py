"""Shared spaces, as an attacker would try them (issue 20): climbing roles, reaching past them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.client import call
from tests.integration.assets.space_world import add, team
from tests.integration.social import member


def test_an_editor_cannot_make_anyone_owner_or_editor(db: str) -> None:
    world = team()
    space, owner, editor, viewer = world.space, world["owner"], world["editor"], world["viewer"]
    members = f"/api/v1/spaces/{space}/members"
    attempts = [
        ("PATCH", f"{members}/{editor.id}", {"role": "owner"}),  # themselves
        ("PATCH", f"{members}/{viewer.id}", {"role": "owner"}),
        ("PATCH", f"{members}/{viewer.id}", {"role": "editor"}),  # an accomplice
        ("PATCH", f"{members}/{owner.id}", {"role": "viewer"}),  # the owner, down
        ("DELETE", f"{members}/{owner.id}", None),
        ("PATCH", f"/api/v1/spaces/{space}/owner", {"user_id": editor.id}),
        ("PATCH", f"/api/v1/spaces/{space}/owner", {"user_id": viewer.id}),
        ("POST", members, {"username": member().username, "role": "owner"}),
        ("POST", members, {"username": member().username, "role": "editor"}),
        ("PATCH", f"/api/v1/spaces/{space}", {"quota_bytes": None}),
        ("DELETE", f"/api/v1/spaces/{space}", None),
    ]
    for method, path, body in attempts:
        answer = call(method, path, body, token=editor.token)
        assert answer.status in (403, 422), (method, path, body, answer.status)
    roles = {m["user"]["id"]: m["role"] for m in call("GET", members, token=owner.token).body["items"]}
    assert roles == {owner.id: "owner", editor.id: "editor", viewer.id: "viewer"}


def test_a_removed_member_is_locked_out_of_everything(db: str) -> None:
    world = team()
    space, owner, editor = world.space, world["owner"], world["editor"]
    assert call("DELETE", f"/api/v1/spaces/{space}/members/{editor.id}", token=owner.token).status == 204
    for method, path, body in (
        ("GET", f"/api/v1/spaces/{space}", None),
        ("GET", f"/api/v1/spaces/{space}/members", None),
        ("POST", f"/api/v1/spaces/{space}/members", {"username": member().username, "role": "viewer"}),
        ("DELETE", f"/api/v1/spaces/{space}/members/{editor.id}", None),
    ):
        assert call(method, path, body, token=editor.token).status == 404, (method, path)


def test_racing_transfers_leave_exactly_one_owner(db: str) -> None:
    world = team()
    space, owner = world.space, world["owner"]
    heirs = [world["editor"], world["viewer"], *[member() for _ in range(4)]]
    for heir in heirs[2:]:
        assert add(space, owner, heir, "viewer").status == 201

    def transfer(user_id: str) -> int:
        return call("PATCH", f"/api/v1/spaces/{space}/owner", {"user_id": user_id}, token=owner.token).status

    with ThreadPoolExecutor(max_workers=len(heirs)) as pool:
        statuses = list(pool.map(transfer, [h.id for h in heirs]))
    assert sorted(statuses).count(200) == 1 and set(statuses) <= {200, 403}
    roles = [m["role"] for m in call("GET", f"/api/v1/spaces/{space}/members", token=heirs[0].token).body["items"]]
    assert roles.count("owner") == 1
