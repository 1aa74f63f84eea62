"""The schema's one MetaData (a naming convention so Alembic names constraints stably) and the
columns many tables share. Tables are SQLAlchemy Core: importing them costs no ORM (cold starts)."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, MetaData, func
from sqlalchemy.types import Uuid

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def uuid_pk() -> Column[uuid.UUID]:
    """UUID keys made by the app (no sequences: they would pin RDS Proxy connections)."""
    return Column("id", Uuid, primary_key=True, default=uuid.uuid4)


def timestamps() -> tuple[Column[object], Column[object]]:
    return (
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False),
    )
