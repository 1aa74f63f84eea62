"""The provider interface and its adapters without sockets: echo, Bedrock Converse (botocore
Stubber), the hard deadline, provider choice. The OpenAI-compatible adapter talks to a real
local HTTP server in tests/integration/rooms/test_rooms_ai.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from core.config import SettingsError, reset_settings
from rooms import ai
from rooms.ai import BedrockProvider, ChatMessage, EchoProvider, ProviderError, alternating
from rooms.settings import RoomsSettings

CHAT = [
    ChatMessage("user", "hello", author="ann"),
    ChatMessage("user", "me too", author="bob"),
    ChatMessage("assistant", "hi both"),
    ChatMessage("user", "what now?", author="ann"),
]
OPTIONS: dict[str, Any] = {"system": "be brief", "model": "m", "timeout": 1.0, "max_tokens": 64}


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    reset_settings()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


def test_echo_repeats_the_last_human_message_word_for_word() -> None:
    assert EchoProvider().complete(CHAT, **OPTIONS) == "what now?"
    with pytest.raises(ProviderError):
        EchoProvider().complete([ChatMessage("assistant", "alone")], **OPTIONS)


def test_turns_for_converse_alternate_and_start_with_the_user() -> None:
    assert alternating([ChatMessage("assistant", "stray"), *CHAT]) == [
        ("user", "ann: hello\n\nbob: me too"),
        ("assistant", "hi both"),
        ("user", "ann: what now?"),
    ]


def _bedrock() -> tuple[Any, Stubber]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url="https://bedrock.invalid")
    return client, Stubber(client)


def _converse_answer(*texts: str, stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": t} for t in texts]}},
        "stopReason": stop,
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
        "metrics": {"latencyMs": 1},
    }


def test_bedrock_sends_a_converse_request_and_joins_the_text_blocks() -> None:
    client, stubber = _bedrock()
    expected = {
        "modelId": "amazon.nova-lite-v1:0",
        "system": [{"text": "be brief"}],
        "messages": [
            {"role": "user", "content": [{"text": "ann: hello\n\nbob: me too"}]},
            {"role": "assistant", "content": [{"text": "hi both"}]},
            {"role": "user", "content": [{"text": "ann: what now?"}]},
        ],
        "inferenceConfig": {"maxTokens": 64},
    }
    stubber.add_response("converse", _converse_answer("Lunch", ", then work."), expected)
    with stubber:
        text = BedrockProvider(client).complete(CHAT, **{**OPTIONS, "model": "amazon.nova-lite-v1:0"})
    assert text == "Lunch, then work."


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "AccessDeniedException", "ValidationException", "ModelTimeoutException"]
)
def test_bedrock_errors_are_provider_errors(code: str) -> None:
    client, stubber = _bedrock()
    stubber.add_client_error("converse", service_error_code=code, http_status_code=400)
    with stubber, pytest.raises(ProviderError, match="bedrock"):
        BedrockProvider(client).complete(CHAT, **OPTIONS)


def test_a_bedrock_answer_without_text_is_a_provider_error() -> None:
    client, stubber = _bedrock()
    stubber.add_response(
        "converse",
        _converse_answer(stop="content_filtered") | {"output": {"message": {"role": "assistant", "content": []}}},
    )
    with stubber, pytest.raises(ProviderError, match="content_filtered"):
        BedrockProvider(client).complete(CHAT, **OPTIONS)


def test_the_bedrock_client_has_tight_timeouts_and_no_retries() -> None:
    ai._bedrock_client.cache_clear()
    client = ai._bedrock_client(3.0)
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 3.0)
    assert config.retries["total_max_attempts"] == 1  # no retry: the deadline is short
    assert client.meta.service_model.service_name == "bedrock-runtime"
    ai._bedrock_client.cache_clear()


class Slow:
    def __init__(self, seconds: float) -> None:
        self.release = threading.Event()
        self.seconds = seconds

    def complete(self, messages: Sequence[ChatMessage], **_: Any) -> str:
        self.release.wait(self.seconds)
        return "late"


class Broken:
    def complete(self, messages: Sequence[ChatMessage], **_: Any) -> str:
        raise KeyError("bug in an adapter")


def test_the_deadline_holds_whatever_the_adapter_does(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("ROOMS_AI_TIMEOUT_S", "0.2")
    reset_settings()
    slow = Slow(5)
    with pytest.raises(ProviderError, match=r"no answer within 0\.2 s"):
        ai.complete_within(slow, CHAT, system="s", model="m")
    slow.release.set()
    with pytest.raises(ProviderError, match="KeyError in the provider adapter"):
        ai.complete_within(Broken(), CHAT, system="s", model="m")
    assert ai.complete_within(EchoProvider(), CHAT, system="s", model="m") == "what now?"


def test_the_openai_adapter_without_a_base_url_is_a_provider_error(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("OPENAI_BASE_URL", raising=False)
    reset_settings()
    with pytest.raises(ProviderError, match="OPENAI_BASE_URL"):
        ai.OpenAICompatibleProvider().complete(CHAT, **OPTIONS)
    assert not ai.is_configured("openai") and ai.is_configured("bedrock") and ai.is_configured("echo")


def test_echo_is_the_local_default_bedrock_the_cloud_default() -> None:
    assert ai.default_provider(RoomsSettings(), cloud=False) == "echo"
    assert ai.default_provider(RoomsSettings(), cloud=True) == "bedrock"
    assert ai.default_provider(RoomsSettings(rooms_ai_provider="openai"), cloud=True) == "openai"
    settings = RoomsSettings(rooms_bedrock_model="b-model", rooms_openai_model="o-model")
    assert [ai.default_model(p, settings) for p in ("bedrock", "openai", "echo")] == ["b-model", "o-model", "echo"]
    assert isinstance(ai.provider_named("echo"), EchoProvider)
    with pytest.raises(ProviderError):
        ai.provider_named("oracle")


def test_settings_refuse_a_base_url_that_is_not_http() -> None:
    with pytest.raises(SettingsError):
        RoomsSettings(openai_base_url="file:///etc/passwd")


def test_importing_the_rooms_handler_does_not_import_boto3() -> None:
    """Cold start: boto3 is imported only when Bedrock or Secrets Manager is really used."""
    code = "import sys, rooms.handler; sys.exit(1 if 'boto3' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
