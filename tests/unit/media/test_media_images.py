"""Image variants and EXIF with Pillow: real images made here, with EXIF and GPS."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from media.images import ImageRejected, exif_summary, fit, process

SIZES = {"thumb": 256, "preview": 1280}
LIMIT = 60_000_000


def photo(size: tuple[int, int] = (1600, 1200), *, orientation: int = 1, gps: bool = True, fmt: str = "JPEG") -> bytes:
    """A gradient photo with camera EXIF, time taken, orientation and (optionally) GPS."""
    im = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    im.paste((255, 0, 0), (0, 0, size[0] // 4, size[1] // 4))  # a red top-left corner shows orientation
    exif = Image.Exif()
    exif[0x010F] = "Testcam"
    exif[0x0110] = "TC-1\x00"
    exif[0x0112] = orientation
    details = exif.get_ifd(0x8769)
    details[0x9003] = "2024:05:01 12:34:56"
    details[0x9011] = "+02:00"
    if gps:
        position = exif.get_ifd(0x8825)
        position[1], position[2] = "N", (52.0, 31.0, 12.0)
        position[3], position[4] = "W", (13.0, 24.0, 36.0)
    out = BytesIO()
    im.save(out, fmt, exif=exif, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    im = Image.open(BytesIO(data))
    im.load()
    return im


def test_variants_fit_their_box_and_carry_no_metadata() -> None:
    result = process(photo(), SIZES, max_pixels=LIMIT)
    assert (result.width, result.height) == (1600, 1200)
    by_kind = {r.kind: r for r in result.renditions}
    assert set(by_kind) == {"thumb", "preview"}
    assert (by_kind["preview"].width, by_kind["preview"].height) == (1280, 960)
    assert (by_kind["thumb"].width, by_kind["thumb"].height) == (256, 192)
    for rendition in result.renditions:
        im = opened(rendition.data)
        assert im.format == "JPEG" and im.size == (rendition.width, rendition.height)
        assert dict(im.getexif()) == {}
        assert "exif" not in im.info and "xmp" not in im.info and b"Testcam" not in rendition.data


def test_exif_summary_with_gps_for_the_original_only() -> None:
    result = process(photo(), SIZES, max_pixels=LIMIT)
    assert result.exif == {
        "camera_make": "Testcam",
        "camera_model": "TC-1",
        "taken_at": "2024-05-01T12:34:56+02:00",
        "orientation": 1,
        "width": 1600,
        "height": 1200,
        "gps": {"lat": 52.52, "lon": -13.41},
    }
    assert all(b"GPS" not in r.data for r in result.renditions)


def test_orientation_is_applied() -> None:
    result = process(photo(orientation=6), SIZES, max_pixels=LIMIT)  # stored landscape, shown portrait
    assert (result.width, result.height) == (1200, 1600)
    preview = next(r for r in result.renditions if r.kind == "preview")
    assert (preview.width, preview.height) == (960, 1280)
    im = opened(preview.data).convert("RGB")
    # Orientation 6 rotates 90 degrees clockwise: the red top-left corner is now top-right.
    r, g, b = im.getpixel((im.width - 20, 20))  # type: ignore[misc]
    assert r > 200 and g < 80 and b < 80


def test_small_images_are_never_enlarged() -> None:
    result = process(photo((300, 200), gps=False), SIZES, max_pixels=LIMIT)
    sizes = {r.kind: (r.width, r.height) for r in result.renditions}
    assert sizes == {"preview": (300, 200), "thumb": (256, 171)}
    assert "gps" not in result.exif


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "CMYK", "I;16"])
def test_any_mode_becomes_a_jpeg(mode: str) -> None:
    im = Image.new(mode, (640, 480))
    out = BytesIO()
    im.save(out, "TIFF" if mode == "CMYK" else "PNG")
    if mode == "CMYK":
        out = BytesIO()
        im.save(out, "JPEG")
    result = process(out.getvalue(), SIZES, max_pixels=LIMIT)
    assert {opened(r.data).mode for r in result.renditions} <= {"RGB", "L"}


def test_gif_and_webp_first_frame() -> None:
    frames = [Image.new("P", (400, 300), i) for i in range(3)]
    gif = BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    webp = BytesIO()
    Image.new("RGB", (400, 300), "blue").save(webp, "WEBP")
    for data in (gif.getvalue(), webp.getvalue()):
        assert len(process(data, SIZES, max_pixels=LIMIT).renditions) == 2


def test_decompression_bomb_is_rejected_before_decoding() -> None:
    with pytest.raises(ImageRejected, match=r"decompression bomb|over the limit"):
        process(photo((1600, 1200)), SIZES, max_pixels=1_000_000)
    # Pillow's own check (it warns above the limit, errors above twice the limit) is an error here too.
    with pytest.raises(ImageRejected):
        process(photo((3000, 2000)), SIZES, max_pixels=1_000_000)


def test_truncated_and_corrupt_images_are_rejected_not_crashes() -> None:
    data = photo()
    with pytest.raises(ImageRejected, match="corrupt or truncated"):
        process(data[: len(data) // 2], SIZES, max_pixels=LIMIT)
    with pytest.raises(ImageRejected):
        process(b"\xff\xd8\xff\xe0" + b"\x00" * 100, SIZES, max_pixels=LIMIT)
    with pytest.raises(ImageRejected, match="not a decodable image"):
        process(b"plain text", SIZES, max_pixels=LIMIT)


def test_formats_outside_the_list_are_not_decoded() -> None:
    out = BytesIO()
    Image.new("RGB", (64, 64)).save(out, "BMP")
    with pytest.raises(ImageRejected):
        process(out.getvalue(), SIZES, max_pixels=LIMIT)


def test_exif_summary_drops_junk() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Cam\x01era\x00"
    exif[0x0112] = 0
    exif.get_ifd(0x8769)[0x9003] = "not a date"
    gps = exif.get_ifd(0x8825)
    gps[2], gps[4] = (100.0, 0.0, 0.0), (1.0, 0.0, 0.0)  # latitude out of range
    assert exif_summary(exif, (10, 20)) == {"camera_make": "Camera", "width": 10, "height": 20}


def test_fit() -> None:
    assert fit((4000, 3000), 1280) == (1280, 960)
    assert fit((3000, 4000), 256) == (192, 256)
    assert fit((100, 50), 256) == (100, 50)
    assert fit((10000, 1), 256) == (256, 1)
