"""Frames to WebSocket connections: the one module that posts them.

Everything the backend pushes to a client goes through `push`: the API Gateway Management API
(`apigatewaymanagementapi`, `PostToConnection`) at REALTIME_MANAGEMENT_URL, which is the stage's
`@connections` endpoint in the cloud and the local gateway's emulation in `make dev`, so the same
boto3 calls run in both. A connection that answers 410 Gone has left without a `$disconnect`
reaching us: its row (and its subscriptions) are deleted. Any other failure is logged and the
frame dropped for that connection: pushes are best effort, and a client that missed events
backfills with `?after_seq=` (API.md, Realtime).

Call it outside any transaction: it waits on the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from core.config import FeatureSettings, setting

logger = Logger(child=True)


@dataclass(frozen=True, kw_only=True)
class PushSettings(FeatureSettings):
    """Functions that push frames to WebSocket connections (core.push): realtime, rooms, fanout."""

    # The API Gateway Management API (`@connections`) of the WebSocket API; CDK sets the stage's callback URL.
    realtime_management_url: str = setting(
        "http://127.0.0.1:3000/ws",
        pattern=r"^https?://[^\s?#]+$",
        doc="the `@connections` endpoint `core.push` posts to (CDK sets the stage's callback URL)",
    )


# API Gateway's limit for one WebSocket message (frames are 32 KB each, messages at most 128 KB).
MAX_FRAME_BYTES = 128 * 1024
# Posts in flight at once for one push (boto3 keeps 10 pooled HTTP connections per client).
MAX_PARALLEL_POSTS = 8


def encode(frame: Mapping[str, Any]) -> str:
    """A server frame as the compact JSON text the clients read."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def management_client() -> Any:
    """The container's Management API client (boto3 imported only by functions that push).

    Short timeouts and one retry: a push is never worth holding an invocation for seconds.
    """
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=PushSettings.current().realtime_management_url, config=config
    )


def _is_gone(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code == "GoneException" or status == 410


@dataclass
class Delivery:
    """What one push did: delivered, gone (410: rows deleted), failed (anything else)."""

    sent: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def post(frame: Mapping[str, Any], connection_ids: Sequence[str], *, client: Any = None) -> Delivery:
    """Post one frame to each connection (concurrently, bounded); no database access."""
    data = encode(frame).encode("utf-8")
    delivery = Delivery()
    if not connection_ids:
        return delivery
    if len(data) > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {len(data)} bytes is over API Gateway's {MAX_FRAME_BYTES}")
    client = client or management_client()

    def one(connection_id: str) -> tuple[str, str]:
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except Exception as exc:  # noqa: BLE001 - one connection's failure never stops the others
            if _is_gone(exc):
                return connection_id, "gone"
            logger.warning("push to a connection failed: %s", type(exc).__name__)
            return connection_id, "failed"
        return connection_id, "sent"

    outcomes: Iterable[tuple[str, str]]
    if len(connection_ids) == 1:
        outcomes = [one(connection_ids[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_POSTS, len(connection_ids))) as pool:
            outcomes = list(pool.map(one, connection_ids))
    for connection_id, outcome in outcomes:
        getattr(delivery, outcome).append(connection_id)
    return delivery


def forget(connection_ids: Sequence[str]) -> None:
    """Delete connections API Gateway no longer has (their subscriptions go with them)."""
    if not connection_ids:
        return
    from sqlalchemy import delete

    from core import db
    from core.models.realtime import realtime_connection_table as connection

    with db.session_scope() as session:
        session.execute(delete(connection).where(connection.c.connection_id.in_(list(connection_ids))))


def push(
    frame: Mapping[str, Any],
    connection_ids: Sequence[str],
    *,
    client: Any = None,
    forget_gone: Callable[[Sequence[str]], None] = forget,
) -> Delivery:
    """Post a frame to connections, then delete those that are gone (410)."""
    delivery = post(frame, connection_ids, client=client)
    if delivery.gone:
        forget_gone(delivery.gone)
    return delivery
