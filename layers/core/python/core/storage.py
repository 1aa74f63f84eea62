"""S3 access: presigned uploads and downloads, HEAD and tagging.

The client is made on first use (boto3 costs ~150 ms of import), with
SigV4 and the regional endpoint so presigned URLs work in every region;
AWS_ENDPOINT_URL (the local moto server) is honoured by boto3 itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

# At import, though only variant_url uses it: its settings are then validated with the function's
# others on the first read (core.config), before any request is served.
from core import cdn
from core.config import CoreSettings, FeatureSettings, setting
from core.errors import Unavailable
from core.keys import VARIANTS_PREFIX  # the only prefix the CloudFront distribution may read (OAC)

DELETED_TAG = {"Key": "deleted", "Value": "true"}


@dataclass(frozen=True, kw_only=True)
class StorageSettings(FeatureSettings):
    """Functions that reach the assets bucket (core.storage): posts, assets, media."""

    assets_bucket: str | None = setting(None, doc="S3 bucket for uploads; locally `assets-local`")
    presigned_get_ttl_s: int = setting(300, ge=1, le=3600, doc="lifetime of presigned download URLs")
    upload_url_ttl_s: int = setting(900, ge=60, le=3600, doc="lifetime of presigned upload URLs")


@lru_cache(maxsize=1)
def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        config=Config(signature_version="s3v4", retries={"mode": "standard"}),
    )


def _bucket() -> str:
    bucket = StorageSettings.current().assets_bucket
    if not bucket:
        raise RuntimeError("ASSETS_BUCKET is not set")
    return bucket


def _storage_errors(exc: Exception) -> Exception:
    return Unavailable(CoreSettings.current().retry_after_s, "Storage is unavailable")


def presigned_post(key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A browser-friendly POST upload where S3 itself enforces the type and the size."""
    try:
        return dict(
            s3_client().generate_presigned_post(
                Bucket=_bucket(),
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
                ExpiresIn=expires_in,
            )
        )
    except Exception as exc:
        raise _storage_errors(exc) from exc


def object_size(key: str) -> int | None:
    """The stored object's size, or None when there is no such object.

    Functions get no s3:ListBucket, so S3 answers a HEAD of a missing key with
    403 rather than 404; callers only ask about keys under a prefix they may read.
    """
    from botocore.exceptions import ClientError

    try:
        head = s3_client().head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("403", "404", "NoSuchKey", "NotFound", "AccessDenied"):
            return None
        raise _storage_errors(exc) from exc
    except Exception as exc:
        raise _storage_errors(exc) from exc
    return int(head["ContentLength"])


def presigned_get(
    key: str, expires_in: int | None = None, disposition: str | None = None, version_id: str | None = None
) -> str:
    """A GET URL; with `version_id` it serves that version only, whatever was written to the key since."""
    params: dict[str, Any] = {"Bucket": _bucket(), "Key": key}
    if version_id:
        params["VersionId"] = version_id
    if disposition:
        params["ResponseContentDisposition"] = disposition
    ttl = expires_in or StorageSettings.current().presigned_get_ttl_s
    return str(s3_client().generate_presigned_url("get_object", Params=params, ExpiresIn=ttl))


def variant_url(key: str, version_id: str | None = None) -> str:
    """A viewing URL: CloudFront-signed (core.cdn) for keys under variants/ where the stage has the
    CDN (CDN_DOMAIN), else a short presigned S3 GET; both pinned to `version_id` when given."""
    if cdn.enabled() and key.startswith(VARIANTS_PREFIX):
        return cdn.signed_url(key, version_id)
    return presigned_get(key, version_id=version_id)


