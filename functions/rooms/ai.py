"""AI replies behind one small interface: `complete(messages, system=, model=, timeout=, max_tokens=) -> str`.

Adapters:
- `echo`: answers with the last human message, word for word. No model, no
  network: the default when STAGE=local (`make dev`, tests).
- `bedrock`: Amazon Bedrock's Converse API (boto3 `bedrock-runtime`, imported
  only when used; the runtime ships boto3).
- `openai`: any OpenAI-compatible `POST {base}/chat/completions`, over the
  standard library's urllib so the deps layer gains nothing. The key comes from
  OPENAI_API_KEY, or in the cloud from the secret OPENAI_API_KEY_SECRET_ARN.

Every failure, including running out of time, is a ProviderError; callers turn
it into a stored `failed` AI message, never a 5xx.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from core.config import CoreSettings
from rooms.settings import RoomsSettings

PROVIDERS = ("echo", "bedrock", "openai")
MAX_RESPONSE_BYTES = 1024 * 1024


class ProviderError(Exception):
    """The provider did not answer usably (error, refusal, malformed answer or timeout)."""


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    text: str
    # Several people talk in a room: a user turn says who wrote it.
    author: str | None = None

    @property
    def content(self) -> str:
        return f"{self.author}: {self.text}" if self.author else self.text


class Provider(Protocol):
    def complete(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str: ...


class EchoProvider:
    """Repeats the last human message. Local development and tests only; it is no model."""

    def complete(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str:
        for message in reversed(messages):
            if message.role == "user":
                return message.text
        raise ProviderError("nothing to echo")


def alternating(messages: Sequence[ChatMessage]) -> list[tuple[str, str]]:
    """(role, text) turns that start with the user and alternate, as Converse requires:
    consecutive messages of one role are joined, leading assistant turns dropped."""
    turns: list[tuple[str, str]] = []
    for message in messages:
        if not turns and message.role != "user":
            continue
        if turns and turns[-1][0] == message.role:
            turns[-1] = (message.role, f"{turns[-1][1]}\n\n{message.content}")
        else:
            turns.append((message.role, message.content))
    return turns


class BedrockProvider:
    """Amazon Bedrock Converse. `client` is for tests (botocore Stubber); otherwise one per timeout."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def complete(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client or _bedrock_client(timeout)
        try:
            response = client.converse(
                modelId=model,
                system=[{"text": system}],
                messages=[{"role": role, "content": [{"text": text}]} for role, text in alternating(messages)],
                inferenceConfig={"maxTokens": max_tokens},
            )
        except (ClientError, BotoCoreError) as exc:
            raise ProviderError(f"bedrock: {type(exc).__name__}") from exc
        blocks = ((response.get("output") or {}).get("message") or {}).get("content") or []
        text = "".join(block["text"] for block in blocks if isinstance(block.get("text"), str))
        if not text:
            raise ProviderError(f"bedrock: no text (stopReason {response.get('stopReason')!r})")
        return text


@lru_cache(maxsize=4)
def _bedrock_client(timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=min(2.0, timeout), read_timeout=timeout, retries={"total_max_attempts": 1, "mode": "standard"}
    )
    return boto3.client("bedrock-runtime", config=config)


@lru_cache(maxsize=1)
def _opener() -> Any:
    """An opener that treats a redirect as an error: it would carry the API key wherever it points.

    Built on first use: urllib.request costs ~40 ms of import that rooms without this provider never need.
    """
    import urllib.request

    class RefuseRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
            return None

    return urllib.request.build_opener(RefuseRedirects)


class OpenAICompatibleProvider:
    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        self._base_url = base_url
        self._api_key = api_key

    def complete(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str:
        base_url = self._base_url or RoomsSettings.current().openai_base_url
        if not base_url or not base_url.startswith(("https://", "http://")):
            raise ProviderError("openai: OPENAI_BASE_URL is not set")
        chat = [{"role": "system", "content": system}] + [{"role": m.role, "content": m.content} for m in messages]
        body = json.dumps({"model": model, "messages": chat, "max_tokens": max_tokens}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        api_key = self._api_key or openai_api_key()
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            base_url.rstrip("/") + "/chat/completions", data=body, headers=headers, method="POST"
        )
        try:
            with _opener().open(request, timeout=timeout) as response:
                document = json.loads(response.read(MAX_RESPONSE_BYTES))
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"openai: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:  # TimeoutError is an OSError
            raise ProviderError(f"openai: {type(exc).__name__}") from exc
        try:
            content = document["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError("openai: unexpected answer") from exc
        if not isinstance(content, str) or not content:
            raise ProviderError("openai: empty answer")
        return content


@lru_cache(maxsize=1)
def _key_from_secret(arn: str) -> str:
    import boto3  # only when the key lives in Secrets Manager

    raw = str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    try:
        document = json.loads(raw)
    except ValueError:
        return raw.strip()
    return str(document["api_key"]) if isinstance(document, dict) else raw.strip()


def openai_api_key() -> str | None:
    settings = RoomsSettings.current()
    if settings.openai_api_key:
        return settings.openai_api_key
    if settings.openai_api_key_secret_arn:
        return _key_from_secret(settings.openai_api_key_secret_arn)
    return None


def default_provider(settings: RoomsSettings | None = None, *, cloud: bool | None = None) -> str:
    """ROOMS_AI_PROVIDER, else the stage's default (`cloud`: whether the stage is not local)."""
    chosen = (settings or RoomsSettings.current()).rooms_ai_provider
    if chosen:
        return chosen
    return "bedrock" if (CoreSettings.current().is_cloud if cloud is None else cloud) else "echo"


def default_model(provider: str, settings: RoomsSettings | None = None) -> str:
    settings = settings or RoomsSettings.current()
    return {"bedrock": settings.rooms_bedrock_model, "openai": settings.rooms_openai_model}.get(provider, "echo")


def is_configured(provider: str) -> bool:
    """Whether a room may choose this provider here (openai needs a base URL)."""
    return provider != "openai" or bool(RoomsSettings.current().openai_base_url)


def allowed_models() -> tuple[str, ...]:
    """Models a room may choose; empty means any (locally). In the cloud IAM allows only these."""
    return tuple(m.strip() for m in RoomsSettings.current().rooms_ai_models.split(",") if m.strip())


def provider_named(name: str) -> Provider:
    if name == "bedrock":
        return BedrockProvider()
    if name == "openai":
        return OpenAICompatibleProvider()
    if name == "echo":
        return EchoProvider()
    raise ProviderError(f"unknown provider {name!r}")


def complete_within(provider: Provider, messages: Sequence[ChatMessage], *, system: str, model: str) -> str:
    """One provider call with a hard deadline (ROOMS_AI_TIMEOUT_S), whatever the adapter's own timeouts do.

    The call runs on a daemon thread; if it is late we stop waiting and report a
    timeout (the thread ends when its socket times out). This keeps the request
    inside the Lambda's time, so the failed AI message is still stored.
    """
    settings = RoomsSettings.current()
    timeout = settings.rooms_ai_timeout_s
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["text"] = provider.complete(
                messages, system=system, model=model, timeout=timeout, max_tokens=settings.rooms_ai_max_output_tokens
            )
        except ProviderError as exc:
            outcome["error"] = exc
        except Exception as exc:  # noqa: BLE001 - an adapter bug is a failed reply, not a failed request
            outcome["error"] = ProviderError(f"{type(exc).__name__} in the provider adapter")

    worker = threading.Thread(target=run, name="ai-provider", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ProviderError(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return str(outcome["text"])
