"""AI providers behind one small streaming interface:
`stream(messages, system=, model=, timeout=, max_tokens=) -> Iterator[str]` (text chunks in order).

Adapters:
- `echo`: streams the last human message back word by word, pausing ROOMS_AI_ECHO_DELAY_S
  between words so streaming shows in `make dev`. No model, no network: the default when
  STAGE=local (`make dev`, tests).
- `bedrock`: Amazon Bedrock's ConverseStream (boto3 `bedrock-runtime` `converse_stream`, imported
  only when used; the runtime ships boto3). IAM: bedrock:InvokeModelWithResponseStream.
- `openai`: any OpenAI-compatible `POST {base}/chat/completions` with `stream: true` (server-sent
  events), over the standard library's urllib so the deps layer gains nothing. The key comes from
  OPENAI_API_KEY, or in the cloud from the secret OPENAI_API_KEY_SECRET_ARN.

`summarize(...) -> str` answers a summarization prompt whole (ai_worker.summaries): echo makes a
deterministic one (the first words of each line), the others join their streamed answer.

Every failure, including running out of time, is a ProviderError; the worker turns it into a
`failed` AI message, never a retry storm.

After a stream ends, an adapter's `usage` holds the call's tokens (core.balances charges them to
the room's master): Bedrock's ConverseStream `metadata` event (`usage.inputTokens/outputTokens`),
the OpenAI-compatible final chunk asked for with `stream_options: {include_usage: true}`
(`usage.prompt_tokens/completion_tokens`); echo estimates them (~4 characters a token). An adapter
whose provider reported none leaves it None and the worker estimates.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from ai_worker.settings import AiWorkerSettings
from core.ai_replies import AiRepliesSettings
from core.ai_steps import ChatMessage, ImagePart
from core.config import CoreSettings

PROVIDERS = ("echo", "bedrock", "openai")
MAX_RESPONSE_BYTES = 1024 * 1024  # a streamed answer (events included) longer than this is cut off: failed
# The longest silence inside a stream (a socket read); the whole stream has its own deadline.
IDLE_TIMEOUT_S = 30.0
ECHO_SUMMARY_WORDS = 6  # echo's summary keeps this many words of each line
_WORDS = re.compile(r"\s*\S+|\s+$")  # each word with the spaces before it: they concatenate to the text


@dataclass(frozen=True)
class Usage:
    """One call's tokens, as the provider reported them (or estimated: `estimated`)."""

    input_tokens: int
    output_tokens: int
    estimated: bool = False


