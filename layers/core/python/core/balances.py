"""AI token balances (issue 19.4): the room's master pays for the room's AI.

- Before an AI call is queued (rooms: send with `invoke_ai`, regenerate) and again before the
  provider is called (ai_worker), `require_cover` / `covers` compare the master's balance with an
  estimate of the call: the input (the question at the API, the whole context in the worker) plus
  BALANCES_AI_OUTPUT_RESERVE_TOKENS of output. Too little: 402 `insufficient_balance` at the API, a
  `failed` reply (not charged) in the worker. The answer never says what the master holds: a
  member learns only that the room cannot pay.
- After a reply ends `completed`, `charge` records its input and output tokens (the provider's
  usage figures; estimated for echo) against the master's balance, in the transaction that stores
  the reply. One charge per job (`balance_transactions.job_id` unique), so a redelivered job never
  charges twice; a reply that ends `failed` is never charged. A job that loses its message while
  the provider streams (the reply regenerated or deleted) is charged what it used so far
  (estimated: its context and the text streamed; functions/ai_steps, `finish`), so regenerating
  mid-stream is not free.
- The balance only moves through ONE conditional UPDATE (`tokens = tokens - n WHERE tokens >= n`),
  never read-then-write, so concurrent charges cannot drive it below zero (and a CHECK says so).
  When the actual usage exceeds what is left (the estimate was low, or calls raced), the charge
  takes the balance down to zero and records the uncovered part as `shortfall` (docs/decisions.md):
  the answer was generated and is delivered; the master's next call is refused until a grant.
- `grant` (the operator's `make grant`, local.grant) adds tokens through the same statements,
  with the operator as the ledger's `actor` and an audit event.
- A user's balance starts at BALANCES_WELCOME_TOKENS: the row is made on its first change, with
  a `welcome` grant in the ledger, so the ledger always sums to the balance. Until then reads
  answer the welcome amount.
- After each charge and grant, `announce` pushes `balance.changed` to the user's WebSocket
  connections (core.room_events.push_to_user, best effort: GET /me/balance has the same state).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from sqlalchemy import Connection, func, insert, select, text

from core import audit, scopes
from core.config import FeatureSettings, setting
from core.errors import Conflict, InsufficientBalance
from core.models.balances import MAX_BALANCE, balance_table, balance_transaction_table
from core.pagination import keyset, page_of
from core.room_images import MAX_IMAGES_PER_CALL

if TYPE_CHECKING:
    from core.room_images import MessageImage

logger = Logger(child=True)

SCOPE = scopes.BALANCE_TRANSACTIONS
MAX_GRANT = 10**9  # tokens one grant may add
CHARS_PER_TOKEN = 4  # the same rough rule as ai_worker.context
TOKENS_PER_MESSAGE = 4
# An image a model is shown costs about width x height / 750 tokens (Anthropic's rule for Claude,
# https://docs.anthropic.com/en/docs/vision); the model gets the `preview` variant, whose size is known.
PIXELS_PER_IMAGE_TOKEN = 750
IMAGE_TOKENS_UNKNOWN = 1600  # a ready image without a recorded preview size: what Claude caps a large one at
IMAGE_DESCRIPTION_TOKENS = 20  # an image described in words instead (ai_worker.vision): one short line
EVENT = "balance.changed"


@dataclass(frozen=True, kw_only=True)
class BalancesSettings(FeatureSettings):
    """AI token balances (core.balances): for rooms (refuses calls), the ai_worker (charges) and `make grant`."""

    balances_welcome_tokens: int = setting(
        50_000,
        ge=0,
        le=MAX_GRANT,
        doc="AI tokens a user's balance starts with (a `welcome` grant on its first change); 0: none",
    )
    balances_ai_output_reserve_tokens: int = setting(
        256,
        ge=0,
        le=100_000,
        doc="output tokens an AI call is assumed to need when its cost is estimated before the call (402 below it)",
    )


@dataclass(frozen=True)
class Balance:
    user_id: uuid.UUID
    tokens: int
    updated_at: datetime | None  # None: never changed (the welcome amount, not yet materialized)


@dataclass(frozen=True)
class Change:
    """One ledger entry just written: what `announce` tells the user."""

    user_id: uuid.UUID
    transaction_id: uuid.UUID
    kind: str
    delta: int
    tokens: int
    shortfall: int = 0
    room_id: uuid.UUID | None = None

    def data(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "delta": self.delta,
            "kind": self.kind,
            "shortfall": self.shortfall,
            "transaction_id": str(self.transaction_id),
        }


def estimate_tokens(text: str) -> int:
    """A message's tokens, roughly (~4 characters each, plus the turn's own)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE


