"""Issue 14, items 1 and 6 (upload URLs): what the presigned upload URLs sign, checked the way S3
checks a SigV4 query signature (moto checks none): each multipart part URL signs its part's
Content-Length, so it cannot park a larger (or any other) part; the single PUT signs its type,
its length and `If-None-Match: *`, so it cannot replace the object once it exists."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from core.config import reset_settings
from local.aws import FAKE_CREDENTIALS
from tests.client import call
from tests.integration.social import member

MIB = 1024 * 1024


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def s3_accepts(
    url: str, method: str, headers: dict[str, str], secret: str = FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
) -> bool:
    """Whether a request with these headers matches the URL's SigV4 query signature (AWS's
    algorithm: canonical request over the signed headers as sent, UNSIGNED-PAYLOAD)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = params.pop("X-Amz-Signature")
    signed = params["X-Amz-SignedHeaders"].split(";")
    sent = {name.lower(): str(value).strip() for name, value in headers.items()} | {"host": parts.netloc}
    if any(name not in sent for name in signed):
        return False
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    canonical = "\n".join(
        [
            method,
            parts.path,
            query,
            "".join(f"{name}:{sent[name]}\n" for name in signed),
            ";".join(signed),
            "UNSIGNED-PAYLOAD",
        ]
    )
    _, date, region, service, terminal = params["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/{terminal}"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope, digest])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), terminal)
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature)


@pytest.fixture
def small_parts(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(5 * MIB))
    monkeypatch.setenv("MULTIPART_PART_BYTES", str(5 * MIB))
    reset_settings()
    yield None
    monkeypatch.undo()
    reset_settings()


def test_each_part_url_signs_its_own_length(small_parts: None) -> None:
    size = 12 * MIB + 123
    answer = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": "film.mp4", "content_type": "video/mp4", "size": size},
        token=member().token,
    )
    assert answer.status == 201, answer.body
    multipart = answer.body["multipart"]
    parts: list[dict[str, Any]] = multipart["parts"]
    assert [p["size"] for p in parts] == [5 * MIB, 5 * MIB, 2 * MIB + 123]
    for part in parts:
        url, length = part["url"], part["size"]
        signed = dict(parse_qsl(urlsplit(url).query))["X-Amz-SignedHeaders"].split(";")
        assert "content-length" in signed
        assert s3_accepts(url, "PUT", {"Content-Length": str(length)})
        for other in (length + 1, length - 1, 5 * 1024**3):
            assert not s3_accepts(url, "PUT", {"Content-Length": str(other)}), other
        assert not s3_accepts(url, "PUT", {})  # chunked, no length: refused too


def test_the_single_upload_url_signs_type_length_and_create_only(db: str, s3_endpoint: str) -> None:
    answer = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": "a.png", "content_type": "image/png", "size": 128},
        token=member().token,
    )
    upload = answer.body["upload"]
    headers = upload["headers"]
    assert headers == {"Content-Type": "image/png", "Content-Length": "128", "If-None-Match": "*"}
    assert s3_accepts(upload["url"], "PUT", headers)
    for name, other in (("Content-Type", "text/html"), ("Content-Length", "129")):
        assert not s3_accepts(upload["url"], "PUT", headers | {name: other}), name
    # Without If-None-Match S3 would overwrite; the signature makes the header mandatory.
    assert not s3_accepts(upload["url"], "PUT", {k: v for k, v in headers.items() if k != "If-None-Match"})


def test_the_checker_is_the_real_algorithm() -> None:
    """The checker agrees with botocore's own SigV4 query signer (an implementation we did not
    write), for credentials made here: it accepts what botocore signs and nothing else."""
    import secrets

    import boto3
    from botocore.config import Config

    secret = secrets.token_urlsafe(30)
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="checker-test",
        aws_secret_access_key=secret,
        endpoint_url="https://examplebucket.s3.amazonaws.com",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "examplebucket", "Key": "test.txt"}, ExpiresIn=60)
    assert s3_accepts(url, "GET", {}, secret)
    assert not s3_accepts(url, "GET", {}, secret[:-1] + ("x" if secret[-1] != "x" else "y"))
