"""Helpers for the social tests: users with tokens, posts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.client import call


@dataclass(frozen=True)
class Member:
    id: str
    username: str
    token: str


def member(name: str | None = None) -> Member:
    name = name or f"u{uuid.uuid4().hex[:12]}"
    answer = call(
        "POST", "/api/v1/auth/register", {"email": f"{name}@example.com", "username": name, "password": "p" * 10}
    )
    assert answer.status == 201, answer.body
    return Member(answer.body["user"]["id"], name, answer.body["access_token"])


def post(author: Member, content: str = "hello", **extra: Any) -> dict[str, Any]:
    answer = call("POST", "/api/v1/posts", {"content": content, **extra}, token=author.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)
