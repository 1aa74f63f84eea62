"""The one route table and function catalog.

Handlers register exactly their rows; CDK builds API Gateway resources from
them; the local gateway routes with them; the OpenAPI document is checked
against them. Nothing here imports a function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.queues import QueueSpec

BASE_PATH = "/api/v1"

FunctionKind = Literal["api", "authorizer", "events", "task"]


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    kind: FunctionKind
    description: str
    uses_db: bool = True  # also: in the VPC (isolated subnets), reaching the database through the proxy
    # Connects as the schema's owner (the master user) instead of the application's role: the
    # migrations only (docs/decisions.md "The functions connect as app_rw").
    owns_schema: bool = False
    # For kind "events": the queue that feeds it, with its DLQ, event source, sizing and alarms
    # (core.queues). CDK and the local stack make everything else from this one declaration.
    queue: QueueSpec | None = None

    def __post_init__(self) -> None:
        if (self.kind == "events") != (self.queue is not None):
            raise ValueError(f"function {self.name!r}: an events function has a queue, no other kind has one")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # full path, API Gateway style: /api/v1/posts/{id}
    function: str
    auth: bool

    @property
    def resolver_path(self) -> str:
        """Powertools spells path parameters `<name>`."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("ops", "api", "Health check and the OpenAPI document"),
    FunctionSpec("auth", "api", "Register, login, refresh, logout, me"),
    FunctionSpec("authorizer", "authorizer", "Verifies access tokens for every auth route"),
    FunctionSpec("posts", "api", "The feed: posts and their images"),
    FunctionSpec("likes", "api", "Likes of posts, with exact counts"),
    FunctionSpec("comments", "api", "Comments on posts, with exact counts"),
    FunctionSpec("assets", "api", "Private media: uploads, downloads, share links, usage, audit"),
    # Batches of 12 MP photos (1769 MB: one vCPU), each invocation one proxy connection.
    FunctionSpec(
        "media",
        "events",
        "Uploads: malware scan, type check, image variants, video transcode requests",
        queue=QueueSpec(
            "media",
            "media events",
            function_timeout_s=120,
            memory_mb=1769,
            batch_size=5,
            max_concurrency=10,
            dlq_alarm="media",
            runbook="media-dlq-not-empty",
        ),
    ),
    # Outside the VPC (no database): MediaConvert has no VPC endpoint, so media leaves it requests in S3.
    FunctionSpec(
        "transcode",
        "events",
        "Video transcode requests from media -> MediaConvert jobs",
        uses_db=False,
        # One CreateJob per request: little memory, retries every 3 minutes, few concurrent calls.
        # max_receives is core.transcoding.MAX_RECEIVES (tests/infra/test_infra_processing.py).
        queue=QueueSpec(
            "transcode",
            "transcode requests",
            function_timeout_s=30,
            memory_mb=256,
            batch_size=5,
            max_concurrency=2,
            max_receives=5,
            dlq_alarm="media",
        ),
    ),
    FunctionSpec("migrate", "task", "Applies Alembic migrations (CDK trigger, make dev)", owns_schema=True),
    FunctionSpec("rooms", "api", "Team chat rooms: roles, invitations, messages and AI replies"),
    # Also every route of the WebSocket API (WEBSOCKET_ROUTES); in the VPC, for the database.
    FunctionSpec("realtime", "api", "Realtime rooms: WebSocket tickets, connections, subscriptions, typing"),
    # Room events to WebSocket connections (core.room_events): FIFO, one message group per room, so
    # one fan-out per room at a time and each room's events in order. In the VPC, for the database.
    FunctionSpec(
        "fanout",
        "events",
        "Room events -> the subscribed WebSocket connections (issue 18.3, 18.6)",
        queue=QueueSpec(
            "room_events",
            "room event nudges",
            fifo=True,
            function_timeout_s=30,
            memory_mb=512,
            batch_size=10,
            max_batching_window_s=0,
            max_concurrency=5,
            dlq_alarm="realtime",
            # rooms nudges after each commit; the fan-out's sweep re-nudges rooms whose nudge was lost
            producers=("rooms", "fanout"),
        ),
    ),
)

# The WebSocket API: its route keys and the function each one invokes. Client frames are JSON
# `{action, ...}` and all reach `$default` (API.md, Realtime). Locally served at /ws.
WEBSOCKET_ROUTES: tuple[tuple[str, str], ...] = (
    ("$connect", "realtime"),
    ("$disconnect", "realtime"),
    ("$default", "realtime"),
)

