"""Images in rooms (issue 19.5): uploaded with a presigned POST, scanned and checked by the media
pipeline, shown only as metadata-free variants to whoever may see their message; and the abuse
cases: someone else's image, another room's, a replayed upload, a non-member, five images."""

from __future__ import annotations

import base64
import json
import uuid
from io import BytesIO
from urllib.parse import urlsplit

import requests
from PIL import Image
from sqlalchemy import text

from core import db as core_db
from core import storage
from media.scan import EICAR
from tests.client import call
from tests.integration.media_world import GPS_IFD, gps_jpeg, run
from tests.integration.rooms.room_images_helpers import (
    BUCKET,
    image,
    issue,
    png,
    post_form,
    s3_body,
    uploaded,
)
from tests.integration.rooms.rooms_helpers import history, person, send, sent, team


def _row(image_id: str) -> dict[str, object]:
    with core_db.get_engine().connect() as conn:
        found = conn.execute(
            text("SELECT status, version_id, message_id, position FROM room_images WHERE id = :i"), {"i": image_id}
        ).one()
    return dict(found._mapping)


def test_an_image_is_pending_then_ready_and_shown_only_as_variants_without_metadata(media_env: None) -> None:
    room = team()
    ada = room["member"]
    image_id, form = issue(room.room, ada, gps_jpeg(), "image/jpeg")
    key = str(form["fields"]["key"])
    assert key.startswith(f"room-images/{room.room}/{ada.id}/{image_id}.") and key.endswith(".jpg")
    assert post_form(form, gps_jpeg(), "image/jpeg") in (200, 204)
    assert image(room.room, ada, image_id).body["status"] == "pending"

    assert run(s3_body(key)) == []
    ready = image(room.room, ada, image_id)
    assert ready.status == 200 and ready.body["status"] == "ready"
    assert (ready.body["width"], ready.body["height"]) == (1600, 1200)
    body = sent(room.room, ada, "look", image_ids=[image_id])
    (shown,) = body["message"]["images"]
    assert shown["id"] == image_id and shown["status"] == "ready"
    for answer in (body, ready.body, history(room.room, room["reader"])):
        assert key not in json.dumps(answer) and "room-images/" + room.room not in json.dumps(answer).replace(
            "variants/room-images/", ""
        )
    variants = {v["kind"]: v for v in shown["variants"]}
    assert set(variants) == {"thumb", "preview"} and variants["preview"]["width"] == 1280
    for variant in variants.values():
        url = urlsplit(variant["url"])
        assert url.path.startswith(f"/{BUCKET}/variants/room-images/") or "/variants/room-images/" in url.path
        data = requests.get(variant["url"], timeout=10).content
        im = Image.open(BytesIO(data))
        assert im.format == "JPEG" and dict(im.getexif().get_ifd(GPS_IFD)) == {} and b"Spycam" not in data
    # Every member who may see the message sees its image, with fresh URLs.
    (listed,) = [m for m in history(room.room, room["reader"]) if m["id"] == body["message"]["id"]]
    assert [i["id"] for i in listed["images"]] == [image_id] and listed["images"][0]["variants"]
    other = call("GET", f"/api/v1/rooms/{room.room}/images/{image_id}", token=room["reader"].token)
    assert other.status == 200 and other.body["status"] == "ready"


def test_images_keep_the_order_sent_and_the_message_event_carries_them_without_urls(media_env: None) -> None:
    room = team()
    ids = [uploaded(room.room, room["member"], png(colour=c))[0] for c in ("red", "green", "blue", "white")]
    body = sent(room.room, room["member"], "four", image_ids=list(reversed(ids)))
    assert [i["id"] for i in body["message"]["images"]] == list(reversed(ids))
    assert [r["position"] for r in map(_row, reversed(ids))] == [0, 1, 2, 3]
    with core_db.get_engine().connect() as conn:
        data = (
            conn.execute(
                text(
                    "SELECT data FROM realtime_events WHERE room_id = :r AND type = 'message.created' ORDER BY position"
                ),
                {"r": room.room},
            )
            .scalars()
            .all()
        )
    (event,) = [d for d in data if (d if isinstance(d, dict) else json.loads(d))["id"] == body["message"]["id"]]
    event = event if isinstance(event, dict) else json.loads(event)
    assert [i["id"] for i in event["images"]] == list(reversed(ids))
    assert all(i["variants"] == [] and i["status"] == "ready" for i in event["images"])