def read_small(key: str, max_bytes: int) -> bytes | None:
    """A small object's bytes (a playlist), None when there is no such object or it is larger."""
    from botocore.exceptions import ClientError

    try:
        answer = s3_client().get_object(Bucket=_bucket(), Key=key, Range=f"bytes=0-{max_bytes}")
        data = bytes(answer["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("403", "404", "NoSuchKey", "AccessDenied", "InvalidRange"):
            return None
        raise _storage_errors(exc) from exc
    except Exception as exc:
        raise _storage_errors(exc) from exc
    return data if len(data) <= max_bytes else None


def tag_deleted(key: str) -> None:
    """Mark an object for the lifecycle rule that expires deleted objects after 30 days."""
    from botocore.exceptions import ClientError

    try:
        s3_client().put_object_tagging(Bucket=_bucket(), Key=key, Tagging={"TagSet": [DELETED_TAG]})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise _storage_errors(exc) from exc
    except Exception as exc:
        raise _storage_errors(exc) from exc


def presigned_put(key: str, content_type: str, size: int, expires_in: int) -> tuple[str, dict[str, str]]:
    """A PUT whose Content-Type, Content-Length and `If-None-Match: *` are signed: S3 refuses any
    other type or size, and refuses the URL altogether (412) once an object exists under the key,
    so the bytes the pipeline scanned cannot be replaced through it."""
    params = {"Bucket": _bucket(), "Key": key, "ContentType": content_type, "ContentLength": size, "IfNoneMatch": "*"}
    try:
        url = s3_client().generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
    except Exception as exc:
        raise _storage_errors(exc) from exc
    return str(url), {"Content-Type": content_type, "Content-Length": str(size), "If-None-Match": "*"}


def create_multipart(key: str, content_type: str) -> str:
    try:
        return str(s3_client().create_multipart_upload(Bucket=_bucket(), Key=key, ContentType=content_type)["UploadId"])
    except Exception as exc:
        raise _storage_errors(exc) from exc


def presigned_part(key: str, upload_id: str, part_number: int, length: int, expires_in: int) -> str:
    """An UploadPart URL whose Content-Length is signed: it uploads exactly this part's bytes, so
    nobody holding it can park a larger part (incomplete uploads cost storage until aborted)."""
    params = {
        "Bucket": _bucket(),
        "Key": key,
        "UploadId": upload_id,
        "PartNumber": part_number,
        "ContentLength": length,
    }
    try:
        return str(s3_client().generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in))
    except Exception as exc:
        raise _storage_errors(exc) from exc


class MultipartRejected(Exception):
    """S3 refused to assemble the parts (wrong ETag, missing or too small part)."""


def complete_multipart(key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
    from botocore.exceptions import ClientError

    upload = {"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]}
    try:
        s3_client().complete_multipart_upload(Bucket=_bucket(), Key=key, UploadId=upload_id, MultipartUpload=upload)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML"):
            raise MultipartRejected(code) from exc
        raise _storage_errors(exc) from exc
    except Exception as exc:
        raise _storage_errors(exc) from exc


def abort_multipart(key: str, upload_id: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3_client().abort_multipart_upload(Bucket=_bucket(), Key=key, UploadId=upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise _storage_errors(exc) from exc
    except Exception as exc:
        raise _storage_errors(exc) from exc


class NoSuchUpload(Exception):
    """S3 holds no such multipart upload (completed, aborted, or expired by the lifecycle rule)."""


@dataclass(frozen=True)
class UploadedPart:
    number: int
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class PartListing:
    parts: list[UploadedPart]  # at most `limit`, in part-number order
    more: bool  # parts follow the last one listed
    aborts_at: datetime | None  # when S3's lifecycle rule aborts the upload, if S3 says


def list_parts(key: str, upload_id: str, *, after: int = 0, limit: int = 1000) -> PartListing:
    """The parts S3 holds for an upload, numbered above `after`: up to `limit` of them, following
    ListParts' pages (at most 1000 parts each) by NextPartNumberMarker."""
    from botocore.exceptions import ClientError

    parts: list[UploadedPart] = []
    marker, truncated, aborts_at = after, True, None
    try:
        while truncated and len(parts) <= limit:  # one part beyond the limit tells whether more follow
            answer = s3_client().list_parts(
                Bucket=_bucket(),
                Key=key,
                UploadId=upload_id,
                PartNumberMarker=marker,
                MaxParts=min(1000, limit + 1 - len(parts)),
            )
            aborts_at = answer.get("AbortDate", aborts_at)
            parts += [
                UploadedPart(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"]), p["LastModified"])
                for p in answer.get("Parts", [])
            ]
            following = int(answer.get("NextPartNumberMarker") or 0)
            truncated = bool(answer.get("IsTruncated")) and following > marker
            marker = following
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            raise NoSuchUpload(upload_id) from exc
        raise _storage_errors(exc) from exc
    except Exception as exc:
        raise _storage_errors(exc) from exc
    return PartListing(parts[:limit], len(parts) > limit, aborts_at)


def delete_objects(keys: list[str]) -> list[str]:
    """Delete what can be deleted; return the keys that could not be (for the caller to tag)."""
    failed = delete_versions([(key, None) for key in keys])
    return [key for key in keys if key in failed]


def delete_versions(objects: list[tuple[str, str | None]]) -> set[str]:
    """Delete each (key, version): a named version for good (s3:DeleteObjectVersion), a key without
    one as S3 does in a versioned bucket (a delete marker; the lifecycle rule expires what it hides).
    One DeleteObjects request per 1000; the keys S3 could not delete (all of them if the request
    failed) are returned, for the caller to keep what still names them."""
    failed: set[str] = set()
    for start in range(0, len(objects), 1000):
        chunk = objects[start : start + 1000]
        entries = [{"Key": key, **({"VersionId": version} if version else {})} for key, version in chunk]
        try:
            answer = s3_client().delete_objects(Bucket=_bucket(), Delete={"Objects": entries, "Quiet": True})
        except Exception:  # noqa: BLE001 - the caller keeps the rows and tries again later
            failed.update(key for key, _ in chunk)
            continue
        failed.update(str(e["Key"]) for e in answer.get("Errors", []))
    return failed


def attachment(filename: str) -> str:
    """Content-Disposition for a download: an ASCII fallback and the exact name per RFC 6266/5987."""
    from urllib.parse import quote

    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\\\/' else "_" for c in filename).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


REFUSED_TAGS = ("quarantined", "rejected")  # set by the media pipeline on malware or a type mismatch
# (tag key, value pattern) of object versions nobody may read: the storage stack's bucket policy
# denies s3:GetObject and s3:GetObjectVersion on each (the pipeline's tags, and GuardDuty's
# verdict, which lands before the media function acts on it).
REFUSED_OBJECT_TAGS = (("quarantined", "true"), ("rejected", "*"), ("GuardDutyMalwareScanStatus", "THREATS_FOUND"))


def refused_by_pipeline(key: str) -> bool:
    """Whether the media pipeline has tagged this object as never to be served."""
    try:
        answer = s3_client().get_object_tagging(Bucket=_bucket(), Key=key)
    except Exception as exc:
        raise _storage_errors(exc) from exc
    return any(tag["Key"] in REFUSED_TAGS for tag in answer.get("TagSet", []))
