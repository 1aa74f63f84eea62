"""Response pieces several functions share (API.md objects). A room message's objects are in
core.message_schemas: every function imports this module (core.http does), few need those."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from core.pagination import DEFAULT_LIMIT, MAX_LIMIT, cursors_pattern

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
DEFAULT_PAGE = DEFAULT_LIMIT
BY_TIME = (datetime, uuid.UUID)  # the key of most lists: (created_at or joined_at, id)


def cursor_query(scope: str | tuple[str, ...], key_types: tuple[type, ...] = BY_TIME) -> Any:
    """`Annotated[str | None, cursor_query(SCOPE)]`: the `?cursor=` of one list, whose pattern
    matches exactly the cursors that list issues (of each list, when a path serves several orders)."""
    scopes = (scope,) if isinstance(scope, str) else scope
    return Query(pattern=cursors_pattern(scopes, key_types), description="opaque, from the previous page's next_cursor")


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
