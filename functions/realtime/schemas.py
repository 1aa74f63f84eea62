"""Bodies of the realtime routes."""

from __future__ import annotations

from pydantic import Field

from core.schemas import JsonBody


class TicketOut(JsonBody):
    ticket: str = Field(description="single use, valid for expires_in seconds; never a JWT")
    url: str = Field(description="the WebSocket URL: connect to url?ticket=<ticket>")
    expires_in: int = Field(description="seconds the ticket stays valid")
