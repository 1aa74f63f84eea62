"""The local stack (`python -m local.stack`) as a subprocess on free ports and its own data dir."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from local.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


@dataclass
class LocalStack:
    data_dir: Path
    api_port: int = field(default_factory=free_port)
    pg_port: int = field(default_factory=free_port)
    aws_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"stack-{self.runs}.log"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AWS_ENDPOINT_URL", "ASSETS_BUCKET")}
        env.update(
            {
                "LOCAL_API_PORT": str(self.api_port),
                "LOCAL_PG_PORT": str(self.pg_port),
                "LOCAL_AWS_PORT": str(self.aws_port),
                "LOCAL_DATA_DIR": str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
                "LOCAL_EXIT_WITH_PARENT": "1",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        return env

    def start(self) -> None:
        """Start and wait (bounded) until /api/v1/health answers 200."""
        self.runs += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "local.stack"], cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the local stack exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.api}/api/v1/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the local stack was not healthy within {START_TIMEOUT_S}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal the stack and wait for it; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    stack = LocalStack(ROOT / ".local" / f"e2e-{os.getpid()}")
    shutil.rmtree(stack.data_dir, ignore_errors=True)
    try:
        stack.start()
        yield stack
    finally:
        if stack.running:
            stack.stop()
        _stop_orphaned_postgres(stack.data_dir / "pgdata")
        shutil.rmtree(stack.data_dir, ignore_errors=True)


def _stop_orphaned_postgres(pgdata: Path) -> None:
    """Only if the stack failed to stop its server: never leave one behind."""
    if (pgdata / "postmaster.pid").exists():
        from local.postgres import EmbeddedPostgres

        EmbeddedPostgres(pgdata, 0).stop()
