"""Issue 14, item 2: share links do not hand out locations.

Originals are private (docs/decisions.md: GPS stays in the original and in the owner's EXIF
summary); a share hands out the metadata-free `preview` unless the owner shares the original
explicitly (`original: true`).
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests
from PIL import Image
from sqlalchemy import text

from core import db as core_db
from core import storage
from local.lambda_context import LocalLambdaContext
from tests.client import call
from tests.integration.media_world import gps_jpeg, gps_of
from tests.integration.social import Member, member

BUCKET = "assets-test"
MP4 = (24).to_bytes(4, "big") + b"ftypisom\x00\x00\x02\x00isommp41" + b"\x00\x00\x00\x08free" + b"\x00" * 200


def processed(who: Member, data: bytes, filename: str, content_type: str) -> str:
    """Upload through the API and run the media function on the upload's notification."""
    from media.handler import handler

    started = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": filename, "content_type": content_type, "size": len(data)},
        token=who.token,
    ).body
    put = started["upload"]
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=10).status_code == 200
    asset_id = str(started["asset"]["id"])
    with core_db.get_engine().connect() as conn:
        key = conn.execute(text("SELECT s3_key FROM assets WHERE id = :i"), {"i": asset_id}).scalar_one()
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}
    record["s3"] = {"bucket": {"name": BUCKET}, "object": {"key": quote(key, safe="")}}
    sqs = {"messageId": "m0", "receiptHandle": "h", "body": json.dumps({"Records": [record]}), "attributes": {}}
    sqs |= {"messageAttributes": {}, "md5OfBody": "0", "eventSource": "aws:sqs", "awsRegion": "us-east-1"}
    sqs["eventSourceARN"] = "arn:aws:sqs:us-east-1:000000000000:media-test"
    assert handler({"Records": [sqs]}, LocalLambdaContext("media"))["batchItemFailures"] == []
    shown = call("GET", f"/api/v1/assets/{asset_id}", token=who.token).body
    assert shown["status"] == "ready", shown
    return asset_id


def share(who: Member, asset_id: str, **body: Any) -> dict[str, Any]:
    answer = call("POST", f"/api/v1/assets/{asset_id}/shares", body, token=who.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def opened(token: str) -> dict[str, Any]:
    answer = call("GET", f"/api/v1/shares/{token}", ip="198.51.100.23")
    assert answer.status == 200, answer.body
    return dict(answer.body)


def fetched(url: str) -> bytes:
    got = requests.get(url, timeout=10)
    assert got.status_code == 200, got.text
    return bytes(got.content)


def test_a_default_share_serves_the_preview_without_gps(env: None) -> None:
    ada = member("ada")
    original = gps_jpeg()
    asset_id = processed(ada, original, "home.jpg", "image/jpeg")
    assert call("GET", f"/api/v1/assets/{asset_id}", token=ada.token).body["exif"]["gps"]  # the owner sees it

    created = share(ada, asset_id)
    assert created["original"] is False
    listed = call("GET", f"/api/v1/assets/{asset_id}/shares", token=ada.token).body["items"]
    assert [s["original"] for s in listed] == [False]

    shared = opened(created["token"])
    data = fetched(shared["download"]["url"])
    assert data != original and b"Phone" not in data
    assert gps_of(data) == {} and dict(Image.open(BytesIO(data)).getexif()) == {}
    assert max(Image.open(BytesIO(data)).size) == 1280  # the preview
    assert shared["asset"]["content_type"] == "image/jpeg" and shared["asset"]["size"] == len(data)
    disposition = parse_qs(urlsplit(shared["download"]["url"]).query)["response-content-disposition"][0]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "home.jpg"
    # Every URL the recipient gets is metadata-free.
    for variant in shared["asset"]["variants"]:
        assert gps_of(fetched(variant["url"])) == {}


def test_sharing_the_original_is_an_explicit_choice(env: None) -> None:
    ada = member("ada")
    original = gps_jpeg()
    asset_id = processed(ada, original, "home.jpg", "image/jpeg")
    created = share(ada, asset_id, original=True)
    assert created["original"] is True
    shared = opened(created["token"])
    assert fetched(shared["download"]["url"]) == original  # GPS included: the owner asked for it
    assert shared["asset"]["content_type"] == "image/jpeg" and shared["asset"]["size"] == len(original)


def test_a_png_is_shared_as_its_jpeg_preview_named_after_it(env: None) -> None:
    ada = member("ada")
    out = BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(out, "PNG")
    asset_id = processed(ada, out.getvalue(), "plan.png", "image/png")
    shared = opened(share(ada, asset_id)["token"])
    assert fetched(shared["download"]["url"])[:3] == b"\xff\xd8\xff"
    assert shared["asset"]["filename"] == "plan.jpg" and shared["asset"]["content_type"] == "image/jpeg"


def test_what_has_no_metadata_free_rendition_is_shared_only_as_the_original(env: None) -> None:
    """Videos (their HLS rendition cannot be fetched through one URL) and images kept as uploaded."""
    ada = member("ada")
    video = processed(ada, MP4, "clip.mp4", "video/mp4")
    refused = call("POST", f"/api/v1/assets/{video}/shares", {}, token=ada.token)
    assert refused.status == 409 and "original" in refused.body["error"]["message"]
    assert fetched(opened(share(ada, video, original=True)["token"])["download"]["url"]) == MP4

    heic = (24).to_bytes(4, "big") + b"ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    photo = processed(ada, heic, "IMG_0001.HEIC", "image/heic")
    assert call("POST", f"/api/v1/assets/{photo}/shares", {}, token=ada.token).status == 409


def test_a_default_share_of_an_image_without_its_preview_opens_nothing(env: None) -> None:
    """Shared while pending, or a row from before variants: no preview, no original either."""
    ada = member("ada")
    asset_id = processed(ada, gps_jpeg(), "home.jpg", "image/jpeg")
    token = share(ada, asset_id)["token"]
    with core_db.get_engine().begin() as conn:
        conn.execute(text("DELETE FROM asset_variants WHERE asset_id = :i"), {"i": asset_id})
    answer = call("GET", f"/api/v1/shares/{token}", ip="198.51.100.24")
    assert answer.status == 404
    with core_db.get_engine().connect() as conn:
        assert conn.execute(text("SELECT download_count FROM shares")).scalar_one() == 0


def test_the_stored_original_keeps_its_gps_for_its_owner(env: None) -> None:
    ada = member("ada")
    original = gps_jpeg()
    asset_id = processed(ada, original, "home.jpg", "image/jpeg")
    download = call("GET", f"/api/v1/assets/{asset_id}/download", token=ada.token).body["url"]
    assert gps_of(fetched(download))
    with core_db.get_engine().connect() as conn:
        key = conn.execute(text("SELECT s3_key FROM assets WHERE id = :i"), {"i": asset_id}).scalar_one()
    assert storage.s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == original