ROUTES: tuple[Route, ...] = (
    Route("GET", f"{BASE_PATH}/health", "ops", auth=False),
    Route("GET", f"{BASE_PATH}/openapi.json", "ops", auth=False),
    Route("POST", f"{BASE_PATH}/auth/register", "auth", auth=False),
    Route("POST", f"{BASE_PATH}/auth/login", "auth", auth=False),
    Route("POST", f"{BASE_PATH}/auth/refresh", "auth", auth=False),
    Route("DELETE", f"{BASE_PATH}/auth/logout", "auth", auth=True),
    Route("GET", f"{BASE_PATH}/auth/me", "auth", auth=True),
    Route("PATCH", f"{BASE_PATH}/auth/me", "auth", auth=True),
    # API Gateway allows one variable name among siblings, so every /posts/{...} says post_id.
    Route("GET", f"{BASE_PATH}/posts", "posts", auth=False),
    Route("POST", f"{BASE_PATH}/posts", "posts", auth=True),
    Route("POST", f"{BASE_PATH}/posts/upload-url", "posts", auth=True),
    Route("GET", f"{BASE_PATH}/posts/{{post_id}}", "posts", auth=False),
    Route("PUT", f"{BASE_PATH}/posts/{{post_id}}", "posts", auth=True),
    Route("DELETE", f"{BASE_PATH}/posts/{{post_id}}", "posts", auth=True),
    Route("GET", f"{BASE_PATH}/posts/{{post_id}}/likes", "likes", auth=False),
    Route("POST", f"{BASE_PATH}/posts/{{post_id}}/likes", "likes", auth=True),
    Route("DELETE", f"{BASE_PATH}/posts/{{post_id}}/likes", "likes", auth=True),
    Route("GET", f"{BASE_PATH}/posts/{{post_id}}/comments", "comments", auth=False),
    Route("POST", f"{BASE_PATH}/posts/{{post_id}}/comments", "comments", auth=True),
    Route("DELETE", f"{BASE_PATH}/comments/{{comment_id}}", "comments", auth=True),
    Route("POST", f"{BASE_PATH}/assets/uploads", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/assets", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/assets/{{asset_id}}", "assets", auth=True),
    Route("PATCH", f"{BASE_PATH}/assets/{{asset_id}}", "assets", auth=True),
    Route("DELETE", f"{BASE_PATH}/assets/{{asset_id}}", "assets", auth=True),
    Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/multipart/complete", "assets", auth=True),
    Route("DELETE", f"{BASE_PATH}/assets/{{asset_id}}/multipart", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/multipart", "assets", auth=True),
    Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/multipart/parts", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/download", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/playback", "assets", auth=True),
    Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/shares", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/shares", "assets", auth=True),
    # One variable name among siblings: {share} is the share's id (DELETE) or its token (GET).
    Route("DELETE", f"{BASE_PATH}/shares/{{share}}", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/shares/{{share}}", "assets", auth=False),
    Route("GET", f"{BASE_PATH}/usage", "assets", auth=True),
    Route("GET", f"{BASE_PATH}/audit", "assets", auth=True),
    # Rooms. One variable name per level: {room_id}, then {user_id} / {message_id}; {token} under /invitations.
    Route("POST", f"{BASE_PATH}/rooms", "rooms", auth=True),
    Route("GET", f"{BASE_PATH}/rooms", "rooms", auth=True),
    Route("GET", f"{BASE_PATH}/rooms/{{room_id}}", "rooms", auth=True),
    Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}", "rooms", auth=True),
    Route("DELETE", f"{BASE_PATH}/rooms/{{room_id}}", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/read", "rooms", auth=True),
    Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/members", "rooms", auth=True),
    Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}/members/{{user_id}}", "rooms", auth=True),
    Route("DELETE", f"{BASE_PATH}/rooms/{{room_id}}/members/{{user_id}}", "rooms", auth=True),
    Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}/owner", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/invitations", "rooms", auth=True),
    Route("GET", f"{BASE_PATH}/invitations", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/invitations/{{token}}/accept", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/invitations/{{token}}/decline", "rooms", auth=True),
    Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/messages", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/messages", "rooms", auth=True),
    Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}", "rooms", auth=True),
    Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}", "rooms", auth=True),
    Route("DELETE", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}/regenerate", "rooms", auth=True),
    Route("POST", f"{BASE_PATH}/realtime/tickets", "realtime", auth=True),
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def routes_of(function_name: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.function == function_name)
