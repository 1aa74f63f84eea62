"""Field types shared by request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


# API.md: times are ISO 8601 UTC with `Z`. Held in UTC from validation on, so pydantic-core writes
# them natively (it writes UTC as `Z`), with no Python serializer call per field.
Timestamp = Annotated[datetime, AfterValidator(_utc), WithJsonSchema({"type": "string"}, mode="serialization")]


def _a_json_number(value: Any) -> Any:
    """JSON's true and false, and strings, are not numbers (pydantic's lax int takes `true` as 1, "3" as 3)."""
    if isinstance(value, bool | str):
        raise ValueError(f"must be an integer, not a {'boolean' if isinstance(value, bool) else 'string'}")
    return value


# An integer in a request body, as JSON Schema's `integer` means it: 3 and 3.0 are in, 3.5 and
# `true` and "3" are out (pydantic's lax int takes both; StrictInt refuses 3.0, which the schema allows).
# Constrained, put the constraints first so they stay in the schema (`minimum`, not a stray `ge`):
# `Annotated[int, Field(ge=1), JSON_NUMBER]`.
JSON_NUMBER = BeforeValidator(_a_json_number)
JsonInt = Annotated[int, JSON_NUMBER]
