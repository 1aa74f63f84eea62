"""Realtime delivery against the local stack, and the time to an AI reply's first token.

    .venv/bin/python -m bench.realtime [--subscribers 200] [--messages 20] [--json]

In one run, on one machine, starting its own local stack (fresh data, free ports):
- 200 subscribers (200 users, one WebSocket each, all members of one room) listen; a member posts
  20 messages one after the other. For each: the time from `POST /rooms/{id}/messages` returning
  until the last subscriber has its `message.created` (the path: the outbox row, the FIFO nudge,
  the event pump, the fan-out function, 200 Management API posts, the gateway's sockets);
- the same payload broadcast by a bare `websockets` server to 200 clients of this process, 20
  times: the floor of any WebSocket fan-out here (one process, no queue, no database);
- p50 and p99 of both and their ratio (ours / bare), and the time to first token of a streamed
  echo reply: from the POST with `invoke_ai` returning until the first `message.delta`, and
  until `message.completed`.
Target: p99 delivery to 200 subscribers within 1 s. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from bench.load import ROOT, start_stack

TARGET_P99_S = 1.0
ECHO_WORDS = " ".join(f"token{i}" for i in range(24))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: of 20 values, p99 is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def register(api: str, name: str) -> dict[str, str]:
    body = {"email": f"{name}@example.com", "username": name, "password": "bench password 1"}
    answer = requests.post(f"{api}/api/v1/auth/register", json=body, timeout=30)
    answer.raise_for_status()
    return {"id": answer.json()["user"]["id"], "token": answer.json()["access_token"]}


def seed_members(pg_port: int, room: str, user_ids: Sequence[str]) -> None:
    """Setup, not measured: the subscribers join the room straight in the database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"postgresql+pg8000://postgres@127.0.0.1:{pg_port}/app")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO room_members (room_id, user_id, role) VALUES (:r, :u, 'reader')"),
            [{"r": room, "u": u} for u in user_ids],
        )
    engine.dispose()


