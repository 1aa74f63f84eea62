"""Invitation routes: invite to a room (admin+), list mine, accept or decline one."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from core import db
from core.http import caller, documented, route
from core.routes import ACCEPT_INVITATION, DECLINE_INVITATION, INVITE, MY_INVITATIONS
from core.schemas import Limit, cursor_query
from rooms import invitations
from rooms.schemas import InvitationCreated, InvitationIn, InvitationPage, MembershipOut

router = Router()

InvitationCursor = Annotated[str | None, cursor_query(invitations.SCOPE)]
Token = Annotated[
    str, Path(min_length=1, max_length=200, description="the invitation's token, or its id when it names you")
]


@route(
    router,
    INVITE,
    status_code=201,
    summary="Invite by username (409 if unknown or already a member) or by link (admin+)",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def invite(room_id: uuid.UUID, body: InvitationIn) -> InvitationCreated:
    with db.session_scope() as session:
        made = invitations.create(session, room_id, caller(router).user_id, body.username, body.role)
    return InvitationCreated.of(made)


@route(router, MY_INVITATIONS, summary="My pending invitations, newest first", tags=["rooms"])
def my_invitations(limit: Limit = 20, cursor: InvitationCursor = None) -> InvitationPage:
    with db.session_scope() as session:
        rows, next_cursor = invitations.pending(session, caller(router).user_id, limit, cursor)
    return InvitationPage.of(rows, next_cursor)


@route(
    router,
    ACCEPT_INVITATION,
    summary="Accept an invitation; expired, used or not yours is 404, already a member 409",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def accept_invitation(token: Token) -> MembershipOut:
    with db.session_scope() as session:
        joined = invitations.accept(session, token, caller(router).user_id)
    return MembershipOut.of(joined)


@route(router, DECLINE_INVITATION, status_code=204, summary="Decline an invitation", tags=["rooms"])
def decline_invitation(token: Token) -> None:
    with db.session_scope() as session:
        invitations.decline(session, token, caller(router).user_id)
