"""Transitional: the declarative base the ORM classes of core.orm map onto core.models' tables with."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from core.models.base import metadata


class Base(DeclarativeBase):
    metadata = metadata