def image_tokens(images: Iterable[MessageImage], *, shown_at_most: int = MAX_IMAGES_PER_CALL) -> int:
    """What the images of a call add to its input, roughly, `images` newest first: the first
    `shown_at_most` ready ones as their preview's pixels / 750 (what a model with vision is shown),
    any further ones as the line of words that describes them. A model without vision gets words for
    all of them: this over-estimates it, never under, and stays bounded however many images a room
    holds (a member cannot price the room's replies out of the master's balance by posting pictures)."""
    total = 0
    shown = 0
    for image in images:
        if image.status != "ready":
            continue  # never sent: a reply with such an image is refused before the call
        if shown >= shown_at_most:
            total += IMAGE_DESCRIPTION_TOKENS
            continue
        shown += 1
        preview = image.variant("preview")
        if preview is None or not preview.width or not preview.height:
            total += IMAGE_TOKENS_UNKNOWN
        else:
            total += math.ceil(preview.width * preview.height / PIXELS_PER_IMAGE_TOKEN)
    return total


def call_estimate(input_tokens: int) -> int:
    """What an AI call with this input is assumed to cost: the input and a reserve for the output."""
    return input_tokens + BalancesSettings.current().balances_ai_output_reserve_tokens


# --- reading ---

_MASTER_BALANCE = text(
    "SELECT m.user_id, b.tokens FROM room_members m LEFT JOIN balances b ON b.user_id = m.user_id "
    "WHERE m.room_id = :room AND m.role = 'master'"
)


def _master_tokens(session: Connection, room_id: uuid.UUID) -> tuple[uuid.UUID | None, int]:
    row = session.execute(_MASTER_BALANCE, {"room": room_id}).first()
    if row is None:
        return None, 0
    tokens = row.tokens if row.tokens is not None else BalancesSettings.current().balances_welcome_tokens
    return row.user_id, int(tokens)


def covers(session: Connection, room_id: uuid.UUID, estimate: int) -> bool:
    """Whether the room's master can pay for a call of `estimate` tokens (one statement)."""
    master, tokens = _master_tokens(session, room_id)
    return master is not None and tokens >= estimate


def require_cover(session: Connection, room_id: uuid.UUID, estimate: int) -> None:
    """402 `insufficient_balance` unless the room's master can pay for a call of `estimate` tokens.
    Says how much the call needs, never what the master holds."""
    if not covers(session, room_id, estimate):
        raise InsufficientBalance(
            "The room's master has too few AI tokens for this request",
            details=[{"field": "invoke_ai", "message": f"an AI call here needs about {estimate} tokens"}],
        )


def balance_of(session: Connection, user_id: uuid.UUID) -> Balance:
    row = session.execute(
        select(balance_table.c.tokens, balance_table.c.updated_at).where(balance_table.c.user_id == user_id)
    ).first()
    if row is None:
        return Balance(user_id, BalancesSettings.current().balances_welcome_tokens, None)
    return Balance(user_id, int(row.tokens), row.updated_at)


