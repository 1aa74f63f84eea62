"""Helpers for the rooms tests: fast users with tokens, rooms with members in given roles,
statement counting, and a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import text

from core import db as core_db
from core.auth import issue_access_token
from tests.client import Answer, call
from tests.integration.social import Member as Person  # the same user-with-a-token

ROLES = ("reader", "guest", "member", "admin", "master")


def person(name: str | None = None) -> Person:
    """A user with a live session and an access token, straight in the database (no bcrypt, no HTTP)."""
    name = name or f"p{uuid.uuid4().hex[:12]}"
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO users (id, email, username, password_hash) VALUES (:id, :email, :name, 'x')"),
            {"id": user_id, "email": f"{name}@example.com", "name": name},
        )
        conn.execute(text("INSERT INTO auth_sessions (id, user_id) VALUES (:s, :u)"), {"s": session_id, "u": user_id})
    return Person(str(user_id), name, issue_access_token(user_id, session_id))


def new_room(owner: Person, name: str = "team") -> str:
    answer = call("POST", "/api/v1/rooms", {"name": name}, token=owner.token)
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def add_member(room_id: str, who: Person, role: str) -> None:
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO room_members (room_id, user_id, role) VALUES (:r, :u, :role)"),
            {"r": room_id, "u": who.id, "role": role},
        )


def role_of(room_id: str, who: Person) -> str | None:
    with core_db.get_engine().connect() as conn:
        return conn.execute(
            text("SELECT role FROM room_members WHERE room_id = :r AND user_id = :u"), {"r": room_id, "u": who.id}
        ).scalar()


@dataclass
class Team:
    """A room with one person per role (`people["master"]` created it)."""

    room: str
    people: dict[str, Person] = field(default_factory=dict)

    def __getitem__(self, role: str) -> Person:
        return self.people[role]


def team() -> Team:
    master = person()
    room = Team(new_room(master), {"master": master})
    for role in ROLES[:-1]:
        room.people[role] = person()
        add_member(room.room, room.people[role], role)
    return room


def send(room_id: str, who: Person, content: str = "hello", **extra: Any) -> Answer:
    return call("POST", f"/api/v1/rooms/{room_id}/messages", {"content": content, **extra}, token=who.token)


def sent(room_id: str, who: Person, content: str = "hello", **extra: Any) -> dict[str, Any]:
    answer = send(room_id, who, content, **extra)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def history(room_id: str, who: Person, query: str = "") -> list[dict[str, Any]]:
    answer = call("GET", f"/api/v1/rooms/{room_id}/messages{query}", token=who.token)
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


@dataclass
class Behaviour:
    reply: str = "a considered answer"
    status: int = 200
    delay_s: float = 0.0
    raw_body: bytes | None = None
    location: str | None = None  # with a 3xx status: where to redirect
    chunk_delay_s: float = 0.0  # streamed: the pause between two chunks
    stream_error: bool = False  # streamed: an error event after the first chunk, then the end
    # streamed, when the request asks for it (stream_options.include_usage): the last chunk's usage
    usage: dict[str, int] | None = None


def sse_chunks(text: str) -> list[str]:
    """The reply in word-sized pieces, as a model streams it (they concatenate to the text)."""
    return re.findall(r"\s*\S+|\s+$", text)


class OpenAIServer:
    """A real HTTP server speaking the OpenAI chat-completions shape; records what it was sent."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                wanted = server.behaviour
                if wanted.delay_s:
                    time.sleep(wanted.delay_s)
                if body.get("stream") and wanted.status == 200 and wanted.raw_body is None:
                    self._stream(wanted)
                    return
                if wanted.raw_body is not None:
                    payload = wanted.raw_body
                elif wanted.status == 200:
                    payload = json.dumps(
                        {"choices": [{"index": 0, "message": {"role": "assistant", "content": wanted.reply}}]}
                    ).encode()
                else:
                    payload = json.dumps({"error": {"message": "nope"}}).encode()
                try:
                    self.send_response(wanted.status)
                    self.send_header("Content-Type", "application/json")
                    if wanted.location:
                        self.send_header("Location", wanted.location)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def _stream(self, wanted: Behaviour) -> None:
                """`stream: true`: server-sent events of chat.completion.chunk objects, then [DONE]."""
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    for index, piece in enumerate(sse_chunks(wanted.reply)):
                        if index and wanted.chunk_delay_s:
                            time.sleep(wanted.chunk_delay_s)
                        chunk = {
                            "object": "chat.completion.chunk",
                            "choices": [{"index": 0, "delta": {"content": piece}}],
                        }
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        if wanted.stream_error:
                            self.wfile.write(b'data: {"error": {"message": "overloaded"}}\n\n')
                            return
                    asked = (server.requests[-1]["body"].get("stream_options") or {}).get("include_usage")
                    if wanted.usage is not None and asked:
                        last = {"object": "chat.completion.chunk", "choices": [], "usage": wanted.usage}
                        self.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                except OSError:
                    pass  # the client gave up

            do_GET = do_POST  # a followed redirect arrives as a GET: record it too

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
