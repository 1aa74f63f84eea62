"""Client frames in, server frames out (API.md, Realtime). Pure: no database, no event.

A client frame is a JSON object `{action, ...}`: `subscribe {room_id}`, `unsubscribe {room_id}`,
`ping`, `typing {room_id}`. Keys beyond those are ignored (a client may tag its frames). What
cannot be read is a domain error with the API's codes, which the caller turns into an `error`
frame: not JSON text is `bad_request`, JSON of the wrong shape is `validation_error`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from core.errors import AppError, BadRequest, ValidationFailed
from core.http import MAX_JSON_DEPTH, json_too_deep

ACTIONS = ("subscribe", "unsubscribe", "ping", "typing")
ROOM_ACTIONS = frozenset({"subscribe", "unsubscribe", "typing"})

Frame = dict[str, Any]


@dataclass(frozen=True)
class ClientFrame:
    action: str
    room_id: uuid.UUID | None = None


def _field(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "in": "body", "message": message, "type": "value_error"}]


def parse(body: str | None, *, binary: bool = False) -> ClientFrame:
    """The frame a client sent, or BadRequest / ValidationFailed saying what is wrong with it."""
    if binary:
        raise BadRequest('Frames are JSON text, e.g. {"action": "ping"}; binary frames are not read')
    if body is None or not body.strip():
        raise BadRequest('Empty frame: send JSON text, e.g. {"action": "ping"}')
    if json_too_deep(body):
        raise BadRequest(f"Frame nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequest('The frame is not JSON: send e.g. {"action": "ping"}') from None
    if not isinstance(data, dict):
        raise ValidationFailed("A frame is a JSON object with an action", details=_field("action", "required"))
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        message = f"Unknown action; one of {', '.join(ACTIONS)}"
        raise ValidationFailed(message, details=_field("action", message))
    if action not in ROOM_ACTIONS:
        return ClientFrame(action)
    raw = data.get("room_id")
    try:
        room_id = uuid.UUID(raw) if isinstance(raw, str) and len(raw) <= 36 else None
    except ValueError:
        room_id = None
    if room_id is None:
        raise ValidationFailed(f"{action} needs room_id, a room's id (UUID)", details=_field("room_id", "a UUID"))
    return ClientFrame(action, room_id)


# Server frames: {type, room_id?, seq?, data?}


def error(err: AppError, room_id: uuid.UUID | None = None) -> Frame:
    frame: Frame = {"type": "error", "error": {"code": err.code, "message": err.message}}
    if room_id is not None:
        frame["room_id"] = str(room_id)
    return frame


def pong() -> Frame:
    return {"type": "pong"}


def subscribed(room_id: uuid.UUID, role: str) -> Frame:
    return {"type": "subscribed", "room_id": str(room_id), "data": {"role": role}}


def unsubscribed(room_id: uuid.UUID) -> Frame:
    return {"type": "unsubscribed", "room_id": str(room_id), "data": {}}


def typing(room_id: uuid.UUID, user_id: uuid.UUID, username: str) -> Frame:
    return {"type": "typing", "room_id": str(room_id), "data": {"user": {"id": str(user_id), "username": username}}}
