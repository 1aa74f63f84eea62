"""The first bytes decide what a file is; the declared Content-Type is only a claim.

`sniff` needs at most `SNIFF_BYTES` from the start of the object (one ranged GET).
"""

from __future__ import annotations

SNIFF_BYTES = 64

JPEG, PNG, GIF, WEBP, HEIC, AVIF = "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/avif"
MP4, MOV, WEBM, MATROSKA = "video/mp4", "video/quicktime", "video/webm", "video/x-matroska"

IMAGES = frozenset({JPEG, PNG, GIF, WEBP, HEIC, AVIF})
VIDEOS = frozenset({MP4, MOV, WEBM})
# What Pillow decodes into variants (HEIC needs a plugin we do not ship).
DECODABLE = frozenset({JPEG, PNG, GIF, WEBP, AVIF})

# ISO base media file format brands (the `ftyp` box).
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_GENERIC = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QUICKTIME_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp71", b"avc1",
    b"M4V ", b"M4VH", b"M4VP", b"dash", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"f4v ", b"mmp4", b"MSNV", b"XAVC",
}  # fmt: skip
# Top-level atoms an old QuickTime movie may start with (no ftyp box).
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

# Declared type -> the sniffed types it may honestly be.
_ALIASES: dict[str, frozenset[str]] = {
    JPEG: frozenset({JPEG}),
    "image/jpg": frozenset({JPEG}),
    "image/pjpeg": frozenset({JPEG}),
    PNG: frozenset({PNG}),
    GIF: frozenset({GIF}),
    WEBP: frozenset({WEBP}),
    HEIC: frozenset({HEIC}),
    "image/heif": frozenset({HEIC}),
    AVIF: frozenset({AVIF}),
    # MP4 and QuickTime are one container family; browsers and phones mix the labels.
    MP4: frozenset({MP4, MOV}),
    MOV: frozenset({MP4, MOV}),
    "video/x-m4v": frozenset({MP4, MOV}),
    WEBM: frozenset({WEBM}),
}


def sniff(head: bytes) -> str | None:
    """The media type the bytes are, or None when they are none we handle."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska, told apart by the DocType
        if b"webm" in head[:SNIFF_BYTES]:
            return WEBM
        return MATROSKA if b"matroska" in head[:SNIFF_BYTES] else None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return MOV
    return None


def _iso_bmff(head: bytes) -> str | None:
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(max(size, 16), len(head)) - 3, 4)}
    if major in _AVIF_BRANDS or (major in _HEIF_GENERIC and compatible & _AVIF_BRANDS):
        return AVIF
    if major in _HEIC_BRANDS or major in _HEIF_GENERIC:
        return HEIC
    if major in _QUICKTIME_BRANDS:
        return MOV
    if major in _MP4_BRANDS or compatible & _MP4_BRANDS:
        return MP4
    return None


def matches(declared: str, sniffed: str | None) -> bool:
    """Whether a file that is `sniffed` may be served as `declared`."""
    base = declared.split(";", 1)[0].strip().lower()
    return sniffed is not None and sniffed in _ALIASES.get(base, frozenset())


def describe(head: bytes) -> str:
    """A short, log-safe description of unknown bytes for a failure reason."""
    if not head:
        return "an empty file"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return "text" if printable == len(head) else "unrecognised binary data"
