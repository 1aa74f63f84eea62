"""What happens to an uploaded object, decided by the asset row's status.

Assets (`assets/<owner>/<asset>`):
  claim: pending -> processing (one conditional UPDATE; a duplicate or late event finds
         nothing to claim and changes nothing), recording the S3 version taken (the event's,
         else the current one); everything after reads and tags that version only, and the
         assets function pins every URL to it;
  another version of a key whose asset already took one (the upload URL used twice) is
         deleted, never scanned or served: the version taken is current again;
  scan first, before any parser sees the bytes: a hit -> quarantined, object version tagged;
  magic bytes (one ranged GET) against the declared type: a mismatch -> failed;
  images -> thumb + preview under variants/<owner>/<asset>/, EXIF summary -> ready;
  videos -> a transcode request (jobs/transcode/<asset>.json) for the transcode function,
         which runs outside the VPC because MediaConvert has no VPC endpoint; still
         processing until the job's state-change event finishes it (a job that cannot be
         created waits in the transcode DLQ, its request kept, until redriven).
  A retryable failure (scan pending, S3 or the database down, a bug) hands the claim back
  (processing -> pending) and re-raises, so the message is retried and finds it pending.
  A claim lost to a crash is taken again once older than MEDIA_CLAIM_LEASE_S.
Post images (`post-images/<user>/<hex>.<ext>`): the same path, recorded in `post_images` (keyed
  by the image key, whether or not its post exists yet): claim (one conditional INSERT, the
  version taken), scan, magic bytes, decode once -> thumb + preview without metadata under
  variants/post-images/<user>/<hex>/ -> ready; a hit, a mismatch, an inconclusive scan or an
  undecodable image tags the object version and makes the image refused (its post keeps the
  key and shows no image). Another version of a taken key is deleted unscanned.
Room images (`room-images/<room>/<user>/<image>.<ext>`): the same checks, recorded in `room_images`
  (media.room_images).
Anything else (our own variants/, unknown prefixes, another bucket) is ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core import db
from core.config import CoreSettings
from core.keys import (
    ASSET_KEY,
    HLS_VARIANT,
    POST_IMAGE_KEY,
    POST_IMAGE_TYPES,
    ROOM_IMAGE_KEY,
    post_image_variants_prefix,
    variant_key,
    variants_prefix,
)
from core.storage import StorageSettings
from core.transcoding import TranscodeRequest, TranscodingSettings
from media.logs import logger
from media.objects import ObjectGone, StoredObject, TooLarge, put_transcode_request, put_variant
from media.records import Event, JobStateChange, ObjectCreated, split_s3_url
from media.scan import ScanInconclusive, configured_scanner
from media.settings import MediaSettings
from media.sniff import DECODABLE, SNIFF_BYTES, VIDEOS, describe, matches, sniff

if TYPE_CHECKING:
    from collections.abc import Callable

    from media.images import ProcessedImage

QUARANTINED_TAG = {"quarantined": "true"}
# status_reason of a video whose job is in flight: never claimed again, never handed back.
TRANSCODING = "transcoding: MediaConvert job requested as "
HLS_CONTENT_TYPE = "application/vnd.apple.mpegurl"
VARIANT_COLUMNS = ("s3_key", "width", "height", "content_type", "size", "version_id", "source_version_id")


@dataclass(frozen=True)
class Outcome:
    """What one event led to (logged, and what the tests look at)."""

    action: str  # ready | processing | failed | quarantined | rejected | clean | skipped
    detail: str = ""


@dataclass(frozen=True)
class Claim:
    asset_id: uuid.UUID
    owner_id: uuid.UUID
    content_type: str
    version_id: str | None = None  # the S3 version taken (None: an unversioned bucket)


@dataclass(frozen=True)
class VariantRow:
    kind: str
    s3_key: str
    content_type: str
    width: int | None = None
    height: int | None = None
    size: int = 0
    version_id: str | None = None  # the variant object's own version
    source_version_id: str | None = None  # the original's version it was made from


def handle(event: Event) -> Outcome:
    outcome = finish_job(event) if isinstance(event, JobStateChange) else object_created(event)
    logger.info(
        "media event handled", extra={"media_event": repr(event), "outcome": outcome.action, "detail": outcome.detail}
    )
    return outcome


# ------------------------------------------------------------------ objects


def object_created(event: ObjectCreated) -> Outcome:
    settings = MediaSettings.current()
    if event.bucket != StorageSettings.current().assets_bucket:
        return Outcome("skipped", f"bucket {event.bucket!r} is not the assets bucket")
    if found := ASSET_KEY.match(event.key):
        try:
            owner_id, asset_id = uuid.UUID(found["owner"]), uuid.UUID(found["asset"])
        except ValueError:
            return Outcome("skipped", "not an asset key")
        obj = StoredObject(event.bucket, event.key, event.version_id)
        return process_asset(settings, obj, owner_id, asset_id)
    if found := POST_IMAGE_KEY.match(event.key):
        obj = StoredObject(event.bucket, event.key, event.version_id)
        return process_post_image(settings, obj, POST_IMAGE_TYPES[found["ext"]])
    if ROOM_IMAGE_KEY.match(event.key):
        from media import room_images  # issue 19.5: its own module (it builds on this one)

        return room_images.process(settings, StoredObject(event.bucket, event.key, event.version_id))
    return Outcome("skipped", "not an upload key")


def process_asset(settings: MediaSettings, obj: StoredObject, owner_id: uuid.UUID, asset_id: uuid.UUID) -> Outcome:
    if obj.version_id is None:
        # The event names no version (moto does not; an unversioned bucket has none): the current one.
        try:
            obj = StoredObject(obj.bucket, obj.key, obj.current_version())
        except ObjectGone:
            return Outcome("skipped", "the object is gone")
    claim = claim_asset(asset_id, owner_id, obj.key, obj.version_id, settings.media_claim_lease_s)
    if claim is None:
        return not_claimed(obj, asset_id)
    try:
        return examine(settings, obj, claim)
    except ObjectGone:
        release(asset_id)
        return Outcome("skipped", "the object is gone")
    except BaseException:
        release(asset_id)  # the retried message finds it pending again
        raise


def not_claimed(obj: StoredObject, asset_id: uuid.UUID) -> Outcome:
    """Nothing to claim: a duplicate or late event changes nothing, but another version of a key
    whose asset already took one is deleted, unscanned (so the version taken is current again)."""
    row = asset_row(asset_id)
    if row is None:
        return Outcome("skipped", "asset is gone")
    taken = row["version_id"]
    if obj.version_id is None or taken is None or obj.version_id == taken or row["s3_key"] != obj.key:
        return Outcome("skipped", f"asset is {row['status']}")
    obj.delete_version()
    logger.warning(
        "a second version of an upload was deleted unscanned",
        extra={"asset_id": str(asset_id), "deleted_version": obj.version_id, "version_taken": taken},
    )
    return Outcome("discarded", f"version {obj.version_id} deleted: the asset ({row['status']}) took version {taken}")


def examine(settings: MediaSettings, obj: StoredObject, claim: Claim) -> Outcome:
    try:
        verdict = configured_scanner(settings, cloud=CoreSettings.current().is_cloud).scan(obj)
    except ScanInconclusive as exc:
        return finish(claim.asset_id, "failed", f"malware scan inconclusive ({exc}); not served", claim=claim)
    if verdict.infected:
        obj.add_tags(QUARANTINED_TAG)
        reason = f"malware found by {verdict.scanner}: {verdict.signature}"
        return finish(claim.asset_id, "quarantined", reason, claim=claim)

    head = obj.head(SNIFF_BYTES)
    kind = sniff(head)
    if not matches(claim.content_type, kind):
        found = kind or describe(head)
        return finish(
            claim.asset_id, "failed", f"declared {claim.content_type} but the content is {found}", claim=claim
        )
    if kind in VIDEOS:
        return start_video(settings, obj, claim)
    if kind not in DECODABLE:
        return finish(claim.asset_id, "ready", f"no variants: {kind} is stored as uploaded", claim=claim)
    return make_image_variants(settings, obj, claim)


class Undecodable(Exception):
    """The image cannot be turned into variants (too large to read, corrupt, too many pixels)."""


def decode_image(settings: MediaSettings, obj: StoredObject) -> ProcessedImage:
    """The object version decoded once: thumb and preview without metadata, and its EXIF summary."""
    from media import images  # Pillow is imported only when there is an image to decode

    try:
        data = obj.read(settings.media_max_image_bytes)
        return images.process(
            data,
            {"thumb": settings.media_thumb_px, "preview": settings.media_preview_px},
            max_pixels=settings.media_max_image_pixels,
        )
    except TooLarge as exc:
        raise Undecodable(f"image too large to process: {exc}") from exc
    except images.ImageRejected as exc:
        raise Undecodable(f"image rejected: {exc}") from exc


def write_variants(obj: StoredObject, processed: ProcessedImage, prefix: str) -> list[VariantRow]:
    rows = []
    for r in processed.renditions:
        key = variant_key(prefix, r.kind)
        version = put_variant(obj.bucket, key, r.data, r.content_type)
        rows.append(VariantRow(r.kind, key, r.content_type, r.width, r.height, len(r.data), version, obj.version_id))
    return rows


def make_image_variants(settings: MediaSettings, obj: StoredObject, claim: Claim) -> Outcome:
    try:
        processed = decode_image(settings, obj)
    except Undecodable as exc:
        return finish(claim.asset_id, "failed", str(exc), claim=claim)
    rows = write_variants(obj, processed, variants_prefix(claim.owner_id, claim.asset_id))
    return finish(
        claim.asset_id,
        "ready",
        claim=claim,
        width=processed.width,
        height=processed.height,
        exif=processed.exif,
        variants=rows,
    )


def start_video(settings: MediaSettings, obj: StoredObject, claim: Claim) -> Outcome:
    core = CoreSettings.current()
    if not TranscodingSettings.current().mediaconvert_endpoint:
        if core.is_cloud:
            raise RuntimeError("MEDIACONVERT_ENDPOINT is not set; videos cannot be transcoded")
        logger.warning(
            "MediaConvert is not configured (no MEDIACONVERT_ENDPOINT): the video is ready with the original only",
            extra={"asset_id": str(claim.asset_id)},
        )
        return finish(claim.asset_id, "ready", "no HLS variant: MediaConvert is not configured here", claim=claim)
    # MEDIACONVERT_ENDPOINT here only says that the transcode function (which calls it) is deployed.
    request = TranscodeRequest(
        bucket=obj.bucket,
        key=obj.key,
        variants_prefix=variants_prefix(claim.owner_id, claim.asset_id),
        user_metadata={"asset_id": str(claim.asset_id), "stage": core.stage},
        client_token=str(claim.asset_id),
    )
    put_transcode_request(request)  # first: if marking fails, the claim is handed back and all is redone
    mark_transcoding(claim.asset_id, request.object_key)
    return Outcome("processing", f"transcode requested: {request.object_key}")


def process_post_image(settings: MediaSettings, obj: StoredObject, declared: str) -> Outcome:
    """Claim the key's version in `post_images`, then the asset path: scan, magic bytes, variants."""
    try:
        if obj.version_id is None:  # moto's events name none: the current version
            obj = StoredObject(obj.bucket, obj.key, obj.current_version())
    except ObjectGone:
        return Outcome("skipped", "the object is gone")
    if not claim_post_image(obj.key, obj.version_id, settings.media_claim_lease_s):
        return post_image_not_claimed(obj)
    try:
        return examine_image(
            settings, obj, declared, finish=finish_post_image, variants_prefix=post_image_variants_prefix(obj.key)
        )
    except ObjectGone:
        release_post_image(obj.key, obj.version_id)
        return Outcome("skipped", "the object is gone")
    except BaseException:
        release_post_image(obj.key, obj.version_id)  # the retried message claims it again
        raise


