"""The transcode function: request object -> MediaConvert job, or a failed asset via the media queue.

S3 and SQS are moto (in process, no sockets); MediaConvert is botocore's Stubber. The failure
report is decoded with the media function's own decoder, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from core import storage
from core.config import SettingsError, get_settings
from core.transcoding import MAX_RECEIVES, InvalidRequest, TranscodeRequest
from media.records import JobStateChange, decode
from transcode import handler, logic, mediaconvert

BUCKET = "assets-bucket"
ASSET = "9d4f2b6a-1c3e-4a5b-8d7f-0e2a4c6e8b1d"
ROLE = "arn:aws:iam::123456789012:role/social-dev-mediaconvert"
ENDPOINT = "https://mediaconvert.us-east-1.amazonaws.com"
REQUEST = TranscodeRequest(
    bucket=BUCKET,
    key=f"assets/owner/{ASSET}",
    variants_prefix=f"variants/owner/{ASSET}/",
    user_metadata={"asset_id": ASSET, "stage": "dev"},
    client_token=ASSET,
)
KEY = REQUEST.object_key


@dataclass
class World:
    s3: Any
    sqs: Any
    media_queue: str
    mediaconvert: Stubber

    def put_request(self, request: TranscodeRequest = REQUEST, body: bytes | None = None) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=request.object_key, Body=body or request.to_json())

    def request_exists(self, key: str = KEY) -> bool:
        return bool(self.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"))

    def media_messages(self) -> list[str]:
        answer = self.sqs.receive_message(QueueUrl=self.media_queue, MaxNumberOfMessages=10)
        return [m["Body"] for m in answer.get("Messages", [])]


def _forget_clients() -> None:
    storage.s3_client.cache_clear()
    logic.sqs_client.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in process, never a server
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("mediaconvert", endpoint_url=ENDPOINT, region_name="us-east-1")
    monkeypatch.setattr(mediaconvert, "mediaconvert_client", lambda endpoint: client)
    with mock_aws(), Stubber(client) as stubber:
        _forget_clients()
        s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        media_queue = sqs.create_queue(QueueName="social-dev-media")["QueueUrl"]
        monkeypatch.setenv("MEDIA_QUEUE_URL", media_queue)
        monkeypatch.setenv("MEDIACONVERT_ROLE_ARN", ROLE)
        monkeypatch.setenv("MEDIACONVERT_ENDPOINT", ENDPOINT)
        yield World(s3, sqs, media_queue, stubber)
        stubber.assert_no_pending_responses()  # no CreateJob expected and not made
    _forget_clients()


def expect_job(world: World, job_id: str = "1714565218694-phptj0") -> None:
    expected = {
        "Role": ROLE,
        "Settings": ANY,
        "UserMetadata": {"asset_id": ASSET, "stage": "dev"},
        "StatusUpdateInterval": "SECONDS_60",
        "ClientRequestToken": ASSET,
    }
    world.mediaconvert.add_response("create_job", {"Job": {"Id": job_id, "Role": ROLE, "Settings": {}}}, expected)


def failure_of(body: str) -> JobStateChange:
    """The report, as the media function reads it."""
    (event,) = decode(body)
    assert isinstance(event, JobStateChange)
    return event


# ------------------------------------------------------------------ logic


def test_a_request_becomes_one_job_and_is_deleted(world: World) -> None:
    world.put_request()
    expect_job(world)
    assert logic.submit(BUCKET, KEY, receive_count=1) == logic.Outcome(
        "submitted", "MediaConvert job 1714565218694-phptj0"
    )
    assert not world.request_exists()
    assert world.media_messages() == []  # the job's own events finish the asset


def test_a_repeated_notification_creates_no_second_job(world: World) -> None:
    world.put_request()
    expect_job(world)
    logic.submit(BUCKET, KEY, receive_count=1)
    # Again (S3 delivers at least once): the request is gone, no CreateJob (the Stubber has none queued).
    assert logic.submit(BUCKET, KEY, receive_count=1).action == "skipped"
    assert world.media_messages() == []


def test_a_job_mediaconvert_refuses_fails_the_asset_through_the_media_queue(world: World) -> None:
    world.put_request()
    world.mediaconvert.add_client_error(
        "create_job", "BadRequestException", "/inputs/0: unsupported input", http_status_code=400
    )
    outcome = logic.submit(BUCKET, KEY, receive_count=1)
    assert outcome.action == "failed" and "BadRequestException: /inputs/0: unsupported input" in outcome.detail
    (body,) = world.media_messages()
    event = failure_of(body)
    assert (event.status, event.asset_id, event.user_metadata) == ("ERROR", ASSET, {"asset_id": ASSET, "stage": "dev"})
    assert event.error == outcome.detail and event.error.startswith("MediaConvert refused the job")
    assert not world.request_exists()


def test_a_throttled_job_is_retried_and_fails_the_asset_on_the_last_delivery(world: World) -> None:
    world.put_request()
    for _ in range(2):
        world.mediaconvert.add_client_error("create_job", "TooManyRequestsException", http_status_code=429)
    with pytest.raises(Exception, match="TooManyRequests"):
        logic.submit(BUCKET, KEY, receive_count=MAX_RECEIVES - 1)
    assert world.request_exists() and world.media_messages() == []  # retried later, nothing reported

    outcome = logic.submit(BUCKET, KEY, receive_count=MAX_RECEIVES)
    assert outcome.action == "failed" and f"in {MAX_RECEIVES} attempts" in outcome.detail
    (body,) = world.media_messages()
    assert failure_of(body).asset_id == ASSET and "TooManyRequestsException" in (failure_of(body).error or "")
    assert not world.request_exists()


def test_a_server_error_is_retried_not_reported(world: World) -> None:
    world.put_request()
    world.mediaconvert.add_client_error("create_job", "InternalServerErrorException", http_status_code=500)
    with pytest.raises(Exception, match="InternalServerError"):
        logic.submit(BUCKET, KEY, receive_count=1)
    assert world.request_exists() and world.media_messages() == []


def test_what_is_not_a_request_is_poison_or_ignored(world: World) -> None:
    world.put_request(body=b"{not json")
    with pytest.raises(InvalidRequest):
        logic.submit(BUCKET, KEY, receive_count=MAX_RECEIVES)  # even on the last delivery: nothing to report
    other = TranscodeRequest(**{**REQUEST.__dict__, "user_metadata": {"asset_id": "other"}})
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=other.to_json())  # stored under another asset's key
    with pytest.raises(InvalidRequest, match="is for asset other"):
        logic.submit(BUCKET, KEY, receive_count=1)
    assert logic.submit(BUCKET, f"assets/owner/{ASSET}", receive_count=1).action == "skipped"
    assert world.media_messages() == []


def test_without_its_settings_nothing_is_created_or_reported(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIACONVERT_ROLE_ARN")
    get_settings.cache_clear()
    world.put_request()
    with pytest.raises(SettingsError, match="MEDIACONVERT_ROLE_ARN"):
        logic.submit(BUCKET, KEY, receive_count=MAX_RECEIVES)  # retried, then the DLQ and its alarm
    assert world.request_exists()


# ------------------------------------------------------------------ handler


def sqs_record(body: dict[str, Any], message_id: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:social-dev-transcode",
        "awsRegion": "us-east-1",
    }


def created(key: str, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    """An S3 notification, the key URL-encoded as moto sends it ('/' included)."""
    record = {
        "eventSource": "aws:s3",
        "eventName": event,
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote(key, safe="")}},
    }
    return {"Records": [record]}


def test_the_handler_reports_only_the_records_that_must_come_back(world: World) -> None:
    second = TranscodeRequest(**{**REQUEST.__dict__, "user_metadata": {"asset_id": "a2"}, "client_token": "a2"})
    world.put_request()
    world.put_request(second)
    expect_job(world)
    world.mediaconvert.add_client_error("create_job", "TooManyRequestsException", http_status_code=429)
    event = {
        "Records": [
            sqs_record(created(KEY), "m0"),
            sqs_record(created(second.object_key), "m1"),
            sqs_record({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}, "m2"),
            sqs_record(created(KEY, "ObjectRemoved:Delete"), "m3"),
            sqs_record({"unexpected": True}, "m4"),
        ]
    }
    response = handler.handler(event, None)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m1", "m4"]
    assert not world.request_exists(KEY) and world.request_exists(second.object_key)


def test_the_handler_passes_the_receive_count_so_the_last_delivery_reports(world: World) -> None:
    world.put_request()
    world.mediaconvert.add_client_error("create_job", "TooManyRequestsException", http_status_code=429)
    response = handler.handler({"Records": [sqs_record(created(KEY), "m0", receive_count=MAX_RECEIVES)]}, None)
    assert response == {"batchItemFailures": []}
    (body,) = world.media_messages()
    assert failure_of(body).asset_id == ASSET
