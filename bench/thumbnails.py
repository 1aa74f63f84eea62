"""Image variants of a 12-megapixel photo: our code against bare Pillow, and its peak memory.

    .venv/bin/python -m bench.thumbnails [--runs 9]

In one run, on one machine:
- subject: `media.images.process` on a 4000x3000 JPEG made here (EXIF with orientation
  and GPS): decode once, read EXIF, orient, write `thumb` (256 px) and `preview` (1280 px)
  as JPEG, exactly what the media function does between its S3 read and its S3 writes;
- baseline: bare Pillow, `draft()` + LANCZOS resize to 1280 px (no EXIF, no orientation,
  no thumb, no encoding);
- the ratio of the medians (target <= 1.5) and the peak RSS of a child process that
  imports Pillow and processes the photo once (`resource.getrusage`, target <= 150 MB).
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.timing import p50_ms

ROOT = Path(__file__).resolve().parent.parent
SIZE = (4000, 3000)
SIZES = {"thumb": 256, "preview": 1280}
MAX_PIXELS = 60_000_000
TARGET_RATIO = 1.5
TARGET_RSS_MB = 150.0


def make_photo(size: tuple[int, int] = SIZE) -> bytes:
    """A photo-like JPEG: gradients plus sensor-like noise (so it compresses like a photo), with EXIF."""
    from PIL import Image

    noise = Image.effect_noise(size, 48)
    im = Image.merge(
        "RGB",
        (
            Image.blend(Image.linear_gradient("L").resize(size), noise, 0.35),
            Image.blend(Image.radial_gradient("L").resize(size), noise, 0.25),
            Image.blend(Image.linear_gradient("L").rotate(90).resize(size), noise, 0.3),
        ),
    )
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "BenchCam", "B-12", 6
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:34:56"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    out = BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def ours(data: bytes) -> Any:
    from media.images import process

    return process(data, SIZES, max_pixels=MAX_PIXELS)


def bare(data: bytes) -> Any:
    from PIL import Image

    im = Image.open(BytesIO(data))
    im.draft("RGB", (1280, 960))
    im.load()
    scale = 1280 / max(im.size)
    return im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child() -> int:
    """In a fresh process: imports, then the photo's bytes (path on stdin), then one processing."""
    import media.images  # noqa: F401 - Pillow and our module, as the function imports them

    data = Path(sys.stdin.readline().strip()).read_bytes()
    before = _rss_mb()
    result = ours(data)
    print(json.dumps({"before_mb": before, "peak_mb": _rss_mb(), "variants": len(result.renditions)}))
    return 0


def start_child() -> subprocess.Popen[str]:
    """Started first, while this process is still small: Linux carries ru_maxrss across exec,
    so a child forked from a big parent would report the parent's peak as its own."""
    env_path = f"{ROOT / 'layers' / 'core' / 'python'}:{ROOT / 'functions'}:{ROOT}"
    return subprocess.Popen(
        [sys.executable, "-m", "bench.thumbnails", "--child"],
        cwd=ROOT,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def measure_rss(proc: subprocess.Popen[str], data: bytes) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as photo:
        photo.write(data)
        photo.flush()
        out, _ = proc.communicate(photo.name + "\n", timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"the measuring child exited {proc.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        return child()

    proc = start_child()

    print(f"making a {SIZE[0]}x{SIZE[1]} JPEG ...", file=sys.stderr, flush=True)
    data = make_photo()
    result = ours(data)  # warm both paths once (imports, first decoder setup)
    bare(data)
    print(f"timing {args.runs} runs each ...", file=sys.stderr, flush=True)
    bare_ms = p50_ms(functools.partial(bare, data), args.runs, warm_up=False)
    ours_ms = p50_ms(functools.partial(ours, data), args.runs, warm_up=False)
    rss = measure_rss(proc, data)
    ratio = ours_ms / bare_ms
    sizes = ", ".join(f"{r.kind} {r.width}x{r.height} {len(r.data) / 1024:.0f} KiB" for r in result.renditions)

    if args.json:
        print(json.dumps({"bare_ms": bare_ms, "ours_ms": ours_ms, "ratio": ratio, "peak_mb": rss["peak_mb"]}))
        return 0
    rows = [
        ("photo", f"{SIZE[0]}x{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.0f} MP) JPEG, {len(data) / 1e6:.1f} MB", ""),
        ("variants", sizes, ""),
        ("bare Pillow draft + LANCZOS 1280 px", f"{bare_ms:.1f} ms", "median"),
        ("media.images.process (thumb + preview)", f"{ours_ms:.1f} ms", "median"),
        ("ratio", f"{ratio:.2f}", f"target <= {TARGET_RATIO} {'ok' if ratio <= TARGET_RATIO else 'OVER'}"),
        ("child RSS after imports + bytes", f"{rss['before_mb']:.0f} MB", ""),
        (
            "child peak RSS, processing",
            f"{rss['peak_mb']:.0f} MB",
            f"target <= {TARGET_RSS_MB:.0f} MB {'ok' if rss['peak_mb'] <= TARGET_RSS_MB else 'OVER'}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<40} {note}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
