"""The transcode function: request object -> MediaConvert job; every failure is retried into the DLQ.

S3 and SQS are the session's moto server (tests/conftest.py `s3_endpoint`; never `mock_aws`,
whose start resets the backends that in-process server shares, wiping every other test's bucket);
MediaConvert is botocore's Stubber. A media queue of this test's own exists only to show that
nothing is ever sent to it: a job that cannot be created
keeps its request object and is retried, then waits in the transcode DLQ for a redrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import ANY, Stubber

from core import storage
from core.config import SettingsError, reset_settings
from core.transcoding import MAX_RECEIVES, InvalidRequest, TranscodeRequest
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
    queues_before: frozenset[str]

    def put_request(self, request: TranscodeRequest = REQUEST, body: bytes | None = None) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=request.object_key, Body=body or request.to_json())

    def request_exists(self, key: str = KEY) -> bool:
        return bool(self.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"))

    def stored_request(self, key: str = KEY) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def media_messages(self) -> list[str]:
        answer = self.sqs.receive_message(QueueUrl=self.media_queue, MaxNumberOfMessages=10)
        return [m["Body"] for m in answer.get("Messages", [])]

    def new_queues(self) -> list[str]:
        return sorted(set(self.sqs.list_queues().get("QueueUrls", [])) - self.queues_before)


def _forget_clients() -> None:
    storage.s3_client.cache_clear()
    reset_settings()
    # boto3's default session keeps the first credentials it resolves: this test's would sign
    # every later test's URLs (tests/integration/security/test_uploads_signing.py checks them).
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def world(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    import uuid

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("mediaconvert", endpoint_url=ENDPOINT, region_name="us-east-1")
    monkeypatch.setattr(mediaconvert, "mediaconvert_client", lambda endpoint: client)
    with Stubber(client) as stubber:
        _forget_clients()
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)  # idempotent in us-east-1; emptied for each test
        for listed in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=listed["Key"])
        # Set as in the media function, in case the code ever read it again: it must still send nothing.
        media_queue = sqs.create_queue(QueueName=f"social-dev-media-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        before = frozenset(sqs.list_queues().get("QueueUrls", []))
        monkeypatch.setenv("MEDIA_QUEUE_URL", media_queue)
        monkeypatch.setenv("MEDIACONVERT_ROLE_ARN", ROLE)
        monkeypatch.setenv("MEDIACONVERT_ENDPOINT", ENDPOINT)
        yield World(s3, sqs, media_queue, stubber, before)
        stubber.assert_no_pending_responses()  # no CreateJob expected and not made
        sqs.delete_queue(QueueUrl=media_queue)
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


def assert_kept_and_nothing_sent(world: World) -> None:
    """What every failure leaves: the request as media wrote it, and not one message anywhere."""
    assert world.request_exists() and world.stored_request() == REQUEST.to_json()
    assert world.media_messages() == []
    assert world.new_queues() == []  # no queue made for a report either


# Every kind of refusal CreateJob answers with, as botocore raises it.
REFUSALS = [
    ("AccessDeniedException", "User is not authorized to perform: iam:PassRole on resource: role", 403),
    ("ForbiddenException", "You don't have permissions for this action with the credentials you sent.", 403),
    ("BadRequestException", "/role: the role ARN is not valid", 400),
    ("NotFoundException", "The queue does not exist", 404),
    ("ConflictException", "conflict", 409),
    ("TooManyRequestsException", "Too many requests", 429),
    ("InternalServerErrorException", "Internal error", 500),
]


# ------------------------------------------------------------------ logic


def test_a_request_becomes_one_job_and_is_deleted(world: World) -> None:
    world.put_request()
    expect_job(world)
    assert logic.submit(BUCKET, KEY) == logic.Outcome("submitted", "MediaConvert job 1714565218694-phptj0")
    assert not world.request_exists()
    assert world.media_messages() == []  # the job's own events finish the asset


def test_a_repeated_notification_creates_no_second_job(world: World) -> None:
    world.put_request()
    expect_job(world)
    logic.submit(BUCKET, KEY)
    # Again (S3 delivers at least once): the request is gone, no CreateJob (the Stubber has none queued).
    assert logic.submit(BUCKET, KEY).action == "skipped"
    assert world.media_messages() == []


def test_access_denied_raises_keeps_the_request_and_sends_nothing(world: World) -> None:
    """Our mistake (iam:PassRole, also while IAM propagates after a deploy): never a failed asset."""
    world.put_request()
    world.mediaconvert.add_client_error(
        "create_job",
        "AccessDeniedException",
        f"User is not authorized to perform: iam:PassRole on resource: {ROLE}",
        http_status_code=403,
    )
    with pytest.raises(ClientError, match="AccessDeniedException") as raised:
        logic.submit(BUCKET, KEY)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert_kept_and_nothing_sent(world)


@pytest.mark.parametrize(("code", "message", "status"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_every_createjob_error_raises_and_keeps_the_request(world: World, code: str, message: str, status: int) -> None:
    world.put_request()
    world.mediaconvert.add_client_error("create_job", code, message, http_status_code=status)
    with pytest.raises(ClientError, match=code):
        logic.submit(BUCKET, KEY)
    assert_kept_and_nothing_sent(world)


def test_job_settings_botocore_rejects_raise_and_keep_the_request(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in our job settings fails botocore's validation before any call: retried into the DLQ too."""
    settings = mediaconvert.job_settings

    def broken(bucket: str, key: str, variants_prefix: str) -> dict[str, Any]:
        return {**settings(bucket, key, variants_prefix), "TimecodeConfig": {"Source": 7}}

    monkeypatch.setattr(mediaconvert, "job_settings", broken)
    # botocore validates before the Stubber could answer: a client of its own (moto is active, nothing leaves).
    unstubbed = boto3.client("mediaconvert", endpoint_url=ENDPOINT, region_name="us-east-1")
    monkeypatch.setattr(mediaconvert, "mediaconvert_client", lambda endpoint: unstubbed)
    world.put_request()
    with pytest.raises(ParamValidationError):
        logic.submit(BUCKET, KEY)
    assert_kept_and_nothing_sent(world)


