"""The transcode feature's wiring, in the api stack where the factory made the function from
`core.routes.FUNCTIONS` (sized, like its queue and event source, by its `QueueSpec`): grants to read and
delete requests, create MediaConvert jobs and pass the MediaConvert role. A job that cannot be
created is retried into the transcode DLQ, its request kept: no grant on the media queue.
MediaConvert has no VPC endpoint, hence this function."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.keys import TRANSCODE_REQUEST_PREFIX, TRANSCODE_REQUEST_SUFFIX
from infra_cdk.constructs.bucket_access import LIST_BUCKET_ACTIONS, object_arns
from infra_cdk.nag import acknowledge, finding_label

TRANSCODE_REQUEST_ACTIONS = ("s3:GetObject", "s3:DeleteObject")
TRANSCODE_S3_ACTIONS = TRANSCODE_REQUEST_ACTIONS + LIST_BUCKET_ACTIONS


def mediaconvert_endpoint() -> str:
    return f"https://mediaconvert.{Aws.REGION}.{Aws.URL_SUFFIX}"


class TranscodeWiring(Construct):
    """The transcode function's event source, size, grants and settings. The factory made it
    without VPC (the catalog says it uses no database), so it reaches MediaConvert's regional
    endpoint and S3 without any VPC endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fn: lambda_.Function,
        mediaconvert_role: iam.IRole,
        bucket_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        role_arn = mediaconvert_role.role_arn
        mediaconvert = f"arn:{Aws.PARTITION}:mediaconvert:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        requests = object_arns(bucket_arn, TRANSCODE_REQUEST_PREFIX)
        statements = [
            iam.PolicyStatement(sid="TranscodeRequests", actions=list(TRANSCODE_REQUEST_ACTIONS), resources=requests),
            # A request already submitted and deleted must read as 404 (skip), not as a denied read (403).
            iam.PolicyStatement(sid="TranscodeMissingIs404", actions=list(LIST_BUCKET_ACTIONS), resources=[bucket_arn]),
            iam.PolicyStatement(
                sid="MediaConvertJobs",
                actions=["mediaconvert:CreateJob"],
                resources=[f"{mediaconvert}:queues/Default", f"{mediaconvert}:jobs/*"],
            ),
            iam.PolicyStatement(
                sid="MediaConvertPassRole",
                actions=["iam:PassRole"],
                resources=[role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}},
            ),
        ]
        role = fn.role
        assert role is not None
        for statement in statements:
            role.add_to_principal_policy(statement)
        wildcards = {
            **{
                r: f"The transcode function reads and deletes any request under {TRANSCODE_REQUEST_PREFIX} (one per "
                f"asset, {TRANSCODE_REQUEST_PREFIX}<asset>{TRANSCODE_REQUEST_SUFFIX}); the prefix is the narrowest "
                "fixed scope."
                for r in requests
            },
            f"{mediaconvert}:jobs/*": "mediaconvert:CreateJob authorizes on the new job's ARN, whose id "
            "MediaConvert assigns; jobs go to the Default queue only.",
        }
        for resource, reason in wildcards.items():
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{finding_label(self, resource)}]", reason)

        fn.add_environment("MEDIACONVERT_ENDPOINT", mediaconvert_endpoint())
        fn.add_environment("MEDIACONVERT_ROLE_ARN", role_arn)
