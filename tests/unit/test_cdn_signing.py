"""core.cdn: CloudFront signed URLs (canned for one variant, custom with a wildcard for an HLS
prefix), checked with the public key as CloudFront would (tests/cloudfront.py)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from core import cdn, storage
from core.cdn import CdnSettings
from core.config import SettingsError, reset_settings
from tests import cloudfront

PREFIX = "variants/o1/a1/hls/"


def test_a_variant_url_is_signed_for_that_object_and_version(cdn_env: None) -> None:
    url = cdn.signed_url("variants/o1/a1/preview.jpg", "v 1+")
    base = f"https://{cloudfront.DOMAIN}/variants/o1/a1/preview.jpg?versionId=v%201%2B"
    assert url.startswith(base + "&Expires=") and url.endswith("&Hash-Algorithm=SHA256")
    assert cloudfront.allows(url)
    assert cloudfront.policy_of(url)["Resource"] == base
    # another object, another version, a stripped or tampered signature: refused
    assert not cloudfront.allows(url.replace("preview.jpg", "thumb.jpg"))
    assert not cloudfront.allows(url.replace("versionId=v%201%2B", "versionId=other"))
    assert not cloudfront.allows(cloudfront.unsigned(url))
    assert not cloudfront.allows(url.replace("Signature=", "Signature=AAAA"))
    # after its expiry
    expires = cloudfront.policy_of(url)["Condition"]["DateLessThan"]["AWS:EpochTime"]
    assert not cloudfront.allows(url, now=expires)


def test_expiry_is_rounded_so_urls_repeat_within_a_window(cdn_env: None) -> None:
    ttl = CdnSettings.current().cdn_url_ttl_s
    assert cdn.expiry(1000 * ttl) == 1002 * ttl and cdn.expiry(1000 * ttl + ttl - 1) == 1002 * ttl
    # lives between one and two TTLs
    for now in (1000 * ttl, 1000 * ttl + ttl - 1):
        assert ttl < cdn.expiry(now) - now <= 2 * ttl
    first, second = cdn.signed_url("variants/x.jpg"), cdn.signed_url("variants/x.jpg")
    assert first == second or cdn.expiry() != cloudfront.policy_of(first)["Condition"]["DateLessThan"]["AWS:EpochTime"]


def test_a_prefix_policy_admits_every_object_under_it_and_nothing_else(cdn_env: None) -> None:
    query = cdn.prefix_query(PREFIX, expires_at=2_000_000_000)
    assert "Policy=" in query and "Key-Pair-Id=" + cloudfront.KEY_PAIR_ID in query and "Expires=" not in query
    statement = cloudfront.policy_of("https://x/?" + query)
    assert statement == {
        "Resource": f"https://{cloudfront.DOMAIN}/{PREFIX}*",
        "Condition": {"DateLessThan": {"AWS:EpochTime": 2_000_000_000}},
    }
    for name in ("index_720p_00001.ts", "index_720p.m3u8", "deeper/part.ts"):
        assert cloudfront.allows(cdn.url_of(PREFIX + name, query), now=1_900_000_000)
    assert not cloudfront.allows(cdn.url_of("variants/o1/a2/hls/index_720p_00001.ts", query), now=1_900_000_000)
    assert not cloudfront.allows(cdn.url_of("variants/o1/a1/preview.jpg", query), now=1_900_000_000)
    assert not cloudfront.allows(cdn.url_of(PREFIX + "x.ts"), now=1_900_000_000)
    assert not cloudfront.allows(cdn.url_of(PREFIX + "x.ts", query), now=2_000_000_000)


def test_storage_signs_variants_only_and_presigns_without_the_cdn(
    cdn_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSETS_BUCKET", "bucket")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_settings()
    storage.s3_client.cache_clear()
    try:
        assert storage.variant_url("variants/o/a/thumb.jpg").startswith(f"https://{cloudfront.DOMAIN}/")
        # CloudFront reads variants/ only: anything else stays on S3
        assert "X-Amz-Signature=" in storage.variant_url("post-images/u/p.jpg")
        monkeypatch.delenv("CDN_DOMAIN")
        reset_settings()
        url = storage.variant_url("variants/o/a/thumb.jpg", "v1")
        assert "X-Amz-Signature=" in url and "versionId=v1" in url
    finally:
        storage.s3_client.cache_clear()


def test_the_private_key_is_read_once_from_secrets_manager(cdn_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:social-prod/cdn-AbCdEf"
    monkeypatch.delenv("CDN_PRIVATE_KEY")
    monkeypatch.setenv("CDN_PRIVATE_KEY_SECRET_ARN", arn)
    reset_settings()
    reads: list[str] = []

    class FakeSecrets:
        def get_secret_value(self, SecretId: str) -> dict[str, Any]:
            reads.append(SecretId)
            return {"SecretString": cloudfront.key_pair()[0]}

    import boto3

    monkeypatch.setattr(boto3, "client", lambda service, **_: FakeSecrets())
    urls = [cdn.signed_url(f"variants/o/a/{n}.jpg") for n in range(3)]
    assert reads == [arn] and all(cloudfront.allows(u) for u in urls)


def test_signing_modules_are_imported_on_first_use_only() -> None:
    """A cold start that signs nothing pays for neither cryptography nor the key."""
    import subprocess

    code = "import core.cdn, core.storage, sys; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cdn_needs_a_key_pair_id_and_a_key() -> None:
    with pytest.raises(SettingsError, match="CDN_DOMAIN needs CDN_KEY_PAIR_ID"):
        CdnSettings(cdn_domain="d1.cloudfront.net")
    with pytest.raises(SettingsError, match="CDN_DOMAIN needs"):
        CdnSettings(cdn_domain="d1.cloudfront.net", cdn_key_pair_id="K1")
    assert CdnSettings(cdn_domain="d1.cloudfront.net", cdn_key_pair_id="K1", cdn_private_key="pem").cdn_domain
    with pytest.raises(SettingsError, match="CDN_PRIVATE_KEY_SECRET_ARN"):
        CdnSettings(cdn_private_key_secret_arn="social/cdn")
    assert "pem" not in repr(CdnSettings(cdn_private_key="pem"))


def test_the_key_id_is_the_one_whose_public_key_matches(cdn_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """CDK gives every key of the group (id:fingerprint): whichever private key the secret holds during a
    rotation signs under its own id."""
    from cryptography.hazmat.primitives import serialization

    pem = (
        cloudfront.key_pair()[1]
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    monkeypatch.delenv("CDN_KEY_PAIR_ID")
    monkeypatch.setenv("CDN_KEY_PAIR_IDS", f"KNEW:{'0' * 64},{cloudfront.KEY_PAIR_ID}:{cdn.fingerprint(pem)}")
    reset_settings()
    assert cloudfront.allows(cdn.signed_url("variants/o/a/thumb.jpg"))
    monkeypatch.setenv("CDN_KEY_PAIR_IDS", f"KNEW:{'0' * 64}")
    reset_settings()
    cdn._signer.cache_clear()
    with pytest.raises(RuntimeError, match="matches none"):
        cdn.signed_url("variants/o/a/thumb.jpg")


def test_variants_are_written_cacheable_for_a_year(monkeypatch: pytest.MonkeyPatch) -> None:
    """CloudFront (and browsers) keep a variant as long as its Cache-Control says: a variant's bytes never
    change under its URL (made from the scanned version; image URLs are pinned to the variant's version)."""
    from media import objects

    written: dict[str, Any] = {}

    class FakeS3:
        def put_object(self, **kwargs: Any) -> dict[str, str]:
            written.update(kwargs)
            return {"VersionId": "v1"}

    monkeypatch.setattr(objects, "s3_client", lambda: FakeS3())
    assert objects.put_variant("bucket", "variants/o/a/thumb.jpg", b"jpg", "image/jpeg") == "v1"
    assert written["CacheControl"] == "public, max-age=31536000, immutable"
