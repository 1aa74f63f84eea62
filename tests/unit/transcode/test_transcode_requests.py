"""The transcode request (core.transcoding): what media writes is exactly what transcode reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.transcoding import (
    REQUEST_PREFIX,
    InvalidRequest,
    TranscodeRequest,
    is_request_key,
    request_key,
)

ASSET = "9d4f2b6a-1c3e-4a5b-8d7f-0e2a4c6e8b1d"


def make(**overrides: Any) -> TranscodeRequest:
    values: dict[str, Any] = {
        "bucket": "assets-bucket",
        "key": f"assets/owner/{ASSET}",
        "variants_prefix": f"variants/owner/{ASSET}/",
        "user_metadata": {"asset_id": ASSET, "stage": "dev"},
        "client_token": ASSET,
    } | overrides
    return TranscodeRequest(**values)


def test_a_request_survives_the_round_trip_through_its_json() -> None:
    request = make()
    assert TranscodeRequest.from_json(request.to_json()) == request
    assert TranscodeRequest.from_json(request.to_json().decode()) == request
    assert json.loads(request.to_json()) == {
        "version": 1,
        "bucket": "assets-bucket",
        "key": f"assets/owner/{ASSET}",
        "variants_prefix": f"variants/owner/{ASSET}/",
        "user_metadata": {"asset_id": ASSET, "stage": "dev"},
        "client_token": ASSET,
    }


def test_one_request_object_per_asset_under_the_prefix() -> None:
    assert make().object_key == request_key(ASSET) == f"jobs/transcode/{ASSET}.json"
    assert make().object_key.startswith(REQUEST_PREFIX) and make().asset_id == ASSET
    assert is_request_key(request_key(ASSET))
    assert not is_request_key(f"assets/owner/{ASSET}") and not is_request_key("jobs/transcode/x.txt")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bucket": ""}, "bucket"),
        ({"key": None}, "key"),
        ({"variants_prefix": "variants/owner/a"}, "variants_prefix"),
        ({"client_token": "t" * 65}, "client_token"),
        ({"user_metadata": {"stage": "dev"}}, "asset_id"),
        ({"user_metadata": {"asset_id": ASSET, "width": 3}}, "strings"),
        ({"user_metadata": [ASSET]}, "strings"),
    ],
)
def test_a_request_that_cannot_make_a_job_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        make(**overrides)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({**json.loads(make().to_json()), "version": 2}).encode(), "version 2"),
        (json.dumps({k: v for k, v in json.loads(make().to_json()).items() if k != "key"}).encode(), "missing key"),
    ],
)
def test_what_is_not_a_request_of_this_version_is_invalid(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        TranscodeRequest.from_json(raw)
