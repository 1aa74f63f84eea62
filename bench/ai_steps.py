"""What the split of the AI worker costs per step: one `delta` step (the one the worker makes before
each coalesced delta, ~10 a second per reply) in-process and through Lambda's Invoke API.

    .venv/bin/python -m bench.ai_steps [--calls 300] [--json]

In one run, against the embedded PostgreSQL (migrated; reused when it runs): the same request (a job
that owns no message: the step's check runs, one indexed query, and answers `current: false`)
1. in-process, as the worker's tests run it (ai_worker.steps_client.in_process: JSON both ways);
2. through boto3's Lambda client and the local Invoke API on a gateway of this process
   (local.lambda_api), as `make dev` runs it: SigV4 signing, HTTP on loopback, the handler.
p50 and p99 of each and their ratio. In the cloud the invoke adds Lambda's own synchronous-invoke
overhead and a network hop instead of loopback (not measured here). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def timed(call: Callable[[], Any], calls: int) -> list[float]:
    for _ in range(10):  # warm: imports, the pool, the HTTP connection
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from local.environment import add_import_paths

    add_import_paths()
    os.environ.setdefault("STAGE", "local")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from ai_worker import steps_client
    from core.ai_steps import DeltaRequest, JobRef
    from local.aws import FAKE_CREDENTIALS
    from local.environment import local_database
    from local.gateway import Gateway, GatewayServer
    from local.lambda_api import LambdaApi, local_arn

    job = JobRef(room_id=uuid.uuid4(), message_id=uuid.uuid4(), job_id=uuid.uuid4())
    payload = DeltaRequest(v=1, job=job, first=False).model_dump(mode="json")
    with local_database(reuse_running=True):
        server = GatewayServer(Gateway(), "127.0.0.1", 0, functions=LambdaApi()).start()
        os.environ.update({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL_LAMBDA": server.url})
        steps_client.lambda_client.cache_clear()
        name = local_arn("ai_steps")
        try:
            assert steps_client.in_process(payload) == steps_client.invoke(name, payload)  # the same answer
            in_process = timed(lambda: steps_client.in_process(payload), args.calls)
            invoked = timed(lambda: steps_client.invoke(name, payload), args.calls)
        finally:
            server.stop()
    result = {
        "calls": args.calls,
        "in_process_p50_ms": percentile(in_process, 50),
        "in_process_p99_ms": percentile(in_process, 99),
        "invoke_p50_ms": percentile(invoked, 50),
        "invoke_p99_ms": percentile(invoked, 99),
    }
    result["ratio_p50"] = result["invoke_p50_ms"] / result["in_process_p50_ms"]
    result["ratio_p99"] = result["invoke_p99_ms"] / result["in_process_p99_ms"]
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"AI worker's delta step, {args.calls} calls each (a job that owns nothing: one indexed query)")
    print(f"  {'':<32} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"  {'in-process (tests)':<32} {result['in_process_p50_ms']:>8.2f} {result['in_process_p99_ms']:>8.2f}")
    print(f"  {'local Lambda Invoke (make dev)':<32} {result['invoke_p50_ms']:>8.2f} {result['invoke_p99_ms']:>8.2f}")
    print(f"  {'ratio invoke / in-process':<32} {result['ratio_p50']:>7.1f}x {result['ratio_p99']:>7.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
