"""Videos play: GET /assets/{id}/playback answers the HLS playlists with every segment URL signed.
A tiny HLS rendition (as MediaConvert lays it out: index.m3u8 -> index_<rung>.m3u8 -> .ts) is
written to moto; a player's walk from the multivariant playlist reaches every segment with the
issued URLs, and no segment without them. With the CDN, CloudFront's check is emulated with
the key group's public key (tests/cloudfront.py)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from sqlalchemy import text

from core import db as core_db
from core import storage
from core.storage import StorageSettings
from local.gateway import Request
from tests import cloudfront
from tests.client import _gateway, call
from tests.integration.social import Member, member

RUNGS = ("720p", "360p")
SEGMENTS = 3
DURATION_S = 17.5


def _segment(rung: str, n: int) -> bytes:
    return b"\x47" + f"{rung}-{n}".encode() + b"\xff" * 180  # a TS packet's sync byte, then filler


def _write_rendition(prefix: str) -> dict[str, bytes]:
    """The objects of an HLS rendition under `prefix`; returns segment name -> bytes."""
    s3, bucket = storage.s3_client(), StorageSettings.current().assets_bucket
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    segments: dict[str, bytes] = {}
    for rung in RUNGS:
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x{rung[:-1]}", f"index_{rung}.m3u8"]
        media = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
        for n in range(1, SEGMENTS + 1):
            name = f"index_{rung}_{n:05d}.ts"
            segments[name] = _segment(rung, n)
            media += ["#EXTINF:6,", name]
            s3.put_object(Bucket=bucket, Key=prefix + name, Body=segments[name], ContentType="video/MP2T")
        media.append("#EXT-X-ENDLIST")
        s3.put_object(Bucket=bucket, Key=f"{prefix}index_{rung}.m3u8", Body="\n".join(media).encode())
    s3.put_object(Bucket=bucket, Key=prefix + "index.m3u8", Body="\n".join(master).encode())
    return segments


def _video(who: Member, *, status: str = "ready", with_hls: bool = True) -> tuple[str, dict[str, bytes]]:
    """A video asset of `who` in `status`, with its HLS variant and objects."""
    answer = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": "clip.mp4", "content_type": "video/mp4", "size": 8},
        token=who.token,
    )
    assert answer.status == 201, answer.body
    asset_id = answer.body["asset"]["id"]
    prefix = f"variants/{who.id}/{asset_id}/hls/"
    segments = _write_rendition(prefix) if with_hls else {}
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text("UPDATE assets SET status = :s, duration_s = :d WHERE id = :i"),
            {"s": status, "d": DURATION_S, "i": asset_id},
        )
        if with_hls:
            conn.execute(
                text(
                    "INSERT INTO asset_variants (id, asset_id, kind, s3_key, content_type) "
                    "VALUES (:v, :a, 'hls', :k, 'application/vnd.apple.mpegurl')"
                ),
                {"v": str(uuid.uuid4()), "a": asset_id, "k": prefix + "index.m3u8"},
            )
    return asset_id, segments


def _get(path: str, token: str | None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET through the local gateway, as a player sends it."""
    headers = [("Authorization", f"Bearer {token}")] if token else []
    reply = _gateway().handle(Request("GET", path, headers, b"", source_ip="203.0.113.7"))
    content_type = next((v for k, v in reply.headers if k.lower() == "content-type"), "")
    return reply.status, content_type, reply.body.decode() if isinstance(reply.body, bytes) else str(reply.body)


def _walk(asset_id: str, token: str) -> dict[str, str]:
    """A player's walk: the multivariant playlist, each playlist it names, each segment URL they hold."""
    entry = f"/api/v1/assets/{asset_id}/playback"
    status, content_type, master = _get(entry, token)
    assert status == 200, master
    assert content_type.startswith("application/vnd.apple.mpegurl") and master.startswith("#EXTM3U")
    segment_urls: dict[str, str] = {}
    for line in master.splitlines():
        if line and not line.startswith("#"):
            assert line.startswith("playback?playlist=")  # relative: the player resolves it against the entry
            status, _, media = _get(urljoin(entry, line), token)
            assert status == 200, media
            for uri in media.splitlines():
                if uri and not uri.startswith("#"):
                    segment_urls[urlsplit(uri).path.rsplit("/", 1)[1]] = uri
    return segment_urls


def test_a_player_reaches_every_segment_with_the_issued_urls_only(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset_id, segments = _video(ada)
    urls = _walk(asset_id, ada.token)
    assert set(urls) == set(segments) and len(urls) == len(RUNGS) * SEGMENTS
    for name, url in urls.items():
        got = requests.get(url, timeout=10)
        assert got.status_code == 200 and got.content == segments[name], name
        # without the signature, or straight from the bucket: refused
        assert requests.get(url.partition("?")[0], timeout=10).status_code == 403
    # the asset lists its rendition as this route, not as a URL of one object
    listed = call("GET", f"/api/v1/assets/{asset_id}", token=ada.token).body["variants"]
    assert [(v["kind"], v["url"]) for v in listed] == [("hls", f"/api/v1/assets/{asset_id}/playback")]


def test_segment_urls_last_the_video_plus_a_margin(db: str, s3_endpoint: str) -> None:
    ada = member("ada")
    asset_id, _ = _video(ada)
    url = next(iter(_walk(asset_id, ada.token).values()))
    from urllib.parse import parse_qs

    assert int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) == 18 + 900


def test_only_the_owner_plays_only_a_ready_video_only_its_own_playlists(db: str, s3_endpoint: str) -> None:
    ada, bob = member("ada"), member("bob")
    asset_id, _ = _video(ada)
    entry = f"/api/v1/assets/{asset_id}/playback"
    assert _get(entry, bob.token)[0] == 404
    assert _get(entry, None)[0] == 401
    for bad in ("../index.m3u8", "index.ts", "x/index.m3u8", "%2e%2e%2fthumb.jpg"):
        assert _get(f"{entry}?playlist={bad}", ada.token)[0] == 400, bad
    assert _get(f"{entry}?playlist=missing.m3u8", ada.token)[0] == 404
    pending, _ = _video(ada, status="processing")
    assert _get(f"/api/v1/assets/{pending}/playback", ada.token)[0] == 409
    without, _ = _video(ada, with_hls=False)
    assert _get(f"/api/v1/assets/{without}/playback", ada.token)[0] == 409


def test_with_the_cdn_one_prefix_signature_admits_every_segment_and_nothing_else(
    db: str, s3_endpoint: str, cdn_env: None
) -> None:
    ada = member("ada")
    asset_id, segments = _video(ada)
    urls = _walk(asset_id, ada.token)
    assert set(urls) == set(segments)
    prefix = f"variants/{ada.id}/{asset_id}/hls/"
    for name, url in urls.items():
        assert url.startswith(f"https://{cloudfront.DOMAIN}/{prefix}{name}?Policy=")
        assert cloudfront.allows(url), name
        statement: dict[str, Any] = cloudfront.policy_of(url)
        assert statement["Resource"] == f"https://{cloudfront.DOMAIN}/{prefix}*"
        assert not cloudfront.allows(url.partition("?")[0])
    # the same signature opens nothing of another asset, nor the asset's own images
    query = next(iter(urls.values())).partition("?")[2]
    other = f"https://{cloudfront.DOMAIN}/variants/{ada.id}/{uuid.uuid4()}/hls/index_720p_00001.ts?{query}"
    assert not cloudfront.allows(other)
    assert not cloudfront.allows(f"https://{cloudfront.DOMAIN}/variants/{ada.id}/{asset_id}/preview.jpg?{query}")
