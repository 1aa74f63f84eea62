"""Private media: assets, their variants and share links."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import Uuid

from core.models.base import metadata, timestamps, uuid_pk

ASSET_STATUSES = ("pending", "processing", "ready", "quarantined", "failed")
# Declared types the media function makes metadata-free JPEG variants of (thumb, preview); the
# others (videos, whose HLS cannot be fetched through one URL, HEIC) are shared as originals only.
RENDITION_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/gif", "image/webp", "image/avif"}
)
# What a share hands out instead of the original, best first.
SHARED_RENDITIONS = ("preview", "thumb")


asset_table = Table(
    "assets",
    metadata,
    uuid_pk(),
    Column("owner_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The shared space the asset is in (NULL: its owner's personal library); a deleted space hands
    # its assets back to their owners.
    Column("space_id", Uuid, ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True),
    Column("s3_key", Text, nullable=False, unique=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending", default="pending"),
    Column("status_reason", Text, nullable=True),
    # an S3 multipart upload in progress
    Column("upload_id", Text, nullable=True),
    # The S3 version the media pipeline claimed and scanned; every URL to the original is pinned to
    # it, and any other version of the key is deleted (NULL: not claimed yet, or an unversioned bucket).
    Column("version_id", Text, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("duration_s", Numeric(12, 3, asdecimal=False), nullable=True),
    Column("exif", JSONB, nullable=False, server_default="{}", default=dict),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}", default=list),
    *timestamps(),
    CheckConstraint(f"status IN {ASSET_STATUSES!r}", name="status"),
    CheckConstraint("size >= 0", name="size_not_negative"),
    Index("ix_assets_owner_id_created_at_id", "owner_id", text("created_at DESC"), text("id DESC")),
    Index("ix_assets_filename_trgm", "filename", postgresql_using="gin", postgresql_ops={"filename": "gin_trgm_ops"}),
    Index("ix_assets_tags", "tags", postgresql_using="gin"),
    Index(
        "ix_assets_space_id_created_at_id",
        "space_id",
        text("created_at DESC"),
        text("id DESC"),
        postgresql_where=text("space_id IS NOT NULL"),
    ),
)

variant_table = Table(
    "asset_variants",
    metadata,
    uuid_pk(),
    Column("asset_id", Uuid, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("s3_key", Text, nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("content_type", String(127), nullable=False),
    Column("size", BigInteger, nullable=False, server_default="0", default=0),
    # The variant object's own S3 version (its URLs are pinned to it; NULL for files MediaConvert writes).
    Column("version_id", Text, nullable=True),
    # The original's scanned version it was made from.
    Column("source_version_id", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), server_default=text("now()"), nullable=False),
    Index("uq_asset_variants_asset_id_kind", "asset_id", "kind", unique=True),
)

share_table = Table(
    "shares",
    metadata,
    uuid_pk(),
    Column("asset_id", Uuid, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # no link is permanent
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("max_downloads", Integer, nullable=True),
    # False: the link hands out the metadata-free preview; True: the original, GPS and all.
    Column("original", Boolean, nullable=False, server_default=text("false"), default=False),
    Column("download_count", Integer, nullable=False, server_default="0", default=0),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), server_default=text("now()"), nullable=False),
    CheckConstraint("download_count >= 0", name="download_count_not_negative"),
    Index("ix_shares_asset_id_created_at_id", "asset_id", text("created_at DESC"), text("id DESC")),
)
