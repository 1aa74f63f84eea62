"""Room images as a client uploads them (POST /rooms/{id}/images, then its presigned POST to S3) and
as the media function sees them (the S3 notification, one SQS batch through the real handler)."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any
from urllib.parse import quote

import requests
from PIL import Image

from tests.client import call
from tests.integration.media_world import run
from tests.integration.rooms.rooms_helpers import Person

BUCKET = "assets-test"


def png(size: tuple[int, int] = (640, 480), colour: str = "teal") -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def issue(room: str, who: Person, data: bytes, content_type: str = "image/png") -> tuple[str, dict[str, Any]]:
    answer = call(
        "POST", f"/api/v1/rooms/{room}/images", {"content_type": content_type, "size": len(data)}, token=who.token
    )
    assert answer.status == 201, answer.body
    assert answer.body["image"]["status"] == "pending" and answer.body["image"]["variants"] == []
    return str(answer.body["image"]["id"]), dict(answer.body["upload"])


def post_form(form: dict[str, Any], data: bytes, content_type: str = "image/png") -> int:
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("x", data, content_type)}, timeout=10)
    return int(sent.status_code)


def s3_body(key: str, bucket: str = BUCKET) -> str:
    """The notification as moto sends it (key URL-encoded, no versionId)."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Post",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote(key, safe="")}},
    }
    return json.dumps({"Records": [record]})


def uploaded(
    room: str, who: Person, data: bytes | None = None, content_type: str = "image/png", *, process: bool = True
) -> tuple[str, str]:
    """(image id, its key): issued, uploaded and (with `process`) through the media function."""
    data = png() if data is None else data
    image_id, form = issue(room, who, data, content_type)
    assert post_form(form, data, content_type) in (200, 204)
    key = str(form["fields"]["key"])
    if process:
        assert run(s3_body(key)) == []
    return image_id, key


def image(room: str, who: Person, image_id: str) -> Any:
    return call("GET", f"/api/v1/rooms/{room}/images/{image_id}", token=who.token)
