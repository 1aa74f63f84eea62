"""Upload routes: start one (single or multipart), then finish, abort or resume a multipart upload."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from assets import scopes
from assets.schemas import AssetOut
from core import db
from core.http import caller, client_ip, documented, route
from core.lazy import lazy_module
from core.routes import ABORT_UPLOAD, COMPLETE_UPLOAD, RESUME_UPLOAD, START_UPLOAD, UPLOAD_PROGRESS
from core.schemas import Limit, cursor_query

if TYPE_CHECKING:
    from assets import uploads
    from assets.schemas import uploads as schemas
else:
    schemas = lazy_module("assets.schemas.uploads")  # its bodies, built on the first request of these routes
    uploads = lazy_module("assets.uploads")


router = Router()

PartsCursor = Annotated[str | None, cursor_query(scopes.MULTIPART_PARTS, scopes.MULTIPART_PARTS_KEY)]


@route(
    router,
    START_UPLOAD,
    status_code=201,
    summary="Start an upload (single or multipart), into my library or a space (editor+)",
    tags=["assets"],
    openapi_extensions=documented(403, 413),
)
def start_upload(body: schemas.UploadIn) -> schemas.UploadOut:
    me, ip = caller(router).user_id, client_ip(router)
    with db.session_scope() as session:
        started = uploads.start(session, me, body.filename, body.content_type, body.size, body.space_id, ip)
    return schemas.UploadOut.of(started)


@route(
    router,
    COMPLETE_UPLOAD,
    summary="Finish a multipart upload",
    tags=["assets"],
    openapi_extensions=documented(409, 413),
)
def complete_upload(asset_id: uuid.UUID, body: schemas.CompleteIn) -> AssetOut:
    parts = [(p.part_number, p.etag) for p in body.parts]
    with db.session_scope() as session:
        return AssetOut.of(uploads.complete(session, asset_id, caller(router).user_id, parts))


@route(
    router,
    ABORT_UPLOAD,
    status_code=204,
    summary="Abort a multipart upload",
    tags=["assets"],
    openapi_extensions=documented(409),
)
def abort_upload(asset_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        uploads.abort(session, asset_id, caller(router).user_id)


@route(
    router,
    UPLOAD_PROGRESS,
    summary="The parts of a multipart upload storage already holds (to resume it)",
    tags=["assets"],
    openapi_extensions=documented(409),
)
def upload_progress(asset_id: uuid.UUID, limit: Limit = 20, cursor: PartsCursor = None) -> schemas.MultipartProgress:
    with db.session_scope() as session:
        return schemas.MultipartProgress.of(uploads.progress(session, asset_id, caller(router).user_id, limit, cursor))


@route(
    router,
    RESUME_UPLOAD,
    summary="Fresh part URLs for a multipart upload (to resume it once the first ones expired)",
    tags=["assets"],
    openapi_extensions=documented(409, 413),
)
def resume_upload(asset_id: uuid.UUID, body: schemas.PartsIn) -> schemas.MultipartUpload:
    with db.session_scope() as session:
        return schemas.MultipartUpload.of(
            uploads.fresh_part_urls(session, asset_id, caller(router).user_id, body.part_numbers)
        )
