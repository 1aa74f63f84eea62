"""Decoding media-queue messages: S3 notifications, EventBridge events, poison."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from media.records import JobStateChange, ObjectCreated, UnrecognisedMessage, decode, split_s3_url


def s3_body(*keys: str, event: str = "ObjectCreated:Put", bucket: str = "b") -> str:
    records = [
        {
            "eventSource": "aws:s3",
            "eventName": event,
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 7}},
        }
        for key in keys
    ]
    return json.dumps({"Records": records})


def test_keys_are_url_decoded_like_s3_and_moto_send_them() -> None:
    moto_style = quote("assets/a/b", safe="")  # moto encodes '/' too
    assert decode(s3_body(moto_style, "post-images/u/my+photo%C3%A9.jpg")) == [
        ObjectCreated("b", "assets/a/b", 7),
        ObjectCreated("b", "post-images/u/my photoé.jpg", 7),
    ]


def test_the_s3_test_event_and_non_creation_records_mean_nothing() -> None:
    assert decode(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})) == []
    assert decode(s3_body("assets/a/b", event="ObjectRemoved:Delete")) == []


@pytest.mark.parametrize(
    "body",
    [
        "Test message.",
        '{"message": "foo1"}',
        "[1, 2]",
        '{"Records": [{"eventSource": "aws:sns"}]}',
        '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}',
        '{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}',
        '{"source": "aws.mediaconvert", "detail-type": "MediaConvert Job State Change", "detail": {}}',
    ],
)
def test_anything_else_is_poison(body: str) -> None:
    with pytest.raises(UnrecognisedMessage):
        decode(body)


def _bridge(source: str, detail_type: str, detail: dict) -> str:
    return json.dumps({"version": "0", "source": source, "detail-type": detail_type, "detail": detail})


def test_eventbridge_object_created_and_guardduty_scan_results_are_triggers() -> None:
    created = _bridge("aws.s3", "Object Created", {"bucket": {"name": "b"}, "object": {"key": "assets/x y", "size": 3}})
    assert decode(created) == [ObjectCreated("b", "assets/x y", 3, origin="eventbridge")]
    scanned = _bridge(
        "aws.guardduty",
        "GuardDuty Malware Protection Object Scan Result",
        {"s3ObjectDetails": {"bucketName": "b", "objectKey": "assets/k"}, "scanResultDetails": {}},
    )
    assert decode(scanned) == [ObjectCreated("b", "assets/k", origin="guardduty")]


def test_every_trigger_names_the_object_version_it_is_about() -> None:
    """S3 (versionId), EventBridge (version-id) and GuardDuty (versionId); "null" is no version."""
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}
    versioned = {**record, "s3": {**record["s3"], "object": {"key": "assets/k", "versionId": "v1"}}}
    unversioned = {**record, "s3": {**record["s3"], "object": {"key": "assets/k", "versionId": "null"}}}
    assert decode(json.dumps({"Records": [versioned, unversioned]})) == [
        ObjectCreated("b", "assets/k", version_id="v1"),
        ObjectCreated("b", "assets/k"),
    ]
    created = _bridge("aws.s3", "Object Created", {"bucket": {"name": "b"}, "object": {"key": "k", "version-id": "v2"}})
    assert decode(created) == [ObjectCreated("b", "k", origin="eventbridge", version_id="v2")]
    scanned = _bridge(
        "aws.guardduty",
        "GuardDuty Malware Protection Object Scan Result",
        {"s3ObjectDetails": {"bucketName": "b", "objectKey": "k", "versionId": "v3"}},
    )
    assert decode(scanned) == [ObjectCreated("b", "k", origin="guardduty", version_id="v3")]
    with pytest.raises(UnrecognisedMessage):
        decode(json.dumps({"Records": [{**record, "s3": {**record["s3"], "object": {"key": "k", "versionId": 7}}}]}))


def test_mediaconvert_complete_carries_the_hls_playlist_and_the_largest_rendition() -> None:
    detail = {
        "jobId": "1671476818694-phptj0",
        "status": "COMPLETE",
        "userMetadata": {"asset_id": "a1", "stage": "dev"},
        "outputGroupDetails": [
            {"type": "FILE_GROUP", "outputDetails": [{"outputFilePaths": ["s3://b/file.mp4"]}]},
            {
                "type": "HLS_GROUP",
                "playlistFilePaths": ["s3://b/variants/o/a1/hls/index.m3u8"],
                "outputDetails": [
                    {"durationInMs": 30041, "videoDetails": {"widthInPx": 640, "heightInPx": 360}},
                    {"durationInMs": 30041, "videoDetails": {"widthInPx": 1280, "heightInPx": 720}},
                ],
            },
        ],
    }
    (event,) = decode(_bridge("aws.mediaconvert", "MediaConvert Job State Change", detail))
    assert isinstance(event, JobStateChange)
    assert event.asset_id == "a1" and event.status == "COMPLETE"
    assert event.playlists == ("s3://b/variants/o/a1/hls/index.m3u8",)
    assert (event.duration_ms, event.width, event.height) == (30041, 1280, 720)


def test_mediaconvert_error_carries_the_message() -> None:
    detail = {"jobId": "j", "status": "ERROR", "errorCode": 1030, "errorMessage": "bad input", "userMetadata": {}}
    (event,) = decode(_bridge("aws.mediaconvert", "MediaConvert Job State Change", detail))
    assert isinstance(event, JobStateChange)
    assert (event.status, event.error, event.asset_id) == ("ERROR", "bad input", None)


def test_split_s3_url() -> None:
    assert split_s3_url("s3://bucket/a/b.m3u8") == ("bucket", "a/b.m3u8")
    for bad in ("https://bucket/a", "s3://bucket/", "s3:///a"):
        with pytest.raises(ValueError):
            split_s3_url(bad)
