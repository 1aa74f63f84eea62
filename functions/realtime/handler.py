"""Realtime: the ticket route of the REST API, and every route of the WebSocket API.

One function for both (core.routes: the `realtime` row and WEBSOCKET_ROUTES): a WebSocket
event (`requestContext.connectionId` and `eventType`) goes to realtime.sockets, anything
else to the REST resolver.
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from typing import Any

from core import db
from core.http import caller, documented, lambda_handler, make_resolver, route
from core.routes import CREATE_TICKET
from realtime import sockets, tickets
from realtime.schemas import TicketOut
from realtime.settings import RealtimeSettings

app = make_resolver()


@route(
    app,
    CREATE_TICKET,
    status_code=201,
    summary="A single-use ticket (60 s) to open the WebSocket at url?ticket=...",
    description="The WebSocket URL never carries the access token: the ticket stands in for it, once. "
    "A spent, expired or unknown ticket is refused at the handshake with 401. Connections last at most "
    "2 hours; reconnect with a new ticket. Frames are described in API.md (Realtime).",
    tags=["realtime"],
    openapi_extensions=documented(429),
)
def create_ticket() -> TicketOut:
    who = caller(app)
    with db.session_scope() as session:
        ticket, expires_in = tickets.issue(session, who.user_id, who.session_id)
    return TicketOut(ticket=ticket, url=RealtimeSettings.current().realtime_ws_url, expires_in=expires_in)


_rest = lambda_handler(app)


@coldstart.entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(request_context, dict) and "connectionId" in request_context and "eventType" in request_context:
        return sockets.handle(event)
    return _rest(event, context)
