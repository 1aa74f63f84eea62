"""Field types shared by request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


# API.md: times are ISO 8601 UTC with `Z`. Held in UTC from validation on, so pydantic-core writes
# them natively (it writes UTC as `Z`), with no Python serializer call per field.
Timestamp = Annotated[datetime, AfterValidator(_utc), WithJsonSchema({"type": "string"}, mode="serialization")]