def examine_image(
    settings: MediaSettings,
    obj: StoredObject,
    declared: str,
    *,
    finish: Callable[..., Outcome],
    variants_prefix: str,
) -> Outcome:
    """An uploaded image, a post's or a room's alike: refused if already tagged, scanned, sniffed
    against its declared type, decoded and made into metadata-free variants under `variants_prefix`.
    `finish(obj, status, reason=None, *, variants=None, size=None)` records how it ended."""

    def refuse(tag: str, value: str, why: str) -> Outcome:
        obj.add_tags({tag: value})  # the bucket policy then denies reading this version
        done = finish(obj, "refused", why)
        if done.action == "skipped":
            return done
        return Outcome("quarantined" if tag == "quarantined" else "rejected", why)

    if {"quarantined", "rejected"} & set(obj.tags()):
        return finish(obj, "refused", "already tagged as refused")
    try:
        verdict = configured_scanner(settings, cloud=CoreSettings.current().is_cloud).scan(obj)
    except ScanInconclusive as exc:
        return refuse("rejected", "scan-inconclusive", f"malware scan inconclusive ({exc})")
    if verdict.infected:
        return refuse("quarantined", "true", f"malware found by {verdict.scanner}: {verdict.signature}")
    head = obj.head(SNIFF_BYTES)
    kind = sniff(head)
    if not matches(declared, kind):
        return refuse("rejected", "type-mismatch", f"declared {declared}, is {kind or describe(head)}")
    try:
        processed = decode_image(settings, obj)
    except Undecodable as exc:
        return refuse("rejected", "undecodable", str(exc))
    rows = write_variants(obj, processed, variants_prefix)
    return finish(obj, "ready", variants=rows, size=(processed.width, processed.height))


