"""Playing a video: its HLS playlists, served by the API with every segment URL signed.

A player resolves the URIs of a playlist relative to the playlist's own URL and drops its query
string, so neither a presigned S3 URL nor a CloudFront-signed URL of the playlist reaches the
segments. The API therefore answers each playlist itself (owner only, like every asset route):
a playlist URI stays relative and points back at this route (`playback?playlist=<name>`), a
segment URI becomes an absolute signed URL. With the CDN: one custom-policy signature for the
asset's whole `hls/` prefix (core.cdn.prefix_query), appended to each segment URL; without it
(locally, dev): one presigned S3 GET per segment. Either lives the video's duration plus a
margin, since a player fetches a VOD media playlist once and its segments as it plays.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from assets.library import shown
from assets.playlists import PLAYLIST_NAME
from assets.settings import AssetSettings
from core import cdn, storage
from core.errors import Conflict, NotFound
from core.keys import HLS_VARIANT

HLS = HLS_VARIANT
MAX_PLAYLIST_BYTES = 1024 * 1024
PLAYBACK_MARGIN_S = 900
# A relative URI inside the asset's hls/ directory (MediaConvert's SINGLE_DIRECTORY layout).
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
P = ParamSpec("P")
T = TypeVar("T")


class Reads(Protocol):
    """core.db.read: runs a read-only `work` on a connection (and again, once, if it was dropped)."""

    def __call__(self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T: ...


def play(read: Reads, asset_id: uuid.UUID, owner_id: uuid.UUID, name: str | None) -> str:
    """The owner's ready video's playlist `name` (default: its multivariant playlist), rewritten.
    The asset and its variants are read first (`read`: reads only), storage once the connection is back."""
    asset, variants = read(shown, asset_id, owner_id)
    return playlist(asset, entry(asset, variants), name)


def entry(asset: Row[Any], variants: list[Row[Any]]) -> Row[Any]:
    if asset.status != "ready":
        raise Conflict(f"The asset is {asset.status}; only ready videos can be played")
    found = next((v for v in variants if v.kind == HLS), None)
    if found is None:
        raise Conflict("The asset has no HLS rendition to play")
    return found


def lifetime(asset: Row[Any]) -> int:
    wanted = math.ceil(asset.duration_s or 0) + PLAYBACK_MARGIN_S
    longest = AssetSettings.current().playback_max_ttl_s
    return max(storage.StorageSettings.current().presigned_get_ttl_s, min(longest, wanted))


def playlist(asset: Row[Any], variant: Row[Any], name: str | None) -> str:
    """The playlist `name` of the asset's HLS directory (default: the one the variant names), rewritten."""
    directory, _, default = variant.s3_key.rpartition("/")
    prefix = f"{directory}/"
    data = storage.read_small(prefix + (name or default), MAX_PLAYLIST_BYTES)
    if data is None:
        raise NotFound("No such playlist")
    return rewrite(data.decode("utf-8", "replace"), segment_signer(prefix, lifetime(asset)))


def segment_signer(prefix: str, ttl: int) -> Callable[[str], str]:
    """name -> absolute signed URL of `prefix + name`."""
    if cdn.enabled():
        query = cdn.prefix_query(prefix, expires_at=_rounded(time.time() + ttl))
        return lambda name: cdn.url_of(prefix + name, query)
    return lambda name: storage.presigned_get(prefix + name, ttl)


def _rounded(instant: float) -> int:
    """Up to the next CDN_URL_TTL_S boundary: the same playlist for every request in one window."""
    step = cdn.CdnSettings.current().cdn_url_ttl_s
    return math.ceil(instant / step) * step


def rewrite(text: str, sign: Callable[[str], str]) -> str:
    def target(uri: str) -> str:
        if not _NAME.match(uri) or ".." in uri.split("/"):
            return uri  # absolute or foreign: left as written (nothing is signed for it)
        if re.match(PLAYLIST_NAME, uri):
            return f"playback?playlist={uri}"
        return sign(uri)

    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            lines.append(line)
        elif stripped.startswith("#"):
            lines.append(_URI_ATTRIBUTE.sub(lambda m: f'URI="{target(m.group(1))}"', line))
        else:
            lines.append(target(stripped))
    return "\n".join(lines) + "\n"
