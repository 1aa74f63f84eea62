"""S3 and SQS for the local stack: moto in server mode, or any endpoint you point at.

Creates what the processing stack creates in the cloud: the assets bucket
(versioned) with CORS for browser uploads, one queue plus DLQ per event processor, from the
same declaration (core.routes.FunctionSpec.queue: FIFO or standard, maxReceiveCount), and the
ObjectCreated notification to the media queue. Creation is idempotent, so it also works
against a long-lived endpoint (AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from core.queues import QueueSpec
from core.routes import FUNCTIONS

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
MEDIA_QUEUE = "media"  # the target of the bucket notification
# Locally a message a function failed comes back within seconds, not after 6x its timeout.
LOCAL_VISIBILITY_TIMEOUT_S = 30


def logical_queues() -> list[QueueSpec]:
    """Every event processor's queue (core.queues), each once; the media queue always."""
    specs = {f.queue.name: f.queue for f in FUNCTIONS if f.queue is not None}
    specs.setdefault(MEDIA_QUEUE, QueueSpec(MEDIA_QUEUE, "media events"))
    return list(specs.values())


@dataclass
class AwsResources:
    endpoint_url: str
    bucket: str
    fake_credentials: bool
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical name -> queue URL
    dlq_urls: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """What the functions read (core.config, and boto3 reads AWS_ENDPOINT_URL itself)."""
        env = dict(FAKE_CREDENTIALS) if self.fake_credentials else {}
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "ASSETS_BUCKET": self.bucket,
                "MEDIA_QUEUE_URL": self.queue_urls[MEDIA_QUEUE],
            }
        )
        # Every function of make dev shares one environment: each queue's URL where its producers look.
        env.update({spec.env_var: self.queue_urls[spec.name] for spec in logical_queues() if spec.producers})
        return env


class LocalAws:
    """Start moto (unless an endpoint is given), then create the resources."""

    def __init__(
        self,
        *,
        port: int = 4566,
        endpoint_url: str | None = None,
        bucket: str = "assets-local",
        suffix: str = "local",
        cors_origins: tuple[str, ...] = ("http://localhost:3000",),
    ):
        self.port = port
        self.external_endpoint = endpoint_url
        self.bucket = bucket
        self.suffix = suffix
        self.cors_origins = cors_origins
        self._server: Any = None
        self.resources: AwsResources | None = None

    @property
    def uses_moto(self) -> bool:
        return self.external_endpoint is None

    @property
    def endpoint_url(self) -> str:
        return self.external_endpoint or f"http://127.0.0.1:{self.port}"

    def client(self, service: Literal["s3", "sqs"]) -> Any:
        import boto3

        if not self.uses_moto:  # real endpoint: the caller's own credentials and region
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
            return boto3.client(service, endpoint_url=self.endpoint_url, region_name=region)
        # never hand real credentials to the fake endpoint
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def start(self) -> AwsResources:
        if self.uses_moto:
            self._start_moto()
        self.resources = self.create_resources()
        return self.resources

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _start_moto(self) -> None:
        from local.postgres import port_is_open

        if port_is_open("127.0.0.1", self.port):
            raise RuntimeError(f"port 127.0.0.1:{self.port} is taken; set LOCAL_AWS_PORT to another port")
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3/SQS call is noise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def create_resources(self) -> AwsResources:
        resources = AwsResources(self.endpoint_url, self.bucket, fake_credentials=self.uses_moto)
        sqs = self.client("sqs")
        for spec in logical_queues():
            dlq_url, main_url = self.create_queue_pair(spec, sqs)
            resources.dlq_urls[spec.name], resources.queue_urls[spec.name] = dlq_url, main_url
        self._create_bucket(sqs, resources.queue_urls[MEDIA_QUEUE])
        return resources

    def create_queue_pair(self, queue: QueueSpec | str, sqs: Any = None) -> tuple[str, str]:
        """`<name>-<suffix>` redriving to `<name>-dlq-<suffix>` after the spec's max_receives (FIFO
        queues end in `.fifo`, as SQS requires); a plain name is a standard queue with the defaults."""
        spec = queue if isinstance(queue, QueueSpec) else QueueSpec(queue, f"{queue} messages")
        sqs = sqs or self.client("sqs")
        fifo = {"FifoQueue": "true"} if spec.fifo else {}
        dlq_url = sqs.create_queue(QueueName=spec.local_dlq_name(self.suffix), Attributes=fifo)["QueueUrl"]
        redrive = {"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": str(spec.max_receives)}
        url = sqs.create_queue(QueueName=spec.local_queue_name(self.suffix), Attributes=fifo)["QueueUrl"]
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "RedrivePolicy": json.dumps(redrive),
                "VisibilityTimeout": str(LOCAL_VISIBILITY_TIMEOUT_S),
            },
        )
        return dlq_url, url

    def _create_bucket(self, sqs: Any, media_queue_url: str) -> None:
        s3 = self.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            s3.create_bucket(Bucket=self.bucket)
        # Versioned as in the cloud: the media pipeline pins what it scanned to a version id.
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_cors(
            Bucket=self.bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedMethods": ["PUT", "POST", "GET"],
                        "AllowedOrigins": list(self.cors_origins),
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 600,
                    }
                ]
            },
        )
        queue_arn = _queue_arn(sqs, media_queue_url)
        sqs.set_queue_attributes(QueueUrl=media_queue_url, Attributes={"Policy": _s3_may_send(queue_arn, self.bucket)})
        current = s3.get_bucket_notification_configuration(Bucket=self.bucket).get("QueueConfigurations", [])
        if not any(c.get("QueueArn") == queue_arn for c in current):
            # S3 answers a new configuration with an s3:TestEvent message, in moto as in AWS.
            s3.put_bucket_notification_configuration(
                Bucket=self.bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
                },
            )


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _s3_may_send(queue_arn: str, bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
    )
