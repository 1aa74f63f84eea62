"""The schema as SQLAlchemy Core tables. Import the concrete table modules where they are used."""

from core.models.base import metadata

__all__ = ["metadata"]
