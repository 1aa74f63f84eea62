"""Library routes: list and search my assets, one asset, rename or tag it, delete it, download it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from assets import scopes
from assets.schemas import AssetOut, AssetPage, AssetPatch, DownloadOut
from core import db
from core.errors import BadRequest
from core.http import caller, client_ip, documented, route
from core.lazy import lazy_module
from core.routes import DELETE_ASSET, DOWNLOAD_ASSET, GET_ASSET, LIST_ASSETS, PATCH_ASSET
from core.schemas import Limit, cursor_query

if TYPE_CHECKING:
    from assets import library
else:
    library = lazy_module("assets.library")


router = Router()

AssetCursor = Annotated[str | None, cursor_query(scopes.ASSETS)]
Search = Annotated[str | None, Query(min_length=1, max_length=100, description="filename contains")]
TypeFilter = Annotated[
    str | None, Query(pattern=r"^(image|video)/(\*|[a-z0-9][a-z0-9.+-]{0,100})$", description="e.g. image/*")
]
Tag = Annotated[str | None, Query(min_length=1, max_length=50)]
# RFC 3339 date-time (what `format: date-time` means); the calendar is checked when parsed.
RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
From = Annotated[
    str | None,
    Query(alias="from", pattern=RFC3339, description="created at or after", json_schema_extra={"format": "date-time"}),
]
To = Annotated[
    str | None, Query(pattern=RFC3339, description="created before", json_schema_extra={"format": "date-time"})
]


def instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            "Invalid time", details=[{"field": name, "in": "query", "message": "not a valid time"}]
        ) from exc


def filters(
    q: str | None, content_type: str | None, tag: str | None, created_from: str | None, to: str | None
) -> library.Filters:
    """The search and filters of a list of assets, its times parsed (400 before any database work)."""
    return library.Filters(q, content_type, tag, instant("from", created_from), instant("to", to))


@route(router, LIST_ASSETS, summary="My assets, newest first, with search and filters", tags=["assets"])
def list_assets(
    limit: Limit = 20,
    cursor: AssetCursor = None,
    q: Search = None,
    content_type: TypeFilter = None,
    tag: Tag = None,
    created_from: From = None,
    to: To = None,
) -> AssetPage:
    mine = library.personal(caller(router).user_id)
    chosen = filters(q, content_type, tag, created_from, to)
    return AssetPage.of(*db.read(library.page, mine, limit=limit, cursor=cursor, filters=chosen))


@route(router, GET_ASSET, summary="One of my assets, or of a space I am a member of", tags=["assets"])
def get_asset(asset_id: uuid.UUID) -> AssetOut:
    return AssetOut.of(*db.read(library.shown, asset_id, caller(router).user_id))


@route(
    router,
    PATCH_ASSET,
    summary="Rename or tag an asset (in a space: editor+)",
    tags=["assets"],
    openapi_extensions=documented(403),
)
def patch_asset(asset_id: uuid.UUID, body: AssetPatch) -> AssetOut:
    with db.session_scope() as session:
        asset = library.update(session, asset_id, caller(router).user_id, body.filename, body.tags)
        return AssetOut.of(asset, library.variants_of(session, [asset.id])[asset.id])


@route(
    router,
    DELETE_ASSET,
    status_code=204,
    summary="Delete an asset, its variants and shares (in a space: editor+)",
    tags=["assets"],
    openapi_extensions=documented(403),
)
def delete_asset(asset_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        keys = library.remove(session, asset_id, caller(router).user_id, client_ip(router))
    library.purge_objects(keys)


@route(
    router,
    DOWNLOAD_ASSET,
    summary="A short-lived download URL (ready assets only)",
    tags=["assets"],
    openapi_extensions=documented(409),
)
def download(asset_id: uuid.UUID) -> DownloadOut:
    with db.session_scope() as session:
        url, expires_in = library.download_url(session, asset_id, caller(router).user_id, client_ip(router))
    return DownloadOut(url=url, expires_in=expires_in)
