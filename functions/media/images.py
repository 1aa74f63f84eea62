"""Image variants with Pillow: decode once (JPEG DCT scaling via draft), orient, resize, re-encode.

Variants are JPEG without any metadata (no EXIF, so no GPS; the colour profile is kept so
colours stay right). EXIF is read into a small JSON summary for the asset row, GPS included:
the original stays private to its owner, variants may be shared.

Limits: `Image.MAX_IMAGE_PIXELS` is set, and Pillow's DecompressionBombWarning is an error
here, so an image over the pixel limit is rejected before it is decoded. Only the decoders
of the formats we accept are allowed to open the bytes.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF")
JPEG_QUALITY = 82

# EXIF tags (TIFF/EXIF 2.3 numbers).
MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_TIME, OFFSET_TIME_ORIGINAL = 0x9010, 0x9011
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
_OFFSET = re.compile(r"^[+-]\d\d:\d\d$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ImageRejected(Exception):
    """The bytes are no image we can safely decode (corrupt, truncated, too many pixels)."""


@dataclass(frozen=True)
class Rendition:
    kind: str
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


@dataclass(frozen=True)
class ProcessedImage:
    width: int  # as displayed (orientation applied)
    height: int
    exif: dict[str, Any] = field(default_factory=dict)
    renditions: tuple[Rendition, ...] = ()


def process(data: bytes, sizes: Mapping[str, int], *, max_pixels: int, quality: int = JPEG_QUALITY) -> ProcessedImage:
    """Variants (longest side at most `sizes[kind]` px, never enlarged) and the EXIF summary."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _process(data, sizes, max_pixels, quality)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"more pixels than the limit of {max_pixels} (decompression bomb guard)") from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("not a decodable image") from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError) as exc:
            raise ImageRejected(f"corrupt or truncated image: {str(exc)[:200]}") from exc


def _process(data: bytes, sizes: Mapping[str, int], max_pixels: int, quality: int) -> ProcessedImage:
    im = Image.open(BytesIO(data), formats=FORMATS)
    width, height = im.size
    if width < 1 or height < 1 or width * height > max_pixels:
        raise ImageRejected(f"{width}x{height} is over the limit of {max_pixels} pixels")
    exif = im.getexif()
    summary = exif_summary(exif, (width, height))
    shown = (height, width) if exif.get(ORIENTATION) in (5, 6, 7, 8) else (width, height)
    if im.format == "JPEG" and sizes:
        # DCT scaling: decode at 1/2, 1/4 or 1/8 while the result still covers the largest variant.
        im.draft("RGB", fit((width, height), max(sizes.values())))
    im.load()
    ImageOps.exif_transpose(im, in_place=True)  # also drops the orientation tag it applied
    base = _displayable(im)
    icc = im.info.get("icc_profile")
    renditions = []
    source = base
    for kind, px in sorted(sizes.items(), key=lambda item: -item[1]):  # each from the next larger one
        target = fit(source.size, px)
        if target != source.size:
            source = source.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        renditions.append(Rendition(kind, _jpeg(source, quality, icc), *source.size))
    return ProcessedImage(width=shown[0], height=shown[1], exif=summary, renditions=tuple(renditions))


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled so its longest side is at most `longest` (never enlarged)."""
    width, height = size
    scale = longest / max(width, height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def _displayable(im: Image.Image) -> Image.Image:
    """RGB or L for JPEG: transparency goes onto white, palettes and CMYK are converted."""
    if im.mode in ("RGB", "L"):
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if im.mode.startswith("I") or im.mode == "F":
        return im.convert("I").point(lambda v: v / 256).convert("L")
    return im.convert("RGB")


def _jpeg(im: Image.Image, quality: int, icc: bytes | None) -> bytes:
    out = BytesIO()
    clean = im if not im.info else im.copy()
    clean.info = {}  # nothing of the original's metadata: no EXIF, no GPS, no XMP, no comments
    options: dict[str, Any] = {"quality": quality}
    if icc:
        options["icc_profile"] = icc
    clean.save(out, "JPEG", **options)
    return out.getvalue()


def exif_summary(exif: Image.Exif, size: tuple[int, int]) -> dict[str, Any]:
    """Camera, time taken, orientation, pixel dimensions and GPS position, JSON-ready."""
    details = exif.get_ifd(EXIF_IFD)
    summary: dict[str, Any] = {
        "camera_make": _text(exif.get(MAKE)),
        "camera_model": _text(exif.get(MODEL)),
        "taken_at": _taken_at(
            details.get(DATETIME_ORIGINAL) or details.get(DATETIME_DIGITIZED) or exif.get(DATETIME),
            details.get(OFFSET_TIME_ORIGINAL) or details.get(OFFSET_TIME),
        ),
        "orientation": _int(exif.get(ORIENTATION)),
        "width": _int(details.get(PIXEL_X)) or size[0],
        "height": _int(details.get(PIXEL_Y)) or size[1],
        "gps": _gps(exif.get_ifd(GPS_IFD)),
    }
    return {k: v for k, v in summary.items() if v is not None}


def _text(value: Any, limit: int = 128) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    cleaned = _CONTROL.sub("", value).strip()
    return cleaned[:limit] or None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if 0 < number < 1_000_000 else None


def _taken_at(value: Any, offset: Any) -> str | None:
    text = _text(value, 32)
    if not text:
        return None
    try:
        taken = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = _text(offset, 8)
    return taken.isoformat() + (zone if zone and _OFFSET.match(zone) else "")


def _gps(gps: Mapping[int, Any]) -> dict[str, float] | None:
    lat = _degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "S", 90)
    lon = _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF), "W", 180)
    if lat is None or lon is None:
        return None
    return {"lat": lat, "lon": lon}


def _degrees(dms: Any, ref: Any, negative: str, limit: float) -> float | None:
    try:
        d, m, s = (float(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value) or value > limit:
        return None
    if _text(ref, 2) == negative:
        value = -value
    return round(value, 6)
