"""Issue 15, item 1: a post image is shown only as the media pipeline's metadata-free variants.

The leak: the feed served the original the author uploaded, EXIF and GPS included, and before its
scan had finished. Now a post answers `image_status: processing` (no URL) until the pipeline has
scanned the image and written its variants; then `image_url` is the preview variant, without
any metadata; a refused image never shows; no response ever names the original's key.
The image is uploaded the way a client does it (the presigned POST of /posts/upload-url) and the
S3 notification is fed to the media function as SQS delivers it.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from PIL import Image
from sqlalchemy import text

from core import db as core_db
from core import storage
from core.config import reset_settings
from media.scan import EICAR
from tests.client import call
from tests.integration.media_world import GPS_IFD, gps_jpeg, run
from tests.integration.social import Member, member, post

BUCKET = "assets-test"


def upload(who: Member, data: bytes, content_type: str = "image/jpeg") -> str:
    """Through POST /posts/upload-url and its presigned POST, as a client does; the image key."""
    answer = call(
        "POST", "/api/v1/posts/upload-url", {"content_type": content_type, "size": len(data)}, token=who.token
    )
    assert answer.status == 201, answer.body
    form = answer.body["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("x", data, content_type)}, timeout=10)
    assert sent.status_code in (200, 204), sent.text
    return str(answer.body["image_key"])


def s3_body(key: str) -> str:
    """The notification as moto sends it (key URL-encoded, no versionId)."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Post",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote(key, safe="")}},
    }
    return json.dumps({"Records": [record]})


def shown(post_id: str, key: str) -> dict[str, Any]:
    """The post as GET /posts/{id} and the feed answer it (the same), never naming the original."""
    one = call("GET", f"/api/v1/posts/{post_id}")
    assert one.status == 200, one.body
    feed = call("GET", "/api/v1/posts?limit=100")
    assert feed.status == 200
    for answer in (one.body, feed.body):
        assert key not in json.dumps(answer)
    (in_feed,) = [p for p in feed.body["items"] if p["id"] == post_id]
    assert {k: v for k, v in in_feed.items() if "image" not in k} == {
        k: v for k, v in one.body.items() if "image" not in k
    }
    assert (in_feed["image_status"], len(in_feed["image_variants"])) == (
        one.body["image_status"],
        len(one.body["image_variants"]),
    )
    return dict(one.body)


def assert_without_metadata(data: bytes) -> None:
    im = Image.open(BytesIO(data))
    assert im.format == "JPEG"
    exif = im.getexif()
    assert dict(exif) == {} and dict(exif.get_ifd(GPS_IFD)) == {}
    assert b"Exif\x00\x00" not in data and b"GPS" not in data and b"Spycam" not in data
    assert b"\xff\xe1" not in data  # no APP1 segment at all (EXIF, XMP)


def tags(key: str) -> dict[str, str]:
    answer = storage.s3_client().get_object_tagging(Bucket=BUCKET, Key=key)
    return {t["Key"]: t["Value"] for t in answer["TagSet"]}


def image_row(key: str) -> dict[str, Any] | None:
    with core_db.get_engine().connect() as conn:
        found = conn.execute(
            text("SELECT status, status_reason, version_id, variants FROM post_images WHERE image_key = :k"), {"k": key}
        ).first()
    return dict(found._mapping) if found else None


# ------------------------------------------------------------------ the privacy fix


