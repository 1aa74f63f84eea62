"""Assets and shares (API.md): uploads single and multipart, downloads, shares, limits, search, usage, audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from sqlalchemy import text

from core import db as core_db
from core import storage
from core.config import reset_settings
from tests.client import Answer, call
from tests.integration.social import Member, member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Change settings for one test."""

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        reset_settings()

    yield set_env
    monkeypatch.undo()
    reset_settings()


def start(who: Member, filename: str = "cat.png", content_type: str = "image/png", size: int = len(PNG)) -> Answer:
    return call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": filename, "content_type": content_type, "size": size},
        token=who.token,
    )


def upload(who: Member, data: bytes = PNG, **kwargs: Any) -> dict[str, Any]:
    answer = start(who, size=len(data), **kwargs)
    assert answer.status == 201, answer.body
    put = answer.body["upload"]
    assert put["method"] == "PUT" and put["headers"]["Content-Length"] == str(len(data))
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=10).status_code == 200
    return dict(answer.body["asset"])


def mark(asset_id: str, status: str) -> None:
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET status = :s WHERE id = :i"), {"s": status, "i": asset_id})


def ready(who: Member, **kwargs: Any) -> dict[str, Any]:
    asset = upload(who, **kwargs)
    mark(asset["id"], "ready")
    return asset


# ------------------------------------------------------------------ uploads


def test_single_upload_starts_pending_under_a_generated_key(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset = upload(ada, filename="../../etc/passwd")
    assert asset["status"] == "pending" and asset["filename"] == "../../etc/passwd" and asset["variants"] == []
    with core_db.get_engine().connect() as conn:
        key = conn.execute(text("SELECT s3_key FROM assets")).scalar_one()
    assert key == f"assets/{ada.id}/{asset['id']}"
    assert storage.object_size(key) == len(PNG)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "a\nb.png", "content_type": "image/png", "size": 1}, "filename"),
        ({"filename": "a\x00.png", "content_type": "image/png", "size": 1}, "body"),  # NUL: refused at the edge
        ({"filename": "a\x85.png", "content_type": "image/png", "size": 1}, "filename"),
        ({"filename": "x" * 256, "content_type": "image/png", "size": 1}, "filename"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 1}, "content_type"),
        ({"filename": "a.png", "content_type": "image/png", "size": 0}, "size"),
    ],
)
def test_bad_upload_requests_are_422(db: str, s3_endpoint: str, body: dict[str, Any], field: str) -> None:
    answer = call("POST", "/api/v1/assets/uploads", body, token=member().token)
    assert answer.status == 422 and field in {d["field"] for d in answer.body["error"]["details"]}


def test_over_the_per_asset_limit_is_413(db: str, s3_endpoint: str) -> None:
    answer = start(member(), size=5 * 1024**3 + 1)
    assert answer.status == 413 and answer.error_code == "payload_too_large"


