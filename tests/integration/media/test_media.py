"""The media function end to end against PostgreSQL and moto: real uploads, real SQS events.

Images are made here with Pillow (EXIF with GPS), malware is the EICAR test file, videos
are MP4 headers; the transcode function takes the video requests media leaves, and its
MediaConvert is botocore's Stubber.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from io import BytesIO
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests
from botocore.stub import ANY, Stubber
from PIL import Image
from sqlalchemy import text

from core import db as core_db
from core import storage
from core.config import reset_settings
from core.transcoding import TranscodeRequest, request_key
from local.lambda_context import LocalLambdaContext
from media import pipeline
from media.scan import EICAR
from media.settings import MediaSettings
from tests.client import call
from tests.conftest import SHARED
from tests.integration.social import Member, member, post

BUCKET = "assets-test"
MP4 = (24).to_bytes(4, "big") + b"ftypisom\x00\x00\x02\x00isommp41" + b"\x00\x00\x00\x08free" + b"\x00" * 200
ENDPOINT = "https://mediaconvert.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/social-dev-mediaconvert"


@pytest.fixture
def env(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The local defaults (EICAR-only scanner, no MediaConvert); set_env changes settings for one test."""

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        reset_settings()

    for name in ("MEDIACONVERT_ENDPOINT", "MEDIACONVERT_ROLE_ARN", "CLAMD_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    set_env(MEDIA_SCANNER="eicar")
    yield set_env
    monkeypatch.undo()
    reset_settings()


# ------------------------------------------------------------------ helpers


def photo(size: tuple[int, int] = (1600, 1200), orientation: int = 1, fmt: str = "JPEG") -> bytes:
    im = Image.merge(
        "RGB",
        (Image.linear_gradient("L").resize(size), Image.radial_gradient("L").resize(size), Image.new("L", size, 90)),
    )
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Testcam", "TC-1", orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:34:56"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    out = BytesIO()
    im.save(out, fmt, exif=exif)
    return out.getvalue()


def upload(who: Member, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> str:
    """Start an upload through the API and PUT the bytes to the presigned URL; the asset id."""
    answer = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": filename, "content_type": content_type, "size": len(data)},
        token=who.token,
    )
    assert answer.status == 201, answer.body
    put = answer.body["upload"]
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=10).status_code == 200
    return str(answer.body["asset"]["id"])


def key_of(asset_id: str) -> str:
    with core_db.get_engine().connect() as conn:
        return str(conn.execute(text("SELECT s3_key FROM assets WHERE id = :i"), {"i": asset_id}).scalar_one())


