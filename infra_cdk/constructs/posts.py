"""The posts feature's cloud resources: the assets bucket, for the posts function only and
only under post-images/ (presigned POST uploads, HEAD and presigned GETs, `deleted` tags)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import StageConfig
from infra_cdk.nag import acknowledge
from infra_cdk.stacks.storage import POST_IMAGES_PREFIX

POSTS = "posts"
# PutObject: presigned POST uploads. GetObject: HEAD and presigned GETs. PutObjectTagging:
# `deleted=true` on replaced/deleted images (the lifecycle rule expires them). No
# ListBucket (a HEAD of a missing key is then 403, not 404) and no Delete.
POST_IMAGE_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:PutObjectTagging")


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
        fn.add_environment("ASSETS_BUCKET", bucket.bucket_name)
        role = fn.role
        assert role is not None  # the factory always gives one
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PostImages",
                actions=list(POST_IMAGE_ACTIONS),
                resources=[bucket.arn_for_objects(f"{POST_IMAGES_PREFIX}*")],
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{_logical_id_placeholder(bucket)}>/{POST_IMAGES_PREFIX}*]",
            f"{config.prefix}-posts signs uploads to and reads keys it generates per upload "
            f"(post-images/<user_id>/<uuid>.<ext>); the key prefix is the narrowest fixed scope.",
        )


def _logical_id_placeholder(bucket: s3.IBucket) -> str:
    return "TODO"
