"""Bedrock ConverseStream against a real local endpoint speaking its wire format (HTTP with an
`application/vnd.amazon.eventstream` body, messages framed and CRC-checked as AWS frames them), read
by boto3's own event-stream parser: the adapter's chunks, in-stream errors, and a room's reply end to
end through the ai_worker."""

from __future__ import annotations

import binascii
import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from ai_worker import providers
from ai_worker.providers import BedrockProvider, ChatMessage, ProviderError
from ai_worker.settings import AiWorkerSettings
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered
from tests.integration.rooms.rooms_helpers import sent, team

CHAT = [ChatMessage("user", "hello", author="ann"), ChatMessage("user", "what now?", author="bob")]
OPTIONS: dict[str, Any] = {"system": "be brief", "model": "amazon.nova-lite-v1:0", "timeout": 5.0, "max_tokens": 64}


def _header(name: str, value: str) -> bytes:
    encoded = value.encode()
    return bytes([len(name)]) + name.encode() + bytes([7]) + struct.pack(">H", len(encoded)) + encoded


def frame(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One event-stream message: prelude (lengths, CRC), headers, payload, message CRC."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(head) + len(body) + 4, len(head))
    message = prelude + struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF) + head + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"}, payload)


def exception(kind: str) -> bytes:
    headers = {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, {"message": "try later"})


def answer(*texts: str, stop: str = "end_turn") -> list[bytes]:
    return [
        event("messageStart", {"role": "assistant"}),
        *(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in texts),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": stop}),
        event(
            "metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}, "metrics": {"latencyMs": 1}}
        ),
    ]


class BedrockEndpoint:
    """POST /model/{id}/converse-stream -> the frames set in `frames`; records the requests."""

    def __init__(self) -> None:
        self.frames: list[bytes] = answer("Hel", "lo")
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                endpoint.requests.append({"path": self.path, "body": json.loads(self.rfile.read(length) or b"{}")})
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                self.end_headers()
                for chunk in endpoint.frames:
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def client(self) -> Any:
        return boto3.client(
            "bedrock-runtime",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def __enter__(self) -> BedrockEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def bedrock() -> Iterator[BedrockEndpoint]:
    with BedrockEndpoint() as endpoint:
        yield endpoint


def test_converse_stream_yields_the_text_deltas_and_sends_the_turns(bedrock: BedrockEndpoint) -> None:
    chunks = list(BedrockProvider(bedrock.client()).stream(CHAT, **OPTIONS))
    assert chunks == ["Hel", "lo"]
    (request,) = bedrock.requests
    assert request["path"] == "/model/amazon.nova-lite-v1%3A0/converse-stream"
    assert request["body"] == {
        "system": [{"text": "be brief"}],
        "messages": [{"role": "user", "content": [{"text": "ann: hello\n\nbob: what now?"}]}],
        "inferenceConfig": {"maxTokens": 64},
    }


@pytest.mark.parametrize("kind", ["throttlingException", "modelStreamErrorException", "internalServerException"])
def test_an_error_inside_the_stream_is_a_provider_error(bedrock: BedrockEndpoint, kind: str) -> None:
    bedrock.frames = [event("messageStart", {"role": "assistant"}), exception(kind)]
    with pytest.raises(ProviderError, match="bedrock"):
        list(BedrockProvider(bedrock.client()).stream(CHAT, **OPTIONS))


def test_a_stream_without_text_is_a_provider_error(bedrock: BedrockEndpoint) -> None:
    bedrock.frames = answer(stop="content_filtered")
    with pytest.raises(ProviderError, match="content_filtered"):
        list(BedrockProvider(bedrock.client()).stream(CHAT, **OPTIONS))


def test_a_bedrock_room_streams_its_reply_through_the_worker(
    db: str, worker: SqsPump, bedrock: BedrockEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    bedrock.frames = answer("from ", "bedrock, ", "streamed")
    monkeypatch.setattr(providers, "_bedrock_client", lambda read_timeout: bedrock.client())
    room = team()
    call("PATCH", f"/api/v1/rooms/{room.room}", {"ai_provider": "bedrock"}, token=room["admin"].token)
    reply = sent(room.room, room["member"], "hello bedrock", invoke_ai=True)["ai_message"]
    done = answered(room.room, room["member"], reply["id"])
    assert (done["content"], done["status"]) == ("from bedrock, streamed", "completed")
    assert (
        bedrock.requests[-1]["path"]
        == f"/model/{AiWorkerSettings.current().rooms_bedrock_model.replace(':', '%3A')}/converse-stream"
    )


def test_a_summary_is_the_joined_answer_of_one_converse_stream_call(bedrock: BedrockEndpoint) -> None:
    """Context summaries (ai_worker.summaries) use the reply's own call and IAM action."""
    bedrock.frames = answer("ann said ", "hello")
    text = BedrockProvider(bedrock.client()).summarize(CHAT, **{**OPTIONS, "system": "summarize"})
    assert text == "ann said hello"
    (request,) = bedrock.requests
    assert request["path"].endswith("/converse-stream")
    assert request["body"]["system"] == [{"text": "summarize"}]
    bedrock.frames = answer(stop="content_filtered")
    with pytest.raises(ProviderError):
        BedrockProvider(bedrock.client()).summarize(CHAT, **OPTIONS)
