"""The media feature's wiring, in the api stack where the factory made the function from
`core.routes.FUNCTIONS` (sized, like its queue and event source, by its `QueueSpec`):
least-privilege S3 grants and the settings of the media function (in the VPC). Videos go on
to the transcode function (constructs/transcode.py)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.keys import (
    ASSETS_PREFIX,
    POST_IMAGES_PREFIX,
    TRANSCODE_REQUEST_PREFIX,
    TRANSCODE_REQUEST_SUFFIX,
    UPLOAD_PREFIXES,
    VARIANTS_PREFIX,
)
from infra_cdk.config import StageConfig
from infra_cdk.constructs.bucket_access import LIST_BUCKET_ACTIONS, bucket_arn_in, object_arns
from infra_cdk.constructs.transcode import TranscodeWiring, mediaconvert_endpoint
from infra_cdk.nag import acknowledge, finding_label

# The functions (core.routes.FUNCTIONS) whose queues the media pipeline's sources feed.
MEDIA = "media"
TRANSCODE = "transcode"
# The media function's S3 actions: on uploads (read, tag, each by version; delete a second
# version of an upload, never the key), on variants (write), on the bucket.
MEDIA_UPLOAD_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectVersion",
)
MEDIA_VARIANT_ACTIONS = ("s3:PutObject",)
# Writing a request object tagged `deleted=true` (media.objects.put_transcode_request).
MEDIA_REQUEST_ACTIONS = ("s3:PutObject", "s3:PutObjectTagging")
MEDIA_S3_ACTIONS = MEDIA_UPLOAD_ACTIONS + MEDIA_VARIANT_ACTIONS + LIST_BUCKET_ACTIONS + MEDIA_REQUEST_ACTIONS


class MediaWiring(Construct):
    """The media function's grants and settings (in the function's stack), and, through
    `TranscodeWiring`, those of the transcode function it hands videos to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        fn: lambda_.Function,
        transcode: lambda_.Function | None,
        queue: sqs.IQueue,
        mediaconvert_role: iam.IRole,
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        if transcode is None:
            raise ValueError(
                f"the media function hands videos to the {TRANSCODE!r} function: add it to core.routes.FUNCTIONS"
            )
        bucket_arn = bucket_arn_in(Stack.of(self), bucket)
        statements = [
            # Read (ranged and streamed) and tag upload versions: quarantined, rejected; delete a
            # version written after the one the pipeline took.
            iam.PolicyStatement(
                sid="MediaUploads",
                actions=list(MEDIA_UPLOAD_ACTIONS),
                resources=object_arns(bucket_arn, *UPLOAD_PREFIXES),
            ),
            iam.PolicyStatement(
                sid="MediaVariants",
                actions=list(MEDIA_VARIANT_ACTIONS),
                resources=object_arns(bucket_arn, VARIANTS_PREFIX),
            ),
            # Without it S3 answers a deleted object with 403, indistinguishable from a denied read.
            iam.PolicyStatement(sid="MediaMissingIs404", actions=list(LIST_BUCKET_ACTIONS), resources=[bucket_arn]),
            # Videos: the request the transcode function turns into a MediaConvert job.
            iam.PolicyStatement(
                sid="MediaTranscodeRequests",
                actions=list(MEDIA_REQUEST_ACTIONS),
                resources=object_arns(bucket_arn, TRANSCODE_REQUEST_PREFIX),
            ),
        ]
        role = fn.role
        assert role is not None
        for statement in statements:
            role.add_to_principal_policy(statement)
        for resource in object_arns(bucket_arn, *UPLOAD_PREFIXES, VARIANTS_PREFIX, TRANSCODE_REQUEST_PREFIX):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_label(self, resource)}]",
                f"The media function reads and tags any upload ({ASSETS_PREFIX}<owner>/<asset>, "
                f"{POST_IMAGES_PREFIX}<user>/...), writes {VARIANTS_PREFIX}<owner>/<asset>/... and "
                f"{TRANSCODE_REQUEST_PREFIX}<asset>{TRANSCODE_REQUEST_SUFFIX}; the prefix is the "
                "narrowest fixed scope.",
            )

        TranscodeWiring(self, "Transcode", fn=transcode, mediaconvert_role=mediaconvert_role, bucket_arn=bucket_arn)
        fn.add_environment("ASSETS_BUCKET", bucket.bucket_name)
        fn.add_environment("MEDIA_SCANNER", "guardduty")
        # The media function never calls MediaConvert; the endpoint says videos go to the transcode function.
        fn.add_environment("MEDIACONVERT_ENDPOINT", mediaconvert_endpoint())
        fn.add_environment("MEDIA_QUEUE_URL", queue.queue_url)
