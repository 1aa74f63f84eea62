"""Event processing: every event processor's queue, and what feeds the media pipeline's.

`ProcessingStack` (its own stack, deployed after storage and before api):
- for each event processor of the catalog (`core.routes.FunctionSpec.queue`, a
  `core.queues.QueueSpec`), its queue and DLQ (SSE, TLS only, visibility 6x the function's
  timeout, redrive after `max_receives`) and its DLQ-depth alarm, shared by the queues that
  name the same `dlq_alarm` (media and transcode share one); the monitoring stack routes them;
- the media pipeline's sources: the bucket's ObjectCreated notifications (`assets/` and
  `post-images/` to the media queue, `jobs/transcode/*.json` to the transcode queue: MediaConvert
  has no VPC endpoint, so a function outside the VPC creates the jobs; core.transcoding), on an
  imported bucket (CDK then merges with the configuration GuardDuty adds, and the storage stack
  does not come to depend on this one);
- EventBridge rules to the media queue: MediaConvert "Job State Change" (COMPLETE, ERROR) of
  this stage's jobs, and GuardDuty Malware Protection scan results for the bucket;
- GuardDuty Malware Protection for S3 on those prefixes, tagging each object with its verdict
  (`GuardDutyMalwareScanStatus`), which the media function reads;
- the role MediaConvert assumes (read originals, write variants).

The functions' side (event sources, sizing, grants, settings) is wired in the api stack, where
the factory made the functions: constructs/queue_consumer.py for every processor, then
constructs/media.py and constructs/transcode.py for what only those need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.keys import (
    ASSETS_PREFIX,
    TRANSCODE_REQUEST_PREFIX,
    TRANSCODE_REQUEST_SUFFIX,
    UPLOAD_PREFIXES,
    VARIANTS_PREFIX,
)
from core.routes import FUNCTIONS, FunctionSpec
from infra_cdk.config import StageConfig
from infra_cdk.constructs.bucket_access import object_arns
from infra_cdk.constructs.media import MEDIA, TRANSCODE
from infra_cdk.constructs.queue_consumer import construct_name, dlq_alarms, queue_pair, queue_specs
from infra_cdk.nag import acknowledge, finding_label


class ProcessingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        bucket: s3.IBucket,
        functions: Sequence[FunctionSpec] = FUNCTIONS,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        # Import the bucket through the exports CDK would make at synth anyway, so that its ARN
        # (and the cdk-nag finding ids built from it) is known now.
        owner = Stack.of(bucket)
        self.add_stack_dependency(owner, "the upload notifications and scans are on the assets bucket")
        self.bucket = s3.Bucket.from_bucket_attributes(
            self,
            "AssetsBucket",
            bucket_arn=owner.export_value(bucket.bucket_arn),
            bucket_name=owner.export_value(bucket.bucket_name),
        )

        # Every event processor's queue pair, by its logical name (core.queues).
        specs = queue_specs(functions)
        self.queues: dict[str, sqs.Queue] = {}
        self.dlqs: dict[str, sqs.Queue] = {}
        for spec in specs:
            self.dlqs[spec.name], self.queues[spec.name] = queue_pair(self, spec, config.prefix)
        if MEDIA not in self.queues or TRANSCODE not in self.queues:
            raise ValueError(f"the media pipeline needs the {MEDIA!r} and {TRANSCODE!r} functions in the catalog")

        self._notifications()
        self._eventbridge_rules()
        self.mediaconvert_role = self._mediaconvert_role()
        self.malware_protection = self._malware_protection()
        # Alarms after the pipeline, as before: the monitoring stack routes them to its topic.
        self.dlq_alarms = dlq_alarms(self, specs, self.dlqs, config.prefix)
        CfnOutput(self, "MediaQueueUrl", value=self.queues[MEDIA].queue_url)
        for spec in specs:  # for `make redrive REDRIVE_DLQ=...`
            CfnOutput(self, f"{construct_name(spec.name)}DlqName", value=self.dlqs[spec.name].queue_name)

    def _notifications(self) -> None:
        destination = s3n.SqsDestination(self.queues[MEDIA])
        for prefix in UPLOAD_PREFIXES:
            self.bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(prefix=prefix)
            )
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queues[TRANSCODE]),
            s3.NotificationKeyFilter(prefix=TRANSCODE_REQUEST_PREFIX, suffix=TRANSCODE_REQUEST_SUFFIX),
        )
        # CDK's singleton handler that applies the notification configuration to the bucket.
        for child in self.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's bucket-notifications handler (a deploy-time custom resource) uses "
                    "AWSLambdaBasicExecutionRole for its own logs only; it is not part of the application.",
                )
                acknowledge(
                    child,
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's bucket-notifications handler calls s3:PutBucketNotification at deploy time; CDK "
                    "generates this policy for the custom resource and scopes it by the bucket it is given.",
                )

    def _eventbridge_rules(self) -> None:
        events.Rule(
            self,
            "MediaConvertJobState",
            description="This stage's MediaConvert jobs that finished or failed -> the media queue",
            event_pattern=events.EventPattern(
                source=["aws.mediaconvert"],
                detail_type=["MediaConvert Job State Change"],
                detail={"status": ["COMPLETE", "ERROR"], "userMetadata": {"stage": [self.config.stage]}},
            ),
            targets=[targets.SqsQueue(self.queues[MEDIA])],
        )
        events.Rule(
            self,
            "MalwareScanResult",
            description="GuardDuty Malware Protection verdicts for the assets bucket -> the media queue",
            event_pattern=events.EventPattern(
                source=["aws.guardduty"],
                detail_type=["GuardDuty Malware Protection Object Scan Result"],
                detail={"s3ObjectDetails": {"bucketName": [self.bucket.bucket_name]}},
            ),
            targets=[targets.SqsQueue(self.queues[MEDIA])],
        )

    def _mediaconvert_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "MediaConvertRole",
            role_name=f"{self.config.prefix}-mediaconvert",
            assumed_by=iam.ServicePrincipal("mediaconvert.amazonaws.com"),
            description="MediaConvert HLS jobs of the transcode function: read originals, write variants",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOriginals",
                actions=["s3:GetObject"],
                resources=object_arns(self.bucket.bucket_arn, ASSETS_PREFIX),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteVariants",
                actions=["s3:PutObject"],
                resources=object_arns(self.bucket.bucket_arn, VARIANTS_PREFIX),
            )
        )
        for resource in object_arns(self.bucket.bucket_arn, ASSETS_PREFIX, VARIANTS_PREFIX):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_label(self, resource)}]",
                f"MediaConvert reads any original under {ASSETS_PREFIX} and writes HLS under {VARIANTS_PREFIX}; "
                "the job, not the role, names the one asset, and the prefix is the narrowest fixed scope.",
            )
        return role

    def _malware_protection(self) -> guardduty.CfnMalwareProtectionPlan:
        """GuardDuty scans each new object under the upload prefixes and tags it with the verdict."""
        bucket_arn, name = self.bucket.bucket_arn, self.bucket.bucket_name
        rules = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule"
        rule_arn = f"{rules}/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*"
        role = iam.Role(
            self,
            "MalwareProtectionRole",
            assumed_by=iam.ServicePrincipal("malware-protection-plan.guardduty.amazonaws.com"),
            description="GuardDuty Malware Protection for S3 on the assets bucket's upload prefixes",
        )
        statements = [
            iam.PolicyStatement(
                sid="ManagedRule",
                actions=["events:PutRule", "events:DeleteRule", "events:PutTargets", "events:RemoveTargets"],
                resources=[rule_arn],
                conditions={"StringLike": {"events:ManagedBy": "malware-protection-plan.guardduty.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="WatchManagedRule",
                actions=["events:DescribeRule", "events:ListTargetsByRule"],
                resources=[rule_arn],
            ),
            iam.PolicyStatement(
                sid="BucketNotifications",
                actions=["s3:PutBucketNotification", "s3:GetBucketNotification", "s3:ListBucket"],
                resources=[bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ValidationObject",
                actions=["s3:PutObject"],
                resources=[f"{bucket_arn}/malware-protection-resource-validation-object"],
            ),
            iam.PolicyStatement(
                sid="ScanAndTag",
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
                         "s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
                resources=object_arns(bucket_arn, *UPLOAD_PREFIXES),
            ),
        ]  # fmt: skip
        for statement in statements:
            role.add_to_policy(statement)
        for resource in (rule_arn, *object_arns(bucket_arn, *UPLOAD_PREFIXES)):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_label(self, resource)}]",
                "The policy GuardDuty Malware Protection for S3 requires: its own managed EventBridge rules "
                "(named by AWS with this prefix) and the objects under the protected upload prefixes.",
            )
        plan = guardduty.CfnMalwareProtectionPlan(
            self,
            "MalwareProtection",
            role=role.role_arn,
            protected_resource=guardduty.CfnMalwareProtectionPlan.CFNProtectedResourceProperty(
                s3_bucket=guardduty.CfnMalwareProtectionPlan.S3BucketProperty(
                    bucket_name=name, object_prefixes=list(UPLOAD_PREFIXES)
                )
            ),
            actions=guardduty.CfnMalwareProtectionPlan.CFNActionsProperty(
                tagging=guardduty.CfnMalwareProtectionPlan.CFNTaggingProperty(status="ENABLED")
            ),
        )
        plan.node.add_dependency(role)
        # Both this plan and the queue notification rewrite the bucket's notification
        # configuration: one after the other, never at the same time.
        notifications = self.bucket.node.try_find_child("Notifications")
        if notifications is not None:
            notifications.node.add_dependency(plan)
        return plan
