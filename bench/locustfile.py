"""Mixed traffic for `make load` (run by bench/load.py, which starts the stack and checks the invariants).

Every virtual user registers, then mixes: reading the feed, posting, liking and commenting on
the shared hot posts, uploading an asset through its presigned URL, and talking in the shared
lobby room (invited by the load admin). Any 5xx is a failure.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

from locust import HttpUser, between, task

HOT_POSTS = [p for p in os.environ.get("LOAD_HOT_POSTS", "").split(",") if p]
LOBBY = os.environ.get("LOAD_LOBBY", "")
ADMIN_TOKEN = os.environ.get("LOAD_ADMIN_TOKEN", "")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256


class Member(HttpUser):
    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        name = f"load{uuid.uuid4().hex[:12]}"
        body = {"email": f"{name}@example.com", "username": name, "password": "load test password"}
        answer = self._call("POST", "/api/v1/auth/register", json=body, name="/auth/register")
        self.token = answer.json()["access_token"] if answer is not None and answer.status_code == 201 else ""
        relogin = {"email": body["email"], "password": body["password"]}
        self._call("POST", "/api/v1/auth/login", json=relogin, name="/auth/login")
        self.in_lobby = False
        if LOBBY and ADMIN_TOKEN and self.token:
            invite = self._call(
                "POST",
                f"/api/v1/rooms/{LOBBY}/invitations",
                json={"username": name, "role": "member"},
                name="/rooms/{id}/invitations",
                token=ADMIN_TOKEN,
            )
            if invite is not None and invite.status_code == 201:
                accepted = self._call(
                    "POST", f"/api/v1/invitations/{invite.json()['token']}/accept", name="/invitations/{token}/accept"
                )
                self.in_lobby = accepted is not None and accepted.status_code == 200

    def _call(self, method: str, path: str, *, name: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or getattr(self, 'token', '')}"}
        with self.client.request(method, path, name=name, headers=headers, catch_response=True, **kwargs) as response:
            if response.status_code >= 500 or response.status_code == 0:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            else:
                response.success()
            return response

    @task(4)
    def read_feed(self) -> None:
        self._call("GET", "/api/v1/posts?limit=20", name="/posts")

    @task(2)
    def post(self) -> None:
        self._call("POST", "/api/v1/posts", json={"content": f"load {uuid.uuid4().hex}"}, name="/posts [post]")

    @task(3)
    def like(self) -> None:
        if HOT_POSTS:
            post = random.choice(HOT_POSTS)
            method = random.choice(["POST", "POST", "DELETE"])
            self._call(method, f"/api/v1/posts/{post}/likes", name=f"/posts/{{id}}/likes [{method.lower()}]")

    @task(2)
    def comment(self) -> None:
        if HOT_POSTS:
            post = random.choice(HOT_POSTS)
            self._call("POST", f"/api/v1/posts/{post}/comments", json={"content": "+1"}, name="/posts/{id}/comments")

    @task(1)
    def upload(self) -> None:
        body = {"filename": "load.png", "content_type": "image/png", "size": len(PNG)}
        started = self._call("POST", "/api/v1/assets/uploads", json=body, name="/assets/uploads")
        if started is not None and started.status_code == 201:
            put = started.json()["upload"]
            with self.client.put(
                put["url"], data=PNG, headers=put["headers"], name="S3 presigned PUT", catch_response=True
            ) as response:
                response.success() if response.status_code == 200 else response.failure(str(response.status_code))

    @task(3)
    def talk(self) -> None:
        if self.in_lobby:
            self._call(
                "POST", f"/api/v1/rooms/{LOBBY}/messages", json={"content": "hello"}, name="/rooms/{id}/messages"
            )
