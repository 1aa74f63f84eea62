"""Rooms routes: parse, call logic, answer. Roles are decided in the logic modules."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from core import db
from core.http import caller, documented, lambda_handler, make_resolver
from core.schemas import Limit, UserSummary, cursor_query
from rooms import events, invitations, logic, members, messages, replies
from rooms.logic import ListedRoom
from rooms.schemas import (
    SEQ_MAX,
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    InvitationPage,
    MemberOut,
    MemberPage,
    MembershipOut,
    MessageIn,
    MessageOut,
    MessagePage,
    MessagePatch,
    MessagePosted,
    OwnerIn,
    ReadIn,
    RoleIn,
    RoomIn,
    RoomListed,
    RoomOut,
    RoomPage,
    RoomPatch,
    RoomSummary,
)

RoomCursor = Annotated[str | None, cursor_query(logic.SCOPE)]
MemberCursor = Annotated[str | None, cursor_query(members.SCOPE)]
InvitationCursor = Annotated[str | None, cursor_query(invitations.SCOPE)]
MessageCursor = Annotated[str | None, cursor_query(messages.SCOPES, (int,))]
AfterSeq = Annotated[
    int | None,
    Query(
        ge=0,
        le=SEQ_MAX,
        description="oldest first from this seq + 1 (backfill after a gap or a reconnect); its next_cursor "
        "continues oldest first",
    ),
]

app = make_resolver()

ROOMS = "/api/v1/rooms"
ROOM = "/api/v1/rooms/<room_id>"
Token = Annotated[
    str, Path(min_length=1, max_length=200, description="the invitation's token, or its id when it names you")
]


_room = events.room_out


def _listed(listed: ListedRoom) -> RoomListed:
    return RoomListed(
        **dict(_room(listed.room)),
        last_read_seq=listed.last_read_seq,
        unread_count=listed.unread_count,
        last_message=_message(listed.last_message) if listed.last_message else None,
    )


_member = events.member_out
_message = events.message_out


def _invitation(row: Any) -> InvitationOut:
    invited_by = None
    if row.inviter_id is not None:
        invited_by = UserSummary(id=row.inviter_id, username=row.inviter_username, avatar_url=row.inviter_avatar_url)
    return InvitationOut(
        id=row.id,
        room=RoomSummary(id=row.room_id, name=row.room_name),
        role=row.role,
        invited_by=invited_by,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


# Rooms


@app.post(ROOMS, status_code=201, summary="Create a room (you become its master)", tags=["rooms"])
def create_room(body: RoomIn) -> RoomOut:
    with db.session_scope() as session:
        return _room(logic.create(session, caller(app).user_id, body.name, body.description))


@app.get(
    ROOMS,
    summary="Rooms I belong to, most recently joined first, each with my unread count and its newest message",
    tags=["rooms"],
)
def my_rooms(limit: Limit = 20, cursor: RoomCursor = None) -> RoomPage:
    rooms, next_cursor = db.read(logic.mine, caller(app).user_id, limit, cursor)
    return RoomPage(items=[_listed(r) for r in rooms], next_cursor=next_cursor)


@app.get(ROOM, summary="One room (reader+; 404 for non-members)", tags=["rooms"])
def get_room(room_id: uuid.UUID) -> RoomOut:
    with db.session_scope() as session:
        return _room(logic.get(session, room_id, caller(app).user_id))


@app.patch(
    ROOM,
    summary="Change a room's name, description or AI settings (admin+); 409 for a provider or model "
    "this deployment does not offer",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def update_room(room_id: uuid.UUID, body: RoomPatch) -> RoomOut:
    with db.session_scope() as session:
        changes = body.model_dump(exclude_unset=True)
        return _room(logic.update_settings(session, room_id, caller(app).user_id, changes))


@app.delete(ROOM, status_code=204, summary="Delete a room (master)", tags=["rooms"])
def delete_room(room_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.delete(session, room_id, caller(app).user_id)


@app.post(
    f"{ROOM}/read",
    status_code=204,
    summary="I have read up to seq (reader+); never moves backwards; a seq beyond the room's newest is 409",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def mark_read(room_id: uuid.UUID, body: ReadIn) -> None:
    with db.session_scope() as session:
        members.mark_read(session, room_id, caller(app).user_id, body.seq)


# Members


@app.get(f"{ROOM}/members", summary="A room's members, in joining order (reader+)", tags=["rooms"])
def list_members(room_id: uuid.UUID, limit: Limit = 20, cursor: MemberCursor = None) -> MemberPage:
    with db.session_scope() as session:
        found, next_cursor = members.listing(session, room_id, caller(app).user_id, limit, cursor)
    return MemberPage(items=[_member(m) for m in found], next_cursor=next_cursor)


@app.patch(f"{ROOM}/members/<user_id>", summary="Change a member's role (admin+, below your own)", tags=["rooms"])
def change_role(room_id: uuid.UUID, user_id: uuid.UUID, body: RoleIn) -> MemberOut:
    with db.session_scope() as session:
        return _member(members.change_role(session, room_id, caller(app).user_id, user_id, body.role))


@app.delete(
    f"{ROOM}/members/<user_id>",
    status_code=204,
    summary="Leave (yourself) or remove a member below you (admin+); the master must transfer first",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def remove_member(room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        members.remove(session, room_id, caller(app).user_id, user_id)


@app.patch(
    f"{ROOM}/owner",
    summary="Transfer ownership (master) to another member (409 if not one); you become admin",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def transfer_ownership(room_id: uuid.UUID, body: OwnerIn) -> MemberOut:
    with db.session_scope() as session:
        return _member(members.transfer(session, room_id, caller(app).user_id, body.user_id))


# Invitations


@app.post(
    f"{ROOM}/invitations",
    status_code=201,
    summary="Invite by username (409 if unknown or already a member) or by link (admin+)",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def invite(room_id: uuid.UUID, body: InvitationIn) -> InvitationCreated:
    with db.session_scope() as session:
        made = invitations.create(session, room_id, caller(app).user_id, body.username, body.role)
    return InvitationCreated(id=made.id, token=made.token, role=made.role, expires_at=made.expires_at)  # type: ignore[arg-type]


@app.get("/api/v1/invitations", summary="My pending invitations, newest first", tags=["rooms"])
def my_invitations(limit: Limit = 20, cursor: InvitationCursor = None) -> InvitationPage:
    with db.session_scope() as session:
        rows, next_cursor = invitations.pending(session, caller(app).user_id, limit, cursor)
    return InvitationPage(items=[_invitation(r) for r in rows], next_cursor=next_cursor)


@app.post(
    "/api/v1/invitations/<token>/accept",
    summary="Accept an invitation; expired, used or not yours is 404, already a member 409",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def accept_invitation(token: Token) -> MembershipOut:
    with db.session_scope() as session:
        joined = invitations.accept(session, token, caller(app).user_id)
    member = _member(joined.member)
    return MembershipOut(room=_room(joined.room), user=member.user, role=member.role, joined_at=member.joined_at)


@app.post("/api/v1/invitations/<token>/decline", status_code=204, summary="Decline an invitation", tags=["rooms"])
def decline_invitation(token: Token) -> None:
    with db.session_scope() as session:
        invitations.decline(session, token, caller(app).user_id)


# Messages


@app.get(
    f"{ROOM}/messages",
    summary="History, newest first by seq; with after_seq, oldest first after it (reader+)",
    description="`cursor` continues the list it came from, in its order: the history's newest first, the "
    "after_seq list's oldest first. With after_seq, a cursor of the newest-first history continues it "
    "above after_seq only.",
    tags=["rooms"],
)
def history(
    room_id: uuid.UUID, limit: Limit = 20, cursor: MessageCursor = None, after_seq: AfterSeq = None
) -> MessagePage:
    with db.session_scope() as session:
        found, next_cursor = messages.history(session, room_id, caller(app).user_id, limit, cursor, after_seq)
    return MessagePage(items=[_message(m) for m in found], next_cursor=next_cursor)


@app.get(
    f"{ROOM}/messages/<message_id>",
    summary="One message (reader+); others' private messages and deleted ones are 404",
    tags=["rooms"],
)
def get_message(room_id: uuid.UUID, message_id: uuid.UUID) -> MessageOut:
    with db.session_scope() as session:
        return _message(messages.one(session, room_id, message_id, caller(app).user_id))


@app.post(
    f"{ROOM}/messages",
    status_code=201,
    summary="Send a message (guest+); invoke_ai asks the room's AI (member+)",
    tags=["rooms"],
)
def send_message(room_id: uuid.UUID, body: MessageIn) -> MessagePosted:
    message, ai_message = replies.send(
        db.session_scope,
        room_id,
        caller(app).user_id,
        body.content,
        invoke_ai=body.invoke_ai,
        private=body.private,
    )
    return MessagePosted(message=_message(message), ai_message=_message(ai_message) if ai_message else None)


@app.patch(
    f"{ROOM}/messages/<message_id>",
    summary="Edit your own message, or exclude a message from the AI's context (author or admin+)",
    description="`content`: only the human author of the message may change it (403 for anyone else, admins "
    "included); an AI message's content changes only by regenerating it (403). `exclude_from_ai`: the "
    "message's author (for an AI message, whoever asked for it) or an admin+. Others' private messages are 404.",
    tags=["rooms"],
)
def edit_message(room_id: uuid.UUID, message_id: uuid.UUID, body: MessagePatch) -> MessageOut:
    with db.session_scope() as session:
        changes = body.model_dump(exclude_unset=True)
        return _message(messages.edit(session, room_id, message_id, caller(app).user_id, changes))


@app.delete(
    f"{ROOM}/messages/<message_id>",
    status_code=204,
    summary="Delete a message (author or admin+; soft delete)",
    tags=["rooms"],
)
def delete_message(room_id: uuid.UUID, message_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        messages.remove(session, room_id, message_id, caller(app).user_id)


@app.post(
    f"{ROOM}/messages/<message_id>/regenerate",
    summary="Rewrite the AI reply to human message message_id in place (member+)",
    tags=["rooms"],
    openapi_extensions=documented(409),
)
def regenerate(room_id: uuid.UUID, message_id: uuid.UUID) -> MessageOut:
    return _message(replies.regenerate(db.session_scope, room_id, message_id, caller(app).user_id))


handler = lambda_handler(app)
