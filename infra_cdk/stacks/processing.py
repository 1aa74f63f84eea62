"""Media processing: what happens after an upload lands in the assets bucket.

`ProcessingStack` (its own stack, deployed after storage and before api):
- the media queue and its DLQ (maxReceiveCount 5), SSE, TLS only; the queue's visibility
  timeout is 6x the media function's timeout (the AWS guidance for SQS event sources);
- the transcode queue and its DLQ, the same way, for the transcode requests the media function
  leaves under `jobs/transcode/` (MediaConvert has no VPC endpoint, so a function outside the
  VPC creates the jobs; core.transcoding);
- the bucket's ObjectCreated notifications: `assets/` and `post-images/` to the media queue,
  `jobs/transcode/*.json` to the transcode queue (on an imported bucket: CDK then merges with
  the configuration GuardDuty adds, and the storage stack does not come to depend on this one);
- EventBridge rules to the same queue: MediaConvert "Job State Change" (COMPLETE, ERROR) of
  this stage's jobs, and GuardDuty Malware Protection scan results for the bucket;
- GuardDuty Malware Protection for S3 on those prefixes, tagging each object with its verdict
  (`GuardDutyMalwareScanStatus`), which the media function reads;
- the role MediaConvert assumes (read originals, write variants);
- an alarm as soon as either DLQ holds a message.

The functions' side (event sources, sizing, grants, settings) is wired in the api stack, where
the factory made the functions: constructs/media.py and constructs/transcode.py.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.transcoding import MAX_RECEIVES as TRANSCODE_MAX_RECEIVES
from core.transcoding import REQUEST_PREFIX as TRANSCODE_REQUEST_PREFIX
from core.transcoding import REQUEST_SUFFIX as TRANSCODE_REQUEST_SUFFIX
from infra_cdk.config import StageConfig
from infra_cdk.constructs.bucket_access import object_arns
from infra_cdk.nag import acknowledge, finding_label
from infra_cdk.stacks.storage import ASSETS_PREFIX, POST_IMAGES_PREFIX

MEDIA = "media"
TRANSCODE = "transcode"
VARIANTS_PREFIX = "variants/"
UPLOAD_PREFIXES = (ASSETS_PREFIX, POST_IMAGES_PREFIX)
# The functions' timeouts size their queues' visibility (6x, the AWS guidance for SQS event
# sources). Media: room for a batch of 12 MP photos, S3 round trips and a slow scanner.
# Transcode: one request, one CreateJob, so retries come every 3 minutes.
MEDIA_TIMEOUT = Duration.minutes(2)
QUEUE_VISIBILITY = Duration.seconds(6 * MEDIA_TIMEOUT.to_seconds())
TRANSCODE_TIMEOUT = Duration.seconds(30)
TRANSCODE_VISIBILITY = Duration.seconds(6 * TRANSCODE_TIMEOUT.to_seconds())
MAX_RECEIVE_COUNT = 5
# The media queue's event source scales to this; each invocation holds one RDS Proxy connection.
MAX_CONCURRENCY = 10
DLQ_RETENTION = Duration.days(14)


def dlq_name(config: StageConfig, queue: str) -> str:
    """The physical name of a queue's DLQ (the monitoring stack addresses its metric by it)."""
    return f"{config.prefix}-{queue}-dlq"


class ProcessingStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, bucket: s3.IBucket, **kwargs: Any
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

        self.dlq_name = dlq_name(config, MEDIA)
        self.dlq, self.queue = self._queue_pair(MEDIA, QUEUE_VISIBILITY, MAX_RECEIVE_COUNT)
        self.transcode_dlq, self.transcode_queue = self._queue_pair(
            TRANSCODE, TRANSCODE_VISIBILITY, TRANSCODE_MAX_RECEIVES
        )

        self._notifications()
        self._eventbridge_rules()
        self.mediaconvert_role = self._mediaconvert_role()
        self.malware_protection = self._malware_protection()
        self.dlq_alarm = self._dlq_alarm()
        CfnOutput(self, "MediaQueueUrl", value=self.queue.queue_url)
        CfnOutput(self, "MediaDlqName", value=self.dlq.queue_name)
        CfnOutput(self, "TranscodeDlqName", value=self.transcode_dlq.queue_name)

    def _queue_pair(self, name: str, visibility: Duration, max_receive_count: int) -> tuple[sqs.Queue, sqs.Queue]:
        """A function's queue and its DLQ (14 days): SSE, TLS only; (dlq, queue)."""
        secure: dict[str, Any] = {"encryption": sqs.QueueEncryption.SQS_MANAGED, "enforce_ssl": True}
        construct = name.capitalize()
        dlq = sqs.Queue(
            self,
            f"{construct}Dlq",
            queue_name=dlq_name(self.config, name),
            retention_period=DLQ_RETENTION,
            **secure,
        )
        acknowledge(
            dlq,
            "AwsSolutions-SQS3",
            f"This queue is the dead-letter queue of the {name} queue; a DLQ of a DLQ would only hide poison "
            "messages that the DLQ-depth alarm is there to surface (make redrive moves them back).",
        )
        queue = sqs.Queue(
            self,
            f"{construct}Queue",
            queue_name=f"{self.config.prefix}-{name}",
            visibility_timeout=visibility,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
            **secure,
        )
        return dlq, queue

    def _dlq_alarm(self) -> cloudwatch.Alarm:
        """One alarm for both DLQs of the media pipeline (the monitoring stack routes it)."""
        depth = {
            name: dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum")
            for name, dlq in ((MEDIA, self.dlq), (TRANSCODE, self.transcode_dlq))
        }
        return cloudwatch.Alarm(
            self,
            "MediaDlqNotEmpty",
            alarm_name=f"{self.config.prefix}-media-dlq-not-empty",
            alarm_description=(
                f"Media events or transcode requests failed {MAX_RECEIVE_COUNT} times and wait in "
                f"{dlq_name(self.config, MEDIA)} or {dlq_name(self.config, TRANSCODE)}: look, fix, then "
                "`make redrive`. Runbook: docs/operations.md#media-dlq-not-empty"
            ),
            metric=cloudwatch.MathExpression(
                expression=f"MAX([{MEDIA}, {TRANSCODE}])",
                using_metrics=depth,
                period=Duration.minutes(1),
                label="deepest media pipeline DLQ",
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _notifications(self) -> None:
        destination = s3n.SqsDestination(self.queue)
        for prefix in UPLOAD_PREFIXES:
            self.bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(prefix=prefix)
            )
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.transcode_queue),
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
            targets=[targets.SqsQueue(self.queue)],
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
            targets=[targets.SqsQueue(self.queue)],
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
                "MediaConvert reads any original under assets/ and writes HLS under variants/; the job, not "
                "the role, names the one asset, and the prefix is the narrowest fixed scope.",
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
