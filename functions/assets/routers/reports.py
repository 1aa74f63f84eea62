"""Report routes: what my library holds and how it is used, and my audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from assets import scopes
from core import db
from core.http import caller, route
from core.lazy import lazy_module
from core.routes import AUDIT, USAGE
from core.schemas import Limit, cursor_query

if TYPE_CHECKING:
    from assets import reports
    from assets.schemas import reports as schemas
else:
    schemas = lazy_module("assets.schemas.reports")  # its bodies, built on the first request of these routes
    reports = lazy_module("assets.reports")


router = Router()

AuditCursor = Annotated[str | None, cursor_query(scopes.AUDIT)]


@route(router, USAGE, summary="What my library holds and how it is used", tags=["assets"])
def usage() -> schemas.UsageOut:
    return schemas.UsageOut.model_validate(db.read(reports.usage, caller(router).user_id))


@route(router, AUDIT, summary="My audit events, newest first", tags=["assets"])
def audit_events(limit: Limit = 20, cursor: AuditCursor = None) -> schemas.AuditPage:
    return schemas.AuditPage.of(*db.read(reports.audit_trail, caller(router).user_id, limit, cursor))
