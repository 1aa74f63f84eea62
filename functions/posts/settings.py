"""The posts function's settings (presigned URL lifetimes and the bucket: core.storage)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting

# The default the OpenAPI document declares as the maximum (a stage may set another).
DEFAULT_POST_IMAGE_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class PostSettings(FeatureSettings):
    """The posts function: post images."""

    post_image_max_bytes: int = setting(DEFAULT_POST_IMAGE_MAX_BYTES, ge=1, doc="largest post image (10 MiB)")
