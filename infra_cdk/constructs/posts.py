"""The posts feature's cloud resources: the assets bucket, for the posts function only and
only under post-images/ (presigned POST uploads, HEAD and presigned GETs, `deleted` tags)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import StageConfig
from infra_cdk.nag import acknowledge, finding_label
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
        stack = Stack.of(self)
        bucket_arn = bucket.bucket_arn
        if Stack.of(bucket) is not stack:
            # Import the ARN through the export CDK would make at synth anyway, so that the
            # policy's resource (and the cdk-nag finding id below) is known now.
            stack.add_stack_dependency(Stack.of(bucket), "the posts function uses the assets bucket")
            bucket_arn = Stack.of(bucket).export_value(bucket.bucket_arn)
        post_images = f"{bucket_arn}/{POST_IMAGES_PREFIX}*"

        fn.add_environment("ASSETS_BUCKET", bucket.bucket_name)
        role = fn.role
        assert role is not None  # the factory always gives one
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="PostImages", actions=list(POST_IMAGE_ACTIONS), resources=[post_images])
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{finding_label(self, post_images)}]",
            f"{config.prefix}-posts presigns uploads to, reads and tags keys it generates per upload "
            f"({POST_IMAGES_PREFIX}<user_id>/<uuid>.<ext>); that key prefix is the narrowest fixed scope.",
        )
