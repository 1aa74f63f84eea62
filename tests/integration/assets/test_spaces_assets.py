"""Assets in shared spaces (issue 20): uploads into a space, its library with search and filters,
moves, share links that follow the asset's space, usage and quota, the space's audit trail; and
the personal library as it was."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from core.config import reset_settings
from tests.client import call
from tests.integration.assets.space_world import (
    PNG,
    audit_actions,
    counters,
    mark_ready,
    new_space,
    ready,
    start,
    team,
    upload,
)
from tests.integration.social import Member, member

MIB = 1024 * 1024


@pytest.fixture
def small_parts(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(5 * MIB))
    monkeypatch.setenv("MULTIPART_PART_BYTES", str(5 * MIB))
    reset_settings()
    yield None
    monkeypatch.undo()
    reset_settings()


def share(who: Member, asset_id: str) -> dict[str, Any]:
    answer = call("POST", f"/api/v1/assets/{asset_id}/shares", {"original": True}, token=who.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def opens(link: dict[str, Any]) -> int:
    return call("GET", link["url"], ip="198.51.100.9").status


def listed(who: Member, path: str, **query: str) -> list[str]:
    answer = call("GET", path, token=who.token, query=list(query.items()))
    assert answer.status == 200, answer.body
    return [a["id"] for a in answer.body["items"]]


# ------------------------------------------------------------------ uploads and the space's library


def test_an_upload_into_a_space_is_the_spaces_not_the_personal_librarys(db: str, s3_endpoint: str) -> None:
    world = team()
    editor = world["editor"]
    mine = ready(editor, None)
    theirs = ready(editor, world.space)
    assert theirs["space_id"] == world.space and mine["space_id"] is None
    assert listed(editor, "/api/v1/assets") == [mine["id"]]  # the personal library, as before
    for role in ("owner", "editor", "viewer"):
        assert listed(world[role], f"/api/v1/spaces/{world.space}/assets") == [theirs["id"]]
    usage = call("GET", "/api/v1/usage", token=editor.token).body
    assert usage["asset_count"] == 1 and usage["total_bytes"] == len(PNG)
    assert counters(world.space) == (len(PNG), 0, None)
    assert "asset.upload_started" in audit_actions(world.space)


def test_the_space_library_has_the_search_and_filters_of_get_assets(db: str, s3_endpoint: str) -> None:
    world = team()
    editor, viewer = world["editor"], world["viewer"]
    beach = ready(editor, world.space, filename="Beach day.png")
    ready(editor, world.space, filename="clip.mp4", content_type="video/mp4")
    tagged = ready(editor, world.space, filename="tagged.png")
    assert call("PATCH", f"/api/v1/assets/{tagged['id']}", {"tags": ["Summer"]}, token=editor.token).status == 200
    path = f"/api/v1/spaces/{world.space}/assets"
    assert listed(viewer, path, q="beach") == [beach["id"]]
    assert sorted(listed(viewer, path, content_type="image/*")) == sorted([beach["id"], tagged["id"]])
    assert listed(viewer, path, tag="summer") == [tagged["id"]]
    assert listed(viewer, path, **{"from": "2999-01-01T00:00:00Z"}) == []
    assert len(listed(viewer, path, to="2999-01-01T00:00:00Z")) == 3
    first = call("GET", path, token=viewer.token, query=[("limit", "2")]).body
    rest = call("GET", path, token=viewer.token, query=[("limit", "2"), ("cursor", first["next_cursor"])]).body
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    ready(editor, None)
    ready(editor, None)
    personal_cursor = call("GET", "/api/v1/assets", token=editor.token, query=[("limit", "1")]).body["next_cursor"]
    assert call("GET", path, token=viewer.token, query=[("cursor", personal_cursor)]).status == 400
    assert call("GET", path, token=viewer.token, query=[("content_type", "text/*")]).status == 400


def test_viewers_read_editors_write_owners_share(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, editor, viewer = world["owner"], world["editor"], world["viewer"]
    asset = ready(editor, world.space)["id"]
    assert call("GET", f"/api/v1/assets/{asset}", token=viewer.token).status == 200
    download = call("GET", f"/api/v1/assets/{asset}/download", token=viewer.token)
    assert download.status == 200 and requests.get(download.body["url"], timeout=10).content == PNG
    assert start(viewer, world.space).status == 403
    assert call("PATCH", f"/api/v1/assets/{asset}", {"filename": "x.png"}, token=viewer.token).status == 403
    assert call("DELETE", f"/api/v1/assets/{asset}", token=viewer.token).status == 403
    assert call("POST", f"/api/v1/assets/{asset}/shares", {}, token=editor.token).status == 403
    renamed = call("PATCH", f"/api/v1/assets/{asset}", {"filename": "renamed.png"}, token=owner.token)
    assert renamed.status == 200 and renamed.body["filename"] == "renamed.png"
    link = share(owner, asset)
    assert opens(link) == 200
    assert call("DELETE", f"/api/v1/assets/{asset}", token=editor.token).status == 204
    assert counters(world.space)[0] == 0
    actions = Counter(audit_actions(world.space))
    assert actions["asset.download_url_issued"] == 1 and actions["share.created"] == 1
    assert actions["share.accessed"] == 1 and actions["asset.deleted"] == 1


def test_the_uploader_who_leaves_a_space_no_longer_sees_its_assets(db: str, s3_endpoint: str) -> None:
    world = team()
    editor = world["editor"]
    asset = ready(editor, world.space)["id"]
    assert call("DELETE", f"/api/v1/spaces/{world.space}/members/{editor.id}", token=editor.token).status == 204
    assert call("GET", f"/api/v1/assets/{asset}", token=editor.token).status == 404
    assert call("GET", f"/api/v1/assets/{asset}", token=world["owner"].token).status == 200


# ------------------------------------------------------------------ quota


def test_an_upload_over_the_quota_is_413_quota_exceeded_at_its_start(db: str, s3_endpoint: str) -> None:
    world = team(quota_bytes=3 * len(PNG))
    editor = world["editor"]
    kept = [upload(editor, world.space)["id"] for _ in range(3)]
    answer = start(editor, world.space)
    assert (answer.status, answer.error_code) == (413, "quota_exceeded")
    assert call("DELETE", f"/api/v1/assets/{kept[0]}", token=editor.token).status == 204
    assert start(editor, world.space).status == 201
    assert counters(world.space) == (3 * len(PNG), 0, 3 * len(PNG))
    usage = call("GET", f"/api/v1/spaces/{world.space}/usage", token=world["viewer"].token).body
    assert usage["asset_count"] == 3 and usage["total_bytes"] == usage["used_bytes"] == 3 * len(PNG)
    assert usage["quota_bytes"] == 3 * len(PNG) and usage["reserved_bytes"] == 0


def test_concurrent_upload_starts_never_overshoot_the_quota(db: str, s3_endpoint: str) -> None:
    world = team(quota_bytes=3 * len(PNG))
    editor = world["editor"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: start(editor, world.space), range(8)))
    statuses = Counter(a.status for a in answers)
    assert statuses == Counter({201: 3, 413: 5})
    assert counters(world.space) == (3 * len(PNG), 0, 3 * len(PNG))


def _multipart(who: Member, space: str, size: int) -> tuple[str, list[dict[str, Any]]]:
    answer = start(who, space, size=size, filename="film.mp4", content_type="video/mp4")
    assert answer.status == 201, answer.body
    multipart = answer.body["multipart"]
    data = b"v" * size
    etags = []
    for part in multipart["parts"]:
        offset = (part["part_number"] - 1) * multipart["part_size"]
        response = requests.put(part["url"], data=data[offset : offset + part["size"]], timeout=30)
        assert response.status_code == 200
        etags.append({"part_number": part["part_number"], "etag": response.headers["ETag"]})
    return answer.body["asset"]["id"], etags


def test_multipart_uploads_reserve_at_start_and_are_checked_again_when_they_complete(small_parts: None) -> None:
    """Started while the space had room; the owner lowered the quota since: of the uploads that
    complete at once, only those that still fit are kept, the others are refused and forgotten."""
    world = team()
    editor = world["editor"]
    size = 6 * MIB
    uploads = [_multipart(editor, world.space, size) for _ in range(3)]
    assert counters(world.space) == (0, 3 * size, None)
    path = f"/api/v1/spaces/{world.space}"
    assert call("PATCH", path, {"quota_bytes": size + size // 2}, token=world["owner"].token).status == 200

    def complete(upload: tuple[str, list[dict[str, Any]]]) -> Any:
        asset_id, parts = upload
        return call("POST", f"/api/v1/assets/{asset_id}/multipart/complete", {"parts": parts}, token=editor.token)

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(complete, uploads))
    assert sorted(a.status for a in answers) == [200, 413, 413]
    assert {a.error_code for a in answers if a.status == 413} == {"quota_exceeded"}
    assert counters(world.space) == (size, 0, size + size // 2)
    assert len(listed(editor, f"/api/v1/spaces/{world.space}/assets")) == 1  # the refused ones are gone
    assert start(editor, world.space, size=size).status == 413  # the start counts used + reserved


def test_an_aborted_multipart_upload_gives_its_reservation_back(small_parts: None) -> None:
    world = team()
    asset_id, _ = _multipart(world["editor"], world.space, 6 * MIB)
    assert counters(world.space)[1] == 6 * MIB
    assert call("DELETE", f"/api/v1/assets/{asset_id}/multipart", token=world["editor"].token).status == 204
    assert counters(world.space) == (0, 0, None)


# ------------------------------------------------------------------ moves and links


def test_moves_between_library_and_spaces_revoke_links_and_move_bytes(db: str, s3_endpoint: str) -> None:
    world = team()
    editor, owner = world["editor"], world["owner"]
    other = new_space(editor, "mine")["id"]
    asset = ready(editor, None)["id"]
    personal_link = share(editor, asset)
    moved = call("POST", f"/api/v1/assets/{asset}/move", {"space_id": world.space}, token=editor.token)
    assert moved.status == 200 and moved.body["space_id"] == world.space
    assert opens(personal_link) == 404  # links follow the asset's space
    assert counters(world.space)[0] == len(PNG)
    space_link = share(owner, asset)
    assert call("POST", f"/api/v1/assets/{asset}/move", {"space_id": other}, token=editor.token).status == 200
    assert opens(space_link) == 404
    assert counters(world.space)[0] == 0 and counters(other)[0] == len(PNG)
    back = call("POST", f"/api/v1/assets/{asset}/move", {"space_id": None}, token=editor.token)
    assert back.status == 200 and back.body["space_id"] is None
    assert listed(editor, "/api/v1/assets") == [asset]
    assert Counter(audit_actions(world.space))["asset.moved_in"] == 1
    assert Counter(audit_actions(world.space))["asset.moved_out"] == 1
    assert "share.revoked" in audit_actions(world.space)


def test_a_move_into_a_full_space_is_413_and_changes_nothing(db: str, s3_endpoint: str) -> None:
    world = team(quota_bytes=len(PNG))
    editor = world["editor"]
    ready(editor, world.space)
    asset = ready(editor, None)["id"]
    link = share(editor, asset)
    answer = call("POST", f"/api/v1/assets/{asset}/move", {"space_id": world.space}, token=editor.token)
    assert (answer.status, answer.error_code) == (413, "quota_exceeded")
    assert opens(link) == 200 and listed(editor, "/api/v1/assets") == [asset]


def test_deleting_a_space_returns_its_assets_and_revokes_their_links(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, editor = world["owner"], world["editor"]
    asset = ready(editor, world.space)["id"]
    link = share(owner, asset)
    assert opens(link) == 200
    assert call("DELETE", f"/api/v1/spaces/{world.space}", token=owner.token).status == 204
    assert opens(link) == 404
    assert listed(editor, "/api/v1/assets") == [asset]  # back in its uploader's library
    assert call("GET", f"/api/v1/assets/{asset}", token=owner.token).status == 404
    assert "share.revoked" in audit_actions(world.space)


def test_a_member_who_leaves_loses_the_links_they_made(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, editor = world["owner"], world["editor"]
    asset = ready(editor, world.space)["id"]
    link = share(owner, asset)
    assert call("PATCH", f"/api/v1/spaces/{world.space}/owner", {"user_id": editor.id}, token=owner.token).status == 200
    assert opens(link) == 200  # still a member: the new owner sees and manages it
    shares = call("GET", f"/api/v1/assets/{asset}/shares", token=editor.token).body["items"]
    assert [s["id"] for s in shares] == [link["id"]]
    assert call("DELETE", f"/api/v1/spaces/{world.space}/members/{owner.id}", token=owner.token).status == 204
    assert opens(link) == 404


def test_the_space_owner_revokes_any_link_of_the_spaces_assets(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, editor = world["owner"], world["editor"]
    asset = ready(editor, world.space)["id"]
    link = share(owner, asset)
    assert call("PATCH", f"/api/v1/spaces/{world.space}/owner", {"user_id": editor.id}, token=owner.token).status == 200
    assert call("DELETE", f"/api/v1/shares/{link['id']}", token=editor.token).status == 204  # the new owner
    assert opens(link) == 404


# ------------------------------------------------------------------ usage and audit


def test_space_usage_counts_downloads_and_live_links(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, viewer = world["owner"], world["viewer"]
    asset = ready(owner, world.space)["id"]
    assert call("GET", f"/api/v1/assets/{asset}/download", token=viewer.token).status == 200
    link = share(owner, asset)
    assert opens(link) == 200
    usage = call("GET", f"/api/v1/spaces/{world.space}/usage", token=viewer.token).body
    assert usage["downloads"] == usage["downloads_30d"] == 2 and usage["shares_active"] == 1
    assert usage["by_type"] == {"image": {"count": 1, "bytes": len(PNG)}}
    personal = call("GET", "/api/v1/usage", token=owner.token).body
    assert personal["asset_count"] == 0  # the space's bytes are the space's


def test_the_space_audit_is_the_owners_newest_first_by_keyset(db: str, s3_endpoint: str) -> None:
    world = team()
    owner, editor = world["owner"], world["editor"]
    asset = ready(editor, world.space)["id"]
    call("GET", f"/api/v1/assets/{asset}/download", token=editor.token)
    assert call("GET", f"/api/v1/spaces/{world.space}/audit", token=editor.token).status == 403
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = [("limit", "2")] + ([("cursor", cursor)] if cursor else [])
        page = call("GET", f"/api/v1/spaces/{world.space}/audit", token=owner.token, query=query)
        assert page.status == 200, page.body
        seen += page.body["items"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen[0]["action"] == "asset.download_url_issued"
    assert Counter(e["action"] for e in seen) == Counter(audit_actions(world.space))
    assert {e["user_id"] for e in seen if e["action"] == "space.member_added"} == {owner.id}
    times = [e["created_at"] for e in seen]
    assert times == sorted(times, reverse=True)
    for other in (editor, member()):  # not another space's events, nor a personal trail's
        own = call("GET", "/api/v1/audit", token=other.token).body["items"]
        assert all(e["action"] != "space.member_added" for e in own)


def test_the_personal_library_is_unchanged(db: str, s3_endpoint: str) -> None:
    """A user in no space: upload, list, rename, share, download, delete, usage, as before."""
    ada = member()
    asset = upload(ada, None)
    mark_ready(asset["id"])
    assert asset["space_id"] is None and listed(ada, "/api/v1/assets") == [asset["id"]]
    assert call("PATCH", f"/api/v1/assets/{asset['id']}", {"tags": ["a"]}, token=ada.token).body["tags"] == ["a"]
    link = share(ada, asset["id"])
    assert opens(link) == 200
    assert call("DELETE", f"/api/v1/shares/{link['id']}", token=ada.token).status == 204
    assert call("GET", f"/api/v1/assets/{asset['id']}/download", token=ada.token).status == 200
    usage = call("GET", "/api/v1/usage", token=ada.token).body
    assert usage["asset_count"] == 1 and usage["downloads_30d"] == 2
    assert call("DELETE", f"/api/v1/assets/{asset['id']}", token=ada.token).status == 204
    eve = member()
    assert call("GET", f"/api/v1/assets/{asset['id']}", token=eve.token).status == 404


def test_a_space_deleted_while_its_assets_move_and_upload_answers_every_request(db: str, s3_endpoint: str) -> None:
    """Deletion, moves, uploads, deletes and links racing on one space: each request gets a clean
    answer (no deadlock, no 500), and the counters of what is left add up."""
    world = team()
    owner, editor = world["owner"], world["editor"]
    other = new_space(editor, "elsewhere")["id"]
    assets = [ready(editor, world.space)["id"] for _ in range(6)]

    def work(i: int) -> int:
        if i == 0:
            return call("DELETE", f"/api/v1/spaces/{world.space}", token=owner.token).status
        asset = assets[i % len(assets)]
        if i % 4 == 1:
            return call("POST", f"/api/v1/assets/{asset}/move", {"space_id": other}, token=editor.token).status
        if i % 4 == 2:
            return start(editor, world.space).status
        if i % 4 == 3:
            return call("DELETE", f"/api/v1/assets/{asset}", token=editor.token).status
        return call("POST", f"/api/v1/assets/{asset}/shares", {"original": True}, token=owner.token).status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(work, range(12)))
    assert statuses[0] == 204 and all(s in (200, 201, 204, 404) for s in statuses), statuses
    left = listed(editor, f"/api/v1/spaces/{other}/assets")
    usage = call("GET", f"/api/v1/spaces/{other}/usage", token=editor.token).body
    assert usage["used_bytes"] == usage["total_bytes"] == len(left) * len(PNG)
