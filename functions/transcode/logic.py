"""Turn one transcode request object into one MediaConvert job, or into a failed asset.

The media function (in the VPC, where MediaConvert cannot be reached) leaves a request under
core.transcoding.REQUEST_PREFIX; this function (outside the VPC) reads it, calls CreateJob with
the request's client token and deletes it:
- the object is gone (404): it was submitted already; a repeated notification changes nothing;
- CreateJob succeeds: the job's "Job State Change" event finishes the asset (EventBridge -> the
  media queue), exactly as before;
- CreateJob is refused for good (a 4xx other than throttling, or parameters botocore rejects),
  or fails on the last delivery (MAX_RECEIVES): a "Job State Change" ERROR event with the
  request's user metadata goes onto the media queue, and the media function, which already
  handles those, marks the asset `failed` with the reason; no video stays `processing` forever;
- anything else raises: the record is retried after the visibility timeout.
No database: everything the job needs is in the request.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from core.config import SettingsError, get_settings
from core.storage import s3_client
from core.transcoding import MAX_RECEIVES, InvalidRequest, TranscodeRequest, is_request_key
from transcode import mediaconvert
from transcode.logs import logger

# What media.records decodes as a MediaConvert job event (the EventBridge envelope).
JOB_STATE_CHANGE = {"source": "aws.mediaconvert", "detail-type": "MediaConvert Job State Change"}
NO_JOB = "not-created"  # the jobId of a failure report: there is no job
MAX_REASON = 500
_MISSING = ("NoSuchKey", "404", "NotFound")


@dataclass(frozen=True)
class Outcome:
    """What one request led to (logged, and what the tests look at)."""

    action: str  # submitted | failed | skipped
    detail: str = ""


def submit(bucket: str, key: str, *, receive_count: int) -> Outcome:
    """Handle one request object; `receive_count` is the SQS delivery this is (1 = first)."""
    outcome = _submit(bucket, key, receive_count)
    logger.info(
        "transcode request handled",
        extra={"bucket": bucket, "key": key, "outcome": outcome.action, "detail": outcome.detail},
    )
    return outcome


def _submit(bucket: str, key: str, receive_count: int) -> Outcome:
    if not is_request_key(key):
        return Outcome("skipped", "not a transcode request key")
    raw = read_request(bucket, key)
    if raw is None:
        return Outcome("skipped", "the request is gone: it was submitted already")
    request = TranscodeRequest.from_json(raw)  # InvalidRequest: poison, retried into the DLQ
    if request.bucket != bucket or request.object_key != key:
        raise InvalidRequest(f"the request stored as s3://{bucket}/{key} is for asset {request.asset_id}")
    role_arn, media_queue_url = required_settings()  # missing: retried, then the DLQ and its alarm
    settings = get_settings()
    try:
        job_id = mediaconvert.create_hls_job(
            request,
            endpoint=settings.mediaconvert_endpoint,
            role_arn=role_arn,
            queue_arn=settings.mediaconvert_queue_arn,
        )
    except Exception as exc:
        if refused_for_good(exc):
            reason = f"MediaConvert refused the job ({describe(exc)})"
        elif receive_count >= MAX_RECEIVES:
            reason = f"the job could not be created in {receive_count} attempts ({describe(exc)})"
        else:
            raise
        report_failure(media_queue_url, request, reason)
        delete_request(bucket, key)
        return Outcome("failed", reason)
    delete_request(bucket, key)
    return Outcome("submitted", f"MediaConvert job {job_id}")


def refused_for_good(exc: Exception) -> bool:
    """Whether asking again cannot help: a 4xx answer other than throttling, or bad parameters."""
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(exc, ParamValidationError):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return 400 <= status < 500 and status != 429
    return False


def describe(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_REASON]


# ------------------------------------------------------------------ S3 and SQS


def read_request(bucket: str, key: str) -> bytes | None:
    """The request's bytes, or None when it is gone (the function may list the bucket: 404, not 403)."""
    from botocore.exceptions import ClientError

    try:
        response = s3_client().get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise
    with response["Body"] as body:
        return bytes(body.read())


def delete_request(bucket: str, key: str) -> None:
    """Best effort: the outcome is decided, and a request left behind expires by its `deleted` tag."""
    try:
        s3_client().delete_object(Bucket=bucket, Key=key)
    except Exception:  # noqa: BLE001 - retrying would create the job a second time
        logger.exception("could not delete the transcode request", extra={"bucket": bucket, "key": key})


def failure_event(request: TranscodeRequest, reason: str) -> dict[str, Any]:
    """A MediaConvert "Job State Change" ERROR event for a job that was never created.

    The media function finishes assets on these events already, so a failure to create the
    job needs no second message format there; the user metadata routes it to the asset and stage.
    """
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        **JOB_STATE_CHANGE,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [],
        "detail": {
            "jobId": NO_JOB,
            "status": "ERROR",
            "errorMessage": reason,
            "userMetadata": dict(request.user_metadata),
        },
    }


def required_settings() -> tuple[str, str]:
    """The role MediaConvert jobs run as, and the media queue failures are reported to."""
    settings = get_settings()
    role_arn, media_queue_url = settings.mediaconvert_role_arn, settings.media_queue_url
    if not role_arn or not media_queue_url:
        missing = [
            name
            for name, value in (("MEDIACONVERT_ROLE_ARN", role_arn), ("MEDIA_QUEUE_URL", media_queue_url))
            if not value
        ]
        raise SettingsError("invalid settings: set " + ", ".join(missing))
    return role_arn, media_queue_url


def report_failure(media_queue_url: str, request: TranscodeRequest, reason: str) -> None:
    body = json.dumps(failure_event(request, reason))
    sqs_client().send_message(QueueUrl=media_queue_url, MessageBody=body)


@lru_cache(maxsize=1)
def sqs_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", config=Config(retries={"mode": "standard"}))
