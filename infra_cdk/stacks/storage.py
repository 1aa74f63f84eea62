"""The private assets bucket (post images now, assets later) and its access-log bucket.

Private (Block Public Access, TLS-only policy, ACLs disabled), S3-managed encryption,
versioned (the media pipeline pins what it scanned to a version id), server access logs to a
separate bucket. The bucket policy also denies every read of an object version tagged as
refused (core.storage.REFUSED_OBJECT_TAGS), behind the pipeline. Lifecycle: objects the
functions tag `deleted=true` expire after 30 days; every noncurrent version expires 7 days
after it became noncurrent; incomplete multipart uploads are aborted after 1 day; older
objects move to cheaper storage classes. CORS admits the stage's browser origins for
presigned uploads/downloads.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from core.keys import ASSETS_PREFIX, POST_IMAGES_PREFIX
from core.storage import REFUSED_OBJECT_TAGS
from infra_cdk.config import StageConfig
from infra_cdk.constructs.cdn import Cdn
from infra_cdk.nag import acknowledge

# core.storage.DELETED_TAG: what the functions set on replaced or deleted objects.
DELETED_TAG = ("deleted", "true")
DELETED_EXPIRE_DAYS = 30
# Noncurrent versions (deleted assets, rewritten variants, spent transcode requests): a week to
# undo an operator's mistake, then gone; the versions the pipeline discards are deleted at once.
NONCURRENT_EXPIRE_DAYS = 7
# Upload URLs live at most an hour (UPLOAD_URL_TTL_S); parts of an upload nobody completes (or
# parked by whoever held its URLs) stop costing storage after a day.
ABORT_MULTIPART_DAYS = 1
READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
INFREQUENT_ACCESS_DAYS = 30
GLACIER_IR_DAYS = 90
ACCESS_LOG_RETENTION_DAYS = 90
CORS_METHODS = (s3.HttpMethods.PUT, s3.HttpMethods.POST, s3.HttpMethods.GET)


def _lifecycle_rules() -> list[s3.LifecycleRule]:
    tag_key, tag_value = DELETED_TAG
    return [
        # Days count from the object's creation, so an old object expires soon after it is
        # tagged; its version then stays recoverable for NONCURRENT_EXPIRE_DAYS (next rule).
        s3.LifecycleRule(
            id="ExpireDeleted",
            tag_filters={tag_key: tag_value},
            expiration=Duration.days(DELETED_EXPIRE_DAYS),
        ),
        # Bucket-wide: no noncurrent version is kept (and paid for) longer than a week.
        s3.LifecycleRule(
            id="ExpireNoncurrentVersions",
            noncurrent_version_expiration=Duration.days(NONCURRENT_EXPIRE_DAYS),
        ),
        s3.LifecycleRule(
            id="AbortIncompleteUploads",
            abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_DAYS),
            # Removes the delete markers left once their noncurrent versions have expired.
            expired_object_delete_marker=True,
        ),
        s3.LifecycleRule(
            id="AssetsToColderStorage",
            prefix=ASSETS_PREFIX,
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(INFREQUENT_ACCESS_DAYS),
                ),
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                    transition_after=Duration.days(GLACIER_IR_DAYS),
                ),
            ],
        ),
        s3.LifecycleRule(
            id="PostImagesToInfrequentAccess",
            prefix=POST_IMAGES_PREFIX,
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(INFREQUENT_ACCESS_DAYS),
                )
            ],
        ),
    ]


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # prod keeps its buckets when the stack goes; dev/staging empty and remove them
        # (the same switch that protects the prod database).
        removal: dict[str, Any] = (
            {"removal_policy": RemovalPolicy.RETAIN}
            if config.protect_data
            else {"removal_policy": RemovalPolicy.DESTROY, "auto_delete_objects": True}
        )
        private: dict[str, Any] = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            **removal,
        }

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            **private,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket is the server-access-log destination of the assets bucket; logging it "
            "into itself or another bucket would only log the log deliveries.",
        )

        self.bucket = s3.Bucket(
            self,
            "Assets",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="assets-bucket/",
            lifecycle_rules=_lifecycle_rules(),
            cors=[
                s3.CorsRule(
                    allowed_methods=list(CORS_METHODS),
                    allowed_origins=list(config.cors_allowed_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            **private,
        )

        self._deny_reading_refused_objects()

        self.cdn = Cdn(self, "Cdn", config=config, bucket=self.bucket)

        CfnOutput(self, "AssetsBucketName", value=self.bucket.bucket_name)

    def _deny_reading_refused_objects(self) -> None:
        """Whoever asks (a function's role, a presigned URL, CloudFront, an administrator): an object
        version tagged as refused is never read. One statement per tag (conditions in one statement
        are ANDed); a version without the tag does not match. Nothing must read such a version again:
        the media function decides on GuardDuty's tag without reading, and never reopens one it tagged.
        An operator who must inspect one removes the tag first (docs/operations.md)."""
        for key, value in REFUSED_OBJECT_TAGS:
            sid = "DenyReading" + "".join(c for c in key.title() if c.isalnum())
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=list(READ_ACTIONS),
                    resources=[self.bucket.arn_for_objects("*")],
                    conditions={"StringLike": {f"s3:ExistingObjectTag/{key}": value}},
                )
            )
