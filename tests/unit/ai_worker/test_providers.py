"""The streaming provider interface without sockets: echo word by word, the hard deadline, the
server-sent events reader, provider choice. The OpenAI-compatible adapter talks to a real local HTTP
server in tests/integration/ai_worker/test_ai_replies.py, Bedrock's ConverseStream to a local
event-stream endpoint in tests/integration/ai_worker/test_bedrock_stream.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ai_worker import providers
from ai_worker.providers import ChatMessage, EchoProvider, ProviderError, alternating, server_sent_data
from ai_worker.settings import AiWorkerSettings
from core.ai_replies import AiRepliesSettings
from core.config import SettingsError, reset_settings

CHAT = [
    ChatMessage("user", "hello", author="ann"),
    ChatMessage("user", "me too", author="bob"),
    ChatMessage("assistant", "hi both"),
    ChatMessage("user", "  what  now? ", author="ann"),
]
OPTIONS: dict[str, Any] = {"system": "be brief", "model": "m", "timeout": 1.0, "max_tokens": 64}


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    reset_settings()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


def test_echo_streams_the_last_human_message_word_by_word() -> None:
    chunks = list(EchoProvider(delay_s=0).stream(CHAT, **OPTIONS))
    assert chunks == ["  what", "  now?", " "]
    assert "".join(chunks) == "  what  now? "  # exactly the text, spaces included
    with pytest.raises(ProviderError):
        list(EchoProvider(delay_s=0).stream([ChatMessage("assistant", "alone")], **OPTIONS))


def test_echo_pauses_between_words_so_streaming_shows(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("ROOMS_AI_ECHO_DELAY_S", "0.05")
    reset_settings()
    started = time.monotonic()
    stamps = [time.monotonic() - started for _ in EchoProvider().stream([ChatMessage("user", "a b c d")], **OPTIONS)]
    assert stamps[0] < 0.04 and stamps[-1] >= 0.15  # the first word at once, then one pause per word


def test_turns_for_converse_alternate_and_start_with_the_user() -> None:
    assert alternating([ChatMessage("assistant", "stray"), *CHAT]) == [
        ("user", "ann: hello\n\nbob: me too"),
        ("assistant", "hi both"),
        ("user", "ann:   what  now? "),
    ]


def test_server_sent_data_reads_events_not_lines() -> None:
    lines = [
        b": keep-alive\n",
        b"data: one\n",
        b"\n",
        b"event: x\n",
        b"data:two\n",
        b"data: lines\r\n",
        b"\n",
        b"data: [DONE]",
    ]
    assert list(server_sent_data(iter(lines))) == ["one", "two\nlines", "[DONE]"]


def test_the_bedrock_client_has_an_idle_timeout_and_no_retries() -> None:
    providers._bedrock_client.cache_clear()
    client = providers._bedrock_client(3.0)
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 3.0)
    assert config.retries["total_max_attempts"] == 1  # no retry: a retried stream would repeat its text
    assert client.meta.service_model.service_name == "bedrock-runtime"
    providers._bedrock_client.cache_clear()


class Dribble:
    """A provider that sends a chunk every `every_s`, forever."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s

    def stream(self, messages: Sequence[ChatMessage], **_: Any) -> Iterator[str]:
        while True:
            time.sleep(self.every_s)
            yield "more "


class Broken:
    def stream(self, messages: Sequence[ChatMessage], **_: Any) -> Iterator[str]:
        yield "a"
        raise KeyError("bug in an adapter")


def test_the_deadline_holds_whatever_the_adapter_does() -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no complete answer"):
        list(providers.stream_within(Dribble(0.05), CHAT, system="s", model="m", deadline=time.monotonic() + 0.3))
    assert time.monotonic() - started < 1
    with pytest.raises(ProviderError, match="KeyError in the provider adapter"):
        list(providers.stream_within(Broken(), CHAT, system="s", model="m", deadline=time.monotonic() + 5))
    with pytest.raises(ProviderError, match="no time left"):
        list(providers.stream_within(EchoProvider(0), CHAT, system="s", model="m", deadline=time.monotonic() - 1))
    echoed = providers.stream_within(EchoProvider(0), CHAT, system="s", model="m", deadline=time.monotonic() + 5)
    assert "".join(echoed) == "  what  now? "


def test_the_openai_adapter_without_a_base_url_is_a_provider_error(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("OPENAI_BASE_URL", raising=False)
    reset_settings()
    with pytest.raises(ProviderError, match="OPENAI_BASE_URL"):
        list(providers.OpenAICompatibleProvider().stream(CHAT, **OPTIONS))


def test_echo_is_the_local_default_bedrock_the_cloud_default() -> None:
    assert providers.default_provider(AiWorkerSettings(), cloud=False) == "echo"
    assert providers.default_provider(AiWorkerSettings(), cloud=True) == "bedrock"
    assert providers.default_provider(AiWorkerSettings(rooms_ai_provider="openai"), cloud=True) == "openai"
    settings = AiWorkerSettings(rooms_bedrock_model="b-model", rooms_openai_model="o-model")
    assert [providers.default_model(p, settings) for p in ("bedrock", "openai", "echo")] == [
        "b-model",
        "o-model",
        "echo",
    ]
    assert isinstance(providers.provider_named("echo"), EchoProvider)
    with pytest.raises(ProviderError):
        providers.provider_named("oracle")


def test_settings_refuse_a_base_url_that_is_not_http() -> None:
    with pytest.raises(SettingsError):
        AiRepliesSettings(openai_base_url="file:///etc/passwd")


@pytest.mark.parametrize("module", ["rooms.handler", "ai_worker.handler"])
def test_importing_a_handler_does_not_import_boto3_or_urllib(module: str) -> None:
    """Cold start: boto3 and urllib.request are imported only when a provider, Secrets Manager or a
    queue is really used."""
    code = f"import sys, {module}; sys.exit(1 if {{'boto3', 'urllib.request'}} & set(sys.modules) else 0)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