def test_after_the_fix_the_kept_request_makes_its_job(world: World) -> None:
    """The redrive: the same request, delivered again once the cause is gone, is created and deleted."""
    world.put_request()
    world.mediaconvert.add_client_error("create_job", "AccessDeniedException", "iam:PassRole", http_status_code=403)
    with pytest.raises(ClientError):
        logic.submit(BUCKET, KEY)
    expect_job(world)  # same ClientRequestToken: the asset id
    assert logic.submit(BUCKET, KEY).action == "submitted"
    assert not world.request_exists() and world.media_messages() == []


def test_what_is_not_a_request_is_poison_or_ignored(world: World) -> None:
    world.put_request(body=b"{not json")
    with pytest.raises(InvalidRequest):
        logic.submit(BUCKET, KEY)  # retried, then the DLQ
    assert world.request_exists()
    other = TranscodeRequest(**{**REQUEST.__dict__, "user_metadata": {"asset_id": "other"}})
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=other.to_json())  # stored under another asset's key
    with pytest.raises(InvalidRequest, match="is for asset other"):
        logic.submit(BUCKET, KEY)
    assert world.request_exists()
    assert logic.submit(BUCKET, f"assets/owner/{ASSET}").action == "skipped"
    assert world.media_messages() == []


def test_without_its_role_nothing_is_created_or_sent(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIACONVERT_ROLE_ARN")
    reset_settings()
    world.put_request()
    with pytest.raises(SettingsError, match="MEDIACONVERT_ROLE_ARN"):
        logic.submit(BUCKET, KEY)  # retried, then the DLQ and its alarm
    assert_kept_and_nothing_sent(world)


def test_the_media_queue_is_not_a_setting_of_transcode(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIA_QUEUE_URL")  # CDK no longer sets it on the transcode function
    reset_settings()
    world.put_request()
    expect_job(world)
    assert logic.submit(BUCKET, KEY).action == "submitted"


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


@pytest.mark.parametrize("receive_count", [1, MAX_RECEIVES - 1, MAX_RECEIVES, MAX_RECEIVES + 3])
def test_a_refused_job_comes_back_on_every_delivery_the_last_one_included(world: World, receive_count: int) -> None:
    """On the 5th delivery too the record fails (SQS then moves it to the DLQ) and the request stays."""
    world.put_request()
    world.mediaconvert.add_client_error("create_job", "AccessDeniedException", "iam:PassRole", http_status_code=403)
    event = {"Records": [sqs_record(created(KEY), "m0", receive_count=receive_count)]}
    assert handler.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert_kept_and_nothing_sent(world)


def test_the_last_delivery_of_a_throttled_job_still_goes_to_the_dlq(world: World) -> None:
    world.put_request()
    for _ in range(2):
        world.mediaconvert.add_client_error("create_job", "TooManyRequestsException", http_status_code=429)
    for receive_count in (MAX_RECEIVES - 1, MAX_RECEIVES):
        response = handler.handler({"Records": [sqs_record(created(KEY), "m0", receive_count=receive_count)]}, None)
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert_kept_and_nothing_sent(world)