def test_five_images_or_a_repeated_one_are_422(media_env: None) -> None:  # the schema: maxItems, uniqueItems
    room = team()
    ids = [uploaded(room.room, room["member"], process=False)[0] for _ in range(5)]
    five = send(room.room, room["member"], "too many", image_ids=ids)
    assert five.status == 422 and five.body["error"]["details"][0]["field"] == "image_ids"
    twice = send(room.room, room["member"], "twice", image_ids=[ids[0], ids[0]])
    assert twice.status == 422
    assert all(_row(i)["message_id"] is None for i in ids)  # nothing attached, no message stored
    assert history(room.room, room["member"]) == []


def test_someone_elses_image_another_rooms_or_an_unknown_id_is_404_and_stays_unattached(media_env: None) -> None:
    room, elsewhere = team(), team()
    mine, _ = uploaded(room.room, room["member"])
    theirs, _ = uploaded(room.room, room["admin"])
    other_room, _ = uploaded(elsewhere.room, elsewhere["member"])
    for ids in ([theirs], [other_room], [str(uuid.uuid4())], [mine, theirs]):
        answer = send(room.room, room["member"], "steal", image_ids=ids)
        assert answer.status == 404, (ids, answer.body)
        assert answer.error_code == "not_found"
    assert _row(theirs)["message_id"] is None and _row(mine)["message_id"] is None
    # Nor can the uploader of another room's image use it there after joining this one.
    stranger = elsewhere["member"]
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO room_members (room_id, user_id, role) VALUES (:r, :u, 'member')"),
            {"r": room.room, "u": stranger.id},
        )
    assert send(room.room, stranger, "cross", image_ids=[other_room]).status == 404
    # An image goes with one message only.
    assert send(room.room, room["member"], "first", image_ids=[mine]).status == 201
    again = send(room.room, room["member"], "again", image_ids=[mine])
    assert again.status == 409 and again.error_code == "conflict"


def test_a_non_member_or_another_member_cannot_see_an_image_they_may_not(media_env: None) -> None:
    room = team()
    outsider = person()
    image_id, _ = uploaded(room.room, room["member"])
    # Not attached yet: only its uploader sees it.
    for who in (outsider, room["admin"], room["master"]):
        answer = image(room.room, who, image_id)
        assert answer.status == 404 and answer.error_code == "not_found"
    # In a private message: still only its sender (and never a non-member).
    body = sent(room.room, room["member"], "mine only", image_ids=[image_id], private=True)
    for who in (outsider, room["admin"]):
        assert image(room.room, who, image_id).status == 404
        assert call("GET", f"/api/v1/rooms/{room.room}/messages/{body['message']['id']}", token=who.token).status == 404
    assert image(room.room, room["member"], image_id).status == 200
    # Another room's path does not reach it either.
    elsewhere = team()
    assert image(elsewhere.room, elsewhere["master"], image_id).status == 404
    # A non-member cannot upload to the room.
    assert (
        call(
            "POST", f"/api/v1/rooms/{room.room}/images", {"content_type": "image/png", "size": 10}, token=outsider.token
        ).status
        == 404
    )


def test_roles_sizes_and_types_of_uploads(media_env: None) -> None:
    room = team()
    body = {"content_type": "image/png", "size": 100}
    for role, status in (("reader", 403), ("guest", 403), ("member", 201), ("admin", 201), ("master", 201)):
        assert call("POST", f"/api/v1/rooms/{room.room}/images", body, token=room[role].token).status == status
    big = call(
        "POST",
        f"/api/v1/rooms/{room.room}/images",
        {"content_type": "image/png", "size": 10 * 1024 * 1024 + 1},
        token=room["member"].token,
    )
    assert big.status == 413
    for bad in ({"content_type": "image/svg+xml", "size": 10}, {"content_type": "image/png", "size": 0}):
        answer = call("POST", f"/api/v1/rooms/{room.room}/images", bad, token=room["member"].token)
        assert answer.status == 422