def s3_body(key: str, bucket: str = BUCKET) -> str:
    """An S3 notification the way moto sends it (key URL-encoded, '/' included)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": {"key": quote(key, safe="")}},
    }
    return json.dumps({"Records": [record]})


def mediaconvert_body(asset_id: str, status: str, playlist: str | None = None, error: str | None = None) -> str:
    detail: dict[str, Any] = {
        "timestamp": 1671476832124,
        "accountId": "123456789012",
        "queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
        "jobId": "1671476818694-phptj0",
        "status": status,
        "userMetadata": {"asset_id": asset_id, "stage": "local"},
    }
    if playlist:
        detail["outputGroupDetails"] = [
            {
                "type": "HLS_GROUP",
                "playlistFilePaths": [playlist],
                "outputDetails": [{"durationInMs": 30041, "videoDetails": {"widthInPx": 1280, "heightInPx": 720}}],
            }
        ]
    if error:
        detail |= {"errorCode": 1030, "errorMessage": error}
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "MediaConvert Job State Change",
            "source": "aws.mediaconvert",
            "account": "123456789012",
            "time": "2022-12-19T19:07:12Z",
            "region": "us-east-1",
            "resources": ["arn:aws:mediaconvert:us-east-1:123456789012:jobs/1671476818694-phptj0"],
            "detail": detail,
        }
    )


def sqs_record(body: str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:media-test",
        "awsRegion": "us-east-1",
    }


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from media.handler import handler

    return handler(json.loads(json.dumps(event)), LocalLambdaContext("media"))


def run(*bodies: str) -> list[str]:
    """Handle one batch; the ids (m0, m1, ...) of the messages it reported as failed."""
    response = invoke({"Records": [sqs_record(body, f"m{i}") for i, body in enumerate(bodies)]})
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def row(asset_id: str) -> dict[str, Any]:
    with core_db.get_engine().connect() as conn:
        found = conn.execute(
            text("SELECT status, status_reason, width, height, duration_s, exif, updated_at FROM assets WHERE id = :i"),
            {"i": asset_id},
        ).one()
    return dict(found._mapping)


def variant_rows(asset_id: str) -> dict[str, dict[str, Any]]:
    with core_db.get_engine().connect() as conn:
        found = conn.execute(
            text("SELECT id, kind, s3_key, width, height, content_type, size FROM asset_variants WHERE asset_id = :i"),
            {"i": asset_id},
        )
        return {r.kind: dict(r._mapping) for r in found}


def tags(key: str) -> dict[str, str]:
    answer = storage.s3_client().get_object_tagging(Bucket=BUCKET, Key=key)
    return {t["Key"]: t["Value"] for t in answer["TagSet"]}


def body_of(key: str) -> bytes:
    return bytes(storage.s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read())


# ------------------------------------------------------------------ images


def test_a_photo_becomes_ready_with_thumb_and_preview_and_its_exif(env: Any) -> None:
    ada = member("ada")
    asset_id = upload(ada, photo(orientation=6))
    assert run(s3_body(key_of(asset_id))) == []

    found = row(asset_id)
    assert found["status"] == "ready" and found["status_reason"] is None
    assert (found["width"], found["height"]) == (1200, 1600)  # orientation 6: shown portrait
    assert found["exif"] == {
        "camera_make": "Testcam",
        "camera_model": "TC-1",
        "taken_at": "2024-05-01T12:34:56",
        "orientation": 6,
        "width": 1600,
        "height": 1200,
        "gps": {"lat": 52.52, "lon": 13.41},
    }
    variants = variant_rows(asset_id)
    assert set(variants) == {"thumb", "preview"}
    prefix = f"variants/{ada.id}/{asset_id}/"
    for kind, longest in (("thumb", 256), ("preview", 1280)):
        variant = variants[kind]
        assert variant["s3_key"] == f"{prefix}{kind}.jpg" and variant["content_type"] == "image/jpeg"
        data = body_of(variant["s3_key"])
        assert variant["size"] == len(data)
        im = Image.open(BytesIO(data))
        assert im.format == "JPEG" and max(im.size) == longest and im.height > im.width
        assert (im.width, im.height) == (variant["width"], variant["height"])
        assert dict(im.getexif()) == {} and b"Testcam" not in data  # no EXIF, so no GPS, in any variant

    # What the owner sees through the API.
    shown = call("GET", f"/api/v1/assets/{asset_id}", token=ada.token).body
    assert shown["status"] == "ready" and shown["exif"]["gps"] == {"lat": 52.52, "lon": 13.41}
    assert sorted(v["kind"] for v in shown["variants"]) == ["preview", "thumb"]
    assert requests.get(shown["variants"][0]["url"], timeout=10).content[:3] == b"\xff\xd8\xff"
    assert call("GET", f"/api/v1/assets/{asset_id}/download", token=ada.token).status == 200


def test_png_with_alpha_gets_jpeg_variants(env: Any) -> None:
    im = Image.new("RGBA", (800, 600), (0, 128, 255, 100))
    out = BytesIO()
    im.save(out, "PNG")
    asset_id = upload(member(), out.getvalue(), "logo.png", "image/png")
    assert run(s3_body(key_of(asset_id))) == []
    assert row(asset_id)["status"] == "ready"
    assert {v["content_type"] for v in variant_rows(asset_id).values()} == {"image/jpeg"}
    assert row(asset_id)["exif"] == {"width": 800, "height": 600}


def test_a_duplicate_or_late_event_changes_nothing(env: Any) -> None:
    asset_id = upload(member(), photo())
    body = s3_body(key_of(asset_id))
    assert run(body) == []
    before, variants = row(asset_id), variant_rows(asset_id)
    assert run(body, body) == []  # moto even sends two records for one multipart upload
    assert row(asset_id) == before and variant_rows(asset_id) == variants


def test_eicar_named_jpg_is_quarantined_tagged_and_never_served(env: Any) -> None:
    ada = member("ada")
    asset_id = upload(ada, EICAR + b"\n", "holiday.jpg", "image/jpeg")
    key = key_of(asset_id)
    assert run(s3_body(key)) == []
    found = row(asset_id)
    assert found["status"] == "quarantined" and "EICAR" in found["status_reason"]
    assert tags(key) == {"quarantined": "true"}
    assert variant_rows(asset_id) == {}
    assert call("GET", f"/api/v1/assets/{asset_id}/download", token=ada.token).status == 409
    assert call("POST", f"/api/v1/assets/{asset_id}/shares", {}, token=ada.token).status == 409


def test_the_scan_runs_before_any_parser(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """EICAR behind a real JPEG header: the scanner sees it, Pillow never runs."""
    from media import images

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a parser touched quarantined bytes")

    monkeypatch.setattr(images, "process", must_not_run)
    asset_id = upload(member(), photo() + EICAR)
    assert run(s3_body(key_of(asset_id))) == []
    assert row(asset_id)["status"] == "quarantined"


def test_a_text_file_named_jpg_fails_on_its_magic_bytes(env: Any) -> None:
    asset_id = upload(member(), b"just some text, not a photo\n" * 10, "notes.jpg", "image/jpeg")
    assert run(s3_body(key_of(asset_id))) == []
    found = row(asset_id)
    assert found["status"] == "failed"
    assert found["status_reason"] == "declared image/jpeg but the content is text"
    assert variant_rows(asset_id) == {}


def test_a_png_declared_as_jpeg_fails(env: Any) -> None:
    out = BytesIO()
    Image.new("RGB", (10, 10)).save(out, "PNG")
    asset_id = upload(member(), out.getvalue(), "a.jpg", "image/jpeg")
    assert run(s3_body(key_of(asset_id))) == []
    assert row(asset_id)["status_reason"] == "declared image/jpeg but the content is image/png"


def test_a_truncated_jpeg_fails_with_a_reason(env: Any) -> None:
    data = photo()
    asset_id = upload(member(), data[: len(data) // 3])
    assert run(s3_body(key_of(asset_id))) == []
    found = row(asset_id)
    assert found["status"] == "failed" and found["status_reason"].startswith("image rejected: corrupt or truncated")


def test_the_decompression_bomb_limit(env: Any) -> None:
    env(MEDIA_MAX_IMAGE_PIXELS="1000000")
    asset_id = upload(member(), photo((1600, 1200)))
    assert run(s3_body(key_of(asset_id))) == []
    found = row(asset_id)
    assert found["status"] == "failed" and "pixels" in found["status_reason"]


def test_heic_passes_the_type_check_and_is_kept_as_uploaded(env: Any) -> None:
    heic = (24).to_bytes(4, "big") + b"ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    asset_id = upload(member(), heic, "IMG_0001.HEIC", "image/heic")
    assert run(s3_body(key_of(asset_id))) == []
    found = row(asset_id)
    assert found["status"] == "ready" and "image/heic" in found["status_reason"]


# ------------------------------------------------------------------ batches and retries


def test_a_batch_of_good_and_poison_reports_only_the_poison(env: Any) -> None:
    good, bad = upload(member(), photo()), upload(member(), EICAR, "x.jpg")
    failed = run(
        s3_body(key_of(good)),
        "Test message.",  # not an event at all
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        s3_body(key_of(bad)),
        '{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}',
    )
    assert failed == ["m1", "m4"]
    assert row(good)["status"] == "ready" and row(bad)["status"] == "quarantined"


def test_a_failure_mid_way_hands_the_claim_back_for_the_retry(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    asset_id = upload(member(), photo())
    body = s3_body(key_of(asset_id))

    def s3_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(pipeline, "put_variant", s3_down)
    assert run(body) == ["m0"]
    assert row(asset_id)["status"] == "pending"
    monkeypatch.undo()
    assert run(body) == []
    assert row(asset_id)["status"] == "ready"


def test_a_claim_lost_to_a_crash_is_taken_again_after_the_lease(env: Any) -> None:
    asset_id = upload(member(), photo())
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET status = 'processing' WHERE id = :i"), {"i": asset_id})
    assert run(s3_body(key_of(asset_id))) == []
    assert row(asset_id)["status"] == "processing"  # a live claim: left alone
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET updated_at = now() - interval '1 hour' WHERE id = :i"), {"i": asset_id})
    assert run(s3_body(key_of(asset_id))) == []
    assert row(asset_id)["status"] == "ready"


def test_gone_assets_other_buckets_and_our_own_variants_are_ignored(env: Any) -> None:
    ghost = f"assets/{uuid.uuid4()}/{uuid.uuid4()}"
    asset_id = upload(member(), photo())
    key = key_of(asset_id)
    with core_db.get_engine().begin() as conn:  # deleted after the upload
        conn.execute(text("DELETE FROM assets WHERE id = :i"), {"i": asset_id})
    assert run(s3_body(ghost), s3_body(key), s3_body(key, "someone-elses"), s3_body("variants/a/b/thumb.jpg")) == []


def test_an_asset_whose_object_vanished_goes_back_to_pending(env: Any) -> None:
    asset_id = upload(member(), photo())
    key = key_of(asset_id)
    storage.s3_client().delete_object(Bucket=BUCKET, Key=key)
    assert run(s3_body(key)) == []
    assert row(asset_id)["status"] == "pending"


# ------------------------------------------------------------------ GuardDuty


def test_guardduty_decides_by_its_tag_and_not_yet_tagged_is_retried(env: Any) -> None:
    env(MEDIA_SCANNER="guardduty")
    clean, infected = upload(member(), photo()), upload(member(), photo())
    clean_key, infected_key = key_of(clean), key_of(infected)
    assert run(s3_body(clean_key), s3_body(infected_key)) == ["m0", "m1"]  # not scanned yet
    assert row(clean)["status"] == row(infected)["status"] == "pending"

    s3 = storage.s3_client()
    for key, status in ((clean_key, "NO_THREATS_FOUND"), (infected_key, "THREATS_FOUND")):
        tag_set = [{"Key": "GuardDutyMalwareScanStatus", "Value": status}]
        s3.put_object_tagging(Bucket=BUCKET, Key=key, Tagging={"TagSet": tag_set})
    scan_result = {
        "version": "0",
        "source": "aws.guardduty",
        "detail-type": "GuardDuty Malware Protection Object Scan Result",
        "detail": {
            "scanStatus": "COMPLETED",
            "resourceType": "S3_OBJECT",
            "s3ObjectDetails": {"bucketName": BUCKET, "objectKey": infected_key},
            "scanResultDetails": {"scanResultStatus": "THREATS_FOUND"},
        },
    }
    assert run(s3_body(clean_key), json.dumps(scan_result)) == []
    assert row(clean)["status"] == "ready"
    assert row(infected)["status"] == "quarantined"
    assert tags(infected_key) == {"GuardDutyMalwareScanStatus": "THREATS_FOUND", "quarantined": "true"}


def test_guardduty_without_a_verdict_fails_closed(env: Any) -> None:
    env(MEDIA_SCANNER="guardduty")
    asset_id = upload(member(), photo())
    key = key_of(asset_id)
    tag_set = [{"Key": "GuardDutyMalwareScanStatus", "Value": "UNSUPPORTED"}]
    storage.s3_client().put_object_tagging(Bucket=BUCKET, Key=key, Tagging={"TagSet": tag_set})
    assert run(s3_body(key)) == []
    found = row(asset_id)
    assert found["status"] == "failed" and "UNSUPPORTED" in found["status_reason"]


# ------------------------------------------------------------------ videos


def test_locally_a_video_is_ready_with_the_original_only(env: Any, caplog: pytest.LogCaptureFixture) -> None:
    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    assert run(s3_body(key_of(asset_id))) == []
    found = row(asset_id)
    assert found["status"] == "ready" and variant_rows(asset_id) == {}
    assert "MediaConvert is not configured" in found["status_reason"]
    assert any("MediaConvert is not configured" in r.getMessage() for r in caplog.records)


@pytest.fixture
def transcoding(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The cloud's video path: media hands videos to the transcode function (MEDIACONVERT_ENDPOINT
    set), whose MediaConvert is this Stubber; S3 and the media queue are the moto server."""
    from transcode import mediaconvert

    env(MEDIACONVERT_ENDPOINT=ENDPOINT, MEDIACONVERT_ROLE_ARN=ROLE)
    client = boto3.client(
        "mediaconvert", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(mediaconvert, "mediaconvert_client", lambda endpoint: client)
    reset_settings()
    drain_the_media_queue()  # upload notifications nobody consumes here
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    reset_settings()


def sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def media_queue_url() -> str:
    url = MediaSettings.current().media_queue_url
    assert url
    return url


def stored_request(asset_id: str) -> TranscodeRequest:
    return TranscodeRequest.from_json(body_of(request_key(asset_id)))


def request_exists(asset_id: str) -> bool:
    listed = storage.s3_client().list_objects_v2(Bucket=BUCKET, Prefix=request_key(asset_id))
    return bool(listed.get("KeyCount"))


def run_transcode(asset_id: str, receive_count: int = 1) -> list[str]:
    """The transcode function, notified of the asset's request object as S3 -> SQS sends it."""
    from transcode.handler import handler

    record = sqs_record(s3_body(request_key(asset_id)), "t0")
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    response = handler({"Records": [record]}, LocalLambdaContext("transcode"))
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def drain_the_media_queue() -> list[str]:
    """Every message body now on the media queue, deleted from it (PurgeQueue allows one a minute)."""
    bodies: list[str] = []
    while messages := sqs().receive_message(QueueUrl=media_queue_url(), MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(message["Body"])
            sqs().delete_message(QueueUrl=media_queue_url(), ReceiptHandle=message["ReceiptHandle"])
    return bodies


def job_events_on_the_media_queue() -> list[str]:
    """MediaConvert-shaped job events on the media queue: the transcode function never sends one."""
    return [b for b in drain_the_media_queue() if json.loads(b).get("source") == "aws.mediaconvert"]


def expect_job(transcoding: Stubber, asset_id: str, job_id: str = "1671476818694-phptj0") -> None:
    expected = {
        "Role": ROLE,
        "Settings": ANY,
        "UserMetadata": {"asset_id": asset_id, "stage": "local"},
        "StatusUpdateInterval": "SECONDS_60",
        "ClientRequestToken": asset_id,
    }
    transcoding.add_response("create_job", {"Job": {"Id": job_id, "Role": ROLE, "Settings": {}}}, expected)


def test_a_video_leaves_a_transcode_request_and_its_job_completion_makes_it_ready(transcoding: Stubber) -> None:
    ada = member("ada")
    asset_id = upload(ada, MP4, "clip.mov", "video/quicktime")
    key = key_of(asset_id)
    assert run(s3_body(key)) == []

    found = row(asset_id)
    assert found["status"] == "processing"
    assert found["status_reason"] == f"transcoding: MediaConvert job requested as jobs/transcode/{asset_id}.json"
    assert stored_request(asset_id) == TranscodeRequest(
        bucket=BUCKET,
        key=key,
        variants_prefix=f"variants/{ada.id}/{asset_id}/",
        user_metadata={"asset_id": asset_id, "stage": "local"},
        client_token=asset_id,
    )
    assert tags(request_key(asset_id)) == {"deleted": "true"}  # the lifecycle rule removes what is left
    assert run(s3_body(key)) == [] and row(asset_id) == found  # a duplicate upload event changes nothing

    expect_job(transcoding, asset_id)
    assert run_transcode(asset_id) == []
    assert not request_exists(asset_id) and job_events_on_the_media_queue() == []
    assert run_transcode(asset_id) == []  # a repeated notification: no second job (no stubbed response left)
    assert row(asset_id)["status"] == "processing"

    playlist = f"s3://{BUCKET}/variants/{ada.id}/{asset_id}/hls/index.m3u8"
    assert run(mediaconvert_body(asset_id, "PROGRESSING"), mediaconvert_body(asset_id, "COMPLETE", playlist)) == []
    found = row(asset_id)
    assert found["status"] == "ready" and float(found["duration_s"]) == 30.041
    assert (found["width"], found["height"]) == (1280, 720)
    hls = variant_rows(asset_id)["hls"]
    assert hls["s3_key"] == f"variants/{ada.id}/{asset_id}/hls/index.m3u8"
    assert hls["content_type"] == "application/vnd.apple.mpegurl"
    assert run(mediaconvert_body(asset_id, "ERROR", error="late")) == []  # late: changes nothing
    assert row(asset_id)["status"] == "ready"


def test_a_job_refused_by_our_mistake_waits_in_the_dlq_and_is_created_after_the_fix(transcoding: Stubber) -> None:
    """AccessDenied on iam:PassRole (say, IAM still propagating after a deploy): every delivery,
    the 5th included, fails the record (then SQS moves it to the DLQ); the request stays, nothing
    reaches media and the asset stays `processing`. After the fix the redrive creates the job."""
    from core.transcoding import MAX_RECEIVES

    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    key = key_of(asset_id)
    assert run(s3_body(key)) == []
    waiting = row(asset_id)
    request = body_of(request_key(asset_id))
    variants_prefix = stored_request(asset_id).variants_prefix
    for receive_count in range(1, MAX_RECEIVES + 1):
        transcoding.add_client_error(
            "create_job",
            "AccessDeniedException",
            f"User is not authorized to perform: iam:PassRole on resource: {ROLE}",
            http_status_code=403,
        )
        assert run_transcode(asset_id, receive_count=receive_count) == ["t0"], receive_count
        assert body_of(request_key(asset_id)) == request and job_events_on_the_media_queue() == []
        assert row(asset_id) == waiting  # processing, as media left it

    # While it waits in the DLQ, a late upload event after the lease claims nothing and writes no new request.
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET updated_at = now() - interval '1 hour' WHERE id = :i"), {"i": asset_id})
    assert run(s3_body(key)) == []
    assert row(asset_id)["status"] == "processing" and body_of(request_key(asset_id)) == request

    # Fixed and redriven: the message comes back as a new one (a redrive restarts the receive count).
    expect_job(transcoding, asset_id)
    assert run_transcode(asset_id, receive_count=1) == []
    assert not request_exists(asset_id) and job_events_on_the_media_queue() == []
    playlist = f"s3://{BUCKET}/{variants_prefix}hls/index.m3u8"
    assert run(mediaconvert_body(asset_id, "COMPLETE", playlist)) == []
    assert row(asset_id)["status"] == "ready" and "hls" in variant_rows(asset_id)


def test_a_throttled_job_is_retried_and_never_fails_the_asset(transcoding: Stubber) -> None:
    from core.transcoding import MAX_RECEIVES

    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    assert run(s3_body(key_of(asset_id))) == []
    for receive_count in (1, MAX_RECEIVES):
        transcoding.add_client_error("create_job", "TooManyRequestsException", http_status_code=429)
        assert run_transcode(asset_id, receive_count=receive_count) == ["t0"]
    assert request_exists(asset_id) and job_events_on_the_media_queue() == []
    assert row(asset_id)["status"] == "processing"


def test_a_video_with_its_request_in_flight_is_not_claimed_again_after_the_lease(transcoding: Stubber) -> None:
    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    key = key_of(asset_id)
    assert run(s3_body(key)) == []
    storage.s3_client().delete_object(Bucket=BUCKET, Key=request_key(asset_id))  # as the transcode function does
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET updated_at = now() - interval '1 hour' WHERE id = :i"), {"i": asset_id})
    assert run(s3_body(key)) == []
    assert row(asset_id)["status"] == "processing" and not request_exists(asset_id)  # no second request


def test_a_failed_transcode_fails_the_asset(transcoding: Stubber) -> None:
    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    assert run(s3_body(key_of(asset_id))) == []
    assert run(mediaconvert_body(asset_id, "ERROR", error="Demuxer: unsupported codec")) == []
    found = row(asset_id)
    assert found["status"] == "failed" and "unsupported codec" in found["status_reason"]


def test_a_completion_pointing_outside_the_asset_is_not_trusted(transcoding: Stubber) -> None:
    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    assert run(s3_body(key_of(asset_id))) == []
    assert run(mediaconvert_body(asset_id, "COMPLETE", f"s3://{BUCKET}/variants/someone/else/hls/index.m3u8")) == []
    assert row(asset_id)["status"] == "failed" and variant_rows(asset_id) == {}


def test_a_request_that_cannot_be_written_is_retried_with_the_claim_handed_back(
    transcoding: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    def s3_down(request: TranscodeRequest) -> None:
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(pipeline, "put_transcode_request", s3_down)
    asset_id = upload(member(), MP4, "clip.mp4", "video/mp4")
    assert run(s3_body(key_of(asset_id))) == ["m0"]
    assert row(asset_id)["status"] == "pending" and not request_exists(asset_id)


# ------------------------------------------------------------------ post images


def _post_with_image(who: Member, data: bytes, ext: str = "jpg") -> tuple[dict[str, Any], str]:
    key = f"post-images/{who.id}/{uuid.uuid4().hex}.{ext}"
    storage.s3_client().put_object(Bucket=BUCKET, Key=key, Body=data)
    return post(who, "look", image_key=key), key


@pytest.mark.parametrize(
    ("data", "ext", "tag"),
    [(EICAR, "jpg", {"quarantined": "true"}), (b"<svg onload=alert(1)>", "png", {"rejected": "type-mismatch"})],
)
def test_a_bad_post_image_is_tagged_and_refused(env: Any, data: bytes, ext: str, tag: dict[str, str]) -> None:
    ada = member("ada")
    created, key = _post_with_image(ada, data, ext)
    assert run(s3_body(key)) == []
    assert tags(key) == tag
    shown = call("GET", f"/api/v1/posts/{created['id']}").body
    assert (shown["image_status"], shown["image_url"], shown["image_variants"]) == ("refused", None, [])
    assert run(s3_body(key)) == []  # again: already refused, nothing changes
    assert tags(key) == tag


def test_a_clean_post_image_gets_variants_without_metadata(env: Any) -> None:
    ada = member("ada")
    created, key = _post_with_image(ada, photo(orientation=6))
    assert created["image_status"] == "processing" and created["image_url"] is None
    assert run(s3_body(key)) == []
    assert tags(key) == {}
    shown = call("GET", f"/api/v1/posts/{created['id']}").body
    assert shown["image_status"] == "ready"
    prefix = pipeline.post_image_variants_prefix(key)
    assert prefix == f"variants/post-images/{ada.id}/{key.rsplit('/', 1)[1].removesuffix('.jpg')}/"
    for variant in shown["image_variants"]:
        data = body_of(f"{prefix}{variant['kind']}.jpg")
        im = Image.open(BytesIO(data))
        assert (im.width, im.height) == (variant["width"], variant["height"]) and im.height > im.width  # oriented
        assert dict(im.getexif()) == {} and b"Testcam" not in data
        assert requests.get(variant["url"], timeout=10).content == data
    assert shown["image_url"] == next(v["url"] for v in shown["image_variants"] if v["kind"] == "preview")


# ------------------------------------------------------------------ real notifications, AWS samples


def test_the_real_moto_notification_through_the_event_pump(env: Any) -> None:
    """Upload through the presigned URL; moto notifies the queue; the pump feeds the function."""
    from local.invoke import invoke_function
    from local.pump import SqsPump

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = MediaSettings.current().media_queue_url
    assert queue_url
    sqs.purge_queue(QueueUrl=queue_url)
    asset_id = upload(member(), photo())
    pump = SqsPump("media", queue_url, sqs, invoke=invoke_function, wait_s=1, visibility_timeout_s=0)
    for _ in range(10):
        pump.poll_once()
        if row(asset_id)["status"] == "ready":
            break
    assert row(asset_id)["status"] == "ready"
    assert set(variant_rows(asset_id)) == {"thumb", "preview"}


def _aws_sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SHARED / "aws-events" / name).read_text()))


