"""Turn one transcode request object into one MediaConvert job.

The media function (in the VPC, where MediaConvert cannot be reached) leaves a request under
core.transcoding.REQUEST_PREFIX; this function (outside the VPC) reads it, calls CreateJob with
the request's client token and deletes it:
- the object is gone (404): it was submitted already; a repeated notification changes nothing;
- CreateJob succeeds: the request is deleted and the job's "Job State Change" event finishes
  the asset (EventBridge -> the media queue): `ready`, or `failed` when the job itself fails
  (an unreadable or unsupported input shows up there, not in CreateJob);
- anything else raises, whatever CreateJob answered (throttling, 5xx, and every 4xx: access
  denied or iam:PassRole refused, also while a new role's IAM change propagates, a wrong role
  ARN, settings MediaConvert rejects, all of them our mistakes), as do an unreadable request
  and missing settings: the record is retried after the visibility timeout and, after
  MAX_RECEIVES deliveries, waits in the transcode DLQ (whose alarm fires) with the request
  object left in place and the asset still `processing`. Once the cause is fixed, a redrive
  delivers it again and the job is created: nothing the user uploaded is given up for a
  mistake of ours.
No database: everything the job needs is in the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import SettingsError
from core.storage import s3_client
from core.transcoding import InvalidRequest, TranscodeRequest, TranscodingSettings, is_request_key
from transcode import mediaconvert
from transcode.logs import logger
from transcode.settings import TranscodeSettings

_MISSING = ("NoSuchKey", "404", "NotFound")


@dataclass(frozen=True)
class Outcome:
    """What one request led to (logged, and what the tests look at)."""

    action: str  # submitted | skipped
    detail: str = ""


def submit(bucket: str, key: str) -> Outcome:
    """Handle one request object; raises (the record is retried, then the DLQ) unless decided."""
    try:
        outcome = _submit(bucket, key)
    except Exception:
        logger.exception(
            "transcode request not submitted: retried, then kept in the transcode DLQ with its request object",
            extra={"bucket": bucket, "key": key},
        )
        raise
    logger.info(
        "transcode request handled",
        extra={"bucket": bucket, "key": key, "outcome": outcome.action, "detail": outcome.detail},
    )
    return outcome


def _submit(bucket: str, key: str) -> Outcome:
    if not is_request_key(key):
        return Outcome("skipped", "not a transcode request key")
    raw = read_request(bucket, key)
    if raw is None:
        return Outcome("skipped", "the request is gone: it was submitted already")
    request = TranscodeRequest.from_json(raw)  # InvalidRequest: poison, retried into the DLQ
    if request.bucket != bucket or request.object_key != key:
        raise InvalidRequest(f"the request stored as s3://{bucket}/{key} is for asset {request.asset_id}")
    settings = TranscodeSettings.current()
    role_arn = settings.mediaconvert_role_arn
    if not role_arn:  # retried, then the DLQ and its alarm
        raise SettingsError("invalid settings: set MEDIACONVERT_ROLE_ARN")
    # Any error propagates: the request stays for the retries, the DLQ and a redrive.
    job_id = mediaconvert.create_hls_job(
        request,
        endpoint=TranscodingSettings.current().mediaconvert_endpoint,
        role_arn=role_arn,
        queue_arn=settings.mediaconvert_queue_arn,
    )
    delete_request(bucket, key)
    return Outcome("submitted", f"MediaConvert job {job_id}")


# ------------------------------------------------------------------ S3


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
    """Best effort: the job exists, and a request left behind expires by its `deleted` tag."""
    try:
        s3_client().delete_object(Bucket=bucket, Key=key)
    except Exception:  # noqa: BLE001 - retrying would create the job a second time
        logger.exception("could not delete the transcode request", extra={"bucket": bucket, "key": key})
