"""Security, in one place, over every route of the table (issue 9): other people's ids, bad tokens,
hostile strings in every text field and query parameter, CORS from a foreign origin."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from core.routes import ROUTES, Route
from tests.client import call
from tests.conftest import ROOT
from tests.integration.social import Member, member

SECRET = "owner-secret-" + uuid.uuid4().hex  # appears in everything the owner creates
AUTH_ROUTES = [r for r in ROUTES if r.auth]
# Authenticated, but open to everyone by design: anyone may like or comment on a public post.
OPEN_TO_ANY_USER = {
    ("POST", "/api/v1/posts/{post_id}/likes"),
    ("DELETE", "/api/v1/posts/{post_id}/likes"),
    ("POST", "/api/v1/posts/{post_id}/comments"),
}
HOSTILE = [
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "%' OR '%'='",
    "\\",
    "x" * 20_000,
    "😀" * 300,
    "<script>x</script>",
]


def _sample_body(route: Route) -> Any:
    """The body of the route's sample event in events/, so requests get past validation."""
    for path in sorted((ROOT / "events" / route.function).glob("*.json")):
        event = json.loads(Path(path).read_text())
        if event.get("httpMethod") == route.method and event.get("resource") == route.path and event.get("body"):
            return json.loads(event["body"])
    return None


def _fill(route: Route, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route.path)


@pytest.fixture
def owners_world(db: str, s3_endpoint: str) -> tuple[Member, dict[str, str]]:
    """One user's post, comment, asset with a share, room with a message and an invitation, space, group."""
    from sqlalchemy import text

    from core import db as core_db

    owner = member("owner")
    teammate = member("teammate")
    post = call("POST", "/api/v1/posts", {"content": SECRET}, token=owner.token).body
    comment = call("POST", f"/api/v1/posts/{post['id']}/comments", {"content": SECRET}, token=owner.token).body
    upload = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": f"{SECRET}.png", "content_type": "image/png", "size": 10},
        token=owner.token,
    ).body
    asset_id = upload["asset"]["id"]
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET status = 'ready'"))
    share = call("POST", f"/api/v1/assets/{asset_id}/shares", {}, token=owner.token).body
    room = call("POST", "/api/v1/rooms", {"name": SECRET[:50]}, token=owner.token).body
    invitation = call(
        "POST", f"/api/v1/rooms/{room['id']}/invitations", {"username": "teammate"}, token=owner.token
    ).body
    message = call("POST", f"/api/v1/rooms/{room['id']}/messages", {"content": SECRET}, token=owner.token).body
    image = call(
        "POST", f"/api/v1/rooms/{room['id']}/images", {"content_type": "image/png", "size": 10}, token=owner.token
    ).body
    space = call("POST", "/api/v1/spaces", {"name": SECRET[:50]}, token=owner.token).body
    group = call("POST", "/api/v1/groups", {"name": SECRET[:50], "members": ["teammate"]}, token=owner.token).body
    ids = {
        "post_id": post["id"],
        "comment_id": comment["id"],
        "asset_id": asset_id,
        "share": share["id"],
        "room_id": room["id"],
        "user_id": owner.id,
        "message_id": message["message"]["id"],
        "token": invitation["token"],
        "space_id": space["id"],
        "group_id": group["id"],
        "image_id": image["image"]["id"],
    }
    assert teammate.id
    return owner, ids


def test_other_peoples_ids_give_nothing_away(owners_world: tuple[Member, dict[str, str]]) -> None:
    _, ids = owners_world
    intruder = member("intruder")
    checked = 0
    for route in AUTH_ROUTES:
        if "{" not in route.path or (route.method, route.path) in OPEN_TO_ANY_USER:
            continue
        answer = call(route.method, _fill(route, ids), _sample_body(route), token=intruder.token)
        assert answer.status in (403, 404), (route, answer.status, answer.body)
        assert SECRET not in json.dumps(answer.body), route
        checked += 1
    assert checked >= 20


def _bad_tokens(valid: str) -> list[str]:
    claims = jwt.decode(valid, options={"verify_signature": False})
    now = int(time.time())
    return [
        "",
        "not-a-jwt",
        jwt.encode({**claims, "exp": now - 1}, "t" * 40, algorithm="HS256", headers={"kid": "test-2"}),
        jwt.encode(claims, key=None, algorithm="none"),
        jwt.encode(claims, "w" * 40, algorithm="HS256", headers={"kid": "test-2"}),
        jwt.encode({**claims, "aud": "elsewhere"}, "t" * 40, algorithm="HS256", headers={"kid": "test-2"}),
    ]


def test_every_auth_route_refuses_bad_tokens(owners_world: tuple[Member, dict[str, str]]) -> None:
    owner, ids = owners_world
    for route in AUTH_ROUTES:
        for bad in _bad_tokens(owner.token):
            answer = call(route.method, _fill(route, ids), _sample_body(route), token=bad or None)
            assert answer.status == 401, (route, bad[:20], answer.status)


def _strings(body: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in _strings(v, (*path, k))]
    if isinstance(body, list):
        return [p for i, v in enumerate(body) for p in _strings(v, (*path, i))]
    return [path] if isinstance(body, str) else []


def _replace(body: Any, path: tuple[Any, ...], value: str) -> Any:
    body = json.loads(json.dumps(body))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def test_hostile_strings_in_every_text_field_never_break_anything(
    owners_world: tuple[Member, dict[str, str]],
) -> None:
    owner, ids = owners_world
    tried = 0
    for route in ROUTES:
        body = _sample_body(route)
        if body is None or route.path.endswith("/logout"):
            continue
        for field in _strings(body):
            for value in HOSTILE:
                answer = call(route.method, _fill(route, ids), _replace(body, field, value), token=owner.token)
                assert answer.status < 500, (route, field, value[:30], answer.body)
                tried += 1
    assert tried > 50


@pytest.mark.parametrize("param", ["q", "tag", "content_type", "cursor", "author", "limit", "from", "to"])
def test_hostile_strings_in_every_query_parameter_never_break_anything(
    owners_world: tuple[Member, dict[str, str]], param: str
) -> None:
    owner, ids = owners_world
    for route in ROUTES:
        if route.method != "GET":
            continue
        for value in HOSTILE:
            answer = call("GET", _fill(route, ids), token=owner.token if route.auth else None, query=[(param, value)])
            assert answer.status < 500, (route, param, value[:30])
    with_users = call("GET", "/api/v1/posts", query=[("author", "owner")]).body["items"]
    assert [p["content"] for p in with_users] == [SECRET]  # and the table is still there


def test_download_names_cannot_inject_headers(owners_world: tuple[Member, dict[str, str]]) -> None:
    owner, ids = owners_world
    for name in ("a\r\nSet-Cookie: x=1.png", "a\nb.png"):
        answer = call("PATCH", f"/api/v1/assets/{ids['asset_id']}", {"filename": name}, token=owner.token)
        assert answer.status == 422
    answer = call("PATCH", f"/api/v1/assets/{ids['asset_id']}", {"filename": 'x"; y=1;\\.png'}, token=owner.token)
    assert answer.status == 200
    url = call("GET", f"/api/v1/assets/{ids['asset_id']}/download", token=owner.token).body["url"]
    disposition = requests.utils.unquote(url.split("response-content-disposition=")[1].split("&")[0])
    assert "\r" not in disposition and "\n" not in disposition and disposition.count('"') == 2


def test_cors_answers_only_allowed_origins(db: str) -> None:
    allowed = call("GET", "/api/v1/posts", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == ["http://localhost:3000"]
    foreign = call("GET", "/api/v1/posts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
