"""`make load`: mixed traffic against the local stack over loopback, then the invariants.

Starts its own local stack (fresh data, free ports), seeds a load admin with a lobby room and a
few hot posts, runs locust headless with a bounded number of users for a bounded time, then
checks in PostgreSQL that every counter and every room seq is exactly right and that no
request got a 5xx. Prints requests/s and p50/p99.

    .venv/bin/python -m bench.load [--users 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent

INVARIANTS = {
    "likes_count matches likes": "SELECT count(*) FROM posts p "
    "WHERE p.likes_count <> (SELECT count(*) FROM likes l WHERE l.post_id = p.id)",
    "comments_count matches comments": "SELECT count(*) FROM posts p "
    "WHERE p.comments_count <> (SELECT count(*) FROM comments c WHERE c.post_id = p.id)",
    "room seq gap-free, 1..last_seq": "SELECT count(*) FROM rooms r WHERE r.last_seq <> "
    "(SELECT count(DISTINCT m.seq) FROM messages m WHERE m.room_id = r.id) OR r.last_seq <> "
    "(SELECT coalesce(max(m.seq), 0) FROM messages m WHERE m.room_id = r.id)",
}


def _free_port() -> int:
    from local.postgres import free_port

    return free_port()


def start_stack(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, int]:
    api_port, pg_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AWS_ENDPOINT_URL")},
        "LOCAL_API_PORT": str(api_port),
        "LOCAL_PG_PORT": str(pg_port),
        "LOCAL_AWS_PORT": str(_free_port()),
        "LOCAL_DATA_DIR": str(data_dir),
        "LOCAL_EXIT_WITH_PARENT": "1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "BCRYPT_COST": os.environ.get("BCRYPT_COST", "10"),
    }
    log = (data_dir / "stack.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=log, stderr=log)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the local stack exited early; see {data_dir / 'stack.log'}")
        try:
            if requests.get(f"{api}/api/v1/health", timeout=1).status_code == 200:
                return proc, api, pg_port
        except requests.RequestException:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the local stack did not become healthy in 90 s")


def seed(api: str) -> dict[str, str]:
    """The load admin, its lobby room and five hot posts everyone likes and comments on."""
    body = {"email": "load-admin@example.com", "username": "load_admin", "password": "load admin password"}
    token = requests.post(f"{api}/api/v1/auth/register", json=body, timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    posts = [
        requests.post(f"{api}/api/v1/posts", json={"content": f"hot {i}"}, headers=auth, timeout=10).json()["id"]
        for i in range(5)
    ]
    lobby = requests.post(f"{api}/api/v1/rooms", json={"name": "lobby"}, headers=auth, timeout=10)
    return {
        "LOAD_ADMIN_TOKEN": token,
        "LOAD_HOT_POSTS": ",".join(posts),
        "LOAD_LOBBY": lobby.json()["id"] if lobby.status_code == 201 else "",
    }


def run_locust(api: str, env: dict[str, str], users: int, seconds: int, out: Path) -> dict[str, Any]:
    prefix = out / "load"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(max(1, users // 2)),
        "--run-time",
        f"{seconds}s",
        "--host",
        api,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "10",
        "--exit-code-on-error",
        "0",
    ]
    print(f"[load] {users} users for {seconds} s against {api}", file=sys.stderr, flush=True)
    subprocess.run(command, env={**os.environ, **env}, check=True, timeout=seconds + 120)
    with (out / "load_stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (out / "load_failures.csv").open() as f:
        failures = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return {"rows": rows, "total": total, "failures": failures}


def check_invariants(pg_port: int) -> dict[str, int]:
    import pg8000.native

    conn = pg8000.native.Connection("postgres", host="127.0.0.1", port=pg_port, database="app")
    try:
        return {name: int(conn.run(sql)[0][0]) for name, sql in INVARIANTS.items()}
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="load-", dir=ROOT / ".local" if (ROOT / ".local").exists() else None))
    proc, api, pg_port = start_stack(data_dir)
    try:
        result = run_locust(api, seed(api), args.users, args.seconds, data_dir)
        broken = {name: n for name, n in check_invariants(pg_port).items() if n}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    total = result["total"]
    server_errors = [f for f in result["failures"] if f["Error"].startswith(("5", "0"))]
    print(f"{'route':<36} {'requests':>9} {'fail':>5} {'p50 ms':>8} {'p99 ms':>8}")
    for row in result["rows"]:
        print(
            f"{row['Name'][:36]:<36} {row['Request Count']:>9} {row['Failure Count']:>5} "
            f"{row['50%']:>8} {row['99%']:>8}"
        )
    print(f"\nrequests/s {float(total['Requests/s']):.1f}   p50 {total['50%']} ms   p99 {total['99%']} ms")
    print(f"5xx or connection errors: {sum(int(f['Occurrences']) for f in server_errors)}")
    for name in INVARIANTS:
        print(f"invariant {name}: {'BROKEN in ' + str(broken[name]) + ' rows' if name in broken else 'ok'}")
    shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if broken or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
