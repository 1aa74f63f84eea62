"""One AI reply job (core.ai_replies): stream the provider's answer to the room as `message.delta`
events, store the text once with `message.completed`.

The worker runs outside the VPC (it reaches every provider and @connections in every stage); what
needs the database is a step of `ai_steps`, which it invokes (core.ai_steps, ai_worker.steps_client).
No transaction is open while the provider thinks:
1. `start`: the job must still be the pending AI message of its room with this very job id
   (anything else, a redelivery of a finished job included, is a no-op); the context the requester
   may show the AI (rooms' privacy rules) comes back with the room's provider and model;
2. the stream, until ROOMS_AI_TIMEOUT_S or the reply's own deadline, whichever is first. Chunks are
   coalesced into at most one `message.delta` per ROOMS_AI_DELTA_INTERVAL_S (~10 a second); before
   each, the `delta` step says whether the job still owns its message (a regenerate, a deleted
   message or room stops the stream) and to which connections it goes now (private exchanges to
   their requester alone); the worker posts it to them (core.push, best effort);
3. `finish`: the text and `completed`, or `""` and `failed`, only if the job may still end it;
   a `completed` reply is charged to the room's master in the same transaction (core.balances: the
   provider's usage figures, else an estimate, once per job), then `balance.changed` goes to the
   master's connections (the step names them, the worker posts it). A job that lost its message
   mid-stream (`Superseded`: regenerated, deleted) finishes `superseded`: nothing is stored, and
   what the call used so far is charged (estimated: `start`'s input estimate and the text streamed).

Before the provider is called, `start` also checks that the room's master can pay for the call's
estimate (its whole context plus an output reserve): if not, the reply ends `failed`, uncharged.

Deltas are `{message_id, index, offset, text}`: `index` counts the reply's deltas from 0, `offset`
is where `text` starts in the reply, so a client concatenates them (a stream that starts again,
a retried job, starts again at offset 0); `message.completed` carries the stored text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from ai_worker import providers, steps_client, vision
from ai_worker.providers import ChatMessage, ProviderError, Usage
from ai_worker.settings import AiWorkerSettings
from core import flags, push
from core.ai_replies import Job
from core.ai_steps import (
    MAX_TEXT_CHARS,
    Context,
    DeltaRequest,
    FinishRequest,
    JobRef,
    StartRequest,
    SummaryJob,
    SummaryRequest,
)
from core.ai_steps import Usage as StepUsage
from core.config import CoreSettings

logger = Logger(child=True)


@dataclass(frozen=True)
class Request:
    """Everything the stream and the deltas need, read in step 1 (nothing is read later)."""

    job: Job
    seq: int
    only: uuid.UUID | None  # a private exchange: its requester's connections alone
    pending_until: datetime
    provider: str
    model: str
    system: str
    messages: tuple[ChatMessage, ...]

    @classmethod
    def of(cls, job: Job, found: Context) -> Request:
        """The start step's context, with the worker's default provider and model where the room
        names none."""
        settings = AiWorkerSettings.current()
        provider = found.provider or providers.default_provider(settings)
        return cls(
            job=job,
            seq=found.seq,
            only=found.only,
            pending_until=found.pending_until,
            provider=provider,
            model=found.model or providers.default_model(provider, settings),
            system=found.system,
            messages=found.messages,
        )


class Superseded(Exception):
    """The job may no longer end its message (regenerated, deleted): stop streaming. `text`: what
    had streamed by then, the output charged for it."""

    text = ""


def run(job: Job) -> str:
    """Generate one reply; what became of it: completed | failed | unpaid | stale (nothing to do) |
    superseded | switched_off."""
    if not flags.enabled(flags.AI_REPLIES, {"room_id": str(job.room_id), "stage": CoreSettings.current().stage}):
        # Switched off after the job was queued (or while it waited for a retry): the kill switch
        # stops what is in the queue too; the reply ends failed, uncharged, the provider never called.
        logger.info("AI reply not generated: AI replies are switched off (feature flag ai_replies)")
        end(job, "", "failed")
        return "switched_off"
    started = steps_client.start(StartRequest(v=1, job=JobRef.of(job)))
    if started.outcome == "stale":
        logger.info("AI reply job is stale: its message is no longer pending under it")
        return "stale"
    if started.outcome == "unpaid":
        logger.info("AI reply refused: the room's master cannot pay for it")
        return "unpaid"
    if started.outcome == "failed" or started.context is None:
        return "failed"
    request = Request.of(job, started.context)
    summary_usage = None
    if started.context.summary is not None:
        request, summary_usage = _summarized(request, started.context.summary)
    try:
        request = vision.shown(request)  # the images' bytes from S3 (issue 19.5)
    except vision.ImagesUnavailable as exc:
        logger.warning("AI reply failed: its images could not be read", extra={"reason": str(exc)})
        end(job, "", "failed")
        return "failed"
    deltas = Deltas(request, AiWorkerSettings.current().rooms_ai_delta_interval_s)
    try:
        text, status, usage = generate(request, deltas=deltas)
    except Superseded as superseded:
        # The provider was called: what it was sent (as `start` estimated it, images included) and
        # what came back so far is charged (the usage figures come at the stream's end), once per job.
        used = providers.estimated_usage(request.messages, request.system, superseded.text)
        if started.input_tokens is not None:  # start's estimate, which counts the images too
            used = replace(used, input_tokens=started.input_tokens)
        used = plus(used, summary_usage)
        end(job, "", "superseded", gone=deltas.gone, request=request, usage=used)
        return "superseded"
    if status == "completed":
        usage = plus(usage or providers.estimated_usage(request.messages, request.system, text), summary_usage)
    done = end(job, text, status, gone=deltas.gone, request=request, usage=usage)
    return status if done else "superseded"


def _summarized(request: Request, job: SummaryJob) -> tuple[Request, Usage | None]:
    """The context with a new summary at its head (issue 19.2): the room's provider summarizes the
    oldest messages within half the reply's time, the `summary` step stores it; the trimmed context
    (and nothing to charge) when the provider fails or answers nothing."""
    settings = AiWorkerSettings.current()
    left = min(settings.rooms_ai_timeout_s, (request.pending_until - datetime.now(UTC)).total_seconds()) / 2
    transcript = [ChatMessage("user", job.transcript)]
    try:
        if left <= 0:
            raise ProviderError("no time left to summarize")
        provider = providers.provider_named(request.provider)
        answer = provider.summarize(
            transcript, system=job.system, model=request.model, timeout=left, max_tokens=job.max_tokens
        )
    except Exception as exc:  # noqa: BLE001 - a provider or adapter failure: the reply goes on without it
        logger.warning("context summary failed", extra={"provider": request.provider, "reason": str(exc)})
        return request, None
    made = steps_client.summary(
        SummaryRequest(
            v=1,
            job=JobRef.of(request.job),
            state=job.state,
            answer=answer[:MAX_TEXT_CHARS],
            provider=request.provider,
            model=request.model,
        )
    )
    if not made.made:
        logger.warning("context summary failed", extra={"provider": request.provider, "reason": "an empty summary"})
        return request, None
    usage = getattr(provider, "usage", None) or providers.estimated_usage(transcript, job.system, answer)
    return replace(request, messages=made.messages), usage


def plus(usage: Usage, extra: Usage | None) -> Usage:
    """A reply's usage with its summary's (one charge per job: core.balances)."""
    if extra is None:
        return usage
    return Usage(
        usage.input_tokens + extra.input_tokens,
        usage.output_tokens + extra.output_tokens,
        estimated=usage.estimated or extra.estimated,
    )


def end(
    job: Job,
    text: str,
    status: str,
    *,
    gone: Sequence[str] = (),
    request: Request | None = None,
    usage: Usage | None = None,
) -> bool:
    """Step 3: whether the job ended its message (False: it no longer could; nothing changed). A
    completed or superseded call is charged (`usage`, the provider's or estimated) to the room's
    master by the step; the frames it hands back (balance.changed) are posted here, best effort."""
    answer = steps_client.finish(
        FinishRequest(
            v=1,
            job=JobRef.of(job),
            text=text,
            status=status,  # type: ignore[arg-type]  # completed | failed | superseded, checked by the contract
            gone=tuple(gone),
            provider=request.provider if request is not None else None,
            model=request.model if request is not None else None,
            usage=StepUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens) if usage else None,
        )
    )
    for notice in answer.notices:
        try:
            push.post(notice.frame, list(notice.connections))
        except Exception as exc:  # noqa: BLE001 - the change is committed; the frame is a courtesy
            logger.warning("a notice was not pushed: %s", type(exc).__name__)
    return answer.done


class Deltas:
    """Chunks in, `message.delta` events out: at most one per `interval_s`, the first at once (once
    the reply itself has been announced: the `delta` step waits for that).

    Pushes run on one background thread, one at a time and in order, so the stream never waits on
    the network: while a push is on its way the chunks gather and go with the next one (a room with
    many connections gets fewer, larger deltas). A push's failure (Superseded: the job no longer
    owns its message) surfaces in the stream's thread at the next chunk or at `flush`.

    `audience(job, first, gone)`: the connections a delta goes to now, None when the job no longer
    owns its message (the `delta` step); `post(frame, connection_ids)`: core.push.post."""

    def __init__(
        self,
        request: Request,
        interval_s: float,
        *,
        audience: Callable[[Job, bool, Sequence[str]], Sequence[str] | None] | None = None,
        post: Callable[[dict[str, Any], Sequence[str]], push.Delivery] | None = None,
    ) -> None:
        self.request = request
        self.interval_s = interval_s
        self.index = 0
        self.offset = 0
        self.buffer: list[str] = []
        self.last_push = float("-inf")
        self.gone: list[str] = []  # connections a push found gone (410), for the next step to forget
        self._audience = audience or _audience
        self._post = post or push.post
        self._pusher: ThreadPoolExecutor | None = None
        self._sending: Future[None] | None = None

    def add(self, chunk: str) -> None:
        self.buffer.append(chunk)
        if self._sending is not None:
            if not self._sending.done():
                return  # on its way: these chunks go with the next delta
            self._sending.result()  # a push's Superseded is raised here, in the stream's thread
            self._sending = None
        if time.monotonic() - self.last_push >= self.interval_s:
            data = self._take()
            if data is not None:
                if self._pusher is None:
                    self._pusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deltas")
                self._sending = self._pusher.submit(self._send, data)

    def flush(self) -> None:
        """The end of the stream: every delta pushed (in order) before the reply is stored."""
        if self._sending is not None:
            sending, self._sending = self._sending, None
            sending.result()
        data = self._take()
        if data is not None:
            self._send(data)

    def close(self) -> None:
        if self._pusher is not None:
            self._pusher.shutdown(wait=True)
            self._pusher = None

    def _take(self) -> dict[str, Any] | None:
        """The next delta from what the buffer holds (numbered now, so the order is the stream's)."""
        text = "".join(self.buffer)
        if not text:
            return None
        data = {
            "message_id": str(self.request.job.message_id),
            "index": self.index,
            "offset": self.offset,
            "text": text,
        }
        self.buffer = []
        self.index += 1
        self.offset += len(text)
        return data

    def _send(self, data: dict[str, Any]) -> None:
        gone, self.gone = self.gone, []
        targets = self._audience(self.request.job, data["index"] == 0, gone)
        if targets is None:
            raise Superseded
        # An ephemeral room event (never stored: a client that misses deltas has the final text from
        # message.completed), framed as the fan-out frames the stored ones.
        frame = {
            "type": "message.delta",
            "room_id": str(self.request.job.room_id),
            "seq": self.request.seq,
            "data": data,
        }
        if targets:
            self.gone.extend(self._post(frame, list(targets)).gone)
        self.last_push = time.monotonic()


def _audience(job: Job, first: bool, gone: Sequence[str]) -> Sequence[str] | None:
    answer = steps_client.delta(DeltaRequest(v=1, job=JobRef.of(job), first=first, gone=tuple(gone)))
    return answer.connections if answer.current else None


def generate(request: Request, *, deltas: Deltas | None = None) -> tuple[str, str, Usage | None]:
    """Step 2: (text, completed, the provider's usage or None) or ("", failed, None); never raises
    but Superseded."""
    settings = AiWorkerSettings.current()
    left = (request.pending_until - datetime.now(UTC)).total_seconds()
    deadline = time.monotonic() + min(settings.rooms_ai_timeout_s, left)
    deltas = deltas or Deltas(request, settings.rooms_ai_delta_interval_s)
    try:
        return _stream(request, deltas, deadline)
    finally:
        deltas.close()


def _stream(request: Request, deltas: Deltas, deadline: float) -> tuple[str, str, Usage | None]:
    parts: list[str] = []
    try:
        provider = providers.provider_named(request.provider)
        for chunk in providers.stream_within(
            provider, request.messages, system=request.system, model=request.model, deadline=deadline
        ):
            parts.append(chunk)
            deltas.add(chunk)
        deltas.flush()
    except Superseded as exc:
        exc.text = "".join(parts)
        raise
    except ProviderError as exc:
        logger.warning(
            "AI reply failed", extra={"provider": request.provider, "model": request.model, "reason": str(exc)}
        )
        return "", "failed", None
    return "".join(parts), "completed", getattr(provider, "usage", None)
