"""`make dev`: the whole backend in one process, like the cloud but on a laptop.

Embedded PostgreSQL (data kept in LOCAL_DATA_DIR/pgdata, default .local/),
migrations, moto for S3/SQS with the resources CDK would create, one event pump
per event function and the API Gateway emulator. DATABASE_URL or
AWS_ENDPOINT_URL point it at real services instead. Ctrl-C or SIGTERM stops
everything in reverse order and exits 0.

Environment: LOCAL_API_PORT (3000), LOCAL_PG_PORT (54329), LOCAL_AWS_PORT (4566),
LOCAL_DATA_DIR (.local), ASSETS_BUCKET (assets-local).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType

from local.environment import (
    ROOT,
    add_import_paths,
    data_dir,
    embedded_database,
    local_signing_keys,
    migrate,
    reset_app_state,
    use_for_functions,
)
from local.environment import env_int as _env_int

STEPS = 5


def _step(n: int, text: str) -> None:
    print(f"[{n}/{STEPS}] {text} ...", flush=True)


def _safely(name: str, stop: Callable[[], object]) -> Callable[[], None]:
    """A cleanup that reports its failure instead of skipping the ones after it."""

    def run() -> None:
        print(f"[stop] {name}", flush=True)
        try:
            stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the rest
            print(f"[stop] {name} failed: {exc}", file=sys.stderr, flush=True)

    return run


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def start(cleanup: ExitStack) -> list[str]:
    """Start every piece, registering how to stop it; returns the banner lines."""
    from local.aws import LocalAws
    from local.gateway import Gateway, GatewayServer
    from local.lambda_api import LambdaApi
    from local.pump import SqsPump
    from local.websocket import WS_PATH, WebSocketGateway

    os.environ.update({"STAGE": "local", "DB_POOL_SIZE": "10"})
    # Lambda sets it per function (the function factory); child loggers find their parent by it.
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "local")
    # Feature flags (core.flags) from the repository's file, read again whenever it changes.
    os.environ.setdefault("FEATURE_FLAGS_FILE", str(ROOT / "local" / "feature_flags.json"))
    local_signing_keys()
    api_port = _env_int("LOCAL_API_PORT", 3000)
    try:  # bind first: a busy port fails before anything starts
        functions = LambdaApi()
        gateway = GatewayServer(Gateway(), "127.0.0.1", api_port, sockets=WebSocketGateway(), functions=functions)
    except OSError as exc:
        raise RuntimeError(f"port 127.0.0.1:{api_port} is taken; set LOCAL_API_PORT to another port") from exc
    # The WebSocket API and its Management API share the gateway's port (local.websocket).
    os.environ.setdefault("REALTIME_WS_URL", f"ws://127.0.0.1:{api_port}{WS_PATH}")
    os.environ.setdefault("REALTIME_MANAGEMENT_URL", f"{gateway.url}{WS_PATH}")
    # So is Lambda's Invoke API: the AI worker invokes its database steps as in the cloud (local.lambda_api).
    for key, value in functions.env(gateway.url).items():
        os.environ.setdefault(key, value)
    cleanup.callback(gateway.server_close)

    embedded = not os.environ.get("DATABASE_URL")
    if not embedded:
        _step(1, "using PostgreSQL from DATABASE_URL (migrations and functions as its user)")
        url = os.environ["DATABASE_URL"]
    else:
        _step(1, f"starting PostgreSQL on port {_env_int('LOCAL_PG_PORT', 54329)} (data in {data_dir() / 'pgdata'})")
        url, server = embedded_database(reuse_running=False)
        if server is not None:
            cleanup.callback(_safely("PostgreSQL", server.stop))
    cleanup.callback(reset_app_state)  # pooled connections close before the server stops

    _step(2, "applying migrations")
    print(f"      at revision {migrate(url)}", flush=True)
    if embedded:  # the owner migrates; the functions connect as the application's role, as in the cloud
        from local.postgres import APP_ROLE, as_user

        url = as_user(url, APP_ROLE)
    use_for_functions(url, embedded=embedded)

    from core.config import CoreSettings

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    aws = LocalAws(
        port=_env_int("LOCAL_AWS_PORT", 4566),
        endpoint_url=endpoint,
        bucket=os.environ.get("ASSETS_BUCKET") or "assets-local",
        cors_origins=CoreSettings.current().cors_allowed_origins,
    )
    _step(3, f"using S3/SQS at {endpoint}" if endpoint else f"starting moto (S3, SQS) on {aws.endpoint_url}")
    if aws.uses_moto:
        cleanup.callback(_safely("moto", aws.stop))
    resources = aws.start()
    os.environ.update(resources.env())
    reset_app_state()

    from core.routes import FUNCTIONS

    event_functions = [f for f in FUNCTIONS if f.queue is not None]
    _step(4, f"starting event pumps: {', '.join(f.name for f in event_functions) or 'none (no event functions yet)'}")
    for spec in event_functions:
        assert spec.queue is not None
        # The event source mapping's batch size, as in the cloud (core.queues).
        pump = SqsPump(
            spec.name,
            resources.queue_urls[spec.queue.name],
            aws.client("sqs"),
            batch_size=spec.queue.batch_size,
            visibility_timeout_s=spec.queue.visibility_timeout_s,
        )
        pump.start()
        cleanup.callback(_safely(f"pump {spec.name}", pump.stop))

    _step(5, f"starting API gateway on {gateway.url}")
    gateway.start()
    cleanup.callback(_safely("gateway", gateway.stop))  # first to stop: no request meets a stopped service

    queues = [f"{name}: {q} (DLQ {resources.dlq_urls[name]})" for name, q in resources.queue_urls.items()]
    return [
        f"API       {gateway.url}/api/v1",
        f"Docs      {gateway.url}/docs",
        f"WebSocket {os.environ['REALTIME_WS_URL']}?ticket=... (POST /api/v1/realtime/tickets)",
        f"Health    {gateway.url}/api/v1/health",
        f"Flags     {os.environ['FEATURE_FLAGS_FILE']} (read again on every change)",
        f"Database  {_hide_password(url)}",
        f"Bucket    {resources.bucket} (endpoint {resources.endpoint_url})",
        *(f"Queue     {q}" for q in queues),
    ]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _exit_with_parent() -> None:
    """LOCAL_EXIT_WITH_PARENT=1 (the e2e tests): a killed test run must not leave a stack behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # SIGINT already raises KeyboardInterrupt
    if os.environ.get("LOCAL_EXIT_WITH_PARENT") == "1":
        _exit_with_parent()
    cleanup = ExitStack()
    code = 0
    started = time.monotonic()
    try:
        banner = start(cleanup)
        print(f"\nLocal stack ready in {time.monotonic() - started:.1f}s", flush=True)
        for line in banner:
            print(f"  {line}", flush=True)
        print("Ctrl-C stops everything.\n", flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    except Exception as exc:  # noqa: BLE001 - report the failed step, then stop what did start
        print(f"local stack failed: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup.close()
    print("stopped", flush=True)
    return code


if __name__ == "__main__":
    add_import_paths()
    raise SystemExit(main())
