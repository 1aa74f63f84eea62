"""First-time set-up of the embedded PostgreSQL, as on a fresh machine where other processes start
servers at the same time (issue 13): as root, the system user does not exist yet, several processes
want it at once, and it may change underneath one of them.

As root each test uses a fresh system user of its own (EMBEDDED_PG_SYSTEM_USER), deleted afterwards,
so the machine's real one and the servers of other test sessions are never touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import postgres
from local.postgres import EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates system users: root only")

# One process of the stampede: wait for the common start time, then set up and start a server of its own.
CHILD = """
import sys, time
from pathlib import Path
from local.postgres import EmbeddedPostgres, free_port

data_dir, start_at = Path(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))
server = EmbeddedPostgres(data_dir, free_port(), fast=True)
server.start()
print(data_dir.stat().st_uid, flush=True)
server.destroy()
"""


def _passwd_lines(name: str) -> int:
    return sum(line.startswith(f"{name}:") for line in Path("/etc/passwd").read_text().splitlines())


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """Under the project's .local like the other servers (a tmp_path would need o+x on pytest's own dirs)."""
    path = ROOT / ".local" / f"setup-test-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        for pid_file in path.glob("*/postmaster.pid"):  # a child that died before destroying its server
            EmbeddedPostgres(pid_file.parent, 0).stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fresh_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """As root, a system user name nobody has yet (the clean state of a fresh machine); None otherwise."""
    if os.geteuid() != 0:
        yield None
        return
    name = f"pgtest_{uuid.uuid4().hex[:10]}"
    assert postgres._lookup(name) is None
    monkeypatch.setenv(postgres.SYSTEM_USER_ENV, name)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)  # if userdel left it behind


def test_concurrent_first_time_setup(fresh_user: str | None, work_dir: Path) -> None:
    """Several processes set up and start their own server at the same moment: all succeed,
    and as root they share one system user, created once, owning every data directory."""
    start_at = time.time() + 2  # after every child has imported what it needs
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(work_dir / f"pg-{i}"), str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    owners = {int(out.split()[-1]) for out, _ in outputs}
    if fresh_user is None:
        assert owners == {os.geteuid()}
    else:
        assert owners == {pwd.getpwnam(fresh_user).pw_uid}
        assert _passwd_lines(fresh_user) == 1


@as_root
@pytest.mark.parametrize("tool", ["initdb", "pg_ctl"])
def test_owner_changed_underneath_is_recovered(
    tool: str, fresh_user: str, work_dir: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The reported failure: the data dir was given to the user's uid, which then changed (a racing
    useradd rewrites the entry with a new uid), so `tool` is refused; the dir is given to the new uid
    and the tool runs again."""
    spawn = EmbeddedPostgres._spawn
    new_uid: list[int] = []

    def uid_changes_first(self: EmbeddedPostgres, name: str, args: tuple[str, ...], timeout: float) -> Any:
        if name == tool and not new_uid:
            new_uid.append(next(uid for uid in range(59000, 60000) if not _uid_taken(uid)))
            subprocess.run(["usermod", "-u", str(new_uid[0]), fresh_user], check=True, capture_output=True)
        return spawn(self, name, args, timeout)

    monkeypatch.setattr(EmbeddedPostgres, "_spawn", uid_changes_first)
    server = EmbeddedPostgres(work_dir / "pg", free_port(), fast=True)
    try:
        server.start()
        assert server.data_dir.stat().st_uid == new_uid[0] == pwd.getpwnam(fresh_user).pw_uid
        assert f"{tool} was refused access" in capfd.readouterr().err
    finally:
        server.destroy()


def _uid_taken(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


@as_root
def test_useradd_racing_without_our_lock(fresh_user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program adds the user between our look-up and our useradd (exit 9): we take theirs."""
    real = postgres._useradd
    codes: list[int] = []

    def raced(name: str) -> subprocess.CompletedProcess[str]:
        if not codes:
            real(name)  # the other program, first
        result = real(name)
        codes.append(result.returncode)
        return result

    monkeypatch.setattr(postgres, "_useradd", raced)
    user = postgres.ensure_system_user()
    assert user is not None and user.pw_name == fresh_user
    assert codes == [9]


@as_root
def test_useradd_retried_while_passwd_is_locked(fresh_user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """/etc/passwd locked by another program (exit 1 or 10): wait a little and try again."""
    real = postgres._useradd
    calls: list[str] = []

    def locked_twice(name: str) -> subprocess.CompletedProcess[str]:
        calls.append(name)
        if len(calls) <= 2:
            return subprocess.CompletedProcess([], 1, "", "useradd: cannot lock /etc/passwd; try again later.\n")
        return real(name)

    monkeypatch.setattr(postgres, "_useradd", locked_twice)
    user = postgres.ensure_system_user()
    assert user is not None and user.pw_name == fresh_user
    assert len(calls) == 3


def test_system_user_name_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.SYSTEM_USER_ENV, "no such user; rm -rf")
    with pytest.raises(ValueError, match=postgres.SYSTEM_USER_ENV):
        postgres.system_user_name()
    monkeypatch.delenv(postgres.SYSTEM_USER_ENV)
    assert postgres.system_user_name() == postgres.DEFAULT_SYSTEM_USER
