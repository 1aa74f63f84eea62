"""Role x endpoint matrix: every rooms endpoint, called by every role and by a non-member.

A role that is allowed gets the success status; a member whose role is too low
gets 403; a non-member gets 404 (the room's existence is not leaked). Each case
runs in a fresh room, so destructive calls (delete, transfer) cannot leak.
Also: every route refuses a missing token (401), and a deleted room is 404 for
everyone, its master included.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from core.routes import BASE_PATH, routes_of
from tests.client import call
from tests.integration.rooms.rooms_helpers import ROLES, Person, Team, add_member, person, sent, team

NON_MEMBER = "non-member"
CALLERS = (NON_MEMBER, *ROLES)
ANYONE = frozenset(CALLERS)


def at_least(role: str) -> frozenset[str]:
    return frozenset(ROLES[ROLES.index(role) :])


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {room}, {target}, {message}, {prompt}, {link} are filled from the world
    allowed: frozenset[str]
    ok: int
    body: dict[str, Any] | None = None
    # What a caller outside `allowed` gets when the rule is not about the room role.
    refused: int | None = None

    def expected(self, caller: str) -> int:
        if caller in self.allowed:
            return self.ok
        if self.refused is not None:
            return self.refused
        return 404 if caller == NON_MEMBER else 403


ENDPOINTS = (
    Endpoint("POST", "/rooms", ANYONE, 201, {"name": "another"}),
    Endpoint("GET", "/rooms", ANYONE, 200),
    Endpoint("GET", "/rooms/{room}", at_least("reader"), 200),
    Endpoint("PATCH", "/rooms/{room}", at_least("admin"), 200, {"description": "new"}),
    Endpoint("DELETE", "/rooms/{room}", at_least("master"), 204),
    Endpoint("POST", "/rooms/{room}/read", at_least("reader"), 204, {"seq": 1}),
    Endpoint("GET", "/rooms/{room}/members", at_least("reader"), 200),
    Endpoint("PATCH", "/rooms/{room}/members/{target}", at_least("admin"), 200, {"role": "reader"}),
    Endpoint("DELETE", "/rooms/{room}/members/{target}", at_least("admin"), 204),
    Endpoint("PATCH", "/rooms/{room}/owner", at_least("master"), 200, {"user_id": "{admin}"}),
    Endpoint("POST", "/rooms/{room}/invitations", at_least("admin"), 201, {"role": "member"}),
    # A group the caller manages, of everyone (tests/integration/rooms/test_rooms_groups.py: whose groups).
    Endpoint("POST", "/rooms/{room}/invitations", at_least("admin"), 201, {"group_id": "{group}"}),
    Endpoint("GET", "/invitations", ANYONE, 200),
    # A link invitation: anyone holding it may accept once; members already are (409).
    Endpoint("POST", "/invitations/{link}/accept", frozenset({NON_MEMBER}), 200, refused=409),
    Endpoint("POST", "/invitations/{link}/decline", ANYONE, 204),
    Endpoint("GET", "/rooms/{room}/messages", at_least("reader"), 200),
    Endpoint("GET", "/rooms/{room}/messages/{message}", at_least("reader"), 200),
    Endpoint("POST", "/rooms/{room}/messages", at_least("guest"), 201, {"content": "hi"}),
    Endpoint("POST", "/rooms/{room}/messages", at_least("member"), 201, {"content": "hi", "invoke_ai": True}),
    # {message} was written by a guest who is not the caller: author-or-admin leaves admin+.
    Endpoint("PATCH", "/rooms/{room}/messages/{message}", at_least("admin"), 200, {"exclude_from_ai": True}),
    Endpoint("DELETE", "/rooms/{room}/messages/{message}", at_least("admin"), 204),
    Endpoint("POST", "/rooms/{room}/messages/{prompt}/regenerate", at_least("member"), 202),
    # Images (issue 19.5): uploading is member+; an image of a public message, reader+.
    Endpoint("POST", "/rooms/{room}/images", at_least("member"), 201, {"content_type": "image/png", "size": 100}),
    Endpoint("GET", "/rooms/{room}/images/{image}", at_least("reader"), 200),
    Endpoint("POST", "/rooms/{room}/forks", at_least("member"), 201, {"name": "fork"}),
    # The team's room is no fork: 404 for everyone (tests/integration/room_forks covers a fork's progress).
    Endpoint("GET", "/rooms/{room}/fork", frozenset(), 200, refused=404),
)


@dataclass
class World:
    team: Team
    outsider: Person
    target: Person  # a second guest, below admin, the author of {message}
    message: str
    prompt: str
    link: str
    group: str
    everyone: list[str]
    image: str = ""

    def caller(self, role: str) -> Person:
        return self.outsider if role == NON_MEMBER else self.team[role]

    def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        return value.format(
            room=self.team.room,
            target=self.target.id,
            message=self.message,
            prompt=self.prompt,
            link=self.link,
            admin=self.team["admin"].id,
            group=self.group,
            image=self.image,
        )


def _world() -> World:
    room = team()
    target = person()
    add_member(room.room, target, "guest")
    message = sent(room.room, target, "by the target")["message"]["id"]
    prompt = sent(room.room, room["member"], "question", invoke_ai=True)["message"]["id"]
    link = call("POST", f"/api/v1/rooms/{room.room}/invitations", {}, token=room["admin"].token).body["token"]
    outsider, newcomer = person(), person()
    everyone = [p.username for p in (*room.people.values(), outsider, newcomer)]
    group = _group_of(room["master"], everyone)  # the role matrix makes one per caller
    image = str(uuid.uuid4())  # the member's, on their public question (as if checked already)
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO room_images (id, room_id, uploader_id, message_id, position, image_key, content_type, "
                "size, status) VALUES (:i, :r, :u, :m, 0, :k, 'image/png', 100, 'ready')"
            ),
            {"i": image, "r": room.room, "u": room["member"].id, "m": prompt, "k": f"room-images/x/{image}.png"},
        )
    return World(room, outsider, target, message, prompt, link, group=group, everyone=everyone, image=image)


def _group_of(manager: Person, everyone: list[str]) -> str:
    """Only a group's manager may invite it (the others were added without being asked)."""
    members = [name for name in everyone if name != manager.username]
    group = call("POST", "/api/v1/groups", {"name": "all", "members": members}, token=manager.token)
    assert group.status == 201, group.body
    return str(group.body["id"])