# ------------------------------------------------------------------ MediaConvert events


def finish_job(event: JobStateChange) -> Outcome:
    stage, bucket_name = CoreSettings.current().stage, StorageSettings.current().assets_bucket
    if event.status not in ("COMPLETE", "ERROR"):
        return Outcome("skipped", f"job status {event.status}")
    if event.user_metadata.get("stage") not in (None, stage):
        return Outcome("skipped", "a job of another stage")
    try:
        asset_id = uuid.UUID(event.asset_id or "")
    except ValueError:
        return Outcome("skipped", "a job without an asset id")
    row = asset_row(asset_id)
    if row is None or row["status"] != "processing":
        return Outcome("skipped", f"asset is {row['status'] if row else 'gone'}")
    if event.status == "ERROR":
        return finish(asset_id, "failed", f"transcoding failed: {event.error or 'MediaConvert reported an error'}")
    prefix = variants_prefix(row["owner_id"], asset_id)
    playlist = None
    for url in event.playlists:
        bucket, key = split_s3_url(url)
        if bucket == bucket_name and key.startswith(prefix) and key.endswith(".m3u8"):
            playlist = key
            break
    if playlist is None:
        return finish(asset_id, "failed", "the transcoding job wrote no HLS playlist under the asset's variants")
    # Written by MediaConvert from the original, which the job reads by key: the version taken is
    # current (any other is deleted on its event, and S3 refuses a second PUT to the upload URL).
    variant = VariantRow(
        HLS_VARIANT, playlist, HLS_CONTENT_TYPE, event.width, event.height, source_version_id=row["version_id"]
    )
    duration = event.duration_ms / 1000 if event.duration_ms is not None else None
    return finish(asset_id, "ready", width=event.width, height=event.height, duration_s=duration, variants=[variant])


