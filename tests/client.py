"""Calls the API in-process through the local gateway emulator, exactly as `make dev` serves it:
route matching, the authorizer on auth routes, then the function (no sockets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from local.gateway import Gateway, Request


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, list[str]]

    @property
    def error_code(self) -> str:
        return str(self.body["error"]["code"])


@lru_cache(maxsize=1)
def _gateway() -> Gateway:
    return Gateway()


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    ip: str = "203.0.113.7",
    raw_body: str | None = None,
    query: list[tuple[str, str]] | None = None,
) -> Answer:
    path, _, query_string = path.partition("?")
    target = quote(path, safe="/%")
    extra = urlencode(query or [])
    if query_string or extra:
        target += "?" + "&".join(q for q in (query_string, extra) if q)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    request = Request(method, target, list(all_headers.items()), (payload or "").encode(), source_ip=ip)
    reply = _gateway().handle(request)
    answer_headers: dict[str, list[str]] = {}
    for name, value in reply.headers:
        answer_headers.setdefault(name, []).append(value)
    return Answer(reply.status, json.loads(reply.body) if reply.body else None, answer_headers)
