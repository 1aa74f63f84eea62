"""The posts feature's cloud resources: the assets bucket, for the posts function only and
only under post-images/ (presigned POST uploads, HEAD, `deleted` tags) and GETs of the post images'
variants under variants/post-images/ (presigned GETs)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from core.keys import POST_IMAGE_VARIANTS_PREFIX, POST_IMAGES_PREFIX
from infra_cdk.config import StageConfig
from infra_cdk.constructs.bucket_access import grant_prefixes

# Under POST_IMAGE_VARIANTS_PREFIX the media function writes a post image's metadata-free
# variants (core.keys.post_image_variants_prefix); the posts function presigns GETs of them.
POST_IMAGE_VARIANT_ACTIONS = ("s3:GetObject",)

POSTS = "posts"
# PutObject: presigned POST uploads. GetObject: HEAD and presigned GETs. GetObjectTagging:
# refusing images the media pipeline tagged. PutObjectTagging: `deleted=true` on replaced or
# deleted images (the lifecycle rule expires them). No ListBucket (a HEAD of a missing key is
# then 403, not 404) and no Delete.
POST_IMAGE_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging")


class PostsResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.Function],
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        fn = functions.get(POSTS)
        if fn is None:
            return
        grant_prefixes(
            self,
            fn,
            bucket,
            {POST_IMAGES_PREFIX: POST_IMAGE_ACTIONS, POST_IMAGE_VARIANTS_PREFIX: POST_IMAGE_VARIANT_ACTIONS},
            f"{config.prefix}-posts presigns uploads to, reads and tags keys it generates per upload "
            f"({POST_IMAGES_PREFIX}<user_id>/<uuid>.<ext>) and presigns GETs of their variants "
            f"({POST_IMAGE_VARIANTS_PREFIX}<user_id>/<uuid>/<kind>.jpg); those key prefixes are the "
            "narrowest fixed scope.",
        )
