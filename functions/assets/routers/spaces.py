"""Shared spaces and their members (issue 20): parse, call logic, answer. Roles are decided in
the use-case modules (assets.spaces, assets.space_access)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from assets import scopes
from assets.routers.library import From, Search, Tag, To, TypeFilter, filters
from assets.schemas import AssetOut, AssetPage
from core import db
from core.http import caller, client_ip, documented, route
from core.lazy import lazy_module
from core.routes import (
    ADD_SPACE_MEMBER,
    CREATE_SPACE,
    DELETE_SPACE,
    GET_SPACE,
    LIST_SPACES,
    MOVE_ASSET,
    PATCH_SPACE,
    PATCH_SPACE_MEMBER,
    REMOVE_SPACE_MEMBER,
    SPACE_ASSETS,
    SPACE_AUDIT,
    SPACE_MEMBERS,
    SPACE_USAGE,
    TRANSFER_SPACE,
)
from core.schemas import Limit, cursor_query

if TYPE_CHECKING:
    from assets import library, moves, reports, space_access, spaces
    from assets.schemas import spaces as schemas
else:
    schemas = lazy_module("assets.schemas.spaces")  # its bodies, built on the first request of these routes
    library = lazy_module("assets.library")
    moves = lazy_module("assets.moves")
    reports = lazy_module("assets.reports")
    spaces = lazy_module("assets.spaces")
    space_access = lazy_module("assets.space_access")


router = Router()

SpaceCursor = Annotated[str | None, cursor_query(scopes.SPACES)]
MemberCursor = Annotated[str | None, cursor_query(scopes.SPACE_MEMBERS)]
SpaceAssetCursor = Annotated[str | None, cursor_query(scopes.SPACE_ASSETS)]
SpaceAuditCursor = Annotated[str | None, cursor_query(scopes.SPACE_AUDIT)]


@route(router, CREATE_SPACE, status_code=201, summary="Create a shared space (you are its owner)", tags=["spaces"])
def create_space(body: schemas.SpaceIn) -> schemas.SpaceOut:
    quota = body.quota_bytes if "quota_bytes" in body.model_fields_set else spaces.default_quota()
    with db.session_scope() as session:
        return schemas.SpaceOut.of(spaces.create(session, caller(router).user_id, body.name, quota, client_ip(router)))


@route(router, LIST_SPACES, summary="The spaces I am a member of, with my role, latest joined first", tags=["spaces"])
def list_spaces(limit: Limit = 20, cursor: SpaceCursor = None) -> schemas.SpacePage:
    return schemas.SpacePage.of(*db.read(spaces.mine, caller(router).user_id, limit, cursor))


@route(router, GET_SPACE, summary="A space (viewer+; 404 for non-members)", tags=["spaces"])
def get_space(space_id: uuid.UUID) -> schemas.SpaceOut:
    return schemas.SpaceOut.of(db.read(space_access.space_for, space_id, caller(router).user_id))


@route(
    router,
    PATCH_SPACE,
    summary="Rename a space or set its quota (owner)",
    tags=["spaces"],
    openapi_extensions=documented(403),
)
def patch_space(space_id: uuid.UUID, body: schemas.SpacePatch) -> schemas.SpaceOut:
    quota = body.quota_bytes if "quota_bytes" in body.model_fields_set else spaces.UNSET
    with db.session_scope() as session:
        me = caller(router).user_id
        return schemas.SpaceOut.of(spaces.update_space(session, space_id, me, body.name, quota, client_ip(router)))


@route(
    router,
    DELETE_SPACE,
    status_code=204,
    summary="Delete a space (owner): its assets go back to their uploaders, their share links are revoked",
    tags=["spaces"],
    openapi_extensions=documented(403),
)
def delete_space(space_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        spaces.remove_space(session, space_id, caller(router).user_id, client_ip(router))


@route(router, SPACE_MEMBERS, summary="A space's members (viewer+), in joining order", tags=["spaces"])
def list_members(space_id: uuid.UUID, limit: Limit = 20, cursor: MemberCursor = None) -> schemas.SpaceMemberPage:
    return schemas.SpaceMemberPage.of(*db.read(spaces.members, space_id, caller(router).user_id, limit, cursor))


@route(
    router,
    ADD_SPACE_MEMBER,
    status_code=201,
    summary="Add a member (owner: viewer or editor; editor: viewer)",
    tags=["spaces"],
    openapi_extensions=documented(403, 409),
)
def add_member(space_id: uuid.UUID, body: schemas.SpaceMemberIn) -> schemas.SpaceMemberOut:
    with db.session_scope() as session:
        me = caller(router).user_id
        return schemas.SpaceMemberOut.of(
            spaces.add_member(session, space_id, me, body.username, body.role, client_ip(router))
        )


@route(
    router,
    PATCH_SPACE_MEMBER,
    summary="Change a member's role (only below your own role; owner only by transfer)",
    tags=["spaces"],
    openapi_extensions=documented(403),
)
def patch_member(space_id: uuid.UUID, user_id: uuid.UUID, body: schemas.SpaceRoleIn) -> schemas.SpaceMemberOut:
    with db.session_scope() as session:
        me = caller(router).user_id
        return schemas.SpaceMemberOut.of(
            spaces.change_role(session, space_id, me, user_id, body.role, client_ip(router))
        )


@route(
    router,
    REMOVE_SPACE_MEMBER,
    status_code=204,
    summary="Leave (yourself) or remove a member below you; the owner must transfer first. "
    "The member's share links of the space's assets are revoked",
    tags=["spaces"],
    openapi_extensions=documented(403, 409),
)
def remove_member(space_id: uuid.UUID, user_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        spaces.remove_member(session, space_id, caller(router).user_id, user_id, client_ip(router))


@route(
    router,
    TRANSFER_SPACE,
    summary="Transfer ownership (owner) to another member (409 if not one); you become editor",
    tags=["spaces"],
    openapi_extensions=documented(403, 409),
)
def transfer_ownership(space_id: uuid.UUID, body: schemas.SpaceOwnerIn) -> schemas.SpaceMemberOut:
    with db.session_scope() as session:
        me = caller(router).user_id
        return schemas.SpaceMemberOut.of(spaces.transfer(session, space_id, me, body.user_id, client_ip(router)))


@route(
    router,
    SPACE_ASSETS,
    summary="A space's assets (viewer+), newest first, with the search and filters of GET /assets",
    tags=["spaces"],
)
def list_space_assets(
    space_id: uuid.UUID,
    limit: Limit = 20,
    cursor: SpaceAssetCursor = None,
    q: Search = None,
    content_type: TypeFilter = None,
    tag: Tag = None,
    created_from: From = None,
    to: To = None,
) -> AssetPage:
    me, chosen = caller(router).user_id, filters(q, content_type, tag, created_from, to)
    return AssetPage.of(*db.read(library.space_page, space_id, me, limit=limit, cursor=cursor, filters=chosen))


@route(
    router,
    SPACE_USAGE,
    summary="What a space holds against its quota, and how its assets are used (viewer+)",
    tags=["spaces"],
)
def space_usage(space_id: uuid.UUID) -> schemas.SpaceUsageOut:
    return schemas.SpaceUsageOut.model_validate(db.read(reports.space_usage, space_id, caller(router).user_id))


@route(
    router,
    SPACE_AUDIT,
    summary="Everything done in a space, newest first (owner)",
    tags=["spaces"],
    openapi_extensions=documented(403),
)
def space_audit(space_id: uuid.UUID, limit: Limit = 20, cursor: SpaceAuditCursor = None) -> schemas.SpaceAuditPage:
    return schemas.SpaceAuditPage.of(*db.read(reports.space_audit, space_id, caller(router).user_id, limit, cursor))


@route(
    router,
    MOVE_ASSET,
    summary="Move my asset into a space or back to my library (editor+ of both ends); its share links are revoked",
    tags=["spaces"],
    openapi_extensions=documented(403, 409, 413),
)
def move_asset(asset_id: uuid.UUID, body: schemas.MoveIn) -> AssetOut:
    with db.session_scope() as session:
        asset = moves.move(session, asset_id, caller(router).user_id, body.space_id, client_ip(router))
        return AssetOut.of(asset, library.variants_of(session, [asset.id])[asset.id])
