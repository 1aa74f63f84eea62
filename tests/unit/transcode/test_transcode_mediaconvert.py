"""The MediaConvert job of a transcode request, checked against botocore's service model with its Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from core.transcoding import TranscodeRequest
from transcode import mediaconvert

ENDPOINT = "https://mediaconvert.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/social-dev-mediaconvert"
QUEUE = "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"
REQUEST = TranscodeRequest(
    bucket="assets-bucket",
    key="assets/o/a1",
    variants_prefix="variants/o/a1/",
    user_metadata={"asset_id": "a1", "stage": "dev"},
    client_token="a1",
)


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "mediaconvert",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    monkeypatch.setattr(mediaconvert, "mediaconvert_client", lambda endpoint: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_the_job_is_hls_into_the_variants_prefix_with_the_role_and_the_token(stubbed: Stubber) -> None:
    expected: dict[str, Any] = {
        "Role": ROLE,
        "Queue": QUEUE,
        "Settings": mediaconvert.job_settings("assets-bucket", "assets/o/a1", "variants/o/a1/"),
        "UserMetadata": {"asset_id": "a1", "stage": "dev"},
        "StatusUpdateInterval": "SECONDS_60",
        "ClientRequestToken": "a1",
    }
    stubbed.add_response("create_job", {"Job": {"Id": "1671476818694-phptj0", "Role": ROLE, "Settings": {}}}, expected)
    job_id = mediaconvert.create_hls_job(REQUEST, endpoint=ENDPOINT, role_arn=ROLE, queue_arn=QUEUE)
    assert job_id == "1671476818694-phptj0"


def test_without_a_queue_the_job_goes_to_the_default_queue(stubbed: Stubber) -> None:
    expected = {
        "Role": ROLE,
        "Settings": ANY,
        "UserMetadata": ANY,
        "StatusUpdateInterval": "SECONDS_60",
        "ClientRequestToken": "a1",
    }
    stubbed.add_response("create_job", {"Job": {"Id": "j", "Role": ROLE, "Settings": {}}}, expected)
    assert mediaconvert.create_hls_job(REQUEST, endpoint=None, role_arn=ROLE, queue_arn=None) == "j"


def test_job_settings_read_the_original_and_write_hls_under_variants() -> None:
    settings = mediaconvert.job_settings("assets-bucket", "assets/o/a1", "variants/o/a1/")
    assert settings["Inputs"][0]["FileInput"] == "s3://assets-bucket/assets/o/a1"
    (group,) = settings["OutputGroups"]
    hls = group["OutputGroupSettings"]
    assert hls["Type"] == "HLS_GROUP_SETTINGS"
    assert hls["HlsGroupSettings"]["Destination"] == "s3://assets-bucket/variants/o/a1/hls/index"
    heights = [o["VideoDescription"]["Height"] for o in group["Outputs"]]
    assert heights == sorted(heights, reverse=True) and all(
        o["ContainerSettings"]["Container"] == "M3U8" for o in group["Outputs"]
    )


def test_a_service_error_propagates(stubbed: Stubber) -> None:
    stubbed.add_client_error("create_job", "TooManyRequestsException", http_status_code=429)
    with pytest.raises(Exception, match="TooManyRequests"):
        mediaconvert.create_hls_job(REQUEST, endpoint=ENDPOINT, role_arn=ROLE, queue_arn=None)
