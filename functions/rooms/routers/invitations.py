"""Invitation routes: invite to a room (admin+), list mine, accept or decline one."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.routes import ACCEPT_INVITATION, DECLINE_INVITATION, INVITE, MY_INVITATIONS
from core.schemas import Limit, cursor_query
from rooms import limits, scopes

if TYPE_CHECKING:
    from rooms import group_invitations, invitations
    from rooms.schemas import invitations as schemas
    from rooms.schemas import members as member_schemas
else:
    schemas = lazy_module("rooms.schemas.invitations")  # its bodies, built on the first request of these routes
    member_schemas = lazy_module("rooms.schemas.members")
    group_invitations = lazy_module("rooms.group_invitations")
    invitations = lazy_module("rooms.invitations")


router = Router()

InvitationCursor = Annotated[str | None, cursor_query(scopes.INVITATIONS)]
Token = Annotated[
    str, Path(min_length=1, max_length=200, description="the invitation's token, or its id when it names you")
]


@route(
    router,
    INVITE,
    status_code=201,
    summary="Invite by username (409 if unknown or already a member), by link, or a whole group (admin+)",
    description="With `group_id`: one invitation to each member of the group (you must manage the group; "
    "at most a few such requests per minute, 429 beyond) who is neither in the room nor holding a usable "
    "invitation to it; the answer lists who was invited "
    f"and who was skipped and why. At most {limits.INVITATIONS_PER_REQUEST} invitations per "
    "request (409 `too_many_invitations`, nothing sent).",
    tags=["rooms"],
    openapi_extensions=documented(409, 429),
)
def invite(
    room_id: uuid.UUID, body: schemas.InvitationIn
) -> schemas.InvitationCreated | schemas.GroupInvitationsCreated:
    with db.session_scope() as session:
        if body.group_id is not None:
            made_for = group_invitations.invite_group(
                session, room_id, caller(router).user_id, body.group_id, body.role
            )
            return schemas.GroupInvitationsCreated.of(made_for)
        made = invitations.create(session, room_id, caller(router).user_id, body.username, body.role)
    return schemas.InvitationCreated.of(made)


@route(router, MY_INVITATIONS, summary="My pending invitations, newest first", tags=["rooms"])
def my_invitations(limit: Limit = 20, cursor: InvitationCursor = None) -> schemas.InvitationPage:
    return schemas.InvitationPage.of(*db.read(invitations.pending, caller(router).user_id, limit, cursor))


@route(
    router,
    ACCEPT_INVITATION,
    summary="Accept an invitation; expired, used or not yours is 404, already a member 409",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def accept_invitation(token: Token) -> member_schemas.MembershipOut:
    with db.session_scope() as session:
        joined = invitations.accept(session, token, caller(router).user_id)
    return member_schemas.MembershipOut.of(joined)


@route(router, DECLINE_INVITATION, status_code=204, summary="Decline an invitation", tags=["rooms"])
def decline_invitation(token: Token) -> None:
    with db.session_scope() as session:
        invitations.decline(session, token, caller(router).user_id)
