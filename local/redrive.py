"""`make redrive`: move the messages of a dead-letter queue back to its source queue.

    python -m local.redrive                     # the local stack's media DLQ (media-dlq-local)
    python -m local.redrive --dlq social-dev-media-dlq
    REDRIVE_DLQ=<name or URL> make redrive

The source queue is the one whose redrive policy names the DLQ (ListDeadLetterSourceQueues),
so nothing is configured twice. Without AWS_ENDPOINT_URL it talks to the local moto server
(LOCAL_AWS_PORT, default 4566) with fake credentials; with it, to that endpoint (real AWS
included) with your own credentials. Each message is sent to the source queue with its body
and attributes (from a FIFO DLQ: its message group too), then deleted from the DLQ; the count
is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from typing import Any

from local.aws import MEDIA_QUEUE

BATCH = 10


def sqs_client() -> Any:
    from local.aws import LocalAws

    port = int(os.environ.get("LOCAL_AWS_PORT") or 4566)
    return LocalAws(port=port, endpoint_url=os.environ.get("AWS_ENDPOINT_URL")).client("sqs")


def queue_url(sqs: Any, name_or_url: str) -> str:
    if name_or_url.startswith(("http://", "https://")):
        return name_or_url
    return str(sqs.get_queue_url(QueueName=name_or_url)["QueueUrl"])


def source_of(sqs: Any, dlq_url: str) -> str:
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(f"{dlq_url} is the DLQ of {len(sources)} queues; expected exactly one")
    return str(sources[0])


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in message.get("MessageAttributes", {}).items():
        item = {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        out[name] = item
    return out


def redrive(sqs: Any, dlq_url: str, target_url: str, *, wait_s: int = 1) -> int:
    """Move every message; returns how many moved. A message is deleted only once it was sent."""
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
        ).get("Messages", [])
        if not messages:
            return moved
        entries = []
        for i, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": message["Body"]}
            if attributes := _attributes(message):
                entry["MessageAttributes"] = attributes
            system = message.get("Attributes", {})
            if "MessageGroupId" in system:  # FIFO: its group; a fresh deduplication id (the old one may be spent)
                entry["MessageGroupId"] = system["MessageGroupId"]
                entry["MessageDeduplicationId"] = uuid.uuid4().hex
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=target_url, Entries=entries)
        done = [messages[int(s["Id"])] for s in sent.get("Successful", [])]
        for failure in sent.get("Failed", []):
            print(f"could not send message {failure['Id']}: {failure.get('Message')}", file=sys.stderr)
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        moved += len(done)
        if len(done) < len(messages):
            return moved  # the rest stay in the DLQ (and come back after the visibility timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.redrive", description=__doc__.splitlines()[0])
    default = os.environ.get("REDRIVE_DLQ") or f"{MEDIA_QUEUE}-dlq-local"
    parser.add_argument("--dlq", default=default, help=f"DLQ name or URL (default {default})")
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    sqs = sqs_client()
    try:
        dlq_url = queue_url(sqs, args.dlq)
        target_url = source_of(sqs, dlq_url)
        moved = redrive(sqs, dlq_url, target_url)
    except (BotoCoreError, ClientError) as exc:
        where = os.environ.get("AWS_ENDPOINT_URL") or "the local stack (is `make dev` running?)"
        print(f"redrive failed against {where}: {exc}", file=sys.stderr)
        return 1
    print(f"moved {moved} message(s) from {dlq_url} back to {target_url}")
    return 0


if __name__ == "__main__":
    from local.environment import add_import_paths

    add_import_paths()
    raise SystemExit(main())
