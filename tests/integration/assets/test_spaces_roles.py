"""Role x endpoint matrix of the shared spaces (issue 20): every space route, and every asset route on
an asset in a space, called by its owner, an editor, a viewer, a non-member and anonymously.

An allowed caller gets the success status; a member whose role is too low 403; a non-member 404
(a space's existence, and its assets', never leak); without a token 401. Each case runs in a fresh
space, so destructive calls cannot leak into the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.routes import ROUTES
from tests.client import call
from tests.integration.assets.space_world import ROLES, Team, add, team
from tests.integration.social import Member, member

NON_MEMBER = "non-member"
ANONYMOUS = "anonymous"
CALLERS = (*ROLES, NON_MEMBER, ANONYMOUS)
ANYONE = frozenset((*ROLES, NON_MEMBER))


def at_least(role: str) -> frozenset[str]:
    return frozenset(ROLES[ROLES.index(role) :])


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {space}, {target} (a viewer), {editor}, {asset} (the owner's, ready), {mine} (the caller's)
    allowed: frozenset[str]
    ok: int
    body: dict[str, Any] | None = None

    def expected(self, caller: str) -> int:
        if caller == ANONYMOUS:
            return 401
        if caller in self.allowed:
            return self.ok
        return 404 if caller == NON_MEMBER else 403


ENDPOINTS = (
    Endpoint("POST", "/spaces", ANYONE, 201, {"name": "another"}),
    Endpoint("GET", "/spaces", ANYONE, 200),
    Endpoint("GET", "/spaces/{space}", at_least("viewer"), 200),
    Endpoint("PATCH", "/spaces/{space}", at_least("owner"), 200, {"name": "renamed"}),
    Endpoint("PATCH", "/spaces/{space}", at_least("owner"), 200, {"quota_bytes": 1}),
    Endpoint("DELETE", "/spaces/{space}", at_least("owner"), 204),
    Endpoint("GET", "/spaces/{space}/members", at_least("viewer"), 200),
    Endpoint("POST", "/spaces/{space}/members", at_least("editor"), 201, {"username": "{newcomer}", "role": "viewer"}),
    Endpoint("POST", "/spaces/{space}/members", at_least("owner"), 201, {"username": "{newcomer}", "role": "editor"}),
    Endpoint("PATCH", "/spaces/{space}/members/{target}", at_least("editor"), 200, {"role": "viewer"}),
    Endpoint("PATCH", "/spaces/{space}/members/{target}", at_least("owner"), 200, {"role": "editor"}),
    Endpoint("DELETE", "/spaces/{space}/members/{target}", at_least("editor"), 204),
    Endpoint("PATCH", "/spaces/{space}/owner", at_least("owner"), 200, {"user_id": "{editor}"}),
)


@dataclass
class World:
    team: Team
    outsider: Member
    target: Member  # a second viewer
    newcomer: Member  # no member yet

    def caller(self, role: str) -> Member | None:
        if role == ANONYMOUS:
            return None
        return self.outsider if role == NON_MEMBER else self.team[role]

    def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        return value.format(
            space=self.team.space,
            target=self.target.id,
            editor=self.team["editor"].id,
            newcomer=self.newcomer.username,
        )


def _world() -> World:
    world = team()
    target = member()
    assert add(world.space, world["owner"], target, "viewer").status == 201
    return World(world, member(), target, member())


CASES = [(e, c) for e in ENDPOINTS for c in CALLERS]


def _id(endpoint: Endpoint, caller: str) -> str:
    return f"{endpoint.method} {endpoint.path} {sorted(endpoint.body or {})} as {caller}"


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[_id(e, c) for e, c in CASES])
def test_role_matrix(db: str, s3_endpoint: str, endpoint: Endpoint, role: str) -> None:
    world = _world()
    who = world.caller(role)
    answer = call(
        endpoint.method,
        "/api/v1" + world.fill(endpoint.path),
        world.fill(endpoint.body),
        token=who.token if who else None,
    )
    expected = endpoint.expected(role)
    assert answer.status == expected, answer.body
    if expected >= 400:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}[expected]
        assert answer.error_code == code


SPACE_ROUTES = {(r.method, r.path) for r in ROUTES if r.path.startswith("/api/v1/spaces")}


def test_the_matrix_covers_every_space_route() -> None:
    names = {"space": "space_id", "target": "user_id"}
    spelled = {(e.method, "/api/v1" + e.path.format(**{k: "{" + v + "}" for k, v in names.items()})) for e in ENDPOINTS}
    assert spelled >= SPACE_ROUTES


def test_a_deleted_space_is_404_even_for_its_owner(db: str, s3_endpoint: str) -> None:
    world = _world()
    owner = world.team["owner"]
    assert call("DELETE", f"/api/v1/spaces/{world.team.space}", token=owner.token).status == 204
    for endpoint in ENDPOINTS:
        if "{space}" not in endpoint.path:
            continue
        answer = call(
            endpoint.method, "/api/v1" + world.fill(endpoint.path), world.fill(endpoint.body), token=owner.token
        )
        assert (answer.status, answer.error_code) == (404, "not_found"), endpoint


def test_a_space_id_that_is_not_a_uuid_is_404(db: str) -> None:
    assert call("GET", "/api/v1/spaces/not-a-uuid", token=member().token).status == 404
