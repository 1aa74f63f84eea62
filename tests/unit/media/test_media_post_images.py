"""Where a post image's variants live: derived from the image key alone, outside the notified prefix."""

from __future__ import annotations

import pytest

from media.pipeline import POST_IMAGE_KEY, post_image_variants_prefix

USER = "0b6f2c1e-5d4a-4f3b-9a8c-7e6d5c4b3a21"


@pytest.mark.parametrize("ext", ["jpg", "png", "gif"])
def test_variants_of_a_post_image_lie_under_variants_post_images(ext: str) -> None:
    key = f"post-images/{USER}/{'a' * 32}.{ext}"
    assert POST_IMAGE_KEY.match(key)
    prefix = post_image_variants_prefix(key)
    assert prefix == f"variants/post-images/{USER}/{'a' * 32}/"
    assert post_image_variants_prefix(key) == prefix  # deterministic: posts and re-runs find them
    assert not POST_IMAGE_KEY.match(f"{prefix}preview.jpg")  # our own writes are never processed as uploads