# ------------------------------------------------------------------ the asset row


def claim_asset(
    asset_id: uuid.UUID, owner_id: uuid.UUID, key: str, version_id: str | None, lease_s: int
) -> Claim | None:
    """pending -> processing with this version, or a stale claim of the same version (no job in
    flight) taken again; None: nothing to do."""
    from sqlalchemy import text

    with db.session_scope() as session:
        row = session.execute(
            text(
                "UPDATE assets SET status = 'processing', status_reason = NULL, version_id = :version, "
                "updated_at = now() "
                "WHERE id = :id AND owner_id = :owner AND s3_key = :key AND upload_id IS NULL AND ("
                "status = 'pending' OR (status = 'processing' AND status_reason IS NULL "
                "AND (version_id IS NULL OR version_id = :version) "
                "AND updated_at < now() - make_interval(secs => :lease))) "
                "RETURNING content_type"
            ),
            {"id": asset_id, "owner": owner_id, "key": key, "version": version_id, "lease": lease_s},
        ).first()
    return Claim(asset_id, owner_id, str(row.content_type), version_id) if row else None


def release(asset_id: uuid.UUID) -> None:
    """Hand a claim back (processing -> pending) unless a transcoding job is already in flight."""
    from sqlalchemy import text

    try:
        with db.session_scope() as session:
            session.execute(
                text(
                    "UPDATE assets SET status = 'pending', updated_at = now() "
                    "WHERE id = :id AND status = 'processing' AND status_reason IS NULL"
                ),
                {"id": asset_id},
            )
    except Exception:  # noqa: BLE001 - the original error matters more; the lease recovers the claim
        logger.exception("could not hand the claim back", extra={"asset_id": str(asset_id)})


