"""Playback route: a video's HLS playlists, every segment URL signed."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from assets import playlists
from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.routes import PLAY_ASSET

if TYPE_CHECKING:
    from assets import playback
else:
    playback = lazy_module("assets.playback")

router = Router()

PLAYLIST: dict[str, str] = {"type": "string"}
PlaylistName = Annotated[
    str | None, Query(pattern=playlists.PLAYLIST_NAME, description="a playlist the previous one names")
]


@route(
    router,
    PLAY_ASSET,
    summary="Play a video: its HLS playlist, every segment URL signed (ready videos only)",
    description="Answers the multivariant playlist, or with `playlist` one it names; playlist URIs stay "
    "relative (this route again, so the player sends the same Authorization header), segment URIs are "
    "absolute signed URLs that live the video's duration plus 15 minutes.",
    tags=["assets"],
    responses={200: {"description": "An HLS playlist", "content": {playlists.CONTENT_TYPE: {"schema": PLAYLIST}}}},
    openapi_extensions=documented(409),
)
def play(asset_id: uuid.UUID, playlist: PlaylistName = None) -> Response[str]:
    text = playback.play(db.read, asset_id, caller(router).user_id, playlist)
    return Response(200, playlists.CONTENT_TYPE, text)
