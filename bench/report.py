"""`make bench`: every benchmark of bench/, run one after the other, printed as one table.

Each benchmark runs in its own process with --json (cold starts of every function against the
reference app, in the dev venv and then as Lambda runs them from their packaged assets with and
without bytecode, warm p50 and SQL statements per main route, authorizer warm work, feed depth and
handler overhead, thumbnails, realtime delivery to 200 WebSocket subscribers and an AI reply's first
token, the AI worker's database step in-process and through the local Lambda Invoke API). Ratios
are measured in one run; nothing is asserted.

    .venv/bin/python -m bench.report [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run(module: str, *args: str, timeout_s: int = 3600) -> Any:
    """`python -m <module> --json <args>` in its own process (bench/__init__ sets its import path)."""
    print(f"[bench] {module} {' '.join(args)}", file=sys.stderr, flush=True)
    out = subprocess.run(
        [sys.executable, "-m", module, "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout_s,
    )
    return json.loads(out.stdout)


def _verdict(value: float, target: float | None) -> str:
    return "" if target is None else ("ok" if value <= target else "over")


def layout_rows(layout: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """bench.coldstart --lambda-layout: each subject without and with bytecode, each against the
    reference packaged and run the same way, and how much faster the bytecode made it."""
    rows = []
    medians = {(row["name"], row["variant"], row["layout"]): row["median_ms"] for row in layout["rows"]}
    for row in layout["rows"]:
        name = row["name"] + (f" ({row['variant']})" if row["variant"] else "")
        label = f"cold start {name}, Lambda layout, {row['layout']}"
        if row["failures"]:
            rows.append((label, "; ".join(row["failures"])[:80], "", "FAIL"))
            continue
        result = f"{row['median_ms']:.0f} ms"
        if row["kind"] != "reference":
            result += f" = {row['ratio']:.2f}x ref"
        without = medians.get((row["name"], row["variant"], "no bytecode"))
        if row["layout"] == "bytecode" and without:
            result += f", {without / row['median_ms']:.1f}x faster than without"
        target = row["target"]
        rows.append((label, result, f"<= {target:.2f}x" if target else "", _verdict(row["ratio"], target)))
    return rows


def realtime_rows(realtime: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """bench.realtime: POST returned -> the last of N subscribers has the event, against a bare
    `websockets` broadcast of the same payload in the same run; an echo reply's first token."""
    n = realtime["subscribers"]
    target = realtime["target_p99_ms"]
    return [
        (
            f"realtime delivery to {n} subscribers p50 / bare websockets",
            f"{realtime['p50_ms']:.0f} ms = {realtime['ratio_p50']:.0f}x bare ({realtime['bare_p50_ms']:.1f} ms)",
            "",
            "",
        ),
        (
            f"realtime delivery to {n} subscribers p99 / bare websockets",
            f"{realtime['p99_ms']:.0f} ms = {realtime['ratio_p99']:.0f}x bare ({realtime['bare_p99_ms']:.1f} ms)",
            f"<= {target:.0f} ms",
            _verdict(realtime["p99_ms"], target),
        ),
        (
            "streamed echo AI reply: first token / completed",
            f"{realtime['ttft_p50_ms']:.0f} ms / {realtime['reply_p50_ms']:.0f} ms ({realtime['reply_words']} words)",
            "",
            "",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 posts instead of 1,000,000")
    args = parser.parse_args(argv)
    posts = ["--posts", "100000", "--depth", "50000"] if args.quick else []
    cold = run("bench.coldstart", "--hide", "cryptography")
    layout = run("bench.coldstart", "--lambda-layout")
    warm = run("bench.warm")
    auth = run("bench.authorizer")
    feed = run("bench.feed", *posts)
    thumbs = run("bench.thumbnails")
    realtime = run("bench.realtime")
    steps = run("bench.ai_steps")

    rows: list[tuple[str, str, str, str]] = []
    for row in cold["rows"]:
        if row["kind"] in ("reference", "startup"):
            continue
        label = f"cold start {row['function']}"
        target = row["target"]
        rows.append(
            (
                label,
                f"{row['median_ms']:.0f} ms = {row['ratio']:.2f}x ref",
                f"<= {target:.2f}x" if target else "",
                _verdict(row["ratio"], target),
            )
        )
    rows.extend(layout_rows(layout))
    for route, measured in warm.items():
        rows.append((f"warm {route}", f"{measured['p50_ms']:.2f} ms, {measured['statements']:.0f} SQL", "", ""))
    rows.append(
        (
            "authorizer warm own work",
            f"{auth['own_ms']:.3f} ms",
            f"< {auth['target_ms']} ms",
            _verdict(auth["own_ms"], auth["target_ms"]),
        )
    )
    depth = feed["deep_ms"] / feed["first_ms"]
    rows.append(
        (
            f"feed page at depth {feed['depth']:,} / first",
            f"{depth:.2f}x (OFFSET {feed['offset_ms'] / feed['first_ms']:.0f}x)",
            "<= 1.3x",
            _verdict(depth, 1.3),
        )
    )
    overhead = feed["handler_ms"] / feed["request_sql_ms"]
    rows.append(
        (
            "warm GET /posts handler / bare SQL (the same statement, open connection)",
            f"{overhead:.2f}x ({feed['handler_ms'] / feed['bare_sql_ms']:.2f}x vs a literal-LIMIT statement)",
            "<= 2x",
            _verdict(overhead, 2.0),
        )
    )
    rows.append(
        ("12 MP thumbnails / bare Pillow", f"{thumbs['ratio']:.2f}x", "<= 1.5x", _verdict(thumbs["ratio"], 1.5))
    )
    rows.append(("thumbnails peak RSS", f"{thumbs['peak_mb']:.0f} MB", "<= 150 MB", _verdict(thumbs["peak_mb"], 150)))
    rows.extend(realtime_rows(realtime))
    rows.append(
        (
            "AI worker's delta step: local Lambda Invoke / in-process (p50, p99)",
            f"{steps['invoke_p50_ms']:.1f} / {steps['in_process_p50_ms']:.1f} ms = {steps['ratio_p50']:.1f}x, "
            f"{steps['invoke_p99_ms']:.1f} / {steps['in_process_p99_ms']:.1f} ms = {steps['ratio_p99']:.1f}x",
            "",
            "",
        )
    )

    print(f"reference app cold start: {cold['reference_median_ms']:.0f} ms; {cold['python']}")
    print(f"Lambda layout: {layout['lambda_layout']}")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"{'measure':<{widths[0]}}  {'result':<{widths[1]}}  {'target':<{widths[2]}}  verdict")
    for label, result, target, verdict in rows:
        print(f"{label:<{widths[0]}}  {result:<{widths[1]}}  {target:<{widths[2]}}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
