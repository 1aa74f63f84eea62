"""Opaque bearer tokens (refresh tokens, share links, invitations): 256 random bits, stored hashed."""

from __future__ import annotations

import hashlib
import secrets


def digest(token: str) -> str:
    """What the database keeps instead of the token: a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A token for the client (URL-safe) and the digest to store."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)
