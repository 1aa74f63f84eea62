"""The assets feature's cloud resources: the bucket's assets/ and variants/ prefixes, for the
assets function only."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from core.keys import ASSETS_PREFIX, VARIANTS_PREFIX
from infra_cdk.config import StageConfig
from infra_cdk.constructs.bucket_access import grant_prefixes

ASSETS = "assets"
# PutObject: presigned PUTs, CreateMultipartUpload and UploadPart. GetObject: HEAD and
# presigned downloads; GetObjectVersion: downloads and shares pinned to the scanned version.
# DeleteObject and PutObjectTagging: deleting an asset (tagging is the fallback for the
# lifecycle rule). AbortMultipartUpload: DELETE .../multipart. ListMultipartUploadParts: ListParts,
# for resuming an upload (GET .../multipart, POST .../multipart/parts).
ORIGINAL_ACTIONS = (
    "s3:PutObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:DeleteObject",
    "s3:PutObjectTagging",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
# Variants are written by the media function; the assets function presigns (pinned to their
# version), deletes and tags them.
VARIANT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:PutObjectTagging")


class AssetsResources(Construct):
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
        fn = functions.get(ASSETS)
        if fn is None:
            return
        grant_prefixes(
            self,
            fn,
            bucket,
            {ASSETS_PREFIX: ORIGINAL_ACTIONS, VARIANTS_PREFIX: VARIANT_ACTIONS},
            f"{config.prefix}-assets works only on keys it generates per asset ({ASSETS_PREFIX}<owner>/<asset>) "
            f"and their variants ({VARIANTS_PREFIX}<owner>/<asset>/...); the prefix is the narrowest fixed scope.",
        )
