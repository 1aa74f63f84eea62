"""Warm latency and SQL statements of the main routes, through the real handlers, in one process.

For each route: p50 of --calls warm invocations (authorizer included for auth routes, as API
Gateway runs it) and the SQL statements one request runs. `bench/cost.py` prices these durations.

    .venv/bin/python -m bench.warm [--calls 300] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import Any

from bench.database import prepare_database, progress, start_database
from bench.timing import p50_ms


def _routes(token: str, post_id: str, room_id: str) -> dict[str, tuple[str, str, Any]]:
    return {
        "GET /posts": ("GET", "/api/v1/posts?limit=20", None),
        "POST /posts": ("POST", "/api/v1/posts", {"content": "warm"}),
        "POST /posts/{id}/likes": ("POST", f"/api/v1/posts/{post_id}/likes", None),
        "GET /posts/{id}/comments": ("GET", f"/api/v1/posts/{post_id}/comments?limit=20", None),
        "GET /auth/me": ("GET", "/api/v1/auth/me", None),
        "GET /assets": ("GET", "/api/v1/assets?limit=20", None),
        "POST /rooms/{id}/messages": ("POST", f"/api/v1/rooms/{room_id}/messages", {"content": "hi"}),
        "GET /rooms/{id}/messages": ("GET", f"/api/v1/rooms/{room_id}/messages?limit=20", None),
    }


def measure(calls: int) -> dict[str, dict[str, float]]:
    from tests.client import call
    from tests.statements import counting

    register = {"email": "warm@example.com", "username": "warm", "password": "warm bench password"}
    token = call("POST", "/api/v1/auth/register", register).body["access_token"]
    post_id = call("POST", "/api/v1/posts", {"content": "hot"}, token=token).body["id"]
    for i in range(20):
        call("POST", f"/api/v1/posts/{post_id}/comments", {"content": f"c{i}"}, token=token)
    room_id = call("POST", "/api/v1/rooms", {"name": "warm"}, token=token).body["id"]
    results: dict[str, dict[str, float]] = {}
    for name, (method, path, body) in _routes(token, post_id, room_id).items():
        answer = call(method, path, body, token=token)
        assert answer.status < 400, (name, answer.status, answer.body)
        with counting() as statements:
            call(method, path, body, token=token)
        ms = p50_ms(functools.partial(call, method, path, body, token=token), calls)
        results[name] = {"p50_ms": round(ms, 3), "statements": len(statements)}
        progress(f"{name}: p50 {ms:.2f} ms, {len(statements)} statements")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import os

    os.environ.setdefault("BCRYPT_COST", "4")
    server, url = start_database()
    try:
        prepare_database(url)
        results = measure(args.calls)
    finally:
        from core import db

        db.dispose_engine()
        server.destroy()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'route (authorizer + handler, warm)':<34} {'p50 ms':>8} {'SQL statements':>15}")
    for name, row in results.items():
        print(f"{name:<34} {row['p50_ms']:>8.2f} {row['statements']:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
