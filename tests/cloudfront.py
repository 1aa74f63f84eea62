"""What CloudFront checks of a signed URL, for tests: no CloudFront runs here, so the signature
and the policy are verified with the key group's public key as the edge would
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-custom-policy.html)."""

from __future__ import annotations

import base64
import fnmatch
import json
import time
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

KEY_PAIR_ID = "K2TESTKEYPAIR"
DOMAIN = "d111111abcdef8.cloudfront.net"
SIGNING_PARAMETERS = ("Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm")


@lru_cache(maxsize=1)
def key_pair() -> tuple[str, Any]:
    """(private key PEM, public key) of a throwaway RSA 2048 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def env() -> dict[str, str]:
    """The settings of a stage with the CDN, signing with the throwaway key."""
    return {"CDN_DOMAIN": DOMAIN, "CDN_KEY_PAIR_ID": KEY_PAIR_ID, "CDN_PRIVATE_KEY": key_pair()[0]}


def _b64(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def policy_of(url: str) -> dict[str, Any]:
    """The policy statement a signed URL carries (custom) or implies (canned)."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    if "Policy" in query:
        return dict(json.loads(_b64(query["Policy"]))["Statement"][0])
    return {"Resource": unsigned(url), "Condition": {"DateLessThan": {"AWS:EpochTime": int(query["Expires"])}}}


def unsigned(url: str) -> str:
    """The URL without CloudFront's signing parameters (what a canned policy's Resource is)."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.partition("=")[0] not in SIGNING_PARAMETERS]  # as written
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{'&'.join(kept)}" if kept else "")


def allows(url: str, public_key: Any = None, now: float | None = None) -> bool:
    """Whether CloudFront would serve this URL: signed by the key, the resource matches, not expired."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    public_key = public_key or key_pair()[1]
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    if query.get("Key-Pair-Id") != KEY_PAIR_ID or "Signature" not in query:
        return False
    if "Policy" in query:
        signed = _b64(query["Policy"])
    elif "Expires" in query:
        statement = {
            "Statement": [
                {"Resource": unsigned(url), "Condition": {"DateLessThan": {"AWS:EpochTime": int(query["Expires"])}}}
            ]
        }
        signed = json.dumps(statement, separators=(",", ":")).encode()
    else:
        return False
    if query.get("Hash-Algorithm") != "SHA256":  # what core.cdn signs with (SHA-1 is CloudFront's default)
        return False
    try:
        public_key.verify(_b64(query["Signature"]), signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    statement = json.loads(signed)["Statement"][0]
    resource = statement["Resource"]
    if not fnmatch.fnmatchcase(unsigned(url), resource):  # "*" matches any characters, "/" included
        return False
    return (time.time() if now is None else now) < statement["Condition"]["DateLessThan"]["AWS:EpochTime"]