def test_the_real_aws_samples_rewritten_to_our_bucket_are_accepted(env: Any) -> None:
    ada = member("ada")
    first, second = upload(ada, photo()), upload(ada, photo())

    s3_sqs = copy.deepcopy(_aws_sample("s3SqsEvent.json"))  # S3 -> SQS -> Lambda, as AWS sends it
    inner = json.loads(s3_sqs["Records"][0]["body"])
    inner["Records"][0]["s3"]["bucket"].update(name=BUCKET, arn=f"arn:aws:s3:::{BUCKET}")
    inner["Records"][0]["s3"]["object"]["key"] = key_of(first)
    # The sample's versionId too: the pipeline reads the version an event names, and that one is not here.
    head = storage.s3_client().head_object(Bucket=BUCKET, Key=key_of(first))
    inner["Records"][0]["s3"]["object"]["versionId"] = head["VersionId"]
    s3_sqs["Records"][0]["body"] = json.dumps(inner)
    assert invoke(s3_sqs) == {"batchItemFailures": []}
    assert row(first)["status"] == "ready"

    s3_event = copy.deepcopy(_aws_sample("s3Event.json"))
    s3_event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    s3_event["Records"][0]["s3"]["object"]["key"] = key_of(second)
    bridge = copy.deepcopy(_aws_sample("eventBridgeEvent.json"))
    bridge.update(source="aws.mediaconvert", **{"detail-type": "MediaConvert Job State Change"})
    bridge["detail"] = json.loads(mediaconvert_body(str(uuid.uuid4()), "COMPLETE"))["detail"]
    sqs = copy.deepcopy(_aws_sample("sqsEvent.json"))
    sqs["Records"][0]["body"] = json.dumps(s3_event)
    sqs["Records"][1]["body"] = json.dumps(bridge)
    assert invoke(sqs) == {"batchItemFailures": []}
    assert row(second)["status"] == "ready"

    third = upload(ada, photo())
    created = copy.deepcopy(_aws_sample("s3EventBridgeNotificationObjectCreatedEvent.json"))
    created["detail"]["bucket"]["name"] = BUCKET
    created["detail"]["object"]["key"] = key_of(third)
    assert run(json.dumps(created)) == []
    assert row(third)["status"] == "ready"

    untouched = copy.deepcopy(_aws_sample("sqsEvent.json"))  # "Test message." is no event of ours
    failed = invoke(untouched)["batchItemFailures"]
    assert [f["itemIdentifier"] for f in failed] == [r["messageId"] for r in untouched["Records"]]
