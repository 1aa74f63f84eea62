"""Response pieces several functions share (API.md objects)."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from core.pagination import DEFAULT_LIMIT, MAX_LIMIT

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, pattern=r"^[A-Za-z0-9_-]+$", description="opaque, from the previous page's next_cursor"),
]
DEFAULT_PAGE = DEFAULT_LIMIT


class JsonBody(BaseModel):
    """A response body that core.http writes to JSON in one pass (pydantic-core), instead of to
    dicts and then again through json.dumps. The text is the same, byte for byte: non-ASCII is
    escaped as json.dumps escapes it. Only for models without float fields (json.dumps and
    pydantic write some floats differently); tests/unit/test_http.py checks every subclass."""


class UserSummary(BaseModel):
    """How a user appears inside other objects: author, sender, liker."""

    id: uuid.UUID
    username: str
    avatar_url: str | None