CASES = [(e, c) for e in ENDPOINTS for c in CALLERS]


def _variant(endpoint: Endpoint) -> str:
    body = endpoint.body or {}
    return " +ai" if body.get("invoke_ai") else " +group" if "group_id" in body else ""


@pytest.mark.parametrize(
    ("endpoint", "role"),
    CASES,
    ids=[f"{e.method} {e.path}{_variant(e)} as {c}" for e, c in CASES],
)
def test_role_matrix(db: str, endpoint: Endpoint, role: str, request: pytest.FixtureRequest) -> None:
    if "/images" in endpoint.path:
        request.getfixturevalue("s3_endpoint")  # presigned uploads need the bucket's settings
    world = _world()
    if "group_id" in (endpoint.body or {}):
        world.group = _group_of(world.caller(role), world.everyone)
    answer = call(
        endpoint.method,
        "/api/v1" + world.fill(endpoint.path),
        world.fill(endpoint.body),
        token=world.caller(role).token,
    )
    expected = endpoint.expected(role)
    assert answer.status == expected, answer.body
    if expected >= 400:
        assert answer.error_code == {403: "forbidden", 404: "not_found", 409: "conflict"}[expected]


def test_the_matrix_covers_every_rooms_route() -> None:
    covered = {(e.method, "/api/v1" + e.path) for e in ENDPOINTS}
    names = {
        "room": "room_id",
        "target": "user_id",
        "message": "message_id",
        "prompt": "message_id",
        "link": "token",
        "image": "image_id",
    }
    spelled = {(m, p.format(**{k: "{" + v + "}" for k, v in names.items()})) for m, p in covered}
    groups = f"{BASE_PATH}/groups"  # not a room's: test_rooms_groups.py has their matrix
    mine = f"{BASE_PATH}/me/"  # my balance: no role in any room (test_rooms_balances.py)
    assert spelled == {(r.method, r.path) for r in routes_of("rooms") if not r.path.startswith((groups, mine))}


@pytest.mark.parametrize("route", routes_of("rooms"), ids=lambda r: f"{r.method} {r.path}")
def test_every_route_needs_a_token(route: Any) -> None:
    path = route.path
    for name in ("room_id", "user_id", "message_id", "token", "group_id"):
        path = path.replace("{" + name + "}", "6f0c6d36-1d7e-4b8e-9a57-9d7b1b0f8c11")
    assert call(route.method, path, {}).status == 401


@pytest.mark.parametrize(
    "endpoint",
    [e for e in ENDPOINTS if "{room}" in e.path],
    ids=lambda e: f"{e.method} {e.path}{_variant(e)}",
)
def test_a_deleted_room_is_404_even_for_its_master(db: str, endpoint: Endpoint) -> None:
    world = _world()
    master = world.team["master"]
    assert call("DELETE", f"/api/v1/rooms/{world.team.room}", token=master.token).status == 204
    answer = call(endpoint.method, "/api/v1" + world.fill(endpoint.path), world.fill(endpoint.body), token=master.token)
    assert answer.status == 404, answer.body
    rooms = call("GET", "/api/v1/rooms", token=master.token).body["items"]
    assert rooms == []


def test_an_unknown_room_is_404_like_a_foreign_one(db: str) -> None:
    someone = person()
    unknown = "0b6f3c3e-6a8e-4c55-9a61-2f4b8c1e7f10"
    for method, path in (("GET", ""), ("GET", "/messages"), ("GET", "/members"), ("POST", "/messages")):
        answer = call(method, f"/api/v1/rooms/{unknown}{path}", {"content": "x"}, token=someone.token)
        assert (answer.status, answer.error_code) == (404, "not_found")
    assert call("GET", "/api/v1/rooms/not-a-uuid", token=someone.token).status == 404
