"""core.auth.verify_access_token: the stdlib verifier accepts what issue_access_token (PyJWT) writes,
and refuses every token PyJWT's own decode refuses, with the same claims and options."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import jwt
import pytest

from core.auth import issue_access_token, signing_keys, verify_access_token
from core.config import get_settings
from core.errors import Unauthorized

USER = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
SESSION = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    settings, now = get_settings(), int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(USER),
        "sid": str(SESSION),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not ...}


def _signed(
    claims: dict[str, Any], kid: Any = None, alg: str = "HS256", key: bytes | None = None, **header: Any
) -> str:
    keys = signing_keys()
    kid = keys.current_kid if kid is None else kid
    secret = key if key is not None else keys.secrets.get(str(kid), b"x" * 40)
    return jwt.encode(claims, secret, algorithm=alg, headers={"kid": kid, **header})


def _raw(header: dict[str, Any], payload: bytes, key: bytes | None = None) -> str:
    """A token PyJWT would not write: any payload bytes, signed with our current key."""
    keys = signing_keys()
    head = _b64(json.dumps(header).encode())
    body = _b64(payload)
    sig = hmac.new(key or keys.secrets[keys.current_kid], f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def _tampered(token: str) -> str:
    """Another subject, the original signature."""
    head, _, signature = token.split(".")
    return f"{head}.{_b64(json.dumps(_claims(sub=str(uuid.uuid4()))).encode())}.{signature}"


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key=None, algorithm="none", headers={"kid": signing_keys().current_kid})  # type: ignore[arg-type]


def _without(claim: str) -> str:
    return _signed(_claims(**{claim: ...}))


def _pyjwt_accepts(token: str) -> bool:
    """What verify_access_token did with PyJWT."""
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
        secret = signing_keys().secrets.get(str(header.get("kid")))
        if secret is None or header.get("alg") != "HS256":
            return False
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid", "jti"]},
        )
        uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        return False
    return True


def test_a_token_we_issue_is_accepted() -> None:
    token = issue_access_token(USER, SESSION)
    claims = verify_access_token(token)
    assert (claims.user_id, claims.session_id) == (USER, SESSION)
    assert claims.jti == jwt.decode(token, options={"verify_signature": False})["jti"]
    assert claims.expires_at == jwt.decode(token, options={"verify_signature": False})["exp"]


def test_a_token_of_an_older_key_still_in_the_set_is_accepted() -> None:
    keys = signing_keys()
    older = [kid for kid in keys.secrets if kid != keys.current_kid]
    assert older, "the test settings hold two keys"
    assert verify_access_token(_signed(_claims(), kid=older[0])).user_id == USER


def test_an_expired_token_says_so() -> None:
    token = issue_access_token(USER, SESSION, ttl_s=-1)
    with pytest.raises(Unauthorized, match="expired"):
        verify_access_token(token)
    assert not _pyjwt_accepts(token)


REFUSED: dict[str, Callable[[], str]] = {
    "empty": lambda: "",
    "two segments": lambda: ".".join(issue_access_token(USER, SESSION).split(".")[:2]),
    "four segments": lambda: issue_access_token(USER, SESSION) + ".x",
    "garbage": lambda: "a.b.c",
    "padded": lambda: ".".join(part + "=" for part in issue_access_token(USER, SESSION).split(".")),
    "too long": lambda: _signed(_claims(pad="x" * 5000)),
    "other key": lambda: _signed(_claims(), key=b"w" * 40),
    "unknown kid": lambda: _signed(_claims(), kid="nope", key=b"t" * 40),
    "kid not a string": lambda: _raw({"alg": "HS256", "kid": 2}, json.dumps(_claims()).encode()),
    "no kid": lambda: _raw({"alg": "HS256"}, json.dumps(_claims()).encode()),
    "alg none": lambda: _unsigned(_claims()),
    "alg HS512": lambda: _signed(_claims(), alg="HS512"),
    "alg lower case": lambda: _raw({"alg": "hs256", "kid": signing_keys().current_kid}, json.dumps(_claims()).encode()),
    "crit header": lambda: _signed(_claims(), crit=["exp"]),
    "unencoded payload": lambda: _signed(_claims(), b64=False),
    "payload not JSON": lambda: _raw({"alg": "HS256", "kid": signing_keys().current_kid}, b"{nope"),
    "payload a list": lambda: _raw({"alg": "HS256", "kid": signing_keys().current_kid}, b"[1, 2]"),
    "tampered payload": lambda: _tampered(issue_access_token(USER, SESSION)),
    "tampered signature": lambda: issue_access_token(USER, SESSION)[:-2] + "AA",
    "wrong audience": lambda: _signed(_claims(aud="elsewhere")),
    "audience list without ours": lambda: _signed(_claims(aud=["a", "b"])),
    "wrong issuer": lambda: _signed(_claims(iss="someone")),
    "issued in the future": lambda: _signed(_claims(iat=int(time.time()) + 3600)),
    "not before the future": lambda: _signed(_claims(nbf=int(time.time()) + 3600)),
    "exp a string": lambda: _raw(
        {"alg": "HS256", "kid": signing_keys().current_kid}, json.dumps(_claims(exp="99999999999")).encode()
    ),
    "sub not a uuid": lambda: _signed(_claims(sub="ada")),
    "sid not a uuid": lambda: _signed(_claims(sid="1")),
    **{f"no {name}": partial(_without, name) for name in ("exp", "iat", "iss", "aud", "sub", "sid", "jti")},
}


# Signed with our key but never written by issue_access_token, and accepted by PyJWT: refused anyway.
STRICTER = {"exp a string", "too long"}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused(case: str) -> None:
    token = REFUSED[case]()
    with pytest.raises(Unauthorized):
        verify_access_token(token)
    assert _pyjwt_accepts(token) == (case in STRICTER), "the verifiers disagree"


def test_an_audience_list_holding_ours_is_accepted_as_pyjwt_does() -> None:
    token = _signed(_claims(aud=["other", get_settings().jwt_audience]))
    assert verify_access_token(token).user_id == USER
    assert _pyjwt_accepts(token)


def test_the_authorizer_path_does_not_import_jwt() -> None:
    """The point of the stdlib verifier: `jwt` (and with it `cryptography`) stays out of the authorizer."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from core.auth import issue_access_token, verify_access_token\n"
        "import uuid; token = issue_access_token(uuid.uuid4(), uuid.uuid4())\n"
        "for name in [m for m in sys.modules if m == 'jwt' or m.startswith(('jwt.', 'cryptography'))]:\n"
        "    del sys.modules[name]\n"
        "verify_access_token(token)\n"
        "print(sorted(m for m in sys.modules if m == 'jwt' or m.startswith(('jwt.', 'cryptography'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
