"""Passwords (bcrypt) and access tokens (HS256 JWT with a `kid`, so keys can rotate).

Signing keys come from settings locally and from a Secrets Manager secret in
the cloud (fetched once per container, boto3 imported only then).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.config import Settings, get_settings
from core.errors import Unauthorized

ALGORITHM = "HS256"  # pinned: tokens naming any other algorithm are refused
MAX_PASSWORD_BYTES = 72  # bcrypt's input limit; longer passwords are pre-hashed (_bcrypt_input)
MAX_PASSWORD_CHARS = 1024  # bounds the work per attempt; the schemas declare it
# Pre-hash key: a fixed, public domain separator so that a leaked plain SHA-256 of a password
# cannot be tried against our bcrypt hashes ("password shucking").
_PREHASH_KEY = b"social-serverless/bcrypt-prehash/v1"


@dataclass(frozen=True)
class SigningKeys:
    current_kid: str
    secrets: dict[str, bytes]


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    jti: str
    expires_at: int


def _parse_pairs(pairs: tuple[str, ...] | list[str]) -> SigningKeys:
    keys = {}
    for pair in pairs:
        kid, _, secret = pair.partition(":")
        keys[kid] = secret.encode()
    if not keys:
        raise RuntimeError("no JWT signing keys: set JWT_SIGNING_KEYS or JWT_SECRET_ARN")
    return SigningKeys(current_kid=next(iter(keys)), secrets=keys)


def _keys_from_secret(arn: str) -> SigningKeys:
    import boto3  # only when the keys live in Secrets Manager

    raw = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    document = json.loads(raw)
    if "keys" in document:  # {"keys": {"<kid>": "<secret>", ...}}, the signing key first (rotation)
        return _parse_pairs([f"{kid}:{secret}" for kid, secret in document["keys"].items()])
    return _parse_pairs([f"{document['kid']}:{document['secret']}"])  # as CDK generates it


@lru_cache(maxsize=1)
def signing_keys() -> SigningKeys:
    settings = get_settings()
    if settings.jwt_signing_keys:
        return _parse_pairs(settings.jwt_signing_keys)
    if settings.jwt_secret_arn:
        return _keys_from_secret(settings.jwt_secret_arn)
    raise RuntimeError("no JWT signing keys: set JWT_SIGNING_KEYS or JWT_SECRET_ARN")


def issue_access_token(
    user_id: uuid.UUID, session_id: uuid.UUID, settings: Settings | None = None, *, ttl_s: int | None = None
) -> str:
    """A signed access token for one sign-in session, valid for `ttl_s` (default ACCESS_TOKEN_TTL_S)."""
    import jwt

    settings = settings or get_settings()
    keys = signing_keys()
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + (settings.access_token_ttl_s if ttl_s is None else ttl_s),
    }
    return jwt.encode(claims, keys.secrets[keys.current_kid], algorithm=ALGORITHM, headers={"kid": keys.current_kid})


MAX_TOKEN_CHARS = 4096  # ours are ~330 characters; nothing longer is parsed
_REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "sid", "jti")
_B64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url(segment: str) -> bytes:
    """One unpadded base64url segment (RFC 7515), strictly: any other character refuses the token."""
    data = segment.encode("ascii")
    if not data or not _B64URL.issuperset(data) or len(data) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _json_object(segment: str) -> dict[str, Any]:
    value = json.loads(_b64url(segment))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    if type(value) is not int:  # bool is an int subclass: refused, as floats and strings are
        raise ValueError(f"{name} is not an integer")
    return value


def verify_access_token(token: str, settings: Settings | None = None) -> AccessClaims:
    """Signature, algorithm, kid, expiry, issuer and audience; anything off is Unauthorized.

    Verified with the standard library (HMAC-SHA256 over the first two segments, compared in constant
    time before the payload is parsed), not PyJWT: `import jwt` also imports `cryptography` whenever
    the layer ships it (core.cdn needs it), ~50 ms of the authorizer's cold start. Only what
    `issue_access_token` writes is accepted: compact JWS, header `alg` HS256 and a known `kid`, no
    `crit`, every claim present and of its type; `iat` and `nbf` may not be in the future.
    """
    settings = settings or get_settings()
    try:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise ValueError("not a compact JWS")
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = _json_object(header_b64)
        kid = header.get("kid")
        secret = signing_keys().secrets.get(kid) if isinstance(kid, str) else None
        if secret is None or header.get("alg") != ALGORITHM or "crit" in header or "b64" in header:
            raise ValueError("unexpected header")
        expected = hmac.new(secret, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url(signature_b64)):
            raise ValueError("bad signature")
        claims = _json_object(payload_b64)
        missing = [name for name in _REQUIRED_CLAIMS if name not in claims]
        if missing:
            raise ValueError(f"missing claims {missing}")
        now = time.time()
        expires_at = _int_claim(claims, "exp")
        if _int_claim(claims, "iat") > now or ("nbf" in claims and _int_claim(claims, "nbf") > now):
            raise ValueError("not yet valid")
        audience = claims["aud"]
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or settings.jwt_audience not in audiences:
            raise ValueError("audience")
        if claims["iss"] != settings.jwt_issuer:
            raise ValueError("issuer")
        subject, sid, jti = claims["sub"], claims["sid"], claims["jti"]
        if not (isinstance(subject, str) and isinstance(sid, str) and isinstance(jti, str)):
            raise ValueError("sub, sid and jti must be strings")
        user_id, session_id = uuid.UUID(subject), uuid.UUID(sid)
    except (ValueError, TypeError, KeyError, UnicodeError) as exc:  # json's and binascii's errors are ValueErrors
        raise Unauthorized("Invalid token") from exc
    if expires_at <= now:
        raise Unauthorized("Token expired")
    return AccessClaims(user_id=user_id, session_id=session_id, jti=jti, expires_at=expires_at)


def _bcrypt_input(password: str) -> bytes:
    """The password as bcrypt takes it. Up to 72 UTF-8 bytes, itself; longer, its HMAC-SHA-256
    in base64 (44 bytes, no NUL), so every character counts and no length is refused for bytes
    that JSON Schema cannot count. Short passwords keep the plain scheme of existing hashes."""
    encoded = password.encode()
    if len(encoded) <= MAX_PASSWORD_BYTES:
        return encoded
    return base64.b64encode(hmac.new(_PREHASH_KEY, encoded, hashlib.sha256).digest())


def hash_password(password: str, cost: int | None = None) -> str:
    import bcrypt

    rounds = cost or get_settings().bcrypt_cost
    return bcrypt.hashpw(_bcrypt_input(password), bcrypt.gensalt(rounds)).decode()


@lru_cache(maxsize=4)
def _dummy_hash(cost: int) -> bytes:
    import bcrypt

    return bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt(cost))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Same bcrypt work whether or not the user exists, so timing tells nothing."""
    import bcrypt

    encoded = _bcrypt_input(password)
    if password_hash is None:
        bcrypt.checkpw(encoded, _dummy_hash(get_settings().bcrypt_cost))
        return False
    return bool(bcrypt.checkpw(encoded, password_hash.encode()))
