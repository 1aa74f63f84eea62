"""Field types shared by request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# API.md: times are ISO 8601 UTC with `Z`.
Timestamp = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str, when_used="json")]
