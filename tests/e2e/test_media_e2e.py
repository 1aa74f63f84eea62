"""`make dev` end to end: a JPEG uploaded through the presigned URL gets its variants via the event pump.

Real HTTP to the gateway, a plain PUT to moto, S3 -> SQS notification, the pump invoking
the media function; the test only polls the API (bounded).
"""

from __future__ import annotations

import time
import uuid
from io import BytesIO
from typing import TYPE_CHECKING, Any

import pytest
import requests
from PIL import Image

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e
WAIT_S = 30
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _jpeg() -> bytes:
    im = Image.linear_gradient("L").resize((2000, 1500)).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "E2ECam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 24.0), "E", (2.0, 21.0, 7.0)
    out = BytesIO()
    im.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


def _token(stack: LocalStack) -> str:
    name = f"m{uuid.uuid4().hex[:10]}"
    response = requests.post(
        f"{stack.api}/api/v1/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": "p" * 12},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def _start(stack: LocalStack, token: str, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    started = requests.post(
        f"{stack.api}/api/v1/assets/uploads",
        json={"filename": filename, "content_type": content_type, "size": len(data)},
        headers=auth,
        timeout=10,
    )
    assert started.status_code == 201, started.text
    return dict(started.json())


def _upload(stack: LocalStack, token: str, data: bytes, filename: str, content_type: str) -> str:
    started = _start(stack, token, data, filename, content_type)
    put = started["upload"]
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=10).status_code == 200
    return str(started["asset"]["id"])


