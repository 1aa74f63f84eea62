"""Share link routes: create, list and revoke my links; open one (public, by its token)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from assets import scopes
from core import db
from core.http import caller, client_ip, documented, route
from core.lazy import lazy_module
from core.routes import CREATE_SHARE, LIST_SHARES, OPEN_SHARE, REVOKE_SHARE
from core.schemas import Limit, cursor_query

if TYPE_CHECKING:
    from assets import sharing
    from assets.schemas import sharing as schemas
else:
    schemas = lazy_module("assets.schemas.sharing")  # its bodies, built on the first request of these routes
    sharing = lazy_module("assets.sharing")


router = Router()

ShareCursor = Annotated[str | None, cursor_query(scopes.SHARES)]


@route(
    router,
    CREATE_SHARE,
    status_code=201,
    summary="Create a share link (of a space's asset: its owner)",
    tags=["shares"],
    openapi_extensions=documented(403, 409, 429),
)
def create_share(asset_id: uuid.UUID, body: schemas.ShareIn) -> schemas.ShareOut:
    with db.session_scope() as session:
        created = sharing.create(
            session,
            asset_id,
            caller(router).user_id,
            body.expires_in_seconds,
            body.max_downloads,
            client_ip(router),
            original=body.original,
        )
        return schemas.ShareOut.of(created.share, created.token)


@route(
    router,
    LIST_SHARES,
    summary="An asset's share links (of a space's asset: its owner)",
    tags=["shares"],
    openapi_extensions=documented(403),
)
def list_shares(asset_id: uuid.UUID, limit: Limit = 20, cursor: ShareCursor = None) -> schemas.SharePage:
    return schemas.SharePage.of(*db.read(sharing.of_asset, asset_id, caller(router).user_id, limit, cursor))


@route(
    router,
    REVOKE_SHARE,
    status_code=204,
    summary="Revoke a share link (by its id): its creator, or the owner of its asset's space",
    tags=["shares"],
)
def revoke_share(share: uuid.UUID) -> None:
    with db.session_scope() as session:
        sharing.revoke(session, share, caller(router).user_id, client_ip(router))


@route(
    router,
    OPEN_SHARE,
    summary="Open a share link (by its token; public)",
    tags=["shares"],
    openapi_extensions=documented(429),
)
def open_share(share: str) -> schemas.SharedOut:
    with db.session_scope() as session:
        return schemas.SharedOut.of(sharing.open_link(session, share, client_ip(router)))
