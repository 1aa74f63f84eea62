"""What the model is shown of a conversation's images (issue 19.5).

After the context is built (ai_worker.context: each user turn keeps its message's images as
`attachments`), `shown` decides per image, newest message first:
- the room's model accepts images (ROOMS_AI_VISION_MODELS) and fewer than ROOMS_AI_MAX_IMAGES were
  taken: the image's `preview` variant (a JPEG of at most MEDIA_PREVIEW_PX a side, without metadata,
  pinned to its S3 version) is read from S3 and sent as bytes: a Bedrock Converse image block or an
  OpenAI-compatible `image_url` data URL, never a URL the provider would fetch;
- otherwise the image is described in the message's text (type and size), so the model knows that
  something was attached and that it cannot see it; an image not `ready` (rooms refuses to ask the
  AI about one, so only older messages can hold them) is described as such.
An image that cannot be read fails the reply (ImagesUnavailable): never a silent omission.
Only the preview is read, never the original (its EXIF and GPS never reach a provider).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from core.ai_steps import ChatMessage, ImagePart
from core.config import FeatureSettings, setting
from core.room_images import MAX_IMAGES_PER_CALL, MessageImage

if TYPE_CHECKING:
    from ai_worker.worker import Request

# Converse: at most 20 images a request, each at most 3.75 MB and 8000 x 8000 px (docs/decisions.md).
CONVERSE_MAX_IMAGES = MAX_IMAGES_PER_CALL
CONVERSE_MAX_IMAGE_BYTES = 3_750_000
# Models that take images, by id prefix: Bedrock's (a cross-region profile's geography prefix is
# ignored), OpenAI's, and the echo provider's default model (so the tests see bytes arrive).
DEFAULT_VISION_MODELS = (
    "echo",
    "amazon.nova-lite",
    "amazon.nova-pro",
    "amazon.nova-premier",
    "anthropic.claude-3",
    "anthropic.claude-sonnet-4",
    "anthropic.claude-opus-4",
    "anthropic.claude-haiku-4",
    "meta.llama3-2-11b",
    "meta.llama3-2-90b",
    "meta.llama4",
    "mistral.pixtral",
    "gpt-4o",
    "gpt-4.1",
    "gpt-5",
)
_PROFILE = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.")
_FORMATS: dict[str, Literal["png", "jpeg", "gif", "webp"]] = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}


@dataclass(frozen=True, kw_only=True)
class VisionSettings(FeatureSettings):
    """The ai_worker function: images in the AI's context."""

    rooms_ai_vision_models: tuple[str, ...] = setting(
        DEFAULT_VISION_MODELS,
        doc="comma-separated model id prefixes that are shown a message's images (bytes); other models get "
        "them described in text",
    )
    rooms_ai_max_images: int = setting(
        CONVERSE_MAX_IMAGES, ge=0, le=CONVERSE_MAX_IMAGES, doc="most images one AI request shows (newest first)"
    )


class ImagesUnavailable(Exception):
    """An image the model was to be shown could not be read."""


def accepts_images(model: str, settings: VisionSettings | None = None) -> bool:
    prefixes = (settings or VisionSettings.current()).rooms_ai_vision_models
    bare = _PROFILE.sub("", model)
    return any(bare == p or bare.startswith(p) for p in prefixes if p)


def _describe(image: MessageImage, number: int, count: int, why: str) -> str:
    size = f" {image.width}x{image.height}" if image.width and image.height else ""
    return f"[attached image {number} of {count}: {image.content_type}{size}; {why}]"


def _not_shown(image: MessageImage, sees: bool) -> str | None:
    """Why this image is described rather than shown (None: it can be shown)."""
    if image.status == "refused":
        return "refused by the media check, not shown"
    if image.status != "ready":
        return "still being checked, not shown"
    if not sees:
        return "this model cannot see images"
    if image.variant("preview") is None:
        return "no viewable rendition"
    return None


def read_preview(image: MessageImage) -> ImagePart:
    """The preview variant's bytes, of the version the pipeline wrote (at most Converse's limit)."""
    from core.storage import StorageSettings, s3_client

    variant = image.variant("preview")
    assert variant is not None
    address = {"Bucket": StorageSettings.current().assets_bucket, "Key": variant.key}
    if variant.version_id:
        address["VersionId"] = variant.version_id
    try:
        answer = s3_client().get_object(**address)
        with answer["Body"] as body:
            data = bytes(body.read(CONVERSE_MAX_IMAGE_BYTES + 1))
    except Exception as exc:
        raise ImagesUnavailable(f"image {image.id}: {type(exc).__name__}") from exc
    if len(data) > CONVERSE_MAX_IMAGE_BYTES:
        raise ImagesUnavailable(f"image {image.id}: its preview is larger than {CONVERSE_MAX_IMAGE_BYTES} bytes")
    return ImagePart(_FORMATS.get(variant.content_type, "jpeg"), data)


def resolve(
    turns: Sequence[ChatMessage],
    *,
    sees: bool,
    max_images: int,
    read: Callable[[MessageImage], ImagePart] | None = None,
) -> tuple[ChatMessage, ...]:
    """Every turn's attachments shown (ImagePart) or described in its text; newest turns first get
    the `max_images` seats (the question's own images first of all)."""
    reader = read or read_preview
    left = max_images
    out: list[ChatMessage] = []
    for turn in reversed(turns):
        if not turn.attachments:
            out.append(turn)
            continue
        parts: list[ImagePart] = []
        words: list[str] = []
        count = len(turn.attachments)
        for number, image in enumerate(turn.attachments, start=1):
            why = _not_shown(image, sees)
            if why is None and left <= 0:
                why = f"over the {max_images} images one request may show, not shown"
            if why is None:
                parts.append(reader(image))
                left -= 1
            else:
                words.append(_describe(image, number, count, why))
        text = " ".join([turn.text, *words]) if words else turn.text
        out.append(replace(turn, text=text, images=tuple(parts), attachments=()))
    return tuple(reversed(out))


def shown(request: Request) -> Request:
    """The request with its turns' images read (or described) for its model."""
    if not any(turn.attachments for turn in request.messages):
        return request
    settings = VisionSettings.current()
    turns = resolve(
        request.messages, sees=accepts_images(request.model, settings), max_images=settings.rooms_ai_max_images
    )
    return replace(request, messages=turns)
