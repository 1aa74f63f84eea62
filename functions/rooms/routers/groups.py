"""Group routes (issue 19.3): create, list mine, read, rename, delete; list, add, remove members.
Inviting a group to a room is an invitation route (routers/invitations.py)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.routes import (
    ADD_GROUP_MEMBER,
    CREATE_GROUP,
    DELETE_GROUP,
    GET_GROUP,
    GROUP_MEMBERS,
    MY_GROUPS,
    REMOVE_GROUP_MEMBER,
    RENAME_GROUP,
)
from core.schemas import Limit, cursor_query
from rooms import limits, scopes

if TYPE_CHECKING:
    from rooms import groups
    from rooms.schemas import groups as schemas
else:
    schemas = lazy_module("rooms.schemas.groups")  # its bodies, built on the first request of these routes
    groups = lazy_module("rooms.groups")


router = Router()

GroupCursor = Annotated[str | None, cursor_query(scopes.GROUPS)]
GroupMemberCursor = Annotated[str | None, cursor_query(scopes.GROUP_MEMBERS)]


@route(
    router,
    CREATE_GROUP,
    status_code=201,
    summary="Create a group (you manage it) with its members; an unknown username is 409",
    tags=["groups"],
    openapi_extensions=documented(409),
)
def create_group(body: schemas.GroupIn) -> schemas.GroupOut:
    with db.session_scope() as session:
        return schemas.GroupOut.of(groups.create(session, caller(router).user_id, body.name, body.members))


@route(router, MY_GROUPS, summary="Groups I manage or belong to, newest first", tags=["groups"])
def my_groups(limit: Limit = 20, cursor: GroupCursor = None) -> schemas.GroupPage:
    return schemas.GroupPage.of(*db.read(groups.mine, caller(router).user_id, limit, cursor))


@route(router, GET_GROUP, summary="One group (its manager or a member; 404 for anyone else)", tags=["groups"])
def get_group(group_id: uuid.UUID) -> schemas.GroupOut:
    return schemas.GroupOut.of(db.read(groups.get, group_id, caller(router).user_id))


@route(router, RENAME_GROUP, summary="Rename a group (its manager)", tags=["groups"])
def rename_group(group_id: uuid.UUID, body: schemas.GroupPatch) -> schemas.GroupOut:
    with db.session_scope() as session:
        return schemas.GroupOut.of(groups.rename(session, group_id, caller(router).user_id, body.name))


@route(
    router,
    DELETE_GROUP,
    status_code=204,
    summary="Delete a group (its manager); invitations sent stay",
    tags=["groups"],
)
def delete_group(group_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        groups.remove(session, group_id, caller(router).user_id)


@route(router, GROUP_MEMBERS, summary="A group's members, in the order they were added", tags=["groups"])
def list_group_members(
    group_id: uuid.UUID, limit: Limit = 20, cursor: GroupMemberCursor = None
) -> schemas.GroupMemberPage:
    return schemas.GroupMemberPage.of(*db.read(groups.members, group_id, caller(router).user_id, limit, cursor))


@route(
    router,
    ADD_GROUP_MEMBER,
    status_code=201,
    summary=f"Add a member (its manager); 409 if unknown, already in it, or the group is full "
    f"({limits.GROUP_MAX_MEMBERS})",
    tags=["groups"],
    openapi_extensions=documented(409),
)
def add_group_member(group_id: uuid.UUID, body: schemas.GroupMemberIn) -> schemas.GroupMemberOut:
    with db.session_scope() as session:
        return schemas.GroupMemberOut.of(groups.add_member(session, group_id, caller(router).user_id, body.username))


@route(
    router,
    REMOVE_GROUP_MEMBER,
    status_code=204,
    summary="Remove a member (its manager) or leave (yourself)",
    tags=["groups"],
)
def remove_group_member(group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        groups.remove_member(session, group_id, caller(router).user_id, user_id)