def test_multipart_upload_through_presigned_part_urls(db: str, s3_endpoint: str, env: Any) -> None:
    env(MULTIPART_THRESHOLD_BYTES=str(5 * 1024 * 1024), MULTIPART_PART_BYTES=str(5 * 1024 * 1024))
    ada = member("ada")
    data = bytes(range(256)) * (11 * 1024 * 1024 // 256 + 1)
    answer = start(ada, filename="film.mp4", content_type="video/mp4", size=len(data))
    assert (answer.status == 201 and "upload" not in answer.body) or answer.body.get("upload") is None
    multipart = answer.body["multipart"]
    assert multipart["part_size"] == 5 * 1024 * 1024 and len(multipart["parts"]) == 3
    etags = []
    for part in multipart["parts"]:
        offset = (part["part_number"] - 1) * multipart["part_size"]
        chunk = data[offset : offset + multipart["part_size"]]
        response = requests.put(part["url"], data=chunk, timeout=30)  # a plain HTTP client, as a browser would
        assert response.status_code == 200
        etags.append({"part_number": part["part_number"], "etag": response.headers["ETag"]})
    asset_id = answer.body["asset"]["id"]
    done = call("POST", f"/api/v1/assets/{asset_id}/multipart/complete", {"parts": etags}, token=ada.token)
    assert done.status == 200 and done.body["size"] == len(data)
    again = call("POST", f"/api/v1/assets/{asset_id}/multipart/complete", {"parts": etags}, token=ada.token)
    assert again.status == 409


def test_multipart_with_wrong_parts_is_refused_and_abort_forgets_it(db: str, s3_endpoint: str, env: Any) -> None:
    env(MULTIPART_THRESHOLD_BYTES=str(5 * 1024 * 1024))
    ada = member("ada")
    answer = start(ada, filename="big.mov", content_type="video/quicktime", size=6 * 1024 * 1024)
    asset_id = answer.body["asset"]["id"]
    path = f"/api/v1/assets/{asset_id}/multipart/complete"
    for etag in ('"nope"', '"\u00e8,V\u001e"', "x" * 32):  # not the shape of an S3 ETag: a bad field
        assert call("POST", path, {"parts": [{"part_number": 1, "etag": etag}]}, token=ada.token).status == 422
    # Well-formed, but not what S3 holds for the upload: its state, not the body, is wrong.
    wrong = call("POST", path, {"parts": [{"part_number": 1, "etag": '"' + "0" * 32 + '"'}]}, token=ada.token)
    assert wrong.status == 409 and wrong.error_code == "conflict"
    assert call("DELETE", f"/api/v1/assets/{asset_id}/multipart", token=ada.token).status == 204
    assert call("GET", f"/api/v1/assets/{asset_id}", token=ada.token).status == 404


def test_part_size_keeps_uploads_within_10000_parts() -> None:
    from assets.uploads import MAX_PARTS, part_size_for

    five_tib = 5 * 1024**4
    size = part_size_for(five_tib, 64 * 1024 * 1024)
    assert size * MAX_PARTS >= five_tib and size % (1024 * 1024) == 0
    assert part_size_for(200 * 1024 * 1024, 64 * 1024 * 1024) == 64 * 1024 * 1024


# ------------------------------------------------------------------ owner-only


def test_another_users_asset_ids_are_404_everywhere(db: str, s3_endpoint: str) -> None:
    ada, eve = member("ada"), member("eve")
    asset_id = ready(ada)["id"]
    share = call("POST", f"/api/v1/assets/{asset_id}/shares", {}, token=ada.token).body
    for method, path, body in [
        ("GET", f"/api/v1/assets/{asset_id}", None),
        ("PATCH", f"/api/v1/assets/{asset_id}", {"filename": "mine.png"}),
        ("DELETE", f"/api/v1/assets/{asset_id}", None),
        ("GET", f"/api/v1/assets/{asset_id}/download", None),
        ("POST", f"/api/v1/assets/{asset_id}/shares", {}),
        ("GET", f"/api/v1/assets/{asset_id}/shares", None),
        (
            "POST",
            f"/api/v1/assets/{asset_id}/multipart/complete",
            {"parts": [{"part_number": 1, "etag": '"' + "0" * 32 + '"'}]},
        ),
        ("DELETE", f"/api/v1/assets/{asset_id}/multipart", None),
        ("DELETE", f"/api/v1/shares/{share['id']}", None),
    ]:
        answer = call(method, path, body, token=eve.token)
        assert answer.status == 404, (method, path, answer.body)
    assert call("GET", f"/api/v1/assets/{asset_id}", token=ada.token).status == 200
    assert call("GET", "/api/v1/assets", token=eve.token).body["items"] == []


def test_owner_routes_need_a_token(db: str) -> None:
    assert call("GET", "/api/v1/assets").status == 401
    assert call("GET", "/api/v1/usage").status == 401


# ------------------------------------------------------------------ library


def test_search_filters_and_pages(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    names = ["Holiday beach.png", "holiday hotel.png", "receipt.png", "clip.mp4"]
    ids = {}
    for name in names:
        kind = "video/mp4" if name.endswith(".mp4") else "image/png"
        ids[name] = upload(ada, filename=name, content_type=kind)["id"]
    call("PATCH", f"/api/v1/assets/{ids['receipt.png']}", {"tags": [" Tax ", "tax", "2026"]}, token=ada.token)

    def names_for(query: str) -> list[str]:
        answer = call("GET", f"/api/v1/assets{query}", token=ada.token)
        assert answer.status == 200, answer.body
        return [a["filename"] for a in answer.body["items"]]

    assert names_for("?q=HOLIDAY") == ["holiday hotel.png", "Holiday beach.png"]
    assert names_for("?q=100%25") == []
    assert names_for("?content_type=video/*") == ["clip.mp4"]
    assert names_for("?content_type=image/png&tag=tax") == ["receipt.png"]
    assert names_for("?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z") == []
    assert len(names_for("?from=2000-01-01T00:00:00Z")) == 4
    first = call("GET", "/api/v1/assets?limit=3", token=ada.token).body
    rest = call("GET", f"/api/v1/assets?limit=3&cursor={first['next_cursor']}", token=ada.token).body
    assert [a["filename"] for a in first["items"] + rest["items"]] == names[::-1]
    assert call("GET", "/api/v1/assets?cursor=tampered", token=ada.token).status == 400
    assert call("GET", "/api/v1/assets?content_type=text/*", token=ada.token).status == 400


def test_patch_renames_and_tags(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset_id = upload(ada)["id"]
    answer = call(
        "PATCH", f"/api/v1/assets/{asset_id}", {"filename": 'Ünïcode "quoted".png', "tags": ["A", "b"]}, token=ada.token
    )
    assert answer.status == 200 and answer.body["tags"] == ["a", "b"]
    assert call("PATCH", f"/api/v1/assets/{asset_id}", {"filename": "bad\r\nname"}, token=ada.token).status == 422
    assert call("PATCH", f"/api/v1/assets/{asset_id}", {"tags": ["x" * 51]}, token=ada.token).status == 422


def test_delete_removes_object_variants_and_shares(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset = ready(ada)
    with core_db.get_engine().begin() as conn:
        key = conn.execute(text("SELECT s3_key FROM assets")).scalar_one()
        thumb = f"variants/{ada.id}/{asset['id']}/thumb.jpg"
        conn.execute(
            text(
                "INSERT INTO asset_variants (id, asset_id, kind, s3_key, content_type) "
                "VALUES (:v, :a, 'thumb', :k, 'image/jpeg')"
            ),
            {"v": str(uuid.uuid4()), "a": asset["id"], "k": thumb},
        )
    storage.s3_client().put_object(Bucket="assets-test", Key=thumb, Body=b"jpg")
    share = call("POST", f"/api/v1/assets/{asset['id']}/shares", {}, token=ada.token).body
    assert call("DELETE", f"/api/v1/assets/{asset['id']}", token=ada.token).status == 204
    assert storage.object_size(key) is None and storage.object_size(thumb) is None
    assert call("GET", f"/api/v1/shares/{share['token']}").status == 404
    with core_db.get_engine().connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM shares), (SELECT count(*) FROM asset_variants)")).one()
    assert tuple(counts) == (0, 0)


# ------------------------------------------------------------------ downloads


@pytest.mark.parametrize(
    "filename", ['say "cheese".png', "../../../x.png", "naïve café 😀.png", "a;b,c.png", "x" * 255]
)
def test_download_url_is_short_and_names_the_file_safely(db: str, s3_endpoint: str, filename: str) -> None:
    ada = member()
    asset = ready(ada, filename=filename)
    answer = call("GET", f"/api/v1/assets/{asset['id']}/download", token=ada.token)
    assert answer.status == 200 and answer.body["expires_in"] <= 120
    params = parse_qs(urlsplit(answer.body["url"]).query)
    assert int(params["X-Amz-Expires"][0]) <= 120
    disposition = params["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="') and "\n" not in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == filename
    fallback = disposition.split('filename="')[1].split('"; filename*=')[0]
    assert '"' not in fallback and "/" not in fallback and fallback.isascii()
    got = requests.get(answer.body["url"], timeout=10)
    assert got.status_code == 200 and got.content == PNG


@pytest.mark.parametrize("status", ["pending", "processing", "quarantined", "failed"])
def test_only_ready_assets_download(db: str, s3_endpoint: str, status: str) -> None:
    ada = member()
    asset = upload(ada)
    mark(asset["id"], status)
    answer = call("GET", f"/api/v1/assets/{asset['id']}/download", token=ada.token)
    assert answer.status == 409 and answer.error_code == "conflict"


# ------------------------------------------------------------------ shares


def test_share_lifecycle(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset = ready(ada, filename="trip.png")
    body = {"max_downloads": 2, "original": True}  # the PNG itself (it has no preview here)
    created = call("POST", f"/api/v1/assets/{asset['id']}/shares", body, token=ada.token)
    assert created.status == 201
    share = created.body
    assert share["original"] is True
    assert len(share["token"]) >= 22 and share["url"].endswith(share["token"])  # >= 128 random bits
    listed = call("GET", f"/api/v1/assets/{asset['id']}/shares", token=ada.token).body["items"]
    assert [s["id"] for s in listed] == [share["id"]] and listed[0]["token"] is None
    opened = call("GET", f"/api/v1/shares/{share['token']}", ip="198.51.100.1")
    assert opened.status == 200
    assert opened.body["asset"] == {
        "filename": "trip.png",
        "content_type": "image/png",
        "size": len(PNG),
        "original": True,
        "variants": [],
    }
    assert requests.get(opened.body["download"]["url"], timeout=10).content == PNG
    assert call("GET", f"/api/v1/shares/{share['token']}").status == 200
    assert call("GET", f"/api/v1/shares/{share['token']}").status == 404  # used up
    listed = call("GET", f"/api/v1/assets/{asset['id']}/shares", token=ada.token).body["items"]
    assert listed[0]["download_count"] == 2


def test_revoked_expired_unknown_and_unready_shares_look_the_same(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset = ready(ada)

    def new_share(**body: Any) -> dict[str, Any]:
        return dict(call("POST", f"/api/v1/assets/{asset['id']}/shares", body, token=ada.token).body)

    revoked, expired, fine = new_share(), new_share(expires_in_seconds=3600), new_share()
    assert call("DELETE", f"/api/v1/shares/{revoked['id']}", token=ada.token).status == 204
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("UPDATE shares SET expires_at = now() - interval '1 second' WHERE id = :i"), {"i": expired["id"]}
        )
    answers = [
        call("GET", f"/api/v1/shares/{token}")
        for token in (revoked["token"], expired["token"], "x" * 43, "short", fine["token"] + "x")
    ]
    assert {(a.status, a.error_code) for a in answers} == {(404, "not_found")}
    mark(asset["id"], "processing")
    assert call("GET", f"/api/v1/shares/{fine['token']}").status == 404


def test_share_limits(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset = ready(ada)
    path = f"/api/v1/assets/{asset['id']}/shares"
    assert call("POST", path, {"expires_in_seconds": 31 * 24 * 3600}, token=ada.token).status == 422
    assert call("POST", path, {"max_downloads": 0}, token=ada.token).status == 422
    mark(asset["id"], "quarantined")
    assert call("POST", path, {}, token=ada.token).status == 409


def test_share_creation_is_rate_limited_per_user(db: str, s3_endpoint: str) -> None:
    ada, bob = member("ada"), member("bob")
    asset = ready(ada)
    for _ in range(10):
        assert call("POST", f"/api/v1/assets/{asset['id']}/shares", {}, token=ada.token).status == 201
    limited = call("POST", f"/api/v1/assets/{asset['id']}/shares", {}, token=ada.token)
    assert limited.status == 429 and 1 <= int(limited.headers["Retry-After"][0]) <= 60
    assert call("POST", f"/api/v1/assets/{ready(bob)['id']}/shares", {}, token=bob.token).status == 201


def test_share_access_is_rate_limited_per_client_ip(db: str, s3_endpoint: str, env: Any) -> None:
    env(SHARE_ACCESS_PER_MINUTE_PER_IP="3")
    ada = member("ada")
    share = call("POST", f"/api/v1/assets/{ready(ada)['id']}/shares", {"original": True}, token=ada.token)
    token = share.body["token"]
    for _ in range(3):
        assert call("GET", f"/api/v1/shares/{token}", ip="192.0.2.9").status == 200
    limited = call("GET", f"/api/v1/shares/{token}", ip="192.0.2.9")
    assert limited.status == 429 and int(limited.headers["Retry-After"][0]) >= 1
    assert call("GET", f"/api/v1/shares/{token}", ip="192.0.2.10").status == 200


# ------------------------------------------------------------------ usage and audit


def test_usage_and_audit(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    image = ready(ada)
    upload(ada, filename="clip.mp4", content_type="video/mp4")
    share = call("POST", f"/api/v1/assets/{image['id']}/shares", {"original": True}, token=ada.token).body
    call("GET", f"/api/v1/assets/{image['id']}/download", token=ada.token)
    call("GET", f"/api/v1/shares/{share['token']}", ip="203.0.113.50")
    call("DELETE", f"/api/v1/shares/{share['id']}", token=ada.token)
    usage = call("GET", "/api/v1/usage", token=ada.token).body
    assert usage == {
        "asset_count": 2,
        "total_bytes": 2 * len(PNG),
        "by_type": {"image": {"count": 1, "bytes": len(PNG)}, "video": {"count": 1, "bytes": len(PNG)}},
        "downloads_30d": 2,
        "shares_active": 0,
    }
    events = call("GET", "/api/v1/audit?limit=100", token=ada.token).body["items"]
    actions = {e["action"] for e in events}
    assert {"share.created", "share.revoked", "share.accessed", "asset.download_url_issued"} <= actions
    accessed = next(e for e in events if e["action"] == "share.accessed")
    assert accessed["ip"] == "203.0.113.50" and accessed["target_id"] == share["id"]
    assert call("GET", "/api/v1/audit", token=member().token).body["items"] == []
