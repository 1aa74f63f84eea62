"""What one SQS message of the media queue means, with no AWS SDK and no database.

A body is one of:
- an S3 event notification (`{"Records": [...]}`), keys URL-encoded (`unquote_plus`), with the
  object's `versionId` in a versioned bucket (moto leaves it out);
  S3's `s3:TestEvent` (sent when a notification is configured) means nothing;
- an EventBridge event: MediaConvert "Job State Change", S3 "Object Created", or
  GuardDuty "Malware Protection Object Scan Result" (the scan verdict is ready).

Anything else is a poison message: `UnrecognisedMessage`, so it fails, is retried and
ends in the DLQ where the alarm shows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

MEDIACONVERT_STATE_CHANGE = ("aws.mediaconvert", "MediaConvert Job State Change")
S3_OBJECT_CREATED = ("aws.s3", "Object Created")
GUARDDUTY_SCAN_RESULT = ("aws.guardduty", "GuardDuty Malware Protection Object Scan Result")


class UnrecognisedMessage(ValueError):
    """The body is not an event this function handles."""


@dataclass(frozen=True)
class ObjectCreated:
    """An object landed (or its malware scan finished): look at it."""

    bucket: str
    key: str
    size: int | None = None
    origin: str = "s3"  # s3 | eventbridge | guardduty
    # The object version the event is about (a versioned bucket); None: not said (moto, or an
    # unversioned bucket), and the pipeline looks at the current version itself.
    version_id: str | None = None


@dataclass(frozen=True)
class JobStateChange:
    """A MediaConvert job finished (COMPLETE) or failed (ERROR); other states are ignored."""

    job_id: str
    status: str
    user_metadata: dict[str, str] = field(default_factory=dict)
    playlists: tuple[str, ...] = ()  # s3://bucket/key of the HLS multivariant playlists
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None

    @property
    def asset_id(self) -> str | None:
        return self.user_metadata.get("asset_id")


Event = ObjectCreated | JobStateChange


def decode(body: str) -> list[Event]:
    """The events in one message body (empty for messages that mean nothing)."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise UnrecognisedMessage("the body is not JSON") from exc
    if not isinstance(message, dict):
        raise UnrecognisedMessage("the body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if isinstance(message.get("Records"), list):
        return _s3_notification(message["Records"])
    if "detail-type" in message and "source" in message:
        return _eventbridge(message)
    raise UnrecognisedMessage("neither an S3 notification nor an EventBridge event")


def _s3_notification(records: list[Any]) -> list[Event]:
    events: list[Event] = []
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            raise UnrecognisedMessage("a record that is not an S3 event")
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue  # removals, restores, tagging: nothing to process
        try:
            s3 = record["s3"]
            bucket, key = str(s3["bucket"]["name"]), str(s3["object"]["key"])
            version = _version(s3["object"].get("versionId"))
        except (KeyError, TypeError) as exc:
            raise UnrecognisedMessage("an S3 record without bucket or key") from exc
        size = s3["object"].get("size")
        # Keys arrive URL-encoded, spaces as '+' (moto even encodes '/').
        events.append(
            ObjectCreated(bucket, unquote_plus(key), int(size) if size is not None else None, version_id=version)
        )
    return events


def _eventbridge(message: dict[str, Any]) -> list[Event]:
    kind = (message.get("source"), message.get("detail-type"))
    detail = message.get("detail")
    if not isinstance(detail, dict):
        raise UnrecognisedMessage("an EventBridge event without detail")
    try:
        if kind == MEDIACONVERT_STATE_CHANGE:
            return [_job_state_change(detail)]
        if kind == S3_OBJECT_CREATED:
            # EventBridge carries the key as stored, not URL-encoded.
            size = detail["object"].get("size")
            return [
                ObjectCreated(
                    str(detail["bucket"]["name"]),
                    str(detail["object"]["key"]),
                    int(size) if size is not None else None,
                    origin="eventbridge",
                    version_id=_version(detail["object"].get("version-id")),
                )
            ]
        if kind == GUARDDUTY_SCAN_RESULT:
            s3 = detail["s3ObjectDetails"]
            version = _version(s3.get("versionId"))
            return [ObjectCreated(str(s3["bucketName"]), str(s3["objectKey"]), origin="guardduty", version_id=version)]
    except (KeyError, TypeError, ValueError) as exc:
        raise UnrecognisedMessage(f"a malformed {kind[1]} event") from exc
    raise UnrecognisedMessage(f"an EventBridge event this function does not handle: {kind[0]} {kind[1]}")


def _version(value: Any) -> str | None:
    """A version id as S3 names it; absent, empty or "null" (an unversioned bucket's object) is None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("a version id that is not a string")
    return value if value and value != "null" else None


def _job_state_change(detail: dict[str, Any]) -> JobStateChange:
    metadata = detail.get("userMetadata") or {}
    playlists: list[str] = []
    duration_ms = width = height = None
    for group in detail.get("outputGroupDetails") or []:
        if group.get("type") != "HLS_GROUP":
            continue
        playlists += [str(p) for p in group.get("playlistFilePaths") or []]
        for output in group.get("outputDetails") or []:
            duration_ms = output.get("durationInMs", duration_ms)
            video = output.get("videoDetails") or {}
            if (video.get("heightInPx") or 0) > (height or 0):
                width, height = video.get("widthInPx"), video.get("heightInPx")
    return JobStateChange(
        job_id=str(detail["jobId"]),
        status=str(detail["status"]),
        user_metadata={str(k): str(v) for k, v in metadata.items()},
        playlists=tuple(playlists),
        duration_ms=int(duration_ms) if duration_ms is not None else None,
        width=int(width) if width is not None else None,
        height=int(height) if height is not None else None,
        error=str(detail["errorMessage"]) if detail.get("errorMessage") else None,
    )


def split_s3_url(url: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.lstrip("/"):
        raise ValueError(f"not an s3:// object URL: {url!r}")
    return parts.netloc, parts.path.lstrip("/")
