"""The one S3 object version under processing: ranged reads, streamed reads, tags, variant
writes, and the transcode request a video leaves for the transcode function.

A `StoredObject` with a version id reads, tags and deletes that version only, so what the
scanner saw is what the parsers see, whatever is written to the key meanwhile. Every call goes
through core.storage's lazily made client. A missing object or version (deleted since the event
was sent) is `ObjectGone`; anything else propagates and the message is retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.storage import DELETED_TAG, s3_client
from core.transcoding import REQUEST_CONTENT_TYPE, TranscodeRequest

CHUNK = 1024 * 1024
MAX_TAGS = 10  # S3's limit per object
_MISSING = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


class ObjectGone(Exception):
    """The object is not there any more."""


class TooLarge(Exception):
    """The object is larger than what may be read into memory."""


def _gone(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING


class StoredObject:
    def __init__(self, bucket: str, key: str, version_id: str | None = None):
        self.bucket = bucket
        self.key = key
        self.version_id = version_id  # None: the current version (an unversioned bucket has no other)
        self._tags: dict[str, str] | None = None

    def _address(self) -> dict[str, Any]:
        address: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id is not None:
            address["VersionId"] = self.version_id
        return address

    def _get(self, **extra: Any) -> Any:
        try:
            return s3_client().get_object(**self._address(), **extra)
        except Exception as exc:
            if _gone(exc):
                raise ObjectGone(self.key) from exc
            raise

    def current_version(self) -> str | None:
        """The key's current version id (None in an unversioned bucket); ObjectGone if there is none."""
        try:
            head = s3_client().head_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if _gone(exc):
                raise ObjectGone(self.key) from exc
            raise
        version = head.get("VersionId")
        return str(version) if version and version != "null" else None

    def delete_version(self) -> None:
        """Delete this version for good (the key's previous version becomes current again)."""
        if self.version_id is None:
            raise ValueError("only a named version is ever deleted by the pipeline")
        try:
            s3_client().delete_object(**self._address())
        except Exception as exc:
            if not _gone(exc):
                raise

    def head(self, size: int) -> bytes:
        """The first `size` bytes (one ranged GET; fewer when the object is smaller)."""
        from botocore.exceptions import ClientError

        try:
            body = self._get(Range=f"bytes=0-{size - 1}")["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object
                return b""
            raise
        with body:
            return bytes(body.read(size))

    def chunks(self) -> Iterator[bytes]:
        """The whole object, streamed (scanners read it this way, in constant memory)."""
        body = self._get()["Body"]
        with body:
            yield from body.iter_chunks(CHUNK)

    def read(self, limit: int) -> bytes:
        response = self._get()
        with response["Body"] as body:
            if int(response.get("ContentLength") or 0) > limit:
                raise TooLarge(f"{response['ContentLength']} bytes, more than {limit}")
            data = body.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(f"more than {limit} bytes")
        return bytes(data)

    def tags(self) -> dict[str, str]:
        if self._tags is None:
            try:
                answer = s3_client().get_object_tagging(**self._address())
            except Exception as exc:
                if _gone(exc):
                    raise ObjectGone(self.key) from exc
                raise
            self._tags = {t["Key"]: t["Value"] for t in answer.get("TagSet", [])}
        return dict(self._tags)

    def add_tags(self, extra: dict[str, str]) -> None:
        """Merge tags into the object's set (keeps GuardDuty's scan tag and any other)."""
        self._tags = None
        merged = self.tags() | extra
        keep = dict(list(merged.items())[-MAX_TAGS:]) if len(merged) > MAX_TAGS else merged
        tag_set = [{"Key": k, "Value": v} for k, v in keep.items()]
        s3_client().put_object_tagging(**self._address(), Tagging={"TagSet": tag_set})
        self._tags = keep


def put_variant(bucket: str, key: str, data: bytes, content_type: str) -> str | None:
    """Write a variant; its version id (None in an unversioned bucket), to which its URLs are pinned."""
    written = s3_client().put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType=content_type,
        # Never rewritten with other bytes (made from the scanned version, URLs pinned to this one):
        # CloudFront and browsers may keep it as long as they like.
        CacheControl="public, max-age=31536000, immutable",
    )
    version = written.get("VersionId")
    return str(version) if version and version != "null" else None


def put_transcode_request(request: TranscodeRequest) -> None:
    """Leave the request where the transcode function is notified (S3 is reachable from the VPC).

    Tagged `deleted=true` from the start: the bucket is versioned, and that tag's lifecycle rule
    removes both an unconsumed request and the version the transcode function's delete leaves.
    """
    s3_client().put_object(
        Bucket=request.bucket,
        Key=request.object_key,
        Body=request.to_json(),
        ContentType=REQUEST_CONTENT_TYPE,
        Tagging=f"{DELETED_TAG['Key']}={DELETED_TAG['Value']}",
    )
