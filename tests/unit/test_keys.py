"""core.keys: the assets bucket's key layout, built and parsed in one place, and nowhere else."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core import keys

ROOT = Path(__file__).resolve().parents[2]
KEYS_MODULE = ROOT / "layers" / "core" / "python" / "core" / "keys.py"
# Where code may build, parse or grant keys; tests and docs may spell the layout out.
SOURCE_DIRS = ("functions", "layers/core/python/core", "infra_cdk", "local", "bench")
# A key prefix at the start of a key (not inside a URL path such as /api/v1/assets/...).
LITERAL = re.compile(r"(?<![\w/.-])(post-images/|room-images/|assets/|variants/|jobs/transcode|hls/)")

OWNER = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
ASSET = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")
HEX = "9b2d6f0e4c1a4e8f8a7b6c5d4e3f2a1b"


def test_asset_keys_round_trip() -> None:
    key = keys.asset_key(OWNER, ASSET)
    assert key == f"assets/{OWNER}/{ASSET}"
    found = keys.ASSET_KEY.match(key)
    assert found and (uuid.UUID(found["owner"]), uuid.UUID(found["asset"])) == (OWNER, ASSET)
    assert keys.asset_key(str(OWNER), str(ASSET)) == key


@pytest.mark.parametrize(("content_type", "ext"), sorted(keys.POST_IMAGE_EXTENSIONS.items()))
def test_post_image_keys_round_trip(content_type: str, ext: str) -> None:
    key = keys.post_image_key(OWNER, HEX, ext)
    assert key == f"post-images/{OWNER}/{HEX}.{ext}" and key.startswith(keys.post_image_prefix(OWNER))
    found = keys.POST_IMAGE_KEY.match(key)
    assert found and (found["user"], found["hex"], found["ext"]) == (str(OWNER), HEX, ext)
    assert keys.POST_IMAGE_TYPES[found["ext"]] == content_type
    assert re.fullmatch(keys.POST_IMAGE_KEY_SHAPE, key)


def test_the_openapi_shape_is_the_parser_without_named_groups() -> None:
    assert "(?P<" not in keys.POST_IMAGE_KEY_SHAPE  # ECMA 262 (OpenAPI `pattern`) has no (?P<...>)
    assert re.sub(r"\(\?P<\w+>", "(", keys.POST_IMAGE_KEY.pattern) == keys.POST_IMAGE_KEY_SHAPE.replace(
        f"/{keys._UUID}/", f"/({keys._UUID})/"
    ).replace(f"/{keys._HEX}\\.", f"/({keys._HEX})\\.")


@pytest.mark.parametrize(
    "key",
    [
        f"assets/{OWNER}/{ASSET}/x",
        f"assets/{OWNER}",
        f"assets/{str(OWNER).upper()}/{ASSET}",
        f"assets/{OWNER.hex}0000/{ASSET}",  # 36 characters, not a UUID's
        f"variants/{OWNER}/{ASSET}/thumb.jpg",
        f"post-images/{OWNER}/{HEX}.jpeg",
        f"post-images/{OWNER}/{HEX}.jpg.png",
        f"post-images/{OWNER}/{HEX[:-1]}.jpg",
        f"post-images/{OWNER.hex}0000/{HEX}.jpg",
        f"variants/post-images/{OWNER}/{HEX}/preview.jpg",
        f"x/post-images/{OWNER}/{HEX}.jpg",
        f"jobs/transcode/{ASSET}.json",
    ],
)
def test_parsers_refuse_anything_else(key: str) -> None:
    assert not keys.ASSET_KEY.match(key) and not keys.POST_IMAGE_KEY.match(key)
    assert not re.match(keys.POST_IMAGE_KEY_SHAPE, key)


def test_variants_live_under_variants_never_under_an_upload_prefix() -> None:
    prefix = keys.variants_prefix(OWNER, ASSET)
    assert prefix == f"variants/{OWNER}/{ASSET}/"
    assert keys.variant_key(prefix, "thumb") == f"{prefix}thumb.jpg"
    assert keys.hls_prefix(prefix) == f"{prefix}hls/"
    image = keys.post_image_key(OWNER, HEX, "png")
    image_prefix = keys.post_image_variants_prefix(image)
    assert image_prefix == f"variants/post-images/{OWNER}/{HEX}/"
    assert image_prefix.startswith(keys.POST_IMAGE_VARIANTS_PREFIX)
    written = (keys.variant_key(prefix, "preview"), keys.variant_key(image_prefix, "preview"), keys.hls_prefix(prefix))
    for key in written:
        assert key.startswith(keys.VARIANTS_PREFIX)
        assert not key.startswith(keys.UPLOAD_PREFIXES) and not keys.is_transcode_request_key(key)
        assert not keys.ASSET_KEY.match(key) and not keys.POST_IMAGE_KEY.match(key)


def test_room_image_keys_round_trip_and_their_variants_are_never_notified() -> None:
    room, image = uuid.uuid4(), uuid.uuid4()
    key = keys.room_image_key(room, OWNER, image, "png")
    assert key == f"room-images/{room}/{OWNER}/{image}.png" and key.startswith(keys.ROOM_IMAGES_PREFIX)
    found = keys.ROOM_IMAGE_KEY.match(key)
    assert found and (found["room"], found["user"], found["image"], found["ext"]) == (
        str(room),
        str(OWNER),
        str(image),
        "png",
    )
    assert keys.ROOM_IMAGE_TYPES[found["ext"]] == "image/png"
    assert key.startswith(keys.UPLOAD_PREFIXES) and not keys.POST_IMAGE_KEY.match(key)
    prefix = keys.room_image_variants_prefix(key)
    assert prefix == f"variants/room-images/{room}/{OWNER}/{image}/" and prefix.startswith(
        keys.ROOM_IMAGE_VARIANTS_PREFIX
    )
    variant = keys.variant_key(prefix, "preview")
    assert not variant.startswith(keys.UPLOAD_PREFIXES) and not keys.ROOM_IMAGE_KEY.match(variant)
    for bad in (f"room-images/{room}/{OWNER}/{image}.jpeg", f"room-images/{room}/{image}.png", f"x/{key}"):
        assert not keys.ROOM_IMAGE_KEY.match(bad)


def test_transcode_request_keys() -> None:
    key = keys.transcode_request_key(ASSET)
    assert key == f"jobs/transcode/{ASSET}.json" and keys.is_transcode_request_key(key)
    assert not keys.is_transcode_request_key(f"jobs/transcode/{ASSET}.txt")
    assert not keys.is_transcode_request_key(keys.asset_key(OWNER, ASSET))


def test_globs_for_iam_and_the_bucket_policy() -> None:
    assert keys.objects_under(keys.VARIANTS_PREFIX) == "variants/*"
    assert [keys.objects_under(p) for p in keys.UPLOAD_PREFIXES] == ["assets/*", "post-images/*", "room-images/*"]


def test_prefixes_are_distinct_and_never_nest_in_an_upload_prefix() -> None:
    prefixes = (*keys.UPLOAD_PREFIXES, keys.VARIANTS_PREFIX, keys.TRANSCODE_REQUEST_PREFIX)
    assert all(p.endswith("/") for p in prefixes)
    for a in prefixes:
        for b in prefixes:
            assert a == b or not a.startswith(b)  # no notified prefix sees another one's objects


def test_pure_and_cheap_to_import() -> None:
    """Only the standard library, and no AWS SDK, pydantic or SQLAlchemy comes along (cold starts, CDK)."""
    tree = ast.parse(KEYS_MODULE.read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert {name.split(".")[0] for name in imported} <= {"__future__", "re", "typing", "uuid"}
    heavy = ("boto3", "botocore", "pydantic", "sqlalchemy", "uuid")
    code = f"import sys, core.keys; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    env = {"PYTHONPATH": str(KEYS_MODULE.parent.parent)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the string constants of a module that are code, not docs (docstrings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_key_layout_outside_core_keys() -> None:
    """Prefixes, key shapes and globs are written once, in core/keys.py: any other string in code
    that starts a key with one of them is a copy (comments and docstrings may name them)."""
    found = []
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            if path == KEYS_MODULE or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT)
            found += [f"{rel}:{line}: {text!r}" for line, text in _code_strings(path) if LITERAL.search(text)]
    assert found == [], "use core.keys:\n" + "\n".join(found)
