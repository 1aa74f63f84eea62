"""Room routes: create, list mine, read, change and delete a room; mark it read."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.routes import CREATE_ROOM, DELETE_ROOM, GET_ROOM, MARK_READ, MY_ROOMS, UPDATE_ROOM
from core.schemas import Limit, cursor_query
from rooms import scopes
from rooms.schemas import ReadIn, RoomDetailOut, RoomIn, RoomOut, RoomPage, RoomPatch

if TYPE_CHECKING:
    from rooms import logic, members
else:
    logic = lazy_module("rooms.logic")
    members = lazy_module("rooms.members")


router = Router()

RoomCursor = Annotated[str | None, cursor_query(scopes.ROOMS)]


@route(router, CREATE_ROOM, status_code=201, summary="Create a room (you become its master)", tags=["rooms"])
def create_room(body: RoomIn) -> RoomOut:
    with db.session_scope() as session:
        return RoomOut.of(logic.create(session, caller(router).user_id, body.name, body.description))


@route(
    router,
    MY_ROOMS,
    summary="Rooms I belong to, most recently joined first, each with my unread count and its newest message",
    tags=["rooms"],
)
def my_rooms(limit: Limit = 20, cursor: RoomCursor = None) -> RoomPage:
    rooms, next_cursor = db.read(logic.mine, caller(router).user_id, limit, cursor)
    return RoomPage.of(rooms, next_cursor)


@route(
    router,
    GET_ROOM,
    summary="One room (reader+; 404 for non-members), with whether its AI context starts with a summary",
    tags=["rooms"],
)
def get_room(room_id: uuid.UUID) -> RoomDetailOut:
    return RoomDetailOut.with_context(*db.read(logic.shown, room_id, caller(router).user_id))


@route(
    router,
    UPDATE_ROOM,
    summary="Change a room's name, description or AI settings (admin+); 409 for a provider or model "
    "this deployment does not offer",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def update_room(room_id: uuid.UUID, body: RoomPatch) -> RoomOut:
    with db.session_scope() as session:
        changes = body.model_dump(exclude_unset=True)
        return RoomOut.of(logic.update_settings(session, room_id, caller(router).user_id, changes))


@route(router, DELETE_ROOM, status_code=204, summary="Delete a room (master)", tags=["rooms"])
def delete_room(room_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.delete(session, room_id, caller(router).user_id)


@route(
    router,
    MARK_READ,
    status_code=204,
    summary="I have read up to seq (reader+); never moves backwards; a seq beyond the room's newest is 409",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def mark_read(room_id: uuid.UUID, body: ReadIn) -> None:
    with db.session_scope() as session:
        members.mark_read(session, room_id, caller(router).user_id, body.seq)
