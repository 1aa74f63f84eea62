"""Private media: assets, their variants and share links."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base, Timestamps, UuidPk

ASSET_STATUSES = ("pending", "processing", "ready", "quarantined", "failed")
# Declared types the media function makes metadata-free JPEG variants of (thumb, preview); the
# others (videos, whose HLS cannot be fetched through one URL, HEIC) are shared as originals only.
RENDITION_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/gif", "image/webp", "image/avif"}
)
# What a share hands out instead of the original, best first.
SHARED_RENDITIONS = ("preview", "thumb")


class Asset(UuidPk, Timestamps, Base):
    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(f"status IN {ASSET_STATUSES!r}", name="status"),
        CheckConstraint("size >= 0", name="size_not_negative"),
        Index("ix_assets_owner_id_created_at_id", "owner_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_assets_filename_trgm", "filename", postgresql_using="gin", postgresql_ops={"filename": "gin_trgm_ops"}
        ),
        Index("ix_assets_tags", "tags", postgresql_using="gin"),
        Index(
            "ix_assets_space_id_created_at_id",
            "space_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("space_id IS NOT NULL"),
        ),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # The shared space the asset is in (NULL: its owner's personal library); a deleted space hands
    # its assets back to their owners.
    space_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True
    )
    s3_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending", default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    upload_id: Mapped[str | None] = mapped_column(Text, nullable=True)  # an S3 multipart upload in progress
    # The S3 version the media pipeline claimed and scanned; every URL to the original is pinned to
    # it, and any other version of the key is deleted (NULL: not claimed yet, or an unversioned bucket).
    version_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Numeric(12, 3, asdecimal=False), nullable=True)
    exif: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}", default=dict)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}", default=list)


class Variant(UuidPk, Base):
    __tablename__ = "asset_variants"
    __table_args__ = (Index("uq_asset_variants_asset_id_kind", "asset_id", "kind", unique=True),)

    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    s3_key: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)
    # The variant object's own S3 version (its URLs are pinned to it; NULL for files MediaConvert writes).
    version_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The original's scanned version it was made from.
    source_version_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"), nullable=False)


class Share(UuidPk, Base):
    __tablename__ = "shares"
    __table_args__ = (
        CheckConstraint("download_count >= 0", name="download_count_not_negative"),
        Index("ix_shares_asset_id_created_at_id", "asset_id", text("created_at DESC"), text("id DESC")),
    )

    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id", ondelete="CASCADE"), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # no link is permanent
    max_downloads: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # False: the link hands out the metadata-free preview; True: the original, GPS and all.
    original: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"), default=False)
    download_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"), nullable=False)
