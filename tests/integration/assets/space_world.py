"""Helpers of the shared-spaces tests: a space with an owner, an editor and a viewer; uploads into it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import text

from core import db as core_db
from tests.client import Answer, call
from tests.integration.social import Member, member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120
ROLES = ("viewer", "editor", "owner")


@dataclass
class Team:
    space: str
    people: dict[str, Member]

    def __getitem__(self, role: str) -> Member:
        return self.people[role]


def new_space(owner: Member, name: str = "Holiday", **extra: Any) -> dict[str, Any]:
    answer = call("POST", "/api/v1/spaces", {"name": name, **extra}, token=owner.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def add(space: str, actor: Member, who: Member, role: str) -> Answer:
    return call("POST", f"/api/v1/spaces/{space}/members", {"username": who.username, "role": role}, token=actor.token)


def team(**extra: Any) -> Team:
    owner, editor, viewer = member(), member(), member()
    space = new_space(owner, **extra)["id"]
    assert add(space, owner, editor, "editor").status == 201
    assert add(space, owner, viewer, "viewer").status == 201
    return Team(space, {"owner": owner, "editor": editor, "viewer": viewer})


def start(who: Member, space: str | None, size: int = len(PNG), **body: Any) -> Answer:
    payload = {"filename": "cat.png", "content_type": "image/png", "size": size, **body}
    if space is not None:
        payload["space_id"] = space
    return call("POST", "/api/v1/assets/uploads", payload, token=who.token)


def upload(who: Member, space: str | None, data: bytes = PNG, **body: Any) -> dict[str, Any]:
    answer = start(who, space, size=len(data), **body)
    assert answer.status == 201, answer.body
    put = answer.body["upload"]
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=10).status_code == 200
    return dict(answer.body["asset"])


def mark_ready(asset_id: str) -> None:
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET status = 'ready' WHERE id = :i"), {"i": asset_id})


def ready(who: Member, space: str | None, **body: Any) -> dict[str, Any]:
    asset = upload(who, space, **body)
    mark_ready(asset["id"])
    return asset


def counters(space: str) -> tuple[int, int, int | None]:
    """(used_bytes, reserved_bytes, quota_bytes) as stored."""
    with core_db.get_engine().connect() as conn:
        row = conn.execute(
            text("SELECT used_bytes, reserved_bytes, quota_bytes FROM spaces WHERE id = :s"), {"s": space}
        ).one()
    return int(row.used_bytes), int(row.reserved_bytes), row.quota_bytes


def audit_actions(space: str) -> list[str]:
    with core_db.get_engine().connect() as conn:
        return list(
            conn.execute(
                text("SELECT action FROM audit_events WHERE space_id = :s ORDER BY created_at, id"), {"s": space}
            ).scalars()
        )
