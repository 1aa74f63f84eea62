"""Transitional ORM classes on the Core tables of core.models.assets (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped

from core.models.assets import asset_table, share_table, variant_table
from core.orm.base import Base

__all__ = ["Asset", "Share", "Variant"]


class Asset(Base):
    __table__ = asset_table

    id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    space_id: Mapped[uuid.UUID | None]
    s3_key: Mapped[str]
    filename: Mapped[str]
    content_type: Mapped[str]
    size: Mapped[int]
    status: Mapped[str]
    status_reason: Mapped[str | None]
    upload_id: Mapped[str | None]
    version_id: Mapped[str | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_s: Mapped[float | None]
    exif: Mapped[dict[str, Any]]
    tags: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Variant(Base):
    __table__ = variant_table

    id: Mapped[uuid.UUID]
    asset_id: Mapped[uuid.UUID]
    kind: Mapped[str]
    s3_key: Mapped[str]
    width: Mapped[int | None]
    height: Mapped[int | None]
    content_type: Mapped[str]
    size: Mapped[int]
    version_id: Mapped[str | None]
    source_version_id: Mapped[str | None]
    created_at: Mapped[datetime]


class Share(Base):
    __table__ = share_table

    id: Mapped[uuid.UUID]
    asset_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    token_hash: Mapped[str]
    expires_at: Mapped[datetime]
    max_downloads: Mapped[int | None]
    original: Mapped[bool]
    download_count: Mapped[int]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
