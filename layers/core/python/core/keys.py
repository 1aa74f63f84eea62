"""The assets bucket's key layout: every prefix, key builder and key pattern, in one place.

    assets/<owner>/<asset>                          an asset's original (assets function)
    post-images/<user>/<hex>.<ext>                  a post image (posts function)
    variants/<owner>/<asset>/<kind>.jpg             an image asset's variants (media function)
    variants/<owner>/<asset>/hls/...                a video's HLS rendition (MediaConvert)
    variants/post-images/<user>/<hex>/<kind>.jpg    a post image's variants (media function)
    room-images/<room>/<user>/<image>.<ext>         an image for a room message (rooms function)
    variants/room-images/<room>/<user>/<image>/<kind>.jpg  its variants (media function)
    jobs/transcode/<asset>.json                     a transcode request (media -> transcode function)

The functions build and parse keys with it; CDK reads the prefixes for grants, notifications,
lifecycle rules, GuardDuty and the CloudFront bucket policy (`objects_under`: `variants/*`).
Only keys under `variants/` are ever readable through CloudFront. Pure data: stdlib only, cheap
to import (cold starts), no AWS SDK, no database.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID

ASSETS_PREFIX = "assets/"
POST_IMAGES_PREFIX = "post-images/"
ROOM_IMAGES_PREFIX = "room-images/"
VARIANTS_PREFIX = "variants/"
HLS_VARIANT = "hls"  # the variant kind of a video's HLS playlist (media writes it, assets plays it)
POST_IMAGE_VARIANTS_PREFIX = f"{VARIANTS_PREFIX}{POST_IMAGES_PREFIX}"
ROOM_IMAGE_VARIANTS_PREFIX = f"{VARIANTS_PREFIX}{ROOM_IMAGES_PREFIX}"
TRANSCODE_REQUEST_PREFIX = "jobs/transcode/"
TRANSCODE_REQUEST_SUFFIX = ".json"
HLS_DIRECTORY = "hls/"  # under an asset's variants prefix: MediaConvert's output
# What the users upload to (S3 notifications to the media queue, GuardDuty's protected prefixes).
UPLOAD_PREFIXES = (ASSETS_PREFIX, POST_IMAGES_PREFIX, ROOM_IMAGES_PREFIX)
# A post image's declared type -> the extension of its key (the order is the key pattern's).
POST_IMAGE_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}
POST_IMAGE_TYPES = {ext: content_type for content_type, ext in POST_IMAGE_EXTENSIONS.items()}
# Room message images take the same types (the media pipeline checks the same magic bytes).
ROOM_IMAGE_EXTENSIONS = POST_IMAGE_EXTENSIONS
ROOM_IMAGE_TYPES = POST_IMAGE_TYPES
VARIANT_EXTENSION = "jpg"  # image variants are JPEGs whatever the original

# Pieces of the patterns (the prefixes hold no regex metacharacters: `-` and `/` are literal here).
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_HEX = r"[0-9a-f]{32}"
_POST_IMAGE_EXTENSIONS = "|".join(POST_IMAGE_EXTENSIONS.values())

# The shape of a post image key for the OpenAPI document and pydantic (no named groups: ECMA 262).
POST_IMAGE_KEY_SHAPE = rf"^{POST_IMAGES_PREFIX}{_UUID}/{_HEX}\.({_POST_IMAGE_EXTENSIONS})$"
POST_IMAGE_KEY = re.compile(
    rf"^{POST_IMAGES_PREFIX}(?P<user>{_UUID})/(?P<hex>{_HEX})\.(?P<ext>{_POST_IMAGE_EXTENSIONS})$"
)
ROOM_IMAGE_KEY = re.compile(
    rf"^{ROOM_IMAGES_PREFIX}(?P<room>{_UUID})/(?P<user>{_UUID})/(?P<image>{_UUID})\.(?P<ext>{_POST_IMAGE_EXTENSIONS})$"
)
ASSET_KEY = re.compile(rf"^{ASSETS_PREFIX}(?P<owner>{_UUID})/(?P<asset>{_UUID})$")


def objects_under(prefix: str) -> str:
    """The glob of every key under `prefix` (IAM and bucket policy resources: `variants/*`)."""
    return f"{prefix}*"


def asset_key(owner_id: UUID | str, asset_id: UUID | str) -> str:
    """Keys are generated; the filename never becomes part of one."""
    return f"{ASSETS_PREFIX}{owner_id}/{asset_id}"


def post_image_prefix(user_id: UUID | str) -> str:
    return f"{POST_IMAGES_PREFIX}{user_id}/"


def post_image_key(user_id: UUID | str, name: str, extension: str) -> str:
    """`name`: 32 hex digits (a random UUID's hex); `extension` without its dot (POST_IMAGE_EXTENSIONS)."""
    return f"{post_image_prefix(user_id)}{name}.{extension}"


def room_image_key(room_id: UUID | str, user_id: UUID | str, image_id: UUID | str, extension: str) -> str:
    """A room image's original: under its room and uploader, named by its row's id (room_images)."""
    return f"{ROOM_IMAGES_PREFIX}{room_id}/{user_id}/{image_id}.{extension}"


def room_image_variants_prefix(image_key: str) -> str:
    """Where a room image's metadata-free variants live, derived from its key alone (under variants/,
    never under the notified room-images/ prefix)."""
    return f"{VARIANTS_PREFIX}{image_key.rsplit('.', 1)[0]}/"


def variants_prefix(owner_id: UUID | str, asset_id: UUID | str) -> str:
    """Where an asset's variants live (the assets function presigns and deletes them there)."""
    return f"{VARIANTS_PREFIX}{owner_id}/{asset_id}/"


def post_image_variants_prefix(image_key: str) -> str:
    """Where a post image's variants live: derived from its key alone (posts, the CDN and a
    re-run find them there); under variants/, never under the notified post-images/ prefix."""
    return f"{VARIANTS_PREFIX}{image_key.rsplit('.', 1)[0]}/"


def variant_key(prefix: str, kind: str) -> str:
    """An image variant under a variants prefix (`variants_prefix`, `post_image_variants_prefix`)."""
    return f"{prefix}{kind}.{VARIANT_EXTENSION}"


def hls_prefix(variants_prefix: str) -> str:
    """Where MediaConvert writes a video's HLS rendition, under the asset's variants prefix."""
    return f"{variants_prefix}{HLS_DIRECTORY}"


def transcode_request_key(asset_id: UUID | str) -> str:
    """One request object per asset, so a rewrite replaces it."""
    return f"{TRANSCODE_REQUEST_PREFIX}{asset_id}{TRANSCODE_REQUEST_SUFFIX}"


def is_transcode_request_key(key: str) -> bool:
    return key.startswith(TRANSCODE_REQUEST_PREFIX) and key.endswith(TRANSCODE_REQUEST_SUFFIX)