def transactions(
    session: Connection, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """The user's ledger, newest first (keyset on created_at, id)."""
    t = balance_transaction_table
    query = select(
        t.c.id,
        t.c.kind,
        t.c.delta,
        t.c.balance_after,
        t.c.input_tokens,
        t.c.output_tokens,
        t.c.shortfall,
        t.c.provider,
        t.c.model,
        t.c.room_id,
        t.c.message_id,
        t.c.note,
        t.c.created_at,
    ).where(t.c.user_id == user_id)
    rows = list(session.execute(keyset(query, (t.c.created_at, t.c.id), SCOPE, cursor, limit)).all())
    return page_of(rows, limit, SCOPE, lambda r: (r.created_at, r.id))


# --- changing: every path goes through _ensure and one conditional UPDATE ---

_ENSURE = text(
    "WITH fresh AS (INSERT INTO balances (user_id, tokens) VALUES (:user, :welcome) "
    "ON CONFLICT (user_id) DO NOTHING RETURNING user_id, tokens) "
    "INSERT INTO balance_transactions (id, user_id, kind, delta, balance_after, note) "
    "SELECT :id, user_id, 'welcome', tokens, tokens, 'welcome tokens' FROM fresh WHERE tokens > 0"
)
# The one statement a charge normally is: no read, no lock held between a read and a write.
_DEDUCT = text(
    "UPDATE balances SET tokens = tokens - :n, updated_at = now() "
    "WHERE user_id = :user AND tokens >= :n RETURNING tokens"
)
# Usage beyond what is left: down to zero, the rest recorded as shortfall. The row is locked by
# the sub-select, so `charged` is what this very update took.
_DEDUCT_ALL = text(
    "UPDATE balances b SET tokens = b.tokens - LEAST(b.tokens, :n), updated_at = now() "
    "FROM (SELECT user_id, tokens FROM balances WHERE user_id = :user FOR UPDATE) old "
    "WHERE b.user_id = old.user_id RETURNING b.tokens AS tokens, LEAST(old.tokens, :n) AS charged"
)
_ADD = text(
    "UPDATE balances SET tokens = tokens + :n, updated_at = now() "
    "WHERE user_id = :user AND tokens <= :max - CAST(:n AS bigint) RETURNING tokens"
)
_CLAIM = text(
    "INSERT INTO balance_transactions (id, user_id, kind, delta, balance_after, input_tokens, output_tokens, "
    "provider, model, room_id, message_id, job_id) "
    "VALUES (:id, :user, 'charge', 0, 0, :input, :output, :provider, :model, :room, :message, :job) "
    "ON CONFLICT (job_id) DO NOTHING RETURNING id"
)
_SETTLE = text(
    "UPDATE balance_transactions SET delta = :delta, balance_after = :after, shortfall = :shortfall WHERE id = :id"
)
_MASTER = text("SELECT user_id FROM room_members WHERE room_id = :room AND role = 'master'")


def _ensure(session: Connection, user_id: uuid.UUID) -> None:
    welcome = BalancesSettings.current().balances_welcome_tokens
    session.execute(_ENSURE, {"user": user_id, "welcome": welcome, "id": uuid.uuid4()})


def _deduct(session: Connection, user_id: uuid.UUID, tokens: int) -> tuple[int, int]:
    """Take `tokens` from the user's (ensured) balance, down to zero at most: (taken, balance after)."""
    after = session.execute(_DEDUCT, {"user": user_id, "n": tokens}).scalar()
    if after is not None:
        return tokens, int(after)
    row = session.execute(_DEDUCT_ALL, {"user": user_id, "n": tokens}).one()
    return int(row.charged), int(row.tokens)


def charge(
    session: Connection,
    *,
    room_id: uuid.UUID,
    message_id: uuid.UUID,
    job_id: uuid.UUID,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
) -> Change | None:
    """Charge one AI call to the room's master, once per job; None when the job was charged
    already (a redelivery) or the room has no master (deleted meanwhile)."""
    master = session.execute(_MASTER, {"room": room_id}).scalar()
    if master is None:
        return None
    input_tokens, output_tokens = max(0, int(input_tokens)), max(0, int(output_tokens))
    _ensure(session, master)
    claimed = session.execute(
        _CLAIM,
        {
            "id": uuid.uuid4(),
            "user": master,
            "input": input_tokens,
            "output": output_tokens,
            "provider": provider[:32],
            "model": model[:200],
            "room": room_id,
            "message": message_id,
            "job": job_id,
        },
    ).scalar()
    if claimed is None:
        return None
    used = input_tokens + output_tokens
    taken, after = _deduct(session, master, used)
    session.execute(_SETTLE, {"id": claimed, "delta": -taken, "after": after, "shortfall": used - taken})
    if used > taken:
        logger.warning("AI usage exceeded the master's balance", extra={"room_id": str(room_id), "short": used - taken})
    return Change(master, claimed, "charge", -taken, after, used - taken, room_id)


def grant(session: Connection, user_id: uuid.UUID, tokens: int, *, actor: str, note: str | None = None) -> Change:
    """Add tokens to a user's balance (the operator's `make grant`): a ledger entry with the operator
    as its actor, and an audit event. 1..MAX_GRANT tokens; a balance past MAX_BALANCE is a Conflict."""
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= MAX_GRANT:
        raise ValueError(f"a grant adds 1..{MAX_GRANT} tokens")
    actor = actor.strip()[:200]
    if not actor:
        raise ValueError("a grant names its actor (the operator)")
    _ensure(session, user_id)
    after = session.execute(_ADD, {"user": user_id, "n": tokens, "max": MAX_BALANCE}).scalar()
    if after is None:
        raise Conflict(f"the balance would exceed {MAX_BALANCE} tokens")
    transaction_id = uuid.uuid4()
    session.execute(
        insert(balance_transaction_table).values(
            id=transaction_id,
            user_id=user_id,
            kind="grant",
            delta=tokens,
            balance_after=after,
            actor=actor,
            note=(note or "")[:200] or None,
        )
    )
    audit.record(
        session,
        "balance.granted",
        user_id=user_id,
        target_type="balance_transaction",
        target_id=transaction_id,
        data={"tokens": tokens, "balance_after": int(after), "actor": actor},
    )
    return Change(user_id, transaction_id, "grant", tokens, int(after))


def announce(change: Change | None, *, push_frame: Any = None) -> int:
    """`balance.changed` to the user's WebSocket connections, after the change committed. Best
    effort (GET /me/balance has the same state); how many connections it went to."""
    if change is None:
        return 0
    from core import room_events

    try:
        return room_events.push_to_user(change.user_id, change.room_id, EVENT, change.data(), push_frame=push_frame)
    except Exception as exc:  # noqa: BLE001 - the change is committed; the event is a courtesy
        logger.warning("balance.changed not pushed: %s", type(exc).__name__)
        return 0


def user_named(session: Connection, name_or_id: str) -> tuple[uuid.UUID, str] | None:
    """(id, username) of the user with this id or username (any case), for `make grant`."""
    from core.models.user import user_table

    try:
        condition = user_table.c.id == uuid.UUID(name_or_id)
    except ValueError:
        condition = func.lower(user_table.c.username) == name_or_id.strip().lower()
    row = session.execute(select(user_table.c.id, user_table.c.username).where(condition)).first()
    return (row.id, row.username) if row is not None else None
