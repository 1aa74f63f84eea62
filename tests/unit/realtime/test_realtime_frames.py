"""Client frames read, and server frames written, without a database or an event."""

from __future__ import annotations

import json
import uuid

import pytest
from realtime import frames

from core.errors import AppError, BadRequest, NotFound, ValidationFailed

ROOM = uuid.UUID("4b7e2c1d-9a8f-4e3b-8c5d-6a7b8c9d0e1f")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "ping"}', frames.ClientFrame("ping")),
        ('{"action": "ping", "room_id": "whatever", "id": 7}', frames.ClientFrame("ping")),
        (f'{{"action": "subscribe", "room_id": "{ROOM}"}}', frames.ClientFrame("subscribe", ROOM)),
        (f'{{"action": "unsubscribe", "room_id": "{str(ROOM).upper()}"}}', frames.ClientFrame("unsubscribe", ROOM)),
        (f'{{"action": "typing", "room_id": "{ROOM}", "extra": [1]}}', frames.ClientFrame("typing", ROOM)),
    ],
)
def test_frames_read(body: str, expected: frames.ClientFrame) -> None:
    assert frames.parse(body) == expected


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (None, BadRequest),
        ("   ", BadRequest),
        ("{", BadRequest),
        ("[" * 33 + "]" * 33, BadRequest),
        ("null", ValidationFailed),
        ("[]", ValidationFailed),
        ("{}", ValidationFailed),
        ('{"action": 1}', ValidationFailed),
        ('{"action": "PING"}', ValidationFailed),
        ('{"action": "subscribe"}', ValidationFailed),
        ('{"action": "subscribe", "room_id": null}', ValidationFailed),
        ('{"action": "subscribe", "room_id": "4b7e2c1d"}', ValidationFailed),
        ('{"action": "typing", "room_id": "' + "a" * 5000 + '"}', ValidationFailed),
    ],
)
def test_bad_frames_are_domain_errors(body: str | None, error: type[AppError]) -> None:
    with pytest.raises(error):
        frames.parse(body)


def test_binary_frames_are_not_read() -> None:
    with pytest.raises(BadRequest):
        frames.parse('{"action": "ping"}', binary=True)


def test_a_validation_error_names_its_field() -> None:
    with pytest.raises(ValidationFailed) as failed:
        frames.parse('{"action": "subscribe", "room_id": "x"}')
    assert [d["field"] for d in failed.value.details] == ["room_id"]


def test_server_frames() -> None:
    assert frames.pong() == {"type": "pong"}
    assert frames.error(NotFound("Room not found"), ROOM) == {
        "type": "error",
        "room_id": str(ROOM),
        "error": {"code": "not_found", "message": "Room not found"},
    }
    assert frames.error(AppError()) == {
        "type": "error",
        "error": {"code": "internal_error", "message": "Internal server error"},
    }
    user = uuid.uuid4()
    assert json.loads(json.dumps(frames.typing(ROOM, user, "ada"))) == {
        "type": "typing",
        "room_id": str(ROOM),
        "data": {"user": {"id": str(user), "username": "ada"}},
    }
