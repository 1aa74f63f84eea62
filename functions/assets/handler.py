"""Assets and shares routes: parse, call logic, answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from assets import library, playback, reports, sharing, uploads
from assets.schemas import (
    AssetOut,
    AssetPage,
    AssetPatch,
    AssetStatus,
    AuditOut,
    AuditPage,
    CompleteIn,
    DownloadOut,
    MultipartProgress,
    MultipartUpload,
    PartsIn,
    PartUrl,
    SharedAsset,
    SharedOut,
    ShareIn,
    ShareOut,
    SharePage,
    SingleUpload,
    UploadedPartOut,
    UploadIn,
    UploadOut,
    UsageOut,
    VariantOut,
)
from core import audit, db, storage
from core.config import get_settings
from core.errors import BadRequest, Conflict, NotFound
from core.http import caller, client_ip, documented, lambda_handler, make_resolver
from core.models.assets import Asset, Variant
from core.schemas import Limit, cursor_query

app = make_resolver()

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
AssetCursor = Annotated[str | None, cursor_query(library.SCOPE)]
ShareCursor = Annotated[str | None, cursor_query(sharing.SCOPE)]
AuditCursor = Annotated[str | None, cursor_query(reports.AUDIT_SCOPE)]
PartsCursor = Annotated[str | None, cursor_query(uploads.PARTS_SCOPE, uploads.PARTS_CURSOR)]


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            "Invalid time", details=[{"field": name, "in": "query", "message": "not a valid time"}]
        ) from exc


def _variants(variants: list[Variant], *, shared: bool = False) -> list[VariantOut]:
    """Image variants: a signed URL (CloudFront where the stage has it, else S3). A video's HLS
    rendition: its playback route (owner only, so a share lists no such variant)."""
    return [
        VariantOut(
            kind=v.kind,
            url=f"/api/v1/assets/{v.asset_id}/playback"
            if v.kind == playback.HLS
            else storage.variant_url(v.s3_key, v.version_id),
            width=v.width,
            height=v.height,
            content_type=v.content_type,
        )
        for v in variants
        if not (shared and v.kind == playback.HLS)
    ]


def _asset(asset: Asset, variants: list[Variant]) -> AssetOut:
    return AssetOut(
        id=asset.id,
        filename=asset.filename,
        content_type=asset.content_type,
        size=asset.size,
        status=cast(AssetStatus, asset.status),
        width=asset.width,
        height=asset.height,
        duration_s=asset.duration_s,
        exif=asset.exif,
        tags=asset.tags,
        variants=_variants(variants),
        created_at=asset.created_at,
    )


def _share(share: sharing.Share, token: str | None = None) -> ShareOut:
    return ShareOut(
        id=share.id,
        asset_id=share.asset_id,
        token=token,
        url=f"/api/v1/shares/{token}" if token else None,
        expires_at=share.expires_at,
        max_downloads=share.max_downloads,
        original=share.original,
        download_count=share.download_count,
        revoked_at=share.revoked_at,
        created_at=share.created_at,
    )


@app.post(
    "/api/v1/assets/uploads",
    status_code=201,
    summary="Start an upload (single or multipart)",
    tags=["assets"],
    openapi_extensions=documented(413),
)
def start_upload(body: UploadIn) -> UploadOut:
    with db.session_scope() as session:
        started = uploads.start(session, caller(app).user_id, body.filename, body.content_type, body.size)
    out = UploadOut(asset=_asset(started.asset, []))
    if started.url is not None:
        out.upload = SingleUpload(url=started.url, headers=started.headers or {}, expires_in=started.expires_in)
    else:
        parts = [
            PartUrl(part_number=n, url=url, size=length)
            for n, (url, length) in enumerate(started.part_urls or [], start=1)
        ]
        out.multipart = MultipartUpload(
            upload_id=started.asset.upload_id or "",
            part_size=started.part_size or 0,
            parts=parts,
            expires_in=started.expires_in,
        )
    return out


@app.post(
    "/api/v1/assets/<asset_id>/multipart/complete",
    summary="Finish a multipart upload",
    tags=["assets"],
    openapi_extensions=documented(409, 413),
)
def complete_upload(asset_id: uuid.UUID, body: CompleteIn) -> AssetOut:
    parts = [(p.part_number, p.etag) for p in body.parts]
    with db.session_scope() as session:
        return _asset(uploads.complete(session, asset_id, caller(app).user_id, parts), [])


@app.delete(
    "/api/v1/assets/<asset_id>/multipart",
    status_code=204,
    summary="Abort a multipart upload",
    tags=["assets"],
    openapi_extensions=documented(409),
)
def abort_upload(asset_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        uploads.abort(session, asset_id, caller(app).user_id)


@app.get(
    "/api/v1/assets/<asset_id>/multipart",
    summary="The parts of a multipart upload storage already holds (to resume it)",
    tags=["assets"],
    openapi_extensions=documented(409),
)
def upload_progress(asset_id: uuid.UUID, limit: Limit = 20, cursor: PartsCursor = None) -> MultipartProgress:
    with db.session_scope() as session:
        found = uploads.progress(session, asset_id, caller(app).user_id, limit, cursor)
        return MultipartProgress(
            upload_id=found.asset.upload_id or "",
            size=found.asset.size,
            part_size=found.part_size,
            parts_total=found.parts_total,
            items=[
                UploadedPartOut(part_number=p.number, size=p.size, etag=p.etag, last_modified=p.last_modified)
                for p in found.parts
            ],
            next_cursor=found.next_cursor,
            expires_at=found.aborts_at,
        )


@app.post(
    "/api/v1/assets/<asset_id>/multipart/parts",
    summary="Fresh part URLs for a multipart upload (to resume it once the first ones expired)",
    tags=["assets"],
    openapi_extensions=documented(409, 413),
)
def resume_upload(asset_id: uuid.UUID, body: PartsIn) -> MultipartUpload:
    with db.session_scope() as session:
        fresh = uploads.fresh_part_urls(session, asset_id, caller(app).user_id, body.part_numbers)
        upload_id = fresh.asset.upload_id or ""
    return MultipartUpload(
        upload_id=upload_id,
        part_size=fresh.part_size,
        parts=[PartUrl(part_number=n, url=url, size=length) for n, url, length in fresh.part_urls],
        expires_in=fresh.expires_in,
    )


@app.get("/api/v1/assets", summary="My assets, newest first, with search and filters", tags=["assets"])
def list_assets(
    limit: Limit = 20,
    cursor: AssetCursor = None,
    q: Search = None,
    content_type: TypeFilter = None,
    tag: Tag = None,
    created_from: From = None,
    to: To = None,
) -> AssetPage:
    with db.session_scope() as session:
        found, next_cursor = library.search(
            session,
            caller(app).user_id,
            limit=limit,
            cursor=cursor,
            q=q,
            content_type=content_type,
            tag=tag,
            created_from=_instant("from", created_from),
            created_to=_instant("to", to),
        )
        variants = library.variants_of(session, [a.id for a in found])
        return AssetPage(items=[_asset(a, variants[a.id]) for a in found], next_cursor=next_cursor)


@app.get("/api/v1/assets/<asset_id>", summary="One of my assets", tags=["assets"])
def get_asset(asset_id: uuid.UUID) -> AssetOut:
    with db.session_scope() as session:
        asset = library.owned(session, asset_id, caller(app).user_id)
        return _asset(asset, library.variants_of(session, [asset.id])[asset.id])


@app.patch("/api/v1/assets/<asset_id>", summary="Rename or tag an asset", tags=["assets"])
def patch_asset(asset_id: uuid.UUID, body: AssetPatch) -> AssetOut:
    with db.session_scope() as session:
        asset = library.update(session, asset_id, caller(app).user_id, body.filename, body.tags)
        return _asset(asset, library.variants_of(session, [asset.id])[asset.id])


@app.delete(
    "/api/v1/assets/<asset_id>", status_code=204, summary="Delete an asset, its variants and shares", tags=["assets"]
)
def delete_asset(asset_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        keys = library.remove(session, asset_id, caller(app).user_id, client_ip(app))
    library.purge_objects(keys)


@app.get(
    "/api/v1/assets/<asset_id>/download",
    summary="A short-lived download URL (ready assets only)",
    tags=["assets"],
    openapi_extensions=documented(409),
)
def download(asset_id: uuid.UUID) -> DownloadOut:
    me = caller(app).user_id
    ttl = get_settings().download_url_ttl_s
    with db.session_scope() as session:
        asset = library.owned(session, asset_id, me)
        if asset.status != "ready":
            raise Conflict(f"The asset is {asset.status}; only ready assets can be downloaded")
        # Pinned to the version the pipeline scanned: whatever was written to the key since is never served.
        url = storage.presigned_get(asset.s3_key, ttl, storage.attachment(asset.filename), asset.version_id)
        audit.record(
            session, "asset.download_url_issued", user_id=me, ip=client_ip(app), target_type="asset", target_id=asset.id
        )
    return DownloadOut(url=url, expires_in=ttl)


PLAYLIST: dict[str, str] = {"type": "string"}
PlaylistName = Annotated[
    str | None, Query(pattern=playback.PLAYLIST_NAME, description="a playlist the previous one names")
]


@app.get(
    "/api/v1/assets/<asset_id>/playback",
    summary="Play a video: its HLS playlist, every segment URL signed (ready videos only)",
    description="Answers the multivariant playlist, or with `playlist` one it names; playlist URIs stay "
    "relative (this route again, so the player sends the same Authorization header), segment URIs are "
    "absolute signed URLs that live the video's duration plus 15 minutes.",
    tags=["assets"],
    responses={200: {"description": "An HLS playlist", "content": {playback.CONTENT_TYPE: {"schema": PLAYLIST}}}},
    openapi_extensions=documented(409),
)
def play(asset_id: uuid.UUID, playlist: PlaylistName = None) -> Response[str]:
    with db.session_scope() as session:
        asset = library.owned(session, asset_id, caller(app).user_id)
        variant = playback.entry(asset, library.variants_of(session, [asset.id])[asset.id])
    return Response(200, playback.CONTENT_TYPE, playback.playlist(asset, variant, playlist))


@app.post(
    "/api/v1/assets/<asset_id>/shares",
    status_code=201,
    summary="Create a share link",
    tags=["shares"],
    openapi_extensions=documented(409, 429),
)
def create_share(asset_id: uuid.UUID, body: ShareIn) -> ShareOut:
    with db.session_scope() as session:
        created = sharing.create(
            session,
            asset_id,
            caller(app).user_id,
            body.expires_in_seconds,
            body.max_downloads,
            client_ip(app),
            original=body.original,
        )
        return _share(created.share, created.token)


@app.get("/api/v1/assets/<asset_id>/shares", summary="An asset's share links", tags=["shares"])
def list_shares(asset_id: uuid.UUID, limit: Limit = 20, cursor: ShareCursor = None) -> SharePage:
    with db.session_scope() as session:
        found, next_cursor = sharing.of_asset(session, asset_id, caller(app).user_id, limit, cursor)
        return SharePage(items=[_share(s) for s in found], next_cursor=next_cursor)


@app.delete("/api/v1/shares/<share>", status_code=204, summary="Revoke a share link (by its id)", tags=["shares"])
def revoke_share(share: uuid.UUID) -> None:
    with db.session_scope() as session:
        sharing.revoke(session, share, caller(app).user_id, client_ip(app))


@app.get(
    "/api/v1/shares/<share>",
    summary="Open a share link (by its token; public)",
    tags=["shares"],
    openapi_extensions=documented(429),
)
def open_share(share: str) -> SharedOut:
    ttl = get_settings().download_url_ttl_s
    with db.session_scope() as session:
        found = sharing.access(session, share, client_ip(app))
        asset = found.asset
        variants = library.variants_of(session, [asset.id])[asset.id]
        # Every URL is pinned to a version the pipeline made or scanned.
        if found.share.original:
            name, content_type, size = asset.filename, asset.content_type, asset.size
            url = storage.presigned_get(asset.s3_key, ttl, storage.attachment(name), asset.version_id)
        else:  # the metadata-free preview (access() counted the download only if it exists)
            shown = sharing.rendition(variants)
            if shown is None:  # deleted since access() saw it
                raise NotFound("No such share", keep_writes=True)
            name = sharing.rendition_filename(asset.filename, shown.content_type)
            content_type, size = shown.content_type, shown.size
            url = storage.presigned_get(shown.s3_key, ttl, storage.attachment(name), shown.version_id)
        shared = SharedAsset(
            filename=name,
            content_type=content_type,
            size=size,
            original=found.share.original,
            variants=_variants(variants, shared=True),
        )
    return SharedOut(asset=shared, download=DownloadOut(url=url, expires_in=ttl))


@app.get("/api/v1/usage", summary="What my library holds and how it is used", tags=["assets"])
def usage() -> UsageOut:
    with db.session_scope() as session:
        return UsageOut.model_validate(reports.usage(session, caller(app).user_id))


@app.get("/api/v1/audit", summary="My audit events, newest first", tags=["assets"])
def audit_events(limit: Limit = 20, cursor: AuditCursor = None) -> AuditPage:
    with db.session_scope() as session:
        found, next_cursor = reports.audit_trail(session, caller(app).user_id, limit, cursor)
        items = [
            AuditOut(
                id=e.id,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                ip=e.ip,
                created_at=e.created_at,
            )
            for e in found
        ]
        return AuditPage(items=items, next_cursor=next_cursor)


handler = lambda_handler(app)
