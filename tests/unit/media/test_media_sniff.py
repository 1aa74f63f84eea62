"""Magic bytes decide the type; the declared Content-Type is only a claim."""

from __future__ import annotations

import pytest

from media.sniff import describe, matches, sniff


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0\0\0\x08free"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"avif", b"mif1", b"avif"), "image/avif"),
        (ftyp(b"mif1", b"mif1", b"avif"), "image/avif"),
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (ftyp(b"mp42", b"mp42"), "video/mp4"),
        (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"hello, I am a text file", None),
        (b"%PDF-1.7\n", None),
        (b"", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (ftyp(b"zzzz"), None),
    ],
)
def test_sniff(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize(
    ("declared", "kind", "ok"),
    [
        ("image/jpeg", "image/jpeg", True),
        ("image/JPEG; charset=binary", "image/jpeg", True),
        ("image/jpg", "image/jpeg", True),
        ("image/png", "image/jpeg", False),
        ("image/jpeg", None, False),
        ("image/heif", "image/heic", True),
        ("video/mp4", "video/quicktime", True),  # one container family
        ("video/quicktime", "video/mp4", True),
        ("video/webm", "video/x-matroska", False),
        ("video/mp4", "image/jpeg", False),
        ("image/svg+xml", None, False),
        ("image/tiff", "image/jpeg", False),
    ],
)
def test_matches(declared: str, kind: str | None, ok: bool) -> None:
    assert matches(declared, kind) is ok


def test_describe_unknown_bytes() -> None:
    assert describe(b"") == "an empty file"
    assert describe(b"just words\n") == "text"
    assert describe(b"\x00\x01\x02") == "unrecognised binary data"
