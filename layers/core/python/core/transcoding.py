"""Transcode requests: how a video goes from the media function to the transcode function.

The media function runs in isolated subnets, where it reaches S3 (gateway endpoint) but
never MediaConvert (no VPC endpoint exists for it). So it writes one small JSON object per
video under REQUEST_PREFIX of the assets bucket (core.keys); the object's ObjectCreated notification
feeds the transcode function, which runs outside the VPC, calls CreateJob and deletes the
object. Both functions read the format from here, and CDK reads the prefix (notification
filter, IAM scope) and MAX_RECEIVES. Pure data: no AWS SDK, no database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core import keys
from core.config import FeatureSettings, setting

REQUEST_PREFIX = keys.TRANSCODE_REQUEST_PREFIX
REQUEST_SUFFIX = keys.TRANSCODE_REQUEST_SUFFIX
REQUEST_CONTENT_TYPE = "application/json"
# Deliveries of one request (the transcode queue's maxReceiveCount). A job still not created
# after the last one leaves the record in the transcode DLQ and the request object in place,
# the asset `processing`, until the cause is fixed and the DLQ redriven.
MAX_RECEIVES = 5
FORMAT_VERSION = 1
MAX_CLIENT_TOKEN = 64  # MediaConvert's limit for ClientRequestToken


@dataclass(frozen=True, kw_only=True)
class TranscodingSettings(FeatureSettings):
    """The media and transcode functions: whether videos are transcoded, and where."""

    mediaconvert_endpoint: str | None = setting(
        None,
        pattern=r"^https://[^\s]+$",
        doc="MediaConvert API endpoint (set by CDK). `media`: set, videos are handed to the `transcode` function "
        "as request objects (core.transcoding); unset (locally), videos are `ready` with the original only. "
        "`transcode`: the endpoint it calls (unset: boto3's regional default)",
    )


class InvalidRequest(ValueError):
    """The object is not a transcode request this code can act on."""


def request_key(asset_id: str) -> str:
    return keys.transcode_request_key(asset_id)


def is_request_key(key: str) -> bool:
    return keys.is_transcode_request_key(key)


@dataclass(frozen=True)
class TranscodeRequest:
    """Everything CreateJob needs, and what the job's state-change event must carry back."""

    bucket: str  # of the original, which is also where the request object lives
    key: str  # the original
    variants_prefix: str  # variants/<owner>/<asset>/: the job writes hls/ under it
    # Copied into the job's UserMetadata; its state-change events bring it back.
    user_metadata: dict[str, str]
    client_token: str  # ClientRequestToken: a CreateJob repeated within a minute returns the first job

    def __post_init__(self) -> None:
        for name in ("bucket", "key", "variants_prefix", "client_token"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InvalidRequest(f"{name} must be a non-empty string")
        if len(self.client_token) > MAX_CLIENT_TOKEN:
            raise InvalidRequest(f"client_token is longer than {MAX_CLIENT_TOKEN} characters")
        if not self.variants_prefix.endswith("/"):
            raise InvalidRequest("variants_prefix must end with '/'")
        metadata = self.user_metadata
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in [*metadata, *metadata.values()]):
            raise InvalidRequest("user_metadata must map strings to strings")
        if not metadata.get("asset_id"):
            raise InvalidRequest("user_metadata must carry the asset_id")

    @property
    def asset_id(self) -> str:
        return self.user_metadata["asset_id"]

    @property
    def object_key(self) -> str:
        """Where this request is written: one object per asset, so a rewrite replaces it."""
        return request_key(self.asset_id)

    def to_json(self) -> bytes:
        body = {
            "version": FORMAT_VERSION,
            "bucket": self.bucket,
            "key": self.key,
            "variants_prefix": self.variants_prefix,
            "user_metadata": dict(self.user_metadata),
            "client_token": self.client_token,
        }
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> TranscodeRequest:
        try:
            body: Any = json.loads(data)
        except ValueError as exc:
            raise InvalidRequest("not JSON") from exc
        if not isinstance(body, dict):
            raise InvalidRequest("not a JSON object")
        if body.get("version") != FORMAT_VERSION:
            raise InvalidRequest(f"version {body.get('version')!r}, expected {FORMAT_VERSION}")
        try:
            return cls(
                bucket=body["bucket"],
                key=body["key"],
                variants_prefix=body["variants_prefix"],
                user_metadata=body["user_metadata"],
                client_token=body["client_token"],
            )
        except KeyError as exc:
            raise InvalidRequest(f"missing {exc.args[0]}") from exc
