"""CloudFront signed URLs for the variants/ prefix (the distribution trusts one key group).

One signature per URL (canned policy) for an image variant, one per asset (custom policy with
a wildcard resource, https://<cdn>/variants/<owner>/<asset>/hls/*) for the segments of an HLS
rendition: the same query string then admits every segment of that asset and nothing else.
Signatures are RSA with SHA-256 (`Hash-Algorithm=SHA256`); botocore's `CloudFrontSigner`
builds the policy and the query, `cryptography` (deps layer) signs. Both are imported on the
first signature only, and the private key (CDN_PRIVATE_KEY, or the Secrets Manager secret
CDN_PRIVATE_KEY_SECRET_ARN) is read once per container.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from core.config import FeatureSettings, setting

HASH_ALGORITHM = "SHA256"


@dataclass(frozen=True, kw_only=True)
class CdnSettings(FeatureSettings):
    """Functions that hand out viewing URLs of variants (core.cdn): assets, posts."""

    # CloudFront domain serving variants/ (signed URLs of the key group); unset: short presigned S3
    # GETs. With it: the public key's id (Key-Pair-Id) and its private key, as PEM in CDN_PRIVATE_KEY
    # (local, tests) or in the Secrets Manager secret CDN_PRIVATE_KEY_SECRET_ARN (the cloud; read once
    # per container).
    cdn_domain: str | None = setting(
        None,
        pattern=r"^[a-z0-9.-]+$",
        doc="CloudFront domain that serves the variants (core.keys) with signed URLs; unset: short presigned S3 GETs",
    )
    cdn_key_pair_id: str | None = setting(
        None, pattern=r"^[A-Z0-9]{1,64}$", doc="the key group's public key id (or `CDN_KEY_PAIR_IDS`)"
    )
    # Or the key group's keys as "<id>:<sha256 hex of the public key's DER>" (CDK sets these): the id
    # signed with is the one whose key matches the private key, so a rotation needs no lockstep.
    cdn_key_pair_ids: tuple[str, ...] = setting(
        (),
        doc="the key group's keys as `id:sha256(DER),...` (CDK sets these): the private key signs under "
        "the id of its public key",
    )
    cdn_private_key: str | None = setting(None, secret=True, doc="PEM private key (local, tests)")
    cdn_private_key_secret_arn: str | None = setting(
        None,
        pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$",
        doc="Secrets Manager secret holding that PEM (cloud; read once per container)",
    )
    # Lifetime of a CloudFront-signed URL: its expiry is rounded up to a multiple of this, so the
    # same variant gets the same URL (and a browser cache hit) for at least this long, at most twice.
    cdn_url_ttl_s: int = setting(300, ge=60, le=3600, doc="signed URL expiry rounded up to this (a URL lives 1-2x)")

    def _consistency_problems(self) -> list[str]:
        key_id = self.cdn_key_pair_id or self.cdn_key_pair_ids
        if self.cdn_domain and not (key_id and (self.cdn_private_key or self.cdn_private_key_secret_arn)):
            return [
                "CDN_DOMAIN needs CDN_KEY_PAIR_ID (or CDN_KEY_PAIR_IDS) "
                "and CDN_PRIVATE_KEY or CDN_PRIVATE_KEY_SECRET_ARN"
            ]
        return []


def enabled() -> bool:
    """Whether this container signs CloudFront URLs (else callers presign S3 GETs)."""
    return bool(CdnSettings.current().cdn_domain)


def _private_key_pem() -> bytes:
    settings = CdnSettings.current()
    if settings.cdn_private_key:
        return settings.cdn_private_key.encode()
    if not settings.cdn_private_key_secret_arn:
        raise RuntimeError("CDN_DOMAIN is set without CDN_PRIVATE_KEY or CDN_PRIVATE_KEY_SECRET_ARN")
    import boto3  # only when the key lives in Secrets Manager

    answer = boto3.client("secretsmanager").get_secret_value(SecretId=settings.cdn_private_key_secret_arn)
    return str(answer["SecretString"]).encode()


@lru_cache(maxsize=1)
def _signer() -> Any:
    """botocore's CloudFrontSigner over the key group's current private key (once per container)."""
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(_private_key_pem(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RuntimeError("the CloudFront private key must be RSA (CloudFront key groups hold RSA 2048 keys)")

    def rsa_signer(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    return CloudFrontSigner(_key_pair_id(key.public_key()), rsa_signer)


def _key_pair_id(public_key: Any) -> str:
    """CDN_KEY_PAIR_ID, or the id among CDN_KEY_PAIR_IDS whose public key is this private key's: during a
    rotation the secret may hold either key, and each signs under its own id."""
    import hashlib

    from cryptography.hazmat.primitives import serialization

    settings = CdnSettings.current()
    if settings.cdn_key_pair_id:
        return settings.cdn_key_pair_id
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fingerprint = hashlib.sha256(der).hexdigest()
    for entry in settings.cdn_key_pair_ids:
        key_id, _, expected = entry.partition(":")
        if expected.lower() == fingerprint:
            return key_id
    raise RuntimeError("the CloudFront private key matches none of the key group's keys (CDN_KEY_PAIR_IDS)")


def fingerprint(public_key_pem: str) -> str:
    """SHA-256 hex of a PEM public key's DER, as CDN_KEY_PAIR_IDS names each key."""
    import base64
    import hashlib

    body = "".join(line.strip() for line in public_key_pem.strip().splitlines() if "-----" not in line)
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


def expiry(now: float | None = None) -> int:
    """Epoch seconds: the next multiple of CDN_URL_TTL_S at least one TTL away, so that every URL
    issued within one TTL window is the same URL (browser and CDN caches hit) and lives TTL..2xTTL."""
    ttl = CdnSettings.current().cdn_url_ttl_s
    now = time.time() if now is None else now
    return (int(now) // ttl + 2) * ttl


def url_of(key: str, query: str = "") -> str:
    domain = CdnSettings.current().cdn_domain
    if not domain:
        raise RuntimeError("CDN_DOMAIN is not set")
    return f"https://{domain}/{quote(key, safe='/')}" + (f"?{query}" if query else "")


def signed_url(key: str, version_id: str | None = None, *, expires_at: int | None = None) -> str:
    """A canned-policy URL for one object (pinned to `version_id`, which the distribution's cache
    policy forwards to S3 and keys the cache on)."""
    from datetime import datetime

    url = url_of(key, f"versionId={quote(version_id, safe='')}" if version_id else "")
    until = datetime.fromtimestamp(expires_at or expiry(), tz=UTC)
    return str(_signer().generate_presigned_url(url, date_less_than=until)) + f"&Hash-Algorithm={HASH_ALGORITHM}"


def prefix_query(prefix: str, *, expires_at: int | None = None) -> str:
    """The signing query string (Policy, Signature, Key-Pair-Id, Hash-Algorithm) of a custom
    policy whose resource is every object under `prefix`: appended to each of their URLs."""
    from datetime import datetime

    signer = _signer()
    until = datetime.fromtimestamp(expires_at or expiry(), tz=UTC)
    resource = url_of(prefix) + "*"
    policy = signer.build_policy(resource, until)
    signed = str(signer.generate_presigned_url(resource, policy=policy))
    return signed.partition("?")[2] + f"&Hash-Algorithm={HASH_ALGORITHM}"
