"""The AI worker's database steps: the contract between the worker and `ai_steps` (issue 18.7).

The `ai_worker` runs outside the VPC (docs/decisions.md "AI replies: the worker runs outside the
VPC, its database steps inside it"): it streams from the provider and pushes `message.delta` to the
room's connections itself. Everything that needs the database is one synchronous step done by the
`ai_steps` function in the VPC, which it invokes (Lambda Invoke, RequestResponse, on its `live`
alias; in tests, the same step code in-process):

1. `start`: read and validate the job (the pending AI message of its room under this very job id;
   past its deadline or without its question it ends `failed` here) and build what the model sees
   (the rooms' privacy rules, the token budget);
1b. `summary`, only when `start` asked for one (issue 19.2: the oldest messages over the budget):
   the worker has the room's provider summarize them, and the step checks and stores the summary
   and answers the context that starts with it;
2. `delta`, before each coalesced delta (~10 a second): whether the job still owns its message (a
   regenerate or a delete stops the stream), and the connections of the delta's audience at that
   moment (a member removed meanwhile gets nothing more); for the reply's first delta it waits (at
   most ANNOUNCE_WAIT_S) until the fan-out has pushed the reply's own announcement. It also forgets
   the connections the previous push found gone (410);
3. `finish`: store the text once and publish `message.completed` (or end it `failed`), only if the
   job may still end it; a `completed` reply is charged to the room's master in the same
   transaction (core.balances: the usage the worker reports, once per job), and the frames to post
   afterwards (`balance.changed` to the master's connections) come back as `notices` for the worker,
   which alone reaches @connections.

`start` also refuses a reply the room's master cannot pay for (its context plus an output reserve):
it ends `failed`, uncharged, and the outcome is `unpaid`.

Every request and response is JSON with the contract's version `v`; `ai_steps` validates a request
against these models and rejects anything else (StepRejected: no step runs). A change that an older
`ai_steps` could not read takes a new VERSION that the function accepts before any worker sends it
(the two deploy together, but a canary shifts each alias on its own).

To add a step: a request model with its own `step` literal and a response model here (both in
`Request` and RESPONSES), and its function in functions/ai_steps/steps.py (STEPS). To add to one:
an optional field with a default, so the other side of an older version still reads it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from core.ai_replies import Job
from core.room_images import MessageImage

VERSION: Literal[1] = 1
# The longest the first delta waits for the fan-out to push the reply's message.created/updated.
ANNOUNCE_WAIT_S = 2.0
# A stored reply's text is at most what a provider may stream (ai_worker.providers.MAX_RESPONSE_BYTES).
MAX_TEXT_CHARS = 1024 * 1024
# Connection ids one request may name as gone: more than a room has subscribers is no report.
MAX_GONE = 1000


class StepRejected(Exception):
    """A request that is not one of this contract's (unknown step or version, a missing, extra or
    malformed field): no step ran."""


class StepFailed(Exception):
    """A step did not answer: the invoked function raised, timed out or could not be reached."""


@dataclass(frozen=True)
class ImagePart:
    """An image the model is shown, as bytes (read from S3 by ai_worker.vision; never a URL)."""

    format: Literal["png", "jpeg", "gif", "webp"]  # Bedrock ImageBlock's formats
    data: bytes

    @property
    def media_type(self) -> str:
        return f"image/{self.format}"

    def data_url(self) -> str:
        """For OpenAI-compatible `image_url` parts: a base64 data URL, never a link to fetch."""
        import base64

        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class ChatMessage:
    """One turn of what the model sees."""

    role: Literal["user", "assistant"]
    text: str
    # Several people talk in a room: a user turn says who wrote it.
    author: str | None = None
    # The message's images as stored (issue 19.5): what the step hands the worker, which turns them
    # into `images` (bytes from S3) or into words (ai_worker.vision); a provider never reads them.
    attachments: tuple[MessageImage, ...] = ()
    # What the provider is shown with the text (user turns only); never sent between the steps.
    images: tuple[ImagePart, ...] = ()

    @property
    def content(self) -> str:
        return f"{self.author}: {self.text}" if self.author else self.text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobRef(_Model):
    room_id: uuid.UUID
    message_id: uuid.UUID
    job_id: uuid.UUID

    @classmethod
    def of(cls, job: Job) -> JobRef:
        return cls(room_id=job.room_id, message_id=job.message_id, job_id=job.job_id)

    def job(self) -> Job:
        return Job(room_id=self.room_id, message_id=self.message_id, job_id=self.job_id)


ConnectionId = Annotated[str, Field(min_length=1, max_length=128)]


class StartRequest(_Model):
    v: Literal[1] = VERSION
    step: Literal["start"] = "start"
    job: JobRef


class SummaryJob(_Model):
    """A context summary to have made before the stream (issue 19.2): the worker has the room's
    provider answer `transcript` under `system`, then hands the answer and `state` (ai_steps' own,
    opaque to the worker) to the `summary` step."""

    transcript: str
    system: str
    max_tokens: int
    state: dict[str, Any]


class Context(_Model):
    """What the worker needs to stream one reply: read in `start`, nothing read later."""

    seq: int
    only: uuid.UUID | None  # a private exchange: its requester's connections alone
    pending_until: datetime
    provider: str | None  # the room's choice; None: the worker's default
    model: str | None
    system: str
    messages: tuple[ChatMessage, ...]  # the context (trimmed: what it is without a summary)
    summary: SummaryJob | None = None  # a summary to make first; then `messages` are the step's


class StartResponse(_Model):
    v: Literal[1] = VERSION
    # ready: stream it; stale: the job no longer owns a pending message (nothing to do);
    # failed: past its deadline or without its question, the reply was failed here;
    # unpaid: the room's master cannot pay for the call, the reply was failed here (uncharged).
    outcome: Literal["ready", "stale", "failed", "unpaid"]
    context: Context | None = None
    # With `ready`: the call's input as estimated here (the system prompt, every turn and its images,
    # no summary), what a superseded call is charged for its input.
    input_tokens: int | None = Field(default=None, ge=0)


class DeltaRequest(_Model):
    v: Literal[1] = VERSION
    step: Literal["delta"] = "delta"
    job: JobRef
    first: bool  # the reply's first delta: it waits until the reply has been announced
    gone: tuple[ConnectionId, ...] = Field(default=(), max_length=MAX_GONE)  # 410 on the last push


class DeltaResponse(_Model):
    v: Literal[1] = VERSION
    current: bool  # False: the job no longer owns its message; stop streaming
    connections: tuple[str, ...] = ()


class SummaryRequest(_Model):
    v: Literal[1] = VERSION
    step: Literal["summary"] = "summary"
    job: JobRef
    state: dict[str, Any]  # SummaryJob.state, as `start` gave it
    answer: str = Field(max_length=MAX_TEXT_CHARS)  # the provider's summary, unclipped
    provider: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=200)


class SummaryResponse(_Model):
    v: Literal[1] = VERSION
    made: bool  # False: an empty answer; the reply goes on with the trimmed context
    messages: tuple[ChatMessage, ...]  # the context to stream from: the summary first when made


TokenCount = Annotated[int, Field(ge=0, lt=10**9)]


class Usage(_Model):
    """One provider call's tokens, as the provider reported them or the worker estimated them."""

    input_tokens: TokenCount
    output_tokens: TokenCount


