"""Helpers for the realtime tests: the local gateway with its WebSocket API on a real port, tickets,
and a real WebSocket client (websockets' sync client) that reads JSON frames."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from websockets.sync.client import ClientConnection, connect

from core import db as core_db
from core import push
from core.config import reset_settings
from local.aws import FAKE_CREDENTIALS
from local.gateway import Gateway, GatewayServer
from local.postgres import free_port
from local.websocket import WS_PATH, WebSocketGateway
from tests.client import call
from tests.integration.rooms.rooms_helpers import Person

WAIT_S = 5.0
QUIET_S = 0.6  # long enough for a frame that is coming to arrive: its absence is the answer


@contextmanager
def realtime_server(sockets: WebSocketGateway | None = None) -> Iterator[GatewayServer]:
    """The local gateway on a free port with the WebSocket API at /ws, and the settings pointing the
    functions at it (ticket URL, Management API endpoint, fake credentials for SigV4)."""
    port = free_port()
    env = {
        "REALTIME_WS_URL": f"ws://127.0.0.1:{port}{WS_PATH}",
        "REALTIME_MANAGEMENT_URL": f"http://127.0.0.1:{port}{WS_PATH}",
        **{k: v for k, v in FAKE_CREDENTIALS.items() if k not in os.environ},
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings()
    push.management_client.cache_clear()
    server = GatewayServer(Gateway(), "127.0.0.1", port, sockets=sockets or WebSocketGateway()).start()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()
        push.management_client.cache_clear()


def ticket(who: Person) -> dict[str, Any]:
    answer = call("POST", "/api/v1/realtime/tickets", token=who.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def open_socket(who: Person) -> ClientConnection:
    issued = ticket(who)
    return connect(f"{issued['url']}?ticket={issued['ticket']}", open_timeout=WAIT_S)


def send(ws: ClientConnection, frame: dict[str, Any] | str) -> None:
    ws.send(frame if isinstance(frame, str) else json.dumps(frame))


def receive(ws: ClientConnection, timeout: float = WAIT_S) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=timeout)))


def ask(ws: ClientConnection, frame: dict[str, Any] | str) -> dict[str, Any]:
    """Send a frame and read the answer the `$default` route sends back."""
    send(ws, frame)
    return receive(ws)


def silent(ws: ClientConnection, seconds: float = QUIET_S) -> bool:
    """True when nothing arrives for `seconds`."""
    try:
        ws.recv(timeout=seconds)
    except TimeoutError:
        return True
    return False


def sql(statement: str, **params: Any) -> list[Any]:
    with core_db.get_engine().begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def eventually(check: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
