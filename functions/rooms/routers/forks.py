"""Fork routes (issue 19.1): fork a room (member+), follow the copy (reader+ of the new room)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.routes import FORK_PROGRESS, FORK_ROOM

if TYPE_CHECKING:
    from core import room_forks
    from rooms import forks
    from rooms.schemas import forks as schemas
else:
    schemas = lazy_module("rooms.schemas.forks")  # its bodies, built on the first request of these routes
    room_forks = lazy_module("core.room_forks")
    forks = lazy_module("rooms.forks")


router = Router()


@route(
    router,
    FORK_ROOM,
    status_code=201,
    summary="Fork a room (member+): a new room of yours, its conversation copied up to up_to_seq in the "
    "background; archived (read-only) until the copy completes",
    description="The copy keeps each message's kind, sender, visibility, exclude_from_ai and images (with new "
    "ids; one still being checked ends as its upload does), renumbers seq from 1 without gaps, and takes only "
    "what you may read: public messages and your own private exchanges. Follow it "
    "with GET /rooms/{new id}/fork or the `fork.progress` / `fork.completed` WebSocket events. An up_to_seq "
    "beyond the room's newest seq is 409, as for POST /rooms/{room_id}/read.",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def fork_room(room_id: uuid.UUID, body: schemas.ForkIn) -> schemas.ForkCreated:
    with db.session_scope() as session:
        forked = forks.start(session, room_id, caller(router).user_id, body.name, body.up_to_seq)
    if forked.fork.status == "copying":
        room_forks.enqueue(forked.room.id)
    return schemas.ForkCreated.of(forked)


@route(
    router,
    FORK_PROGRESS,
    summary="A fork's copy: copied/total, status, error (reader+ of the new room; 404 if it is no fork)",
    tags=["rooms"],
)
def fork_progress(room_id: uuid.UUID) -> schemas.ForkOut:
    fork = db.read(forks.progress, room_id, caller(router).user_id)
    forks.resend_if_stale(fork)  # a stalled copy: its own unit of work, after the read
    return schemas.ForkOut.of(fork)
