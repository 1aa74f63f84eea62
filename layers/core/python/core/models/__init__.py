"""Typed ORM models. Import the concrete model modules where they are used."""

from core.models.base import Base

__all__ = ["Base"]