class Subscriber:
    """One WebSocket: every frame's arrival time, by (type, seq)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.arrivals: dict[tuple[str, int | None], float] = {}
        self.first: dict[str, float] = {}
        self.event = asyncio.Event()

    async def read(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            key = (frame.get("type"), frame.get("seq"))
            self.arrivals.setdefault(key, now)
            self.first.setdefault(str(frame.get("type")), now)
            self.event.set()


async def wait_all(subscribers: Sequence[Subscriber], key: tuple[str, int], timeout_s: float = 30) -> float:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if all(key in s.arrivals for s in subscribers):
            return max(s.arrivals[key] for s in subscribers)
        await asyncio.sleep(0.002)
    missing = sum(key not in s.arrivals for s in subscribers)
    raise SystemExit(f"{missing} subscribers never got {key}")


async def connect(api: str, token: str) -> Subscriber:
    from websockets.asyncio.client import connect as ws_connect

    ticket = (await asyncio.to_thread(post, api, "/realtime/tickets", token)).json()
    ws = await ws_connect(f"{ticket['url']}?ticket={ticket['ticket']}", max_queue=None)
    return Subscriber(ws)


def post(api: str, path: str, token: str, body: Any = None) -> requests.Response:
    answer = requests.post(f"{api}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    answer.raise_for_status()
    return answer


async def ours(api: str, room: str, owner: dict[str, str], tokens: Sequence[str], messages: int) -> dict[str, Any]:
    subscribers = [await connect(api, token) for token in tokens]
    readers = []
    for s in subscribers:
        await s.ws.send(json.dumps({"action": "subscribe", "room_id": room}))
        assert json.loads(await s.ws.recv())["type"] == "subscribed"
        readers.append(asyncio.create_task(s.read()))
    latencies, payload = [], ""
    seq = 0
    for i in range(messages + 1):  # the first one warms every path up, unmeasured
        answer = await asyncio.to_thread(post, api, f"/rooms/{room}/messages", owner["token"], {"content": f"m{i}"})
        returned = time.perf_counter()
        seq = answer.json()["message"]["seq"]
        last = await wait_all(subscribers, ("message.created", seq))
        if i:
            latencies.append(last - returned)
        payload = json.dumps({"type": "message.created", "room_id": room, "seq": seq, "data": answer.json()["message"]})
    ttft, total = [], []
    for _ in range(5):
        for s in subscribers:
            s.first.clear()
        body = {"content": ECHO_WORDS, "invoke_ai": True}
        answer = await asyncio.to_thread(post, api, f"/rooms/{room}/messages", owner["token"], body)
        returned = time.perf_counter()
        reply_seq = answer.json()["ai_message"]["seq"]
        watcher = subscribers[0]
        completed = await wait_all([watcher], ("message.completed", reply_seq))
        ttft.append(watcher.first["message.delta"] - returned)
        total.append(completed - returned)
    for task in readers:
        task.cancel()
    for s in subscribers:
        await s.ws.close()
    return {"latencies_s": latencies, "payload": payload, "ttft_s": ttft, "reply_s": total}


async def bare(payload: str, clients: int, rounds: int) -> list[float]:
    """The same payload through a bare `websockets` broadcast to as many clients, in this process."""
    from websockets.asyncio.client import connect as ws_connect
    from websockets.asyncio.server import broadcast, serve

    connected: set[Any] = set()

    async def handler(ws: Any) -> None:
        connected.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connected.discard(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        subscribers = [Subscriber(await ws_connect(f"ws://127.0.0.1:{port}", max_queue=None)) for _ in range(clients)]
        while len(connected) < clients:
            await asyncio.sleep(0.01)
        readers = [asyncio.create_task(s.read()) for s in subscribers]
        latencies = []
        for i in range(rounds + 1):
            frame = json.loads(payload)
            frame["seq"] = -(i + 1)
            text = json.dumps(frame)
            started = time.perf_counter()
            broadcast(connected, text)
            last = await wait_all(subscribers, ("message.created", -(i + 1)))
            if i:
                latencies.append(last - started)
        for task in readers:
            task.cancel()
        for s in subscribers:
            await s.ws.close()
    return latencies


def measure(subscribers: int, messages: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="realtime-", dir=ROOT / ".local" if (ROOT / ".local").exists() else None))
    os.environ.setdefault("BCRYPT_COST", "4")  # setup speed only; logins are not measured
    proc, api, pg_port = start_stack(data_dir)
    try:
        print(f"[realtime] registering {subscribers} users", file=sys.stderr, flush=True)
        users = [register(api, f"rt{uuid.uuid4().hex[:12]}") for _ in range(subscribers)]
        owner = users[0]
        room = post(api, "/rooms", owner["token"], {"name": "bench"}).json()["id"]
        seed_members(pg_port, room, [u["id"] for u in users[1:]])
        print(f"[realtime] {subscribers} sockets, {messages} messages", file=sys.stderr, flush=True)
        result = asyncio.run(ours(api, room, owner, [u["token"] for u in users], messages))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    print("[realtime] bare websockets broadcast", file=sys.stderr, flush=True)
    baseline = asyncio.run(bare(result["payload"], subscribers, messages))
    mine = result["latencies_s"]
    return {
        "subscribers": subscribers,
        "messages": messages,
        "p50_ms": percentile(mine, 50) * 1000,
        "p99_ms": percentile(mine, 99) * 1000,
        "bare_p50_ms": percentile(baseline, 50) * 1000,
        "bare_p99_ms": percentile(baseline, 99) * 1000,
        "ratio_p50": percentile(mine, 50) / percentile(baseline, 50),
        "ratio_p99": percentile(mine, 99) / percentile(baseline, 99),
        "target_p99_ms": TARGET_P99_S * 1000,
        "ttft_p50_ms": percentile(result["ttft_s"], 50) * 1000,
        "reply_p50_ms": percentile(result["reply_s"], 50) * 1000,
        "reply_words": len(ECHO_WORDS.split()),
        "samples_ms": [round(x * 1000, 1) for x in mine],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.subscribers, args.messages)
    if args.json:
        print(json.dumps(result))
        return 0
    n = result["subscribers"]
    print(f"delivery to {n} subscribers, POST returned -> last socket has it ({result['messages']} messages)")
    print(
        f"  ours  p50 {result['p50_ms']:.0f} ms  p99 {result['p99_ms']:.0f} ms (target <= {TARGET_P99_S * 1000:.0f} ms)"
    )
    print(f"  bare websockets broadcast  p50 {result['bare_p50_ms']:.1f} ms  p99 {result['bare_p99_ms']:.1f} ms")
    print(f"  ratio p50 {result['ratio_p50']:.1f}x  p99 {result['ratio_p99']:.1f}x")
    print(
        f"streamed echo reply ({result['reply_words']} words): first token {result['ttft_p50_ms']:.0f} ms, "
        f"completed {result['reply_p50_ms']:.0f} ms (p50 of 5)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
