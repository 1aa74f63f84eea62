"""The cold-start report: medians per subject, ratios to the reference, and the table (bench.coldstart)."""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.coldstart_events import REFERENCE

if TYPE_CHECKING:
    from bench.coldstart import Subject


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(items: list[Subject], runs: int, python: str) -> dict[str, Any]:
    """Each subject against the reference of its own layout (--lambda-layout: the same variant)."""
    startup = next(s for s in items if s.kind == "startup")
    ref_medians = {s.layout: _median([x["total_ms"] for x in s.samples]) for s in items if s.kind == REFERENCE}
    ref_median = next(iter(ref_medians.values()))
    rows = []
    for subject in items:
        if subject.kind == "startup":
            continue
        totals = [s["total_ms"] for s in subject.samples]
        median = _median(totals)
        own_ref = ref_medians.get(subject.layout)
        ratio = median / own_ref if median is not None and own_ref else None
        if subject.failures:
            verdict = "FAIL"
        elif subject.kind == REFERENCE:
            verdict = "ref"
        elif subject.target is None or ratio is None:
            verdict = "-"
        else:
            verdict = "OK" if ratio <= subject.target else "over"
        last = subject.samples[-1] if subject.samples else {}
        rows.append(
            {
                "function": subject.label,
                "name": subject.name,
                "variant": subject.variant,
                "layout": subject.layout,
                "kind": subject.kind,
                "uses_db": subject.uses_db,
                "first_event": subject.event_note,
                "runs": len(totals),
                "median_ms": median,
                "import_median_ms": _median([s["import_ms"] for s in subject.samples]),
                "first_call_median_ms": _median([s["call_ms"] for s in subject.samples]),
                "min_ms": min(totals) if totals else None,
                "max_ms": max(totals) if totals else None,
                "process_wall_median_ms": _median(subject.wall_ms),
                "ratio": ratio,
                "target": subject.target,
                "verdict": verdict,
                "first_response": _response(subject, last),
                "modules_loaded": (last["modules_after_call"] - last["modules_at_start"]) if last else None,
                "layout_modules": last.get("layout_modules"),
                "layout_pyc": last.get("layout_pyc"),
                "samples_ms": totals,
                "failures": sorted(set(subject.failures)),
            }
        )
    return {
        "python": python,
        "python_version": subprocess.run(
            [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "runs": runs,
        "interpreter_startup_median_ms": _median(startup.wall_ms),
        "reference_median_ms": ref_median,
        "reference_medians_ms": ref_medians,
        "rows": rows,
    }


def _response(subject: Subject, sample: dict[str, Any]) -> str:
    if not sample:
        return "-"
    error = sample.get("error")
    if error:
        if subject.expected_error and subject.expected_error in error:
            return f"denied ({subject.expected_error})"
        return "raised " + str(error)[:40]
    if sample.get("status") is not None:
        return str(sample["status"])
    if sample.get("effect"):
        return str(sample["effect"])
    return "returned"


def _fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def render(report: dict[str, Any]) -> str:
    header = [
        "function",
        "kind",
        "median ms",
        "import ms",
        "first call ms",
        "ratio",
        "target",
        "",
        "response",
        "modules",
    ]
    table = [header]
    for row in report["rows"]:
        kind = row["kind"] + ("" if row["uses_db"] or row["kind"] == REFERENCE else " (no db)")
        table.append(
            [
                row["function"],
                kind,
                _fmt(row["median_ms"]),
                _fmt(row["import_median_ms"]),
                _fmt(row["first_call_median_ms"]),
                _fmt(row["ratio"], ".2f", "x"),
                _fmt(row["target"], ".2f", "x") if row["target"] is not None else "-",
                row["verdict"],
                row["first_response"],
                str(row["modules_loaded"] if row["modules_loaded"] is not None else "-"),
            ]
        )
    numeric = {2, 3, 4, 5, 6, 9}
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for n, cells in enumerate(table):
        lines.append(
            "  ".join(
                c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"median of {report['runs']} fresh processes each, round-robin; python {report['python_version']}")
    if report.get("lambda_layout"):
        lines.append(
            "Lambda layout: packaged assets (opt/python from the layers, var/task the function), read-only, "
            "PYTHONDONTWRITEBYTECODE=1, -S; each ratio against the reference of the same variant."
        )
        lines.append(f"  {report['lambda_layout']}")
        medians = {(row["name"], row["variant"], row["layout"]): row["median_ms"] for row in report["rows"]}
        speedups = []
        for row in report["rows"]:
            without = medians.get((row["name"], row["variant"], "no bytecode"))
            if row["layout"] == "bytecode" and without and row["median_ms"]:
                name = row["name"] + (f" ({row['variant']})" if row["variant"] else "")
                speedups.append(f"{name} {without / row['median_ms']:.1f}x")
        lines.append("  median without bytecode / with: " + ", ".join(speedups))
        for row in report["rows"]:
            if row["layout"] == "bytecode" and row["layout_modules"] is not None:
                lines.append(
                    f"  {row['function']}: {row['layout_pyc']} of the {row['layout_modules']} modules it loaded "
                    "from its task and layers came from shipped bytecode (checked for every row)"
                )
                break
    lines.append(
        "median/import/first call: measured inside the child from its first statement (import + first "
        "invocation); each column is its own median."
    )
    lines.append(
        f"interpreter startup (bare `python -c pass`, wall): "
        f"{_fmt(report['interpreter_startup_median_ms'])} ms, not included above."
    )
    lines.append(
        "every child has AWS_LAMBDA_FUNCTION_NAME, as Lambda sets it (core.coldstart pauses the collector "
        "there), and DB_TLS=off: the embedded PostgreSQL has no TLS, so neither side builds a TLS context "
        "(in the cloud ours loads its stage's small DB_CA_BUNDLE, ~2 ms; the reference would load the system "
        "store, ~17 ms: not counted; docs/decisions.md)."
    )
    lines.append(
        "ratio = median / reference median; budget (Lambda layout with bytecode only): DB-backed api "
        "<= 0.75x, authorizer <= 0.25x (printed, not asserted)."
    )
    for row in report["rows"]:
        lines.append(f"  {row['function']}: first event {row['first_event']}")
        for failure in row["failures"]:
            lines.append(f"  {row['function']}: FAILED: {failure}")
    return "\n".join(lines)
