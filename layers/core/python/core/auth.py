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

from core.config import FeatureSettings, setting
from core.errors import Unauthorized

ALGORITHM = "HS256"  # pinned: tokens naming any other algorithm are refused
MAX_PASSWORD_BYTES = 72  # bcrypt's input limit; longer passwords are pre-hashed (_bcrypt_input)
MAX_PASSWORD_CHARS = 1024  # bounds the work per attempt; the schemas declare it
# Pre-hash key: a fixed, public domain separator so that a leaked plain SHA-256 of a password
# cannot be tried against our bcrypt hashes ("password shucking").
_PREHASH_KEY = b"social-serverless/bcrypt-prehash/v1"


@dataclass(frozen=True, kw_only=True)
class AuthSettings(FeatureSettings):
    """Functions that sign or verify access tokens or check passwords (core.auth): auth, the authorizer."""

    # Keys are "kid:secret" pairs, the first one signs; in the cloud they come from the Secrets
    # Manager secret JWT_SECRET_ARN instead.
    jwt_signing_keys: tuple[str, ...] = setting(
        (),
        secret=True,
        shown="(generated)",
        doc="`kid:secret,...` (secrets of 32+ characters); the first signs, all verify. "
        "`make dev` generates one into `.local/jwt-signing-keys`",
    )
    jwt_secret_arn: str | None = setting(
        None,
        doc='in the cloud: Secrets Manager secret `{"keys": {"<kid>": "<secret>"}}` instead of `JWT_SIGNING_KEYS`',
    )
    jwt_issuer: str = setting("social-serverless", doc="`iss` of access tokens")
    jwt_audience: str = setting("social-serverless-api", doc="`aud` of access tokens")
    access_token_ttl_s: int = setting(900, ge=60, le=3600, doc="access token lifetime")
    bcrypt_cost: int = setting(12, ge=4, le=16, doc="bcrypt work factor (tests use 4)")

    def _consistency_problems(self) -> list[str]:
        problems = []
        for pair in self.jwt_signing_keys:
            kid, _, secret = pair.partition(":")
            if not kid or len(secret) < 32:
                problems.append("JWT_SIGNING_KEYS entries are kid:secret with a secret of 32+ characters")
        return problems


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
    settings = AuthSettings.current()
    if settings.jwt_signing_keys:
        return _parse_pairs(settings.jwt_signing_keys)
    if settings.jwt_secret_arn:
        return _keys_from_secret(settings.jwt_secret_arn)
    raise RuntimeError("no JWT signing keys: set JWT_SIGNING_KEYS or JWT_SECRET_ARN")


def issue_access_token(
    user_id: uuid.UUID, session_id: uuid.UUID, settings: AuthSettings | None = None, *, ttl_s: int | None = None
) -> str:
    """A signed access token for one sign-in session, valid for `ttl_s` (default ACCESS_TOKEN_TTL_S)."""
    import jwt

    settings = settings or AuthSettings.current()
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


def verify_access_token(token: str, settings: AuthSettings | None = None) -> AccessClaims:
    """Signature, algorithm, kid, expiry, issuer and audience; anything off is Unauthorized."""
    import jwt

    settings = settings or AuthSettings.current()
    try:
        header = jwt.get_unverified_header(token)
        secret = signing_keys().secrets.get(str(header.get("kid")))
        if secret is None or header.get("alg") != ALGORITHM:
            raise Unauthorized("Invalid token")
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid", "jti"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token expired") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError) as exc:
        raise Unauthorized("Invalid token") from exc


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

    rounds = cost or AuthSettings.current().bcrypt_cost
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
        bcrypt.checkpw(encoded, _dummy_hash(AuthSettings.current().bcrypt_cost))
        return False
    return bool(bcrypt.checkpw(encoded, password_hash.encode()))