def estimated_usage(messages: Sequence[ChatMessage], system: str, output: str) -> Usage:
    """What a call costs when its provider reports nothing: its context and answer, ~4 characters a token."""
    from core.balances import estimate_tokens

    prompt = estimate_tokens(system) + sum(estimate_tokens(m.content) for m in messages)
    return Usage(prompt, max(1, -(-len(output) // 4)) if output else 0, estimated=True)


class ProviderError(Exception):
    """The provider did not answer usably (error, refusal, malformed answer or timeout)."""


class Provider(Protocol):
    def stream(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> Iterator[str]: ...

    def summarize(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str:
        """The answer to a summarization prompt (ai_worker.summaries), whole."""
        ...


class Joined:
    """`summarize` as the streamed answer joined: the same call (and IAM permission) as a reply."""

    def stream(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> Iterator[str]:
        raise NotImplementedError

    def summarize(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str:
        deadline = time.monotonic() + timeout
        parts = []
        for chunk in self.stream(messages, system=system, model=model, timeout=timeout, max_tokens=max_tokens):
            parts.append(chunk)
            if time.monotonic() > deadline:
                raise ProviderError(f"no complete summary within {timeout:g} s")
        return "".join(parts)


class EchoProvider:
    """Streams the last human message back. Local development and tests only; it is no model."""

    def __init__(self, delay_s: float | None = None) -> None:
        self._delay_s = delay_s
        self.usage: Usage | None = None

    def stream(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> Iterator[str]:
        text = next((m.text for m in reversed(messages) if m.role == "user"), None)
        if text is None:
            raise ProviderError("nothing to echo")
        delay = AiWorkerSettings.current().rooms_ai_echo_delay_s if self._delay_s is None else self._delay_s
        for index, word in enumerate(_WORDS.findall(text)):
            if index and delay:
                time.sleep(delay)
            yield word
        shown = next(m.images for m in reversed(messages) if m.role == "user")
        if shown:  # what reached the provider, deterministically (the tests read it back)
            yield f" [{echo_images(shown)}]"
        self.usage = estimated_usage(messages, system, text)

    def summarize(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> str:
        """Deterministic, for tests: the first ECHO_SUMMARY_WORDS words of each line of the last user
        message, joined by ` / `, within about `max_tokens` tokens."""
        text = next((m.text for m in reversed(messages) if m.role == "user"), None)
        if text is None:
            raise ProviderError("nothing to summarize")
        lines = [" ".join(line.split()[:ECHO_SUMMARY_WORDS]) for line in text.splitlines() if line.strip()]
        summary = " / ".join(lines)[: max_tokens * 4]
        self.usage = estimated_usage(messages, system, summary)
        return summary


def echo_images(images: Sequence[ImagePart]) -> str:
    """`2 images: jpeg 1234 bytes, png 99 bytes`: how echo reflects the images it was shown."""
    noun = "image" if len(images) == 1 else "images"
    return f"{len(images)} {noun}: " + ", ".join(f"{p.format} {len(p.data)} bytes" for p in images)


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


def converse_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Converse `messages`: turns as `alternating` makes them (one text block per turn, the texts of
    one role's consecutive messages joined), each user message's images as image blocks (bytes)
    after its text. Converse takes images in user turns only, at most 20 a request, each at most
    3.75 MB and 8000 x 8000 px (docs/decisions.md); ai_worker.vision keeps within that."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if not turns and message.role != "user":
            continue
        if turns and turns[-1]["role"] == message.role:
            content = turns[-1]["content"]
            if "text" in content[-1]:
                content[-1] = {"text": f"{content[-1]['text']}\n\n{message.content}"}
            else:
                content.append({"text": message.content})
        else:
            turns.append({"role": message.role, "content": [{"text": message.content}]})
        if message.role == "user":
            turns[-1]["content"] += [
                {"image": {"format": part.format, "source": {"bytes": part.data}}} for part in message.images
            ]
    return turns


def openai_messages(messages: Sequence[ChatMessage], system: str) -> list[dict[str, Any]]:
    """Chat completion messages: plain text, or for a user message with images a list of content
    parts, its text then one `image_url` part per image as a base64 data URL (no URL to fetch)."""
    chat: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for m in messages:
        if m.images and m.role == "user":
            parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}]
            parts += [{"type": "image_url", "image_url": {"url": part.data_url()}} for part in m.images]
            chat.append({"role": m.role, "content": parts})
        else:
            chat.append({"role": m.role, "content": m.content})
    return chat


# ConverseStream reports a failure inside the stream as one of these events.
_STREAM_ERRORS = (
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
    "throttlingException",
    "serviceUnavailableException",
)


class BedrockProvider(Joined):
    """Amazon Bedrock ConverseStream. `client` is for tests (botocore Stubber); otherwise one per timeout."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self.usage: Usage | None = None

    def stream(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client or _bedrock_client(min(timeout, IDLE_TIMEOUT_S))
        stop_reason = None
        produced = False
        try:
            response = client.converse_stream(
                modelId=model,
                system=[{"text": system}],
                messages=converse_messages(messages),
                inferenceConfig={"maxTokens": max_tokens},
            )
            for event in response["stream"]:
                failure = next((name for name in _STREAM_ERRORS if name in event), None)
                if failure is not None:
                    raise ProviderError(f"bedrock: {failure} in the stream")
                delta = (event.get("contentBlockDelta") or {}).get("delta") or {}
                if isinstance(delta.get("text"), str) and delta["text"]:
                    produced = True
                    yield delta["text"]
                if "messageStop" in event:
                    stop_reason = event["messageStop"].get("stopReason")
                usage = (event.get("metadata") or {}).get("usage")
                if isinstance(usage, dict):
                    self.usage = _usage(usage.get("inputTokens"), usage.get("outputTokens"))
        except (ClientError, BotoCoreError) as exc:
            raise ProviderError(f"bedrock: {type(exc).__name__}") from exc
        if not produced:
            raise ProviderError(f"bedrock: no text (stopReason {stop_reason!r})")


@lru_cache(maxsize=4)
def _bedrock_client(read_timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=min(2.0, read_timeout),
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
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


def server_sent_data(lines: Iterator[bytes]) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream (multi-line data joined by newlines)."""
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class OpenAICompatibleProvider(Joined):
    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self.usage: Usage | None = None

    def stream(
        self, messages: Sequence[ChatMessage], *, system: str, model: str, timeout: float, max_tokens: int
    ) -> Iterator[str]:
        base_url = self._base_url or AiRepliesSettings.current().openai_base_url
        if not base_url or not base_url.startswith(("https://", "http://")):
            raise ProviderError("openai: OPENAI_BASE_URL is not set")
        chat = openai_messages(messages, system)
        body = json.dumps(
            {
                "model": model,
                "messages": chat,
                "max_tokens": max_tokens,
                "stream": True,
                "stream_options": {"include_usage": True},  # a last chunk with the call's usage
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        api_key = self._api_key or openai_api_key()
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            base_url.rstrip("/") + "/chat/completions", data=body, headers=headers, method="POST"
        )
        produced = done = False
        try:
            with _opener().open(request, timeout=min(timeout, IDLE_TIMEOUT_S)) as response:
                for data in server_sent_data(_limited(response)):
                    if data.strip() == "[DONE]":
                        done = True
                        break
                    document = json.loads(data)
                    text = _delta_text(document)
                    usage = document.get("usage") if isinstance(document, dict) else None
                    if isinstance(usage, dict):
                        self.usage = _usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
                    if text:
                        produced = True
                        yield text
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"openai: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:  # TimeoutError is an OSError
            raise ProviderError(f"openai: {type(exc).__name__}") from exc
        if not produced:
            raise ProviderError("openai: empty answer")
        if not done:
            raise ProviderError("openai: the stream ended without [DONE]")


def _usage(input_tokens: Any, output_tokens: Any) -> Usage | None:
    """A provider's usage figures, if they are two counts (anything else: None, and the worker estimates)."""
    counts = (input_tokens, output_tokens)
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 10**9 for n in counts):
        return None
    return Usage(int(input_tokens), int(output_tokens))


def _limited(response: Any) -> Iterator[bytes]:
    total = 0
    for line in response:
        total += len(line)
        if total > MAX_RESPONSE_BYTES:
            raise ProviderError("openai: the answer is too long")
        yield line


def _delta_text(document: Any) -> str:
    """The text of one chat.completion.chunk; an error object in the stream is a failure."""
    if not isinstance(document, dict):
        raise ProviderError("openai: unexpected event")
    if "error" in document:
        raise ProviderError("openai: error in the stream")
    choices = document.get("choices")
    if not isinstance(choices, list):
        raise ProviderError("openai: unexpected event")
    if not choices:
        return ""  # e.g. a final usage chunk
    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


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
    settings = AiWorkerSettings.current()
    if settings.openai_api_key:
        return settings.openai_api_key
    if settings.openai_api_key_secret_arn:
        return _key_from_secret(settings.openai_api_key_secret_arn)
    return None


def default_provider(settings: AiWorkerSettings | None = None, *, cloud: bool | None = None) -> str:
    """ROOMS_AI_PROVIDER, else the stage's default (`cloud`: whether the stage is not local)."""
    chosen = (settings or AiWorkerSettings.current()).rooms_ai_provider
    if chosen:
        return chosen
    return "bedrock" if (CoreSettings.current().is_cloud if cloud is None else cloud) else "echo"


def default_model(provider: str, settings: AiWorkerSettings | None = None) -> str:
    settings = settings or AiWorkerSettings.current()
    return {"bedrock": settings.rooms_bedrock_model, "openai": settings.rooms_openai_model}.get(provider, "echo")


def provider_named(name: str) -> Provider:
    if name == "bedrock":
        return BedrockProvider()
    if name == "openai":
        return OpenAICompatibleProvider()
    if name == "echo":
        return EchoProvider()
    raise ProviderError(f"unknown provider {name!r}")


def stream_within(
    provider: Provider, messages: Sequence[ChatMessage], *, system: str, model: str, deadline: float
) -> Iterator[str]:
    """The provider's chunks until `deadline` (time.monotonic()); later is a ProviderError, and so is
    any exception of an adapter (an adapter bug is a failed reply, not a failed worker). Each read
    waits at most IDLE_TIMEOUT_S or what is left, whichever is less."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ProviderError("no time left")
    max_tokens = AiWorkerSettings.current().rooms_ai_max_output_tokens
    try:
        for chunk in provider.stream(messages, system=system, model=model, timeout=remaining, max_tokens=max_tokens):
            yield chunk
            if time.monotonic() > deadline:
                raise ProviderError(f"no complete answer within {remaining:g} s")
    except ProviderError:
        raise
    except Exception as exc:
        raise ProviderError(f"{type(exc).__name__} in the provider adapter") from exc
