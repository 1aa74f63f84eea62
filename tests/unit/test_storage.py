"""S3 answers as seen through botocore's Stubber (no network)."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from core import storage


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("ASSETS_BUCKET", "bucket")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from core.config import reset_settings

    reset_settings()
    storage.s3_client.cache_clear()
    with Stubber(storage.s3_client()) as stubber:
        yield stubber
    reset_settings()
    storage.s3_client.cache_clear()


@pytest.mark.parametrize("code", ["404", "403"])  # 403: the function has no ListBucket
def test_missing_object_has_no_size(s3: Stubber, code: str) -> None:
    s3.add_client_error("head_object", service_error_code=code, http_status_code=int(code))
    assert storage.object_size("post-images/u/x.png") is None


def test_other_failures_are_unavailable(s3: Stubber) -> None:
    from core.errors import Unavailable

    s3.add_client_error("head_object", service_error_code="SlowDown", http_status_code=503)
    with pytest.raises(Unavailable):
        storage.object_size("post-images/u/x.png")


def test_size_of_an_object(s3: Stubber) -> None:
    response: dict[str, Any] = {"ContentLength": 42}
    s3.add_response("head_object", response, {"Bucket": "bucket", "Key": "k"})
    assert storage.object_size("k") == 42


def test_tagging_a_missing_object_is_not_an_error(s3: Stubber) -> None:
    s3.add_client_error("put_object_tagging", service_error_code="NoSuchKey", http_status_code=404)
    storage.tag_deleted("gone")