def _wait_until_settled(stack: LocalStack, token: str, asset_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        response = requests.get(
            f"{stack.api}/api/v1/assets/{asset_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        asset = dict(response.json())
        if asset["status"] not in ("pending", "processing") or time.monotonic() > deadline:
            return asset
        time.sleep(0.2)


def test_an_uploaded_jpeg_gets_thumb_and_preview_within_seconds(local_stack: LocalStack) -> None:
    token = _token(local_stack)
    started = time.monotonic()
    asset_id = _upload(local_stack, token, _jpeg(), "paris.jpg", "image/jpeg")
    asset = _wait_until_settled(local_stack, token, asset_id)
    assert asset["status"] == "ready", (asset, local_stack.log()[-3000:])
    assert time.monotonic() - started < WAIT_S
    assert (asset["width"], asset["height"]) == (2000, 1500)
    assert asset["exif"]["camera_make"] == "E2ECam" and asset["exif"]["gps"]["lat"] == pytest.approx(48.856667)
    variants = {v["kind"]: v for v in asset["variants"]}
    assert set(variants) == {"thumb", "preview"}
    for kind, longest in (("thumb", 256), ("preview", 1280)):
        image = requests.get(variants[kind]["url"], timeout=10)
        assert image.status_code == 200
        im = Image.open(BytesIO(image.content))
        assert im.format == "JPEG" and max(im.size) == longest and dict(im.getexif()) == {}


def test_the_eicar_test_file_is_quarantined(local_stack: LocalStack) -> None:
    token = _token(local_stack)
    asset_id = _upload(local_stack, token, EICAR, "invoice.jpg", "image/jpeg")
    asset = _wait_until_settled(local_stack, token, asset_id)
    assert asset["status"] == "quarantined" and asset["variants"] == []
    download = requests.get(
        f"{local_stack.api}/api/v1/assets/{asset_id}/download", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert download.status_code == 409


def _get(stack: LocalStack, token: str, path: str) -> dict[str, Any]:
    response = requests.get(f"{stack.api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_second_put_to_the_upload_url_is_never_served_and_a_share_has_no_gps(local_stack: LocalStack) -> None:
    """Issue 14.1 and 14.2 through the whole local stack: moto's notification of the second version
    reaches the media function through the pump, which deletes that version; every URL handed out
    serves the scanned bytes, and a default share hands out the preview, without GPS."""
    import boto3

    token = _token(local_stack)
    clean = _jpeg()
    started = _start(local_stack, token, clean, "paris.jpg", "image/jpeg")
    put = started["upload"]
    assert requests.put(put["url"], data=clean, headers=put["headers"], timeout=10).status_code == 200
    asset_id = str(started["asset"]["id"])
    assert _wait_until_settled(local_stack, token, asset_id)["status"] == "ready"

    evil = EICAR + b" " * (len(clean) - len(EICAR))
    assert requests.put(put["url"], data=evil, headers=put["headers"], timeout=10).status_code == 412
    without = {k: v for k, v in put["headers"].items() if k != "If-None-Match"}  # S3 would refuse its signature
    assert requests.put(put["url"], data=evil, headers=without, timeout=10).status_code == 200

    s3 = boto3.client(
        "s3",
        endpoint_url=local_stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    listed = s3.list_objects_v2(Bucket="assets-local", Prefix="assets/")["Contents"]
    (key,) = [o["Key"] for o in listed if o["Key"].endswith(asset_id)]
    deadline = time.monotonic() + WAIT_S
    while len(s3.list_object_versions(Bucket="assets-local", Prefix=key).get("Versions", [])) > 1:
        assert time.monotonic() < deadline, local_stack.log()[-3000:]
        time.sleep(0.2)
    assert s3.get_object(Bucket="assets-local", Key=key)["Body"].read() == clean

    download = _get(local_stack, token, f"/api/v1/assets/{asset_id}/download")
    assert requests.get(download["url"], timeout=10).content == clean
    shared = requests.post(
        f"{local_stack.api}/api/v1/assets/{asset_id}/shares",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert shared.status_code == 201 and shared.json()["original"] is False
    opened = requests.get(f"{local_stack.api}/api/v1/shares/{shared.json()['token']}", timeout=10)
    assert opened.status_code == 200, opened.text
    data = requests.get(opened.json()["download"]["url"], timeout=10).content
    assert EICAR not in data and data != clean
    assert dict(Image.open(BytesIO(data)).getexif().get_ifd(0x8825)) == {}


def test_a_post_image_is_shown_as_its_variant_without_gps(local_stack: LocalStack) -> None:
    """Issue 15.1 through the whole local stack: presigned POST to moto, its notification through the
    pump to the media function; the post shows no image until the variants exist, then the preview,
    without EXIF or GPS, and never the original's key."""
    token = _token(local_stack)
    auth = {"Authorization": f"Bearer {token}"}
    data = _jpeg()
    issued = requests.post(
        f"{local_stack.api}/api/v1/posts/upload-url",
        json={"content_type": "image/jpeg", "size": len(data)},
        headers=auth,
        timeout=10,
    )
    assert issued.status_code == 201, issued.text
    key, form = issued.json()["image_key"], issued.json()["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("x.jpg", data, "image/jpeg")}, timeout=10)
    assert sent.status_code in (200, 204), sent.text
    created = requests.post(
        f"{local_stack.api}/api/v1/posts", json={"content": "paris", "image_key": key}, headers=auth, timeout=10
    )
    assert created.status_code == 201, created.text
    assert created.json()["image_status"] in ("processing", "ready") and key not in created.text
    if created.json()["image_status"] == "processing":
        assert created.json()["image_url"] is None

    deadline = time.monotonic() + WAIT_S
    while True:
        shown = requests.get(f"{local_stack.api}/api/v1/posts/{created.json()['id']}", timeout=10)
        assert shown.status_code == 200 and key not in shown.text
        if shown.json()["image_status"] != "processing" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    post = shown.json()
    assert post["image_status"] == "ready", (post, local_stack.log()[-3000:])
    assert {v["kind"] for v in post["image_variants"]} == {"preview", "thumb"}
    image = requests.get(post["image_url"], timeout=10)
    assert image.status_code == 200
    im = Image.open(BytesIO(image.content))
    assert max(im.size) == 1280 and dict(im.getexif()) == {} and dict(im.getexif().get_ifd(0x8825)) == {}
    assert b"Exif\x00\x00" not in image.content and b"E2ECam" not in image.content
