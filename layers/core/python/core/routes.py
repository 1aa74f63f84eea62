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

# "invoked": called synchronously by another function of the catalog (FunctionSpec.invokes), through
# its `live` alias, with a small typed request/response contract of its own.
FunctionKind = Literal["api", "authorizer", "events", "task", "invoked"]
# What a function in the VPC may reach beyond it (docs/decisions.md "Where each function runs"):
# "none": the database, the S3 gateway endpoint and the stage's interface endpoints only;
# "ipv6": also the internet over IPv6, through the VPC's egress-only internet gateway (free; no
# NAT): dual-stack endpoints such as the WebSocket API's @connections and SQS. A function outside
# the VPC (uses_db=False) reaches the internet anyway, over IPv4 and IPv6.
Egress = Literal["none", "ipv6"]


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
    # In the VPC: what it reaches beyond it (Egress above). CDK turns "ipv6" into dual-stack
    # placement (Ipv6AllowedForDualStack), a security group allowing HTTPS out over IPv6 only and,
    # in stages without interface endpoints, SQS's dual-stack endpoint.
    egress: Egress = "none"
    # Posts frames to WebSocket connections (core.push): execute-api:ManageConnections on this
    # WebSocket API's stage and REALTIME_MANAGEMENT_URL. In the VPC that takes egress="ipv6".
    pushes: bool = False
    # Calls the AI providers (Bedrock, an OpenAI-compatible endpoint): their grants, settings and
    # the OpenAI key's secret (infra_cdk/constructs/rooms.py). Neither is reachable from the VPC
    # over IPv6 (Bedrock has no dual-stack endpoint), so a function that must reach them in every
    # stage runs outside the VPC; in the VPC it gets Bedrock through the stage's interface endpoint,
    # and the echo provider where there is none (docs/decisions.md "Where each function runs").
    calls_ai: bool = False
    # Functions it invokes synchronously (lambda:InvokeFunction on each, its name as
    # `<NAME>_FUNCTION_NAME`): how a function outside the VPC has its database steps done by one
    # inside it. Only from outside the VPC: the Lambda API has no endpoint in the isolated subnets.
    invokes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.kind == "events") != (self.queue is not None):
            raise ValueError(f"function {self.name!r}: an events function has a queue, no other kind has one")
        if self.egress != "none" and not self.uses_db:
            raise ValueError(
                f"function {self.name!r}: egress is for functions in the VPC (uses_db); outside it "
                "a function reaches the internet anyway"
            )
        if self.invokes and self.uses_db:
            raise ValueError(
                f"function {self.name!r}: invoking other functions is for functions outside the VPC "
                "(no Lambda endpoint in the isolated subnets)"
            )
        if self.pushes and self.uses_db and self.egress != "ipv6":
            raise ValueError(
                f"function {self.name!r}: in the VPC, pushing to WebSocket connections takes "
                'egress="ipv6" (the Management API has no VPC endpoint)'
            )


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

    def url(self, **params: object) -> str:
        """The path with its parameters filled in: `url(asset_id=...)` of /api/v1/assets/{asset_id}/playback."""
        return self.path.format(**params)


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
    # In the VPC, for the database; IPv6 egress for its room-event nudges and AI reply jobs to SQS
    # where the stage has no SQS endpoint (dev). It calls no AI provider: the ai_worker does.
    FunctionSpec(
        "rooms",
        "api",
        "Team chat rooms: roles, invitations, groups, messages and AI replies",
        egress="ipv6",
    ),
    # Also every route of the WebSocket API (WEBSOCKET_ROUTES); in the VPC, for the database, and
    # pushing typing frames to the other connections over IPv6.
    FunctionSpec(
        "realtime",
        "api",
        "Realtime rooms: WebSocket tickets, connections, subscriptions, typing",
        egress="ipv6",
        pushes=True,
    ),
    # Room events to WebSocket connections (core.room_events): FIFO, one message group per room, so
    # one fan-out per room at a time and each room's events in order. In the VPC, for the database.
    FunctionSpec(
        "fanout",
        "events",
        "Room events -> the subscribed WebSocket connections (issue 18.3, 18.6)",
        egress="ipv6",
        pushes=True,
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
            # rooms and ai_steps nudge after each commit; the fan-out's sweep re-nudges rooms whose nudge was lost
            producers=("rooms", "fanout", "ai_steps"),
        ),
    ),
    # AI replies (core.ai_replies): one job per invocation, streamed to the room as it is generated.
    # Batch size 1 and no batching window: a job may stream for a minute or more, and its first
    # token should not wait; the function's 120 s cover ROOMS_AI_TIMEOUT_S (90 s) plus its steps.
    # Outside the VPC (docs/decisions.md "AI replies: the worker runs outside the VPC"): it reaches
    # every provider and @connections in every stage, dev included, and has its database steps done
    # by `ai_steps`, which it invokes.
    FunctionSpec(
        "ai_worker",
        "events",
        "AI replies: streams the provider's answer as message.delta events, stores it once (issue 18.4)",
        uses_db=False,
        pushes=True,
        calls_ai=True,
        invokes=("ai_steps",),
        queue=QueueSpec(
            "ai_replies",
            "AI reply jobs",
            function_timeout_s=120,
            memory_mb=512,
            batch_size=1,
            max_batching_window_s=0,
            max_concurrency=10,
            max_receives=3,
            max_message_age_s=60,
            producers=("rooms",),
        ),
    ),
    # The AI worker's database steps (core.ai_steps: the job and its context, the audience before
    # each delta, the final store), invoked synchronously by the worker. In the VPC, for the
    # database; IPv6 egress for the message.completed nudge to SQS where the stage has no endpoint.
    FunctionSpec(
        "ai_steps",
        "invoked",
        "AI replies: the AI worker's database steps, invoked by it (issue 18.7)",
        egress="ipv6",
    ),
    # Forked rooms' conversations copied in batches of 1,000 (core.room_forks, issue 19.1): one record
    # per fork, which copies batch after batch and queues the rest when its time runs short. In the
    # VPC, for the database; IPv6 egress to push progress to the forking user and to queue the rest.
    FunctionSpec(
        "room_forks",
        "events",
        "Room forks: the forked conversation copied in batches (issue 19.1)",
        egress="ipv6",
        pushes=True,
        queue=QueueSpec(
            "room_forks",
            "room fork copies",
            function_timeout_s=120,
            memory_mb=512,
            batch_size=1,
            max_concurrency=2,
            max_receives=5,
            dlq_alarm="realtime",
            producers=("rooms", "room_forks"),
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
    HEALTH := Route("GET", f"{BASE_PATH}/health", "ops", auth=False),
    OPENAPI := Route("GET", f"{BASE_PATH}/openapi.json", "ops", auth=False),
    REGISTER := Route("POST", f"{BASE_PATH}/auth/register", "auth", auth=False),
    LOGIN := Route("POST", f"{BASE_PATH}/auth/login", "auth", auth=False),
    REFRESH := Route("POST", f"{BASE_PATH}/auth/refresh", "auth", auth=False),
    LOGOUT := Route("DELETE", f"{BASE_PATH}/auth/logout", "auth", auth=True),
    ME := Route("GET", f"{BASE_PATH}/auth/me", "auth", auth=True),
    UPDATE_ME := Route("PATCH", f"{BASE_PATH}/auth/me", "auth", auth=True),
    # API Gateway allows one variable name among siblings, so every /posts/{...} says post_id.
    FEED := Route("GET", f"{BASE_PATH}/posts", "posts", auth=False),
    CREATE_POST := Route("POST", f"{BASE_PATH}/posts", "posts", auth=True),
    POST_UPLOAD_URL := Route("POST", f"{BASE_PATH}/posts/upload-url", "posts", auth=True),
    GET_POST := Route("GET", f"{BASE_PATH}/posts/{{post_id}}", "posts", auth=False),
    REPLACE_POST := Route("PUT", f"{BASE_PATH}/posts/{{post_id}}", "posts", auth=True),
    DELETE_POST := Route("DELETE", f"{BASE_PATH}/posts/{{post_id}}", "posts", auth=True),
    LIKERS := Route("GET", f"{BASE_PATH}/posts/{{post_id}}/likes", "likes", auth=False),
    LIKE := Route("POST", f"{BASE_PATH}/posts/{{post_id}}/likes", "likes", auth=True),
    UNLIKE := Route("DELETE", f"{BASE_PATH}/posts/{{post_id}}/likes", "likes", auth=True),
    POST_COMMENTS := Route("GET", f"{BASE_PATH}/posts/{{post_id}}/comments", "comments", auth=False),
    ADD_COMMENT := Route("POST", f"{BASE_PATH}/posts/{{post_id}}/comments", "comments", auth=True),
    DELETE_COMMENT := Route("DELETE", f"{BASE_PATH}/comments/{{comment_id}}", "comments", auth=True),
    START_UPLOAD := Route("POST", f"{BASE_PATH}/assets/uploads", "assets", auth=True),
    LIST_ASSETS := Route("GET", f"{BASE_PATH}/assets", "assets", auth=True),
    GET_ASSET := Route("GET", f"{BASE_PATH}/assets/{{asset_id}}", "assets", auth=True),
    PATCH_ASSET := Route("PATCH", f"{BASE_PATH}/assets/{{asset_id}}", "assets", auth=True),
    DELETE_ASSET := Route("DELETE", f"{BASE_PATH}/assets/{{asset_id}}", "assets", auth=True),
    COMPLETE_UPLOAD := Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/multipart/complete", "assets", auth=True),
    ABORT_UPLOAD := Route("DELETE", f"{BASE_PATH}/assets/{{asset_id}}/multipart", "assets", auth=True),
    UPLOAD_PROGRESS := Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/multipart", "assets", auth=True),
    RESUME_UPLOAD := Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/multipart/parts", "assets", auth=True),
    DOWNLOAD_ASSET := Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/download", "assets", auth=True),
    PLAY_ASSET := Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/playback", "assets", auth=True),
    CREATE_SHARE := Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/shares", "assets", auth=True),
    LIST_SHARES := Route("GET", f"{BASE_PATH}/assets/{{asset_id}}/shares", "assets", auth=True),
    # One variable name among siblings: {share} is the share's id (DELETE) or its token (GET).
    REVOKE_SHARE := Route("DELETE", f"{BASE_PATH}/shares/{{share}}", "assets", auth=True),
    OPEN_SHARE := Route("GET", f"{BASE_PATH}/shares/{{share}}", "assets", auth=False),
    USAGE := Route("GET", f"{BASE_PATH}/usage", "assets", auth=True),
    AUDIT := Route("GET", f"{BASE_PATH}/audit", "assets", auth=True),
    # Shared spaces (issue 20), served by assets: {space_id}, then {user_id} for a member.
    CREATE_SPACE := Route("POST", f"{BASE_PATH}/spaces", "assets", auth=True),
    LIST_SPACES := Route("GET", f"{BASE_PATH}/spaces", "assets", auth=True),
    GET_SPACE := Route("GET", f"{BASE_PATH}/spaces/{{space_id}}", "assets", auth=True),
    PATCH_SPACE := Route("PATCH", f"{BASE_PATH}/spaces/{{space_id}}", "assets", auth=True),
    DELETE_SPACE := Route("DELETE", f"{BASE_PATH}/spaces/{{space_id}}", "assets", auth=True),
    SPACE_MEMBERS := Route("GET", f"{BASE_PATH}/spaces/{{space_id}}/members", "assets", auth=True),
    ADD_SPACE_MEMBER := Route("POST", f"{BASE_PATH}/spaces/{{space_id}}/members", "assets", auth=True),
    PATCH_SPACE_MEMBER := Route("PATCH", f"{BASE_PATH}/spaces/{{space_id}}/members/{{user_id}}", "assets", auth=True),
    REMOVE_SPACE_MEMBER := Route("DELETE", f"{BASE_PATH}/spaces/{{space_id}}/members/{{user_id}}", "assets", auth=True),
    TRANSFER_SPACE := Route("PATCH", f"{BASE_PATH}/spaces/{{space_id}}/owner", "assets", auth=True),
    SPACE_ASSETS := Route("GET", f"{BASE_PATH}/spaces/{{space_id}}/assets", "assets", auth=True),
    SPACE_USAGE := Route("GET", f"{BASE_PATH}/spaces/{{space_id}}/usage", "assets", auth=True),
    SPACE_AUDIT := Route("GET", f"{BASE_PATH}/spaces/{{space_id}}/audit", "assets", auth=True),
    MOVE_ASSET := Route("POST", f"{BASE_PATH}/assets/{{asset_id}}/move", "assets", auth=True),
    # Rooms. One variable name per level: {room_id}, then {user_id} / {message_id}; {token} under /invitations.
    CREATE_ROOM := Route("POST", f"{BASE_PATH}/rooms", "rooms", auth=True),
    MY_ROOMS := Route("GET", f"{BASE_PATH}/rooms", "rooms", auth=True),
    GET_ROOM := Route("GET", f"{BASE_PATH}/rooms/{{room_id}}", "rooms", auth=True),
    UPDATE_ROOM := Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}", "rooms", auth=True),
    DELETE_ROOM := Route("DELETE", f"{BASE_PATH}/rooms/{{room_id}}", "rooms", auth=True),
    MARK_READ := Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/read", "rooms", auth=True),
    LIST_MEMBERS := Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/members", "rooms", auth=True),
    CHANGE_ROLE := Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}/members/{{user_id}}", "rooms", auth=True),
    REMOVE_MEMBER := Route("DELETE", f"{BASE_PATH}/rooms/{{room_id}}/members/{{user_id}}", "rooms", auth=True),
    TRANSFER_OWNERSHIP := Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}/owner", "rooms", auth=True),
    INVITE := Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/invitations", "rooms", auth=True),
    MY_INVITATIONS := Route("GET", f"{BASE_PATH}/invitations", "rooms", auth=True),
    ACCEPT_INVITATION := Route("POST", f"{BASE_PATH}/invitations/{{token}}/accept", "rooms", auth=True),
    DECLINE_INVITATION := Route("POST", f"{BASE_PATH}/invitations/{{token}}/decline", "rooms", auth=True),
    ROOM_HISTORY := Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/messages", "rooms", auth=True),
    SEND_MESSAGE := Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/messages", "rooms", auth=True),
    GET_MESSAGE := Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}", "rooms", auth=True),
    EDIT_MESSAGE := Route("PATCH", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}", "rooms", auth=True),
    DELETE_MESSAGE := Route("DELETE", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}", "rooms", auth=True),
    REGENERATE := Route(
        "POST", f"{BASE_PATH}/rooms/{{room_id}}/messages/{{message_id}}/regenerate", "rooms", auth=True
    ),
    # Forks (issue 19.1): POST makes the new room, GET on the new room shows its copy's progress.
    # Images of messages (issue 19.5): uploaded per room, checked by the media pipeline.
    UPLOAD_ROOM_IMAGE := Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/images", "rooms", auth=True),
    GET_ROOM_IMAGE := Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/images/{{image_id}}", "rooms", auth=True),
    FORK_ROOM := Route("POST", f"{BASE_PATH}/rooms/{{room_id}}/forks", "rooms", auth=True),
    FORK_PROGRESS := Route("GET", f"{BASE_PATH}/rooms/{{room_id}}/fork", "rooms", auth=True),
    # Groups (issue 19.3), served by rooms: a group exists to be invited to rooms.
    CREATE_GROUP := Route("POST", f"{BASE_PATH}/groups", "rooms", auth=True),
    MY_GROUPS := Route("GET", f"{BASE_PATH}/groups", "rooms", auth=True),
    GET_GROUP := Route("GET", f"{BASE_PATH}/groups/{{group_id}}", "rooms", auth=True),
    RENAME_GROUP := Route("PATCH", f"{BASE_PATH}/groups/{{group_id}}", "rooms", auth=True),
    DELETE_GROUP := Route("DELETE", f"{BASE_PATH}/groups/{{group_id}}", "rooms", auth=True),
    GROUP_MEMBERS := Route("GET", f"{BASE_PATH}/groups/{{group_id}}/members", "rooms", auth=True),
    ADD_GROUP_MEMBER := Route("POST", f"{BASE_PATH}/groups/{{group_id}}/members", "rooms", auth=True),
    REMOVE_GROUP_MEMBER := Route("DELETE", f"{BASE_PATH}/groups/{{group_id}}/members/{{user_id}}", "rooms", auth=True),
    # AI token balances (issue 19.4), served by rooms: the balance pays for the AI of the rooms one is master of.
    MY_BALANCE := Route("GET", f"{BASE_PATH}/me/balance", "rooms", auth=True),
    MY_BALANCE_TRANSACTIONS := Route("GET", f"{BASE_PATH}/me/balance/transactions", "rooms", auth=True),
    CREATE_TICKET := Route("POST", f"{BASE_PATH}/realtime/tickets", "realtime", auth=True),
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def routes_of(function_name: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.function == function_name)