def test_a_gps_jpeg_is_processing_then_shown_only_as_variants_without_metadata(env: None) -> None:
    ada = member("ada")
    key = upload(ada, gps_jpeg())
    created = post(ada, "where am I?", image_key=key)
    assert (created["image_status"], created["image_url"], created["image_variants"]) == ("processing", None, [])
    assert key not in json.dumps(created)
    assert shown(created["id"], key)["image_status"] == "processing"

    assert run(s3_body(key)) == []

    ready = shown(created["id"], key)
    assert ready["image_status"] == "ready"
    variants = {v["kind"]: v for v in ready["image_variants"]}
    assert set(variants) == {"preview", "thumb"}
    assert ready["image_url"] == variants["preview"]["url"]
    stem = key.removesuffix(".jpg")
    for kind, longest in (("preview", 1280), ("thumb", 256)):
        variant = variants[kind]
        assert variant["content_type"] == "image/jpeg"
        assert (variant["width"], variant["height"]) == (longest, longest * 3 // 4)
        url = urlsplit(variant["url"])
        assert url.path.endswith(f"/variants/{stem}/{kind}.jpg")
        assert parse_qs(url.query).get("versionId"), "pinned to the variant's version"
        served = requests.get(variant["url"], timeout=10)
        assert served.status_code == 200
        assert_without_metadata(served.content)
        assert Image.open(BytesIO(served.content)).size == (variant["width"], variant["height"])
    # The original is untouched and private: it still holds the GPS, and no answer points at it.
    assert tags(key) == {}


def test_an_image_processed_before_its_post_is_ready_at_once(env: None) -> None:
    ada = member("ada")
    key = upload(ada, gps_jpeg((900, 600)))
    assert run(s3_body(key)) == []
    created = post(ada, "late post", image_key=key)
    assert created["image_status"] == "ready" and created["image_url"]
    assert key not in json.dumps(created)
    assert_without_metadata(requests.get(created["image_url"], timeout=10).content)


def test_a_duplicate_event_changes_nothing(env: None) -> None:
    ada = member("ada")
    key = upload(ada, gps_jpeg((640, 480)))
    created = post(ada, "x", image_key=key)
    assert run(s3_body(key)) == []
    before = image_row(key)
    assert before is not None and before["status"] == "ready"
    assert run(s3_body(key), s3_body(key)) == []
    assert image_row(key) == before
    assert shown(created["id"], key)["image_status"] == "ready"


@pytest.mark.parametrize(
    ("data", "content_type", "tag"),
    [
        (EICAR, "image/jpeg", {"quarantined": "true"}),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/jpeg", {"rejected": "type-mismatch"}),  # a PNG declared JPEG
        (b"<svg onload=alert(1)>", "image/png", {"rejected": "type-mismatch"}),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "image/jpeg", {"rejected": "undecodable"}),  # a broken JPEG
    ],
)
def test_a_refused_image_never_shows(env: None, data: bytes, content_type: str, tag: dict[str, str]) -> None:
    ada = member("ada")
    key = upload(ada, data, content_type)
    created = post(ada, "x", image_key=key)  # before the scan: accepted, shown as processing
    assert created["image_status"] == "processing" and created["image_url"] is None

    assert run(s3_body(key)) == []
    assert tags(key) == tag
    refused = shown(created["id"], key)
    assert (refused["image_status"], refused["image_url"], refused["image_variants"]) == ("refused", None, [])
    assert image_row(key)["variants"] == []  # type: ignore[index]
    assert (
        not storage.s3_client()
        .list_objects_v2(Bucket=BUCKET, Prefix=f"variants/{key.rsplit('.', 1)[0]}/")
        .get("KeyCount")
    )

    again = call("POST", "/api/v1/posts", {"content": "y", "image_key": key}, token=ada.token)
    assert again.status == 409 and "refused" in again.body["error"]["message"]
    assert run(s3_body(key)) == []  # again: nothing changes
    assert shown(created["id"], key)["image_status"] == "refused"


def test_a_retryable_failure_leaves_the_image_processing_and_the_retry_finishes_it(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from media import pipeline

    ada = member("ada")
    key = upload(ada, gps_jpeg((640, 480)))
    created = post(ada, "x", image_key=key)

    def s3_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("S3 is down")

    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "put_variant", s3_down)
        assert run(s3_body(key)) == ["m0"]
    assert image_row(key) is None and shown(created["id"], key)["image_status"] == "processing"
    assert run(s3_body(key)) == []
    assert shown(created["id"], key)["image_status"] == "ready"


def test_a_second_version_of_a_taken_image_is_deleted_unscanned(env: None) -> None:
    """The presigned POST may be used again until it expires: the version the pipeline took stays."""
    ada = member("ada")
    clean = gps_jpeg((640, 480))
    key = upload(ada, clean)
    assert run(s3_body(key)) == []
    row = image_row(key)
    assert row is not None and row["status"] == "ready"
    storage.s3_client().put_object(Bucket=BUCKET, Key=key, Body=EICAR, ContentType="image/jpeg")
    assert run(s3_body(key)) == []  # moto names no version: the current one, which is not the one taken
    assert storage.s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == clean
    assert image_row(key) == row


def test_with_the_cdn_the_post_shows_cloudfront_signed_variant_urls(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the stage has CloudFront, the variants are served through it (signed, version pinned)."""
    from core import cdn
    from tests import cloudfront

    ada = member("ada")
    key = upload(ada, gps_jpeg((640, 480)))
    created = post(ada, "x", image_key=key)
    assert run(s3_body(key)) == []
    for name, value in cloudfront.env().items():
        monkeypatch.setenv(name, value)
    reset_settings()
    cdn._signer.cache_clear()
    try:
        ready = shown(created["id"], key)
    finally:
        cdn._signer.cache_clear()
    stem = key.removesuffix(".jpg")
    for variant in ready["image_variants"]:
        url = variant["url"]
        assert url.startswith(f"https://{cloudfront.DOMAIN}/variants/{stem}/{variant['kind']}.jpg?")
        assert cloudfront.allows(url)
    assert ready["image_url"] == next(v["url"] for v in ready["image_variants"] if v["kind"] == "preview")
