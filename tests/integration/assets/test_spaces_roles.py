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
from tests.integration.assets.space_world import ROLES, Team, add, ready, team
from tests.integration.social import Member, member

UPLOAD = {"filename": "cat.png", "content_type": "image/png", "size": 128}
NON_MEMBER = "non-member"
ANONYMOUS = "anonymous"
CALLERS = (*ROLES, NON_MEMBER, ANONYMOUS)
ANYONE = frozenset((*ROLES, NON_MEMBER))


def at_least(role: str) -> frozenset[str]:
    return frozenset(ROLES[ROLES.index(role) :])


@dataclass(frozen=True)
class Endpoint:
    # {space}, {target} (a second viewer), {editor}, {newcomer} (no member), {asset} (the owner's, ready,
    # in the space), {share} (a link of it), {mine} (the caller's own, in the space), {personal} (the
    # caller's own, in their library)
    method: str
    path: str
    allowed: frozenset[str]
    ok: int
    body: dict[str, Any] | None = None
    refused: int | None = None  # what a member outside `allowed` gets, when not 403

    def expected(self, caller: str) -> int:
        if caller == ANONYMOUS:
            return 401
        if caller in self.allowed:
            return self.ok
        if caller == NON_MEMBER:
            return 404
        return self.refused or 403


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
    Endpoint("GET", "/spaces/{space}/assets", at_least("viewer"), 200),
    Endpoint("GET", "/spaces/{space}/usage", at_least("viewer"), 200),
    Endpoint("GET", "/spaces/{space}/audit", at_least("owner"), 200),
    # Assets in the space.
    Endpoint("POST", "/assets/uploads", at_least("editor"), 201, {**UPLOAD, "space_id": "{space}"}),
    Endpoint("GET", "/assets/{asset}", at_least("viewer"), 200),
    Endpoint("PATCH", "/assets/{asset}", at_least("editor"), 200, {"tags": ["summer"]}),
    Endpoint("DELETE", "/assets/{asset}", at_least("editor"), 204),
    Endpoint("GET", "/assets/{asset}/download", at_least("viewer"), 200),
    Endpoint("GET", "/assets/{asset}/playback", at_least("viewer"), 409),  # past the role check: an image
    Endpoint("POST", "/assets/{asset}/shares", at_least("owner"), 201, {}),
    Endpoint("GET", "/assets/{asset}/shares", at_least("owner"), 200),
    Endpoint("DELETE", "/shares/{share}", at_least("owner"), 204, refused=404),  # not theirs: no such link
    # Moves: the asset's uploader, editor+ of both ends.
    Endpoint("POST", "/assets/{mine}/move", at_least("editor"), 200, {"space_id": None}),
    Endpoint("POST", "/assets/{personal}/move", at_least("editor"), 200, {"space_id": "{space}"}),
    Endpoint("POST", "/assets/{asset}/move", at_least("owner"), 200, {"space_id": None}),  # the owner uploaded it
)


@dataclass
class World:
    team: Team
    outsider: Member
    target: Member  # a second viewer
    newcomer: Member  # no member yet
    asset: str
    share: str
    mine: str
    personal: str

    def caller(self, role: str) -> Member | None:
        if role == ANONYMOUS:
            return None
        return self.outsider if role == NON_MEMBER else self.team[role]

    def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        if value == "{space}":
            return self.team.space
        return value.format(
            space=self.team.space,
            target=self.target.id,
            editor=self.team["editor"].id,
            newcomer=self.newcomer.username,
            asset=self.asset,
            share=self.share,
            mine=self.mine,
            personal=self.personal,
        )


def _world(role: str) -> World:
    """The team's space with the owner's ready asset and a link of it; the caller's own asset in the
    space (uploaded as an editor: a viewer was demoted since, a non-member removed) and in their library."""
    world = team()
    owner = world["owner"]
    target, outsider = member(), member()
    assert add(world.space, owner, target, "viewer").status == 201
    asset = ready(owner, world.space)["id"]
    share = call("POST", f"/api/v1/assets/{asset}/shares", {}, token=owner.token).body["id"]
    who = outsider if role in (NON_MEMBER, ANONYMOUS) else world[role]
    members = f"/api/v1/spaces/{world.space}/members"
    if role == "viewer":
        assert call("PATCH", f"{members}/{who.id}", {"role": "editor"}, token=owner.token).status == 200
    elif role in (NON_MEMBER, ANONYMOUS):
        assert add(world.space, owner, who, "editor").status == 201
    mine = ready(who, world.space)["id"]
    if role == "viewer":
        assert call("PATCH", f"{members}/{who.id}", {"role": "viewer"}, token=owner.token).status == 200
    elif role in (NON_MEMBER, ANONYMOUS):
        assert call("DELETE", f"{members}/{who.id}", token=owner.token).status == 204
    personal = ready(who, None)["id"]
    return World(world, outsider, target, member(), asset, share, mine, personal)


CASES = [(e, c) for e in ENDPOINTS for c in CALLERS]


def _id(endpoint: Endpoint, caller: str) -> str:
    return f"{endpoint.method} {endpoint.path} {sorted(endpoint.body or {})} as {caller}"


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[_id(e, c) for e, c in CASES])
def test_role_matrix(db: str, s3_endpoint: str, endpoint: Endpoint, role: str) -> None:
    world = _world(role)
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
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict"}[expected]
        assert answer.error_code == code


SPACE_ROUTES = {(r.method, r.path) for r in ROUTES if r.path.startswith("/api/v1/spaces") or r.path.endswith("/move")}


def test_the_matrix_covers_every_space_route() -> None:
    names = {"space": "space_id", "target": "user_id", "asset": "asset_id", "mine": "asset_id", "personal": "asset_id"}
    names["share"] = "share"
    spelled = {(e.method, "/api/v1" + e.path.format(**{k: "{" + v + "}" for k, v in names.items()})) for e in ENDPOINTS}
    assert spelled >= SPACE_ROUTES


def test_a_deleted_space_is_404_even_for_its_owner(db: str, s3_endpoint: str) -> None:
    world = _world("owner")
    owner = world.team["owner"]
    assert call("DELETE", f"/api/v1/spaces/{world.team.space}", token=owner.token).status == 204
    for endpoint in ENDPOINTS:
        if "{space}" not in endpoint.path or (endpoint.method == "POST" and endpoint.path == "/spaces"):
            continue
        answer = call(
            endpoint.method, "/api/v1" + world.fill(endpoint.path), world.fill(endpoint.body), token=owner.token
        )
        assert (answer.status, answer.error_code) == (404, "not_found"), endpoint


def test_a_space_id_that_is_not_a_uuid_is_404(db: str) -> None:
    assert call("GET", "/api/v1/spaces/not-a-uuid", token=member().token).status == 404
