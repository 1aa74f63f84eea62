"""What the playback route declares about HLS playlists (data only: declaring the route loads no
playback logic; assets.playback reads them too)."""

CONTENT_TYPE = "application/vnd.apple.mpegurl"
PLAYLIST_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\.m3u8$"
