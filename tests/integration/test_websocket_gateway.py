"""The local WebSocket API (local.websocket) on the gateway's port, with a recording function instead of
`realtime`: the events it builds, the handshake it lets `$connect` decide, route responses, failures,
the 2-hour limit and the Management API's own answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from local.gateway import Gateway, GatewayServer
from local.postgres import free_port
from local.websocket import WS_PATH, WebSocketGateway

WAIT_S = 5.0


class Recorder:
    """Stands in for the realtime function: records each event, answers as told."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        assert function == "realtime"
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()
        context = event["requestContext"]
        if context["eventType"] == "CONNECT":
            ticket = (event["queryStringParameters"] or {}).get("ticket")
            if ticket == "boom":
                raise RuntimeError("integration failure")
            if ticket != "good":
                return {"statusCode": 401, "body": '{"error": {"code": "unauthorized"}}'}
            return {"statusCode": 200}
        if context["eventType"] == "MESSAGE":
            if event["body"] == "boom":
                raise RuntimeError("handler bug")
            if event["body"] == "quiet":
                return {"statusCode": 200}
            return {"statusCode": 200, "body": json.dumps({"echo": event["body"], "b64": event["isBase64Encoded"]})}
        return {"statusCode": 200}

    def wait_for(self, event_type: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        with self.changed:
            while True:
                found = [e for e in self.events if e["requestContext"]["eventType"] == event_type]
                if found:
                    return found[-1]
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {event_type} event"
                self.changed.wait(remaining)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[GatewayServer]:
    sockets = WebSocketGateway(invoke=recorder, max_connection_s=30)
    srv = GatewayServer(Gateway(), "127.0.0.1", free_port(), sockets=sockets).start()
    yield srv
    srv.stop()


def _ws(server: GatewayServer, query: str = "?ticket=good") -> str:
    return f"ws://127.0.0.1:{server.server_address[1]}{WS_PATH}{query}"


def test_connect_event_and_the_handshake_it_decides(server: GatewayServer, recorder: Recorder) -> None:
    with connect(_ws(server, "?ticket=good&x=1&x=2"), additional_headers={"X-Forwarded-For": "198.51.100.1"}) as ws:
        event = recorder.wait_for("CONNECT")
        context = event["requestContext"]
        assert context["routeKey"] == "$connect" and context["messageDirection"] == "IN"
        assert context["stage"] == "local" and context["apiId"] == "local"
        assert len(context["connectionId"]) == 16 and context["connectionId"].endswith("=")
        assert context["domainName"] == f"127.0.0.1:{server.server_address[1]}"
        assert context["identity"]["sourceIp"] == "127.0.0.1"
        assert isinstance(context["connectedAt"], int) and isinstance(context["requestTimeEpoch"], int)
        assert event["queryStringParameters"] == {"ticket": "good", "x": "2"}
        assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
        assert event["headers"]["X-Forwarded-For"] == "198.51.100.1, 127.0.0.1"
        assert event["headers"]["Sec-WebSocket-Version"] == "13"
        assert ws.request is not None
    with pytest.raises(InvalidStatus) as refused:
        connect(_ws(server, "?ticket=bad"), open_timeout=WAIT_S)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"{}") == {"error": {"code": "unauthorized"}}
    with pytest.raises(InvalidStatus) as failed:
        connect(_ws(server, "?ticket=boom"), open_timeout=WAIT_S)
    assert failed.value.response.status_code == 500


def test_messages_reach_default_and_its_route_response_comes_back(server: GatewayServer, recorder: Recorder) -> None:
    with connect(_ws(server)) as ws:
        ws.send('{"action": "anything"}')
        assert json.loads(ws.recv(timeout=WAIT_S)) == {"echo": '{"action": "anything"}', "b64": False}
        event = recorder.wait_for("MESSAGE")
        context = event["requestContext"]
        assert context["routeKey"] == "$default" and context["messageId"]
        assert context["connectionId"] == recorder.wait_for("CONNECT")["requestContext"]["connectionId"]
        ws.send(b"\x00\x01")
        assert json.loads(ws.recv(timeout=WAIT_S)) == {"echo": "AAE=", "b64": True}
        ws.send("quiet")  # no body in the answer: nothing is sent
        ws.send("boom")  # the function fails: API Gateway's message, and the connection stays
        failure = json.loads(ws.recv(timeout=WAIT_S))
        assert failure["message"] == "Internal server error" and failure["connectionId"] == context["connectionId"]
        ws.send("still here")
        assert json.loads(ws.recv(timeout=WAIT_S))["echo"] == "still here"


def test_disconnect_follows_a_close_with_its_code(server: GatewayServer, recorder: Recorder) -> None:
    with connect(_ws(server)) as ws:
        ws.close(4000, "bye")
    event = recorder.wait_for("DISCONNECT")
    assert event["requestContext"]["routeKey"] == "$disconnect"
    assert event["requestContext"]["disconnectStatusCode"] == 4000
    assert event["requestContext"]["disconnectReason"] == "bye"


def test_connections_end_after_their_maximum_duration(recorder: Recorder) -> None:
    sockets = WebSocketGateway(invoke=recorder, max_connection_s=0.5)
    srv = GatewayServer(Gateway(), "127.0.0.1", free_port(), sockets=sockets).start()
    try:
        with connect(_ws(srv)) as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)
        assert ws.close_code == 1001
        assert recorder.wait_for("DISCONNECT")["requestContext"]["disconnectStatusCode"] == 1001
    finally:
        srv.stop()


def test_plain_http_to_the_websocket_endpoint_is_refused(server: GatewayServer, recorder: Recorder) -> None:
    answer = requests.get(f"{server.url}{WS_PATH}", timeout=WAIT_S)
    assert answer.status_code == 426
    assert requests.post(f"{server.url}{WS_PATH}?ticket=good", data=b"{}", timeout=WAIT_S).status_code == 400
    assert recorder.events == []  # $connect never ran


def _first_open_connection(server: GatewayServer) -> str:
    """The client's handshake can finish a moment before the server thread registers it."""
    import time

    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if server.sockets and server.sockets.open_connections:
            return str(server.sockets.open_connections[0])
        time.sleep(0.01)
    raise AssertionError("the server never registered the connection")


def test_the_management_api_wants_a_signature_and_knows_its_connections(server: GatewayServer) -> None:
    base = f"{server.url}{WS_PATH}/@connections"
    assert requests.post(f"{base}/abc%3D", data=b"x", timeout=WAIT_S).status_code == 403
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/execute-api/aws4_request"}
    gone = requests.post(f"{base}/abc%3D", data=b"x", headers=signed, timeout=WAIT_S)
    assert gone.status_code == 410 and gone.headers["x-amzn-ErrorType"] == "GoneException"
    with connect(_ws(server)) as ws:
        connection_id = _first_open_connection(server)
        too_big = requests.post(f"{base}/{connection_id}", data=b"x" * (128 * 1024 + 1), headers=signed, timeout=WAIT_S)
        assert too_big.status_code == 413
        assert requests.put(f"{base}/{connection_id}", headers=signed, timeout=WAIT_S).status_code == 405
        assert requests.post(f"{base}/{connection_id}", data="héllo".encode(), headers=signed, timeout=WAIT_S).ok
        assert ws.recv(timeout=WAIT_S) == "héllo"  # UTF-8 goes out as a text frame
