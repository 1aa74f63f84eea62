"""The realtime function's settings (the Management API it posts to: core.push, other functions push too)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class RealtimeSettings(FeatureSettings):
    """The realtime function: WebSocket tickets."""

    # What a ticket tells the client to connect to (`url?ticket=...`); CDK sets the stage's wss:// URL.
    realtime_ws_url: str = setting(
        "ws://127.0.0.1:3000/ws",
        pattern=r"^wss?://[^\s?#]+$",
        doc="the WebSocket URL a ticket points to (CDK sets the stage's `wss://` URL)",
    )
