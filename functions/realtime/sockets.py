"""The WebSocket API's routes as Lambda proxy events: `$connect`, `$disconnect`, `$default`.

`$connect` spends the ticket of `?ticket=` and records the connection, or refuses the handshake
(401; API Gateway answers the client with the integration's status). `$disconnect` deletes the
connection. `$default` reads one client frame and answers the sender through the route's
response (the `$default` route is two-way: API Gateway sends the returned body to the calling
connection), so replying never needs a way out of the VPC. Frames for *other* connections
(typing) go through core.push, the one module that posts to connections. Nothing a client
sends ends in a dropped connection or a 500: every failure is an `error` frame.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from core import db, push
from core.errors import AppError, Unauthorized
from core.http import envelope
from core.http import logger as request_logger
from realtime import connections, frames, tickets

logger = Logger(child=True)

Event = dict[str, Any]
Response = dict[str, Any]


def handle(event: Event) -> Response:
    context = event.get("requestContext") or {}
    kind = context.get("eventType")
    request_logger.set_correlation_id(context.get("requestId"))  # the parent: children share its keys
    if kind == "CONNECT":
        return on_connect(event)
    if kind == "DISCONNECT":
        return on_disconnect(event)
    return on_message(event)


def _refuse(status: int, err: AppError, request_id: str) -> Response:
    body = envelope(status, err.code, err.message, [], request_id)
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}


def _connected_at(context: dict[str, Any]) -> datetime:
    millis = context.get("connectedAt")
    if isinstance(millis, int) and not isinstance(millis, bool):
        return datetime.fromtimestamp(millis / 1000, UTC)
    return datetime.now(UTC)


def _bad_ticket() -> Unauthorized:
    return Unauthorized("Unknown, expired or already used ticket: take a new one (POST /realtime/tickets)")


def on_connect(event: Event) -> Response:
    context = event["requestContext"]
    request_id = str(context.get("requestId") or "")
    ticket = (event.get("queryStringParameters") or {}).get("ticket")
    try:
        if not tickets.plausible(ticket):  # refused before any database work
            raise _bad_ticket()
        with db.session_scope() as session:
            holder = tickets.spend(session, ticket)
            if holder is None:
                raise _bad_ticket()
            connections.open_connection(
                session, context["connectionId"], holder.user_id, holder.session_id, _connected_at(context)
            )
    except AppError as err:
        return _refuse(err.status, err, request_id)
    except Exception:
        logger.exception("$connect failed")
        return _refuse(500, AppError(), request_id)
    return {"statusCode": 200}


def on_disconnect(event: Event) -> Response:
    try:
        with db.session_scope() as session:
            connections.close_connection(session, event["requestContext"]["connectionId"])
    except Exception:  # the row then lives until its expires_at; API Gateway ignores this answer anyway
        logger.exception("$disconnect failed")
    return {"statusCode": 200}


def _reply(frame: frames.Frame | None) -> Response:
    if frame is None:
        return {"statusCode": 200}
    return {"statusCode": 200, "body": push.encode(frame)}


def on_message(event: Event) -> Response:
    connection_id = event["requestContext"]["connectionId"]
    room_id: uuid.UUID | None = None
    try:
        frame = frames.parse(event.get("body"), binary=bool(event.get("isBase64Encoded")))
        room_id = frame.room_id
        return _reply(_act(connection_id, frame))
    except AppError as err:
        return _reply(frames.error(err, room_id))
    except Exception:
        logger.exception("frame failed")
        return _reply(frames.error(AppError(), room_id))


def _act(connection_id: str, frame: frames.ClientFrame) -> frames.Frame | None:
    """Do what the frame asks; the reply to its sender, if any."""
    if frame.action == "ping":
        return frames.pong()  # no database: a keep-alive costs one invocation and nothing else
    assert frame.room_id is not None  # every other action names a room (frames.parse)
    audience: list[str] | None = None
    with db.session_scope() as session:
        who = connections.owner(session, connection_id)
        if frame.action == "subscribe":
            room = connections.subscribe(session, connection_id, who.user_id, frame.room_id)
            return frames.subscribed(frame.room_id, room.my_role)
        if frame.action == "unsubscribe":
            connections.unsubscribe(session, connection_id, frame.room_id)
            return frames.unsubscribed(frame.room_id)
        audience = connections.typing(session, who.user_id, frame.room_id)
    if audience:  # after the commit: no transaction waits on the network
        push.push(frames.typing(frame.room_id, who.user_id, who.username), audience)
    return None