def asset_row(asset_id: uuid.UUID) -> dict[str, Any] | None:
    from sqlalchemy import text

    with db.session_scope() as session:
        row = session.execute(
            text("SELECT owner_id, s3_key, status, status_reason, version_id FROM assets WHERE id = :id"),
            {"id": asset_id},
        ).first()
    return dict(row._mapping) if row else None


def mark_transcoding(asset_id: uuid.UUID, request_key: str) -> None:
    from sqlalchemy import text

    with db.session_scope() as session:
        session.execute(
            text(
                "UPDATE assets SET status_reason = :reason, updated_at = now() WHERE id = :id AND status = 'processing'"
            ),
            {"id": asset_id, "reason": f"{TRANSCODING}{request_key}"},
        )


def finish(
    asset_id: uuid.UUID,
    status: str,
    reason: str | None = None,
    *,
    claim: Claim | None = None,
    width: int | None = None,
    height: int | None = None,
    duration_s: float | None = None,
    exif: dict[str, Any] | None = None,
    variants: list[VariantRow] | tuple[VariantRow, ...] = (),
) -> Outcome:
    """processing -> a final status, with its variants, in one transaction (only if still processing,
    and, for a claim, still of the version claimed)."""
    from sqlalchemy import func, update
    from sqlalchemy.dialects.postgresql import insert

    from core.models.assets import asset_table, variant_table

    values: dict[str, Any] = {"status": status, "status_reason": reason, "updated_at": func.now()}
    if width is not None and height is not None:
        values |= {"width": width, "height": height}
    if duration_s is not None:
        values["duration_s"] = duration_s
    if exif is not None:
        values["exif"] = exif
    asset = asset_table.c
    still_ours = [asset.id == asset_id, asset.status == "processing"]
    if claim is not None and claim.version_id is not None:
        still_ours.append(asset.version_id == claim.version_id)
    with db.session_scope() as session:
        done = session.execute(update(asset_table).where(*still_ours).values(**values).returning(asset.id)).first()
        if done is None:
            return Outcome("skipped", "no longer processing")
        if variants:
            rows = [
                {
                    "id": uuid.uuid4(),
                    "asset_id": asset_id,
                    "kind": v.kind,
                    "s3_key": v.s3_key,
                    "width": v.width,
                    "height": v.height,
                    "content_type": v.content_type,
                    "size": v.size,
                    "version_id": v.version_id,
                    "source_version_id": v.source_version_id,
                }
                for v in variants
            ]
            statement = insert(variant_table).values(rows)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[variant_table.c.asset_id, variant_table.c.kind],
                    set_={c: statement.excluded[c] for c in VARIANT_COLUMNS},
                )
            )
    return Outcome(status, reason or "")


