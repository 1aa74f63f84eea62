"""An SQS event pump: what a Lambda event source mapping does, in a thread.

Long-polls one queue, hands batches to one function as SQS events and deletes
what succeeded. Partial batch responses (`batchItemFailures`) are honoured the
way Lambda honours ReportBatchItemFailures: the listed messages stay and come
back after the visibility timeout; an exception or a malformed response keeps
the whole batch. Redrive to the DLQ is the queue's job (maxReceiveCount).
"""

from __future__ import annotations

import base64
import sys
import threading
import traceback
from typing import Any

from local.invoke import Invoker, invoke_function


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API shape -> Lambda event shape (binary values base64, list fields present)."""
    out = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        out[name] = item
    return out


def failed_message_ids(response: Any, batch_ids: set[str]) -> set[str]:
    """The messages to keep. Anything Lambda would reject as a partial response fails the batch."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return set(batch_ids)
    ids = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    if not ids <= batch_ids:  # unknown, empty or missing identifiers
        return set(batch_ids)
    return {str(i) for i in ids}


class SqsPump:
    def __init__(
        self,
        function_name: str,
        queue_url: str,
        sqs: Any,
        *,
        invoke: Invoker = invoke_function,
        batch_size: int = 10,
        wait_s: int = 1,
        visibility_timeout_s: int = 30,
    ):
        self.function_name = function_name
        self.queue_url = queue_url
        self.sqs = sqs
        self.invoke = invoke
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.visibility_timeout_s = visibility_timeout_s
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_arn: str | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = str(attrs["Attributes"]["QueueArn"])
        return self._queue_arn

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3],
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def poll_once(self) -> int:
        """Receive one batch, invoke, delete the successes. Returns how many messages came in."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_s,
            VisibilityTimeout=self.visibility_timeout_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            response = self.invoke(self.function_name, event)
        except Exception:  # noqa: BLE001 - a failed invocation keeps the batch, like Lambda
            self._log(f"invocation failed, {len(messages)} message(s) kept:\n{traceback.format_exc()}")
            return len(messages)
        failed = failed_message_ids(response, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if failed:
            self._log(f"{len(failed)} of {len(messages)} message(s) failed and stay in the queue")
        return len(messages)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the pump outlives a flaky endpoint
                self._log(f"polling failed: {exc!r}")
                self.stop_event.wait(1.0)

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"pump-{self.function_name}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _log(self, message: str) -> None:
        print(f"[pump {self.function_name}] {message}", file=sys.stderr, flush=True)
