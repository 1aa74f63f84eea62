"""Posts (API.md): feed, CRUD, ownership, image uploads through presigned POST."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.client import call
from tests.integration.social import member, post


def test_create_and_read(db: str) -> None:
    ada = member("ada")
    created = post(ada, "first!")
    assert created["author"] == {"id": ada.id, "username": "ada", "avatar_url": None}
    assert (created["likes_count"], created["comments_count"], created["image_url"]) == (0, 0, None)
    assert (created["image_status"], created["image_variants"]) == (None, [])
    assert created["created_at"].endswith("Z")
    got = call("GET", f"/api/v1/posts/{created['id']}")
    assert got.status == 200 and got.body == created


@pytest.mark.parametrize("content", ["", "x" * 281])
def test_content_is_1_to_280_chars(db: str, content: str) -> None:
    answer = call("POST", "/api/v1/posts", {"content": content}, token=member().token)
    assert answer.status == 422 and answer.body["error"]["details"][0]["field"] == "content"


def test_280_characters_of_any_script_fit(db: str) -> None:
    assert post(member(), "é" * 280)["content"] == "é" * 280


def test_writing_needs_a_token(db: str) -> None:
    assert call("POST", "/api/v1/posts", {"content": "x"}).status == 401


def test_unknown_and_malformed_ids_are_404(db: str) -> None:
    for post_id in (uuid.uuid4(), "not-a-uuid", "1' OR '1'='1"):
        answer = call("GET", f"/api/v1/posts/{post_id}")
        assert answer.status == 404 and answer.error_code == "not_found"


def test_feed_is_newest_first_with_cursor_pages(db: str) -> None:
    ada, bob = member("ada"), member("bob")
    ids = [post(ada if i % 2 else bob, f"post {i}")["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        query = f"?limit=3{'&cursor=' + cursor if cursor else ''}"
        page = call("GET", f"/api/v1/posts{query}")
        assert page.status == 200 and len(page.body["items"]) <= 3
        seen += [p["id"] for p in page.body["items"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    by_ada = call("GET", "/api/v1/posts?author=ADA").body["items"]
    assert {p["author"]["username"] for p in by_ada} == {"ada"} and len(by_ada) == 3
    assert call("GET", "/api/v1/posts?author=nobody").body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=x", "?cursor=bogus", "?author=no%20spaces"])
def test_bad_list_parameters_are_400(db: str, query: str) -> None:
    answer = call("GET", f"/api/v1/posts{query}")
    assert answer.status == 400 and answer.error_code == "bad_request"


def test_only_the_author_changes_or_deletes(db: str) -> None:
    ada, eve = member("ada"), member("eve")
    created = post(ada)
    path = f"/api/v1/posts/{created['id']}"
    assert call("PUT", path, {"content": "mine now"}, token=eve.token).status == 403
    assert call("DELETE", path, token=eve.token).status == 403
    updated = call("PUT", path, {"content": "edited"}, token=ada.token)
    assert updated.status == 200 and updated.body["content"] == "edited"
    assert updated.body["updated_at"] >= created["updated_at"]
    assert call("DELETE", path, token=ada.token).status == 204
    assert call("GET", path).status == 404
    assert call("DELETE", path, token=ada.token).status == 404


def test_deleting_a_post_takes_its_likes_and_comments(db: str) -> None:
    ada, bob = member("ada"), member("bob")
    created = post(ada)
    assert call("POST", f"/api/v1/posts/{created['id']}/likes", token=bob.token).status == 201
    assert call("POST", f"/api/v1/posts/{created['id']}/comments", {"content": "hi"}, token=bob.token).status == 201
    assert call("DELETE", f"/api/v1/posts/{created['id']}", token=ada.token).status == 204
    from sqlalchemy import text

    from core import db as core_db

    with core_db.get_engine().connect() as conn:
        assert conn.execute(text("SELECT (SELECT count(*) FROM likes) + (SELECT count(*) FROM comments)")).scalar() == 0
    assert call("GET", f"/api/v1/posts/{created['id']}/comments").status == 404


# ------------------------------------------------------------------ images


def _upload(token: str, content_type: str = "image/png", data: bytes = b"\x89PNG\r\n\x1a\n" + b"0" * 64) -> str:
    answer = call("POST", "/api/v1/posts/upload-url", {"content_type": content_type, "size": len(data)}, token=token)
    assert answer.status == 201, answer.body
    upload = answer.body["upload"]
    assert upload["method"] == "POST" and answer.body["expires_in"] > 0
    response = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("x", data, content_type)}, timeout=10
    )
    assert response.status_code in (200, 204), response.text
    return str(answer.body["image_key"])


def test_upload_url_is_a_presigned_post_that_s3_enforces(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    answer = call("POST", "/api/v1/posts/upload-url", {"content_type": "image/jpeg", "size": 1000}, token=ada.token)
    assert answer.status == 201
    body = answer.body
    assert body["image_key"].startswith(f"post-images/{ada.id}/") and body["image_key"].endswith(".jpg")
    policy = __import__("base64").b64decode(body["upload"]["fields"]["policy"]).decode()
    assert '"content-length-range", 1, 1000' in policy and '"Content-Type": "image/jpeg"' in policy


def test_upload_limits(db: str, s3_endpoint: str) -> None:
    token = member().token
    too_big = call(
        "POST", "/api/v1/posts/upload-url", {"content_type": "image/png", "size": 10 * 1024 * 1024 + 1}, token=token
    )
    assert too_big.status == 413 and too_big.error_code == "payload_too_large"
    wrong_type = call("POST", "/api/v1/posts/upload-url", {"content_type": "image/svg+xml", "size": 10}, token=token)
    assert wrong_type.status == 422
    assert call("POST", "/api/v1/posts/upload-url", {"content_type": "image/png", "size": 10}).status == 401


def test_post_with_an_uploaded_image(db: str, s3_endpoint: str) -> None:
    """Shown only once the media pipeline has made its variants (tests/integration/security/
    test_post_images_privacy.py); until then processing, with no URL, and never the original."""
    ada = member("ada")
    key = _upload(ada.token)
    created = post(ada, "look", image_key=key)
    assert (created["image_status"], created["image_url"], created["image_variants"]) == ("processing", None, [])
    assert key not in str(created)
    got = call("GET", f"/api/v1/posts/{created['id']}")
    assert got.status == 200 and got.body == created
    without = post(ada, "no image")
    assert (without["image_status"], without["image_url"], without["image_variants"]) == (None, None, [])


def test_image_key_must_be_issued_to_you_and_uploaded(db: str, s3_endpoint: str) -> None:
    ada, eve = member("ada"), member("eve")
    adas_key = _upload(ada.token)
    never_uploaded = call(
        "POST", "/api/v1/posts/upload-url", {"content_type": "image/png", "size": 10}, token=ada.token
    ).body["image_key"]
    # Malformed keys are bad fields; a key of the issued shape is the caller's or the upload's state.
    for key in ("../../etc/passwd", "post-images/x", adas_key + "x"):
        answer = call("POST", "/api/v1/posts", {"content": "x", "image_key": key}, token=ada.token)
        assert answer.status == 422 and answer.body["error"]["details"][0]["field"] == "image_key", key
    assert call("POST", "/api/v1/posts", {"content": "x", "image_key": adas_key}, token=eve.token).status == 403
    pending = call("POST", "/api/v1/posts", {"content": "x", "image_key": never_uploaded}, token=ada.token)
    assert pending.status == 409 and pending.error_code == "conflict"


def test_deleting_or_replacing_tags_the_old_image_for_expiry(db: str, s3_endpoint: str) -> None:
    from core import storage

    ada = member("ada")
    first, second = _upload(ada.token), _upload(ada.token)
    created = post(ada, "x", image_key=first)

    def tags(key: str) -> list[dict[str, str]]:
        return list(storage.s3_client().get_object_tagging(Bucket="assets-test", Key=key)["TagSet"])

    path = f"/api/v1/posts/{created['id']}"
    assert call("PUT", path, {"content": "y", "image_key": second}, token=ada.token).status == 200
    assert tags(first) == [storage.DELETED_TAG] and tags(second) == []
    assert call("DELETE", path, token=ada.token).status == 204
    assert tags(second) == [storage.DELETED_TAG]


@pytest.mark.parametrize(
    "tag", [{"Key": "quarantined", "Value": "true"}, {"Key": "rejected", "Value": "type-mismatch"}]
)
def test_an_image_the_pipeline_refused_cannot_be_posted(db: str, s3_endpoint: str, tag: dict[str, str]) -> None:
    from core import storage

    ada = member("ada")
    key = _upload(ada.token)
    storage.s3_client().put_object_tagging(Bucket="assets-test", Key=key, Tagging={"TagSet": [tag]})
    answer = call("POST", "/api/v1/posts", {"content": "x", "image_key": key}, token=ada.token)
    assert answer.status == 409 and "refused" in answer.body["error"]["message"]