class FinishRequest(_Model):
    v: Literal[1] = VERSION
    step: Literal["finish"] = "finish"
    job: JobRef
    text: str = Field(max_length=MAX_TEXT_CHARS)
    # `superseded`: the job lost its message mid-stream (regenerated, deleted); nothing is stored,
    # what it used is charged.
    status: Literal["completed", "failed", "superseded"]
    gone: tuple[ConnectionId, ...] = Field(default=(), max_length=MAX_GONE)
    # What the call cost (charged to the room's master): required with `completed` and `superseded`.
    provider: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    usage: Usage | None = None

    @model_validator(mode="after")
    def _charged(self) -> FinishRequest:
        if self.status != "failed" and (self.usage is None or self.provider is None or self.model is None):
            raise ValueError("a completed or superseded reply names its provider, model and usage")
        if self.status == "superseded" and self.text:
            raise ValueError("a superseded reply stores no text")
        return self


class Notice(_Model):
    """A frame for the worker to post after the step committed (core.push.post), and to whom."""

    frame: dict[str, Any]
    connections: tuple[str, ...]


class FinishResponse(_Model):
    v: Literal[1] = VERSION
    done: bool  # False: the job could no longer end its message; nothing changed
    notices: tuple[Notice, ...] = ()


AnyRequest = StartRequest | SummaryRequest | DeltaRequest | FinishRequest
Request = Annotated[AnyRequest, Field(discriminator="step")]
Response = StartResponse | SummaryResponse | DeltaResponse | FinishResponse
RESPONSES: dict[str, type[BaseModel]] = {
    "start": StartResponse,
    "summary": SummaryResponse,
    "delta": DeltaResponse,
    "finish": FinishResponse,
}
_REQUEST: TypeAdapter[AnyRequest] = TypeAdapter(Request)


def parse_request(event: Any) -> AnyRequest:
    """The request an event is, or StepRejected (naming the fields at fault, never their values)."""
    if not isinstance(event, dict) or "v" not in event:
        raise StepRejected(f"not an AI step request of version {VERSION}: v")
    try:
        return _REQUEST.validate_python(event)
    except ValidationError as exc:
        where = sorted({".".join(str(p) for p in error["loc"]) or "(request)" for error in exc.errors()})
        raise StepRejected(f"not an AI step request of version {VERSION}: {', '.join(where)}") from None
