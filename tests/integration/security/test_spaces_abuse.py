"""Shared spaces, as an attacker would try them (issue 20): climbing roles, reaching past them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from pytest import MonkeyPatch

from core.config import reset_settings
from tests.client import call
from tests.integration.assets.space_world import add, counters, new_space, ready, start, team
from tests.integration.social import Member, member

MIB = 1024 * 1024


def listed(who: Member, space: str) -> list[str]:
    return [a["id"] for a in call("GET", f"/api/v1/spaces/{space}/assets", token=who.token).body["items"]]


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


# ------------------------------------------------------------------ assets in spaces


def test_a_viewer_cannot_move_assets_out_not_even_their_own(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, editor = world["owner"], world["editor"]
    theirs = ready(editor, world.space)["id"]
    members = f"/api/v1/spaces/{world.space}/members"
    assert call("PATCH", f"{members}/{editor.id}", {"role": "viewer"}, token=owner.token).status == 200
    for target in (None, new_space(editor, "escape")["id"]):
        answer = call("POST", f"/api/v1/assets/{theirs}/move", {"space_id": target}, token=editor.token)
        assert answer.status == 403, answer.body
    others = ready(owner, world.space)["id"]
    assert call("POST", f"/api/v1/assets/{others}/move", {"space_id": None}, token=world["viewer"].token).status == 403
    assert call("GET", f"/api/v1/assets/{theirs}", token=owner.token).body["space_id"] == world.space


def test_no_asset_moves_into_a_space_its_mover_only_views_or_does_not_see(db: str, s3_endpoint: str) -> None:
    world = team()
    viewer = world["viewer"]
    asset = ready(viewer, None)["id"]
    into = call("POST", f"/api/v1/assets/{asset}/move", {"space_id": world.space}, token=viewer.token)
    assert into.status == 403
    foreign = new_space(member(), "not yours")["id"]
    assert call("POST", f"/api/v1/assets/{asset}/move", {"space_id": foreign}, token=viewer.token).status == 404
    # Another user's personal asset cannot be pulled into a space the mover edits.
    stranger = ready(member(), None)["id"]
    editor = world["editor"]
    assert call("POST", f"/api/v1/assets/{stranger}/move", {"space_id": world.space}, token=editor.token).status == 404
    assert listed(world["owner"], world.space) == []


def test_a_removed_members_links_stop_working(db: str, s3_endpoint: str) -> None:
    """A former owner made links of every asset, handed the space over and was removed: none of
    their tokens reaches the space's assets any more, and they cannot see or manage the links."""
    world = team()
    owner, editor = world["owner"], world["editor"]
    assets = [ready(editor, world.space)["id"] for _ in range(3)]
    links = [call("POST", f"/api/v1/assets/{a}/shares", {"original": True}, token=owner.token).body for a in assets]
    assert all(call("GET", link["url"]).status == 200 for link in links)
    assert call("PATCH", f"/api/v1/spaces/{world.space}/owner", {"user_id": editor.id}, token=owner.token).status == 200
    assert call("DELETE", f"/api/v1/spaces/{world.space}/members/{owner.id}", token=editor.token).status == 204
    assert [call("GET", link["url"]).status for link in links] == [404, 404, 404]
    assert call("GET", f"/api/v1/assets/{assets[0]}/shares", token=owner.token).status == 404
    assert call("POST", f"/api/v1/assets/{assets[0]}/shares", {}, token=owner.token).status == 404


def test_concurrent_multipart_starts_cannot_overshoot_the_quota(
    db: str, s3_endpoint: str, monkeypatch: MonkeyPatch
) -> None:
    """Many multipart uploads started at once against a quota with room for one: the reservation is
    one conditional UPDATE, so one starts, the others are 413; what it completes stays within."""
    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(5 * MIB))
    monkeypatch.setenv("MULTIPART_PART_BYTES", str(5 * MIB))
    reset_settings()
    try:
        size = 6 * MIB
        world = team(quota_bytes=size + size // 2)
        editor = world["editor"]

        def begin(_: int) -> Any:
            return start(editor, world.space, size=size, filename="f.mp4", content_type="video/mp4")

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(begin, range(6)))
        assert sorted(a.status for a in answers) == [201, 413, 413, 413, 413, 413]
        assert counters(world.space) == (0, size, size + size // 2)
        started = next(a.body for a in answers if a.status == 201)
        parts = []
        for part in started["multipart"]["parts"]:
            response = requests.put(part["url"], data=b"x" * part["size"], timeout=30)
            parts.append({"part_number": part["part_number"], "etag": response.headers["ETag"]})
        path = f"/api/v1/assets/{started['asset']['id']}/multipart/complete"
        with ThreadPoolExecutor(max_workers=3) as pool:  # the same completion, three times at once
            statuses = sorted(
                pool.map(lambda _: call("POST", path, {"parts": parts}, token=editor.token).status, range(3))
            )
        assert statuses[0] == 200 and set(statuses[1:]) <= {409}
        assert counters(world.space) == (size, 0, size + size // 2)
    finally:
        monkeypatch.undo()
        reset_settings()


def test_others_cannot_finish_or_abort_an_upload_into_a_space(
    db: str, s3_endpoint: str, monkeypatch: MonkeyPatch
) -> None:
    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(5 * MIB))
    reset_settings()
    try:
        world = team()
        answer = start(world["editor"], world.space, size=6 * MIB, filename="f.mp4", content_type="video/mp4")
        asset = answer.body["asset"]["id"]
        bogus = {"parts": [{"part_number": 1, "etag": '"' + "0" * 32 + '"'}]}
        for who, expected in ((world["owner"], 403), (world["viewer"], 403), (member(), 404)):
            assert call("POST", f"/api/v1/assets/{asset}/multipart/complete", bogus, token=who.token).status == expected
            assert call("DELETE", f"/api/v1/assets/{asset}/multipart", token=who.token).status == expected
            assert call("GET", f"/api/v1/assets/{asset}/multipart", token=who.token).status == expected
        assert counters(world.space)[1] == 6 * MIB
    finally:
        monkeypatch.undo()
        reset_settings()


def test_a_non_member_learns_nothing_about_a_spaces_assets(db: str, s3_endpoint: str) -> None:
    world = team()
    asset = ready(world["editor"], world.space)["id"]
    intruder = member()
    for method, path, body in (
        ("GET", f"/api/v1/assets/{asset}", None),
        ("GET", f"/api/v1/assets/{asset}/download", None),
        ("GET", f"/api/v1/assets/{asset}/playback", None),
        ("PATCH", f"/api/v1/assets/{asset}", {"filename": "mine.png"}),
        ("DELETE", f"/api/v1/assets/{asset}", None),
        ("POST", f"/api/v1/assets/{asset}/shares", {}),
        ("GET", f"/api/v1/assets/{asset}/shares", None),
        ("POST", f"/api/v1/assets/{asset}/move", {"space_id": None}),
        ("GET", f"/api/v1/spaces/{world.space}/assets", None),
        ("GET", f"/api/v1/spaces/{world.space}/usage", None),
        ("GET", f"/api/v1/spaces/{world.space}/audit", None),
    ):
        answer = call(method, path, body, token=intruder.token)
        assert (answer.status, answer.error_code) == (404, "not_found"), (method, path)
    assert start(intruder, world.space).status == 404