def test_the_upload_policy_pins_the_key_the_type_and_at_most_the_declared_size(media_env: None) -> None:
    """S3 enforces the POST policy (moto does not check it, so the policy itself is what is tested)."""
    room = team()
    data = png()
    image_id, form = issue(room.room, room["member"], data)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, len(data)] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": form["fields"]["key"]} in conditions and form["fields"]["key"].endswith(f"/{image_id}.png")
    assert {"bucket": BUCKET} in conditions and "expiration" in policy


def test_a_refused_image_is_409_with_or_without_the_ai_and_never_shown(media_env: None) -> None:
    room = team()
    infected, key = uploaded(room.room, room["member"], EICAR, "image/png")
    liar, _ = uploaded(room.room, room["member"], b"<html>not a png</html>", "image/png")
    for image_id in (infected, liar):
        assert image(room.room, room["member"], image_id).body == {
            **image(room.room, room["member"], image_id).body,
            "status": "refused",
            "variants": [],
        }
        for invoke_ai in (False, True):
            answer = send(room.room, room["member"], "see", image_ids=[image_id], invoke_ai=invoke_ai)
            assert answer.status == 409 and image_id in answer.body["error"]["message"]
    tags = storage.s3_client().get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {"Key": "quarantined", "Value": "true"} in tags
    assert history(room.room, room["member"]) == []


def test_an_image_still_processing_blocks_the_ai_with_409_but_not_a_plain_message(media_env: None) -> None:
    room = team()
    waiting, key = uploaded(room.room, room["member"], process=False)
    nothing, _ = issue(room.room, room["member"], png())  # issued, never uploaded
    asked = send(room.room, room["member"], "what is this?", image_ids=[waiting], invoke_ai=True)
    assert asked.status == 409 and waiting in asked.body["error"]["message"]
    assert _row(waiting)["message_id"] is None and history(room.room, room["member"]) == []
    assert send(room.room, room["member"], "never uploaded", image_ids=[nothing]).status == 409
    plain = sent(room.room, room["member"], "later", image_ids=[waiting])
    assert plain["message"]["images"][0]["status"] == "pending" and plain["message"]["images"][0]["variants"] == []
    assert run(s3_body(key)) == []
    (shown,) = history(room.room, room["reader"])[0]["images"]
    assert shown["status"] == "ready" and shown["variants"]


def test_a_replayed_presigned_post_is_deleted_unscanned_and_the_image_stays_the_one_checked(media_env: None) -> None:
    room = team()
    first = png(colour="red")
    image_id, form = issue(room.room, room["member"], first)
    key = str(form["fields"]["key"])
    assert post_form(form, first) in (200, 204)
    assert run(s3_body(key)) == []
    taken = _row(image_id)["version_id"]
    before = image(room.room, room["member"], image_id).body
    assert before["status"] == "ready"

    # The same presigned POST again (it stays valid until it expires), with other bytes.
    replay = png((320, 240), colour="blue")
    assert len(replay) <= len(first)
    assert post_form(form, replay) in (200, 204)
    assert run(s3_body(key)) == []
    assert _row(image_id)["version_id"] == taken and _row(image_id)["status"] == "ready"
    versions = storage.s3_client().list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
    assert [v["VersionId"] for v in versions] == [taken]  # the replayed version is gone
    after = image(room.room, room["member"], image_id).body
    assert [(v["kind"], v["width"]) for v in after["variants"]] == [(v["kind"], v["width"]) for v in before["variants"]]
    preview = next(v for v in after["variants"] if v["kind"] == "preview")
    pixel = Image.open(BytesIO(requests.get(preview["url"], timeout=10).content)).convert("RGB").getpixel((5, 5))
    assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[2] < 60  # still the red one


def test_regenerating_needs_the_questions_images_ready(media_env: None) -> None:
    room = team()
    image_id, _ = uploaded(room.room, room["member"])
    body = sent(room.room, room["member"], "describe", image_ids=[image_id], invoke_ai=True)
    assert body["ai_message"]["status"] == "pending"
    with core_db.get_engine().begin() as conn:  # as if the pipeline had refused it meanwhile
        conn.execute(text("UPDATE room_images SET status = 'refused', variants = '[]' WHERE id = :i"), {"i": image_id})
    again = call(
        "POST", f"/api/v1/rooms/{room.room}/messages/{body['message']['id']}/regenerate", token=room["member"].token
    )
    assert again.status == 409 and image_id in again.body["error"]["message"]
