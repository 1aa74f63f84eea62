"""Member routes: list a room's members, change a role, remove a member or leave, transfer ownership."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.routes import CHANGE_ROLE, LIST_MEMBERS, REMOVE_MEMBER, TRANSFER_OWNERSHIP
from core.schemas import Limit, cursor_query
from rooms import scopes
from rooms.schemas import MemberOut

if TYPE_CHECKING:
    from rooms import members
    from rooms.schemas import members as schemas
else:
    schemas = lazy_module("rooms.schemas.members")  # its bodies, built on the first request of these routes
    members = lazy_module("rooms.members")


router = Router()

MemberCursor = Annotated[str | None, cursor_query(scopes.ROOM_MEMBERS)]


@route(router, LIST_MEMBERS, summary="A room's members, in joining order (reader+)", tags=["rooms"])
def list_members(room_id: uuid.UUID, limit: Limit = 20, cursor: MemberCursor = None) -> schemas.MemberPage:
    return schemas.MemberPage.of(*db.read(members.listing, room_id, caller(router).user_id, limit, cursor))


@route(router, CHANGE_ROLE, summary="Change a member's role (admin+, below your own)", tags=["rooms"])
def change_role(room_id: uuid.UUID, user_id: uuid.UUID, body: schemas.RoleIn) -> MemberOut:
    with db.session_scope() as session:
        return MemberOut.of(members.change_role(session, room_id, caller(router).user_id, user_id, body.role))


@route(
    router,
    REMOVE_MEMBER,
    status_code=204,
    summary="Leave (yourself) or remove a member below you (admin+); the master must transfer first",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def remove_member(room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        members.remove(session, room_id, caller(router).user_id, user_id)


@route(
    router,
    TRANSFER_OWNERSHIP,
    summary="Transfer ownership (master) to another member (409 if not one); you become admin",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def transfer_ownership(room_id: uuid.UUID, body: schemas.OwnerIn) -> MemberOut:
    with db.session_scope() as session:
        return MemberOut.of(members.transfer(session, room_id, caller(router).user_id, body.user_id))