# ------------------------------------------------------------------ the post image row


def claim_post_image(key: str, version_id: str | None, lease_s: int) -> bool:
    """A new row `processing` with this version, or a stale claim of the same version taken again."""
    from sqlalchemy import text

    with db.session_scope() as session:
        row = session.execute(
            text(
                "INSERT INTO post_images (image_key, status, version_id) VALUES (:key, 'processing', :version) "
                "ON CONFLICT (image_key) DO UPDATE SET updated_at = now() "
                "WHERE post_images.status = 'processing' "
                "AND post_images.version_id IS NOT DISTINCT FROM EXCLUDED.version_id "
                "AND post_images.updated_at < now() - make_interval(secs => :lease) "
                "RETURNING image_key"
            ),
            {"key": key, "version": version_id, "lease": lease_s},
        ).first()
    return row is not None


def post_image_not_claimed(obj: StoredObject) -> Outcome:
    """A duplicate or late event changes nothing; another version of a taken key is deleted unscanned."""
    from sqlalchemy import text

    with db.session_scope() as session:
        row = session.execute(
            text("SELECT status, version_id FROM post_images WHERE image_key = :key"), {"key": obj.key}
        ).first()
    if row is None:
        return Outcome("skipped", "post image claim handed back meanwhile")
    return discard_other_version(obj, "post image", row.status, row.version_id)


def discard_other_version(obj: StoredObject, kind: str, status: str, taken: str | None) -> Outcome:
    """An event its image's claim did not take: the taken version again changes nothing; any other
    version of the key (the upload URL used twice) is deleted unscanned, never shown."""
    if obj.version_id is None or taken is None or obj.version_id == taken:
        return Outcome("skipped", f"{kind} is {status}")
    obj.delete_version()
    logger.warning(
        f"a second version of a {kind} was deleted unscanned",
        extra={"image_key": obj.key, "deleted_version": obj.version_id, "version_taken": taken},
    )
    return Outcome("discarded", f"version {obj.version_id} deleted: the {kind} ({status}) took version {taken}")


def release_post_image(key: str, version_id: str | None) -> None:
    """Hand the claim back: no row is "not processed yet", so the retry claims it again."""
    from sqlalchemy import text

    try:
        with db.session_scope() as session:
            session.execute(
                text(
                    "DELETE FROM post_images WHERE image_key = :key AND status = 'processing' "
                    "AND version_id IS NOT DISTINCT FROM :version"
                ),
                {"key": key, "version": version_id},
            )
    except Exception:  # noqa: BLE001 - the original error matters more; the lease recovers the claim
        logger.exception("could not hand the post image claim back", extra={"image_key": key})


def finish_post_image(
    obj: StoredObject,
    status: str,
    reason: str | None = None,
    *,
    variants: list[VariantRow] | None = None,
    size: tuple[int, int] | None = None,
) -> Outcome:
    """processing -> ready | refused, only while still this version's claim."""
    import json

    from sqlalchemy import text

    shown = [
        {
            "kind": v.kind,
            "key": v.s3_key,
            "width": v.width,
            "height": v.height,
            "content_type": v.content_type,
            "size": v.size,
            "version_id": v.version_id,
        }
        for v in variants or ()
    ]
    with db.session_scope() as session:
        done = session.execute(
            text(
                "UPDATE post_images SET status = :status, status_reason = :reason, "
                "variants = CAST(:variants AS jsonb), updated_at = now() "
                "WHERE image_key = :key AND status = 'processing' AND version_id IS NOT DISTINCT FROM :version "
                "RETURNING image_key"
            ),
            {
                "status": status,
                "reason": reason,
                "variants": json.dumps(shown),
                "key": obj.key,
                "version": obj.version_id,
            },
        ).first()
    if done is None:
        return Outcome("skipped", "no longer processing")
    return Outcome(status, reason or "")
