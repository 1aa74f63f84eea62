"""Cold-start benchmark: every function against a fixed reference app, in one run.

For each subject (the reference app in bench/reference_app, then every function
of core.routes.FUNCTIONS) a fresh `python -c` child takes a `time.perf_counter()`
as its very first statement, imports the Lambda entry module, makes the first
invocation with a representative event (a real request that touches the
database where the function does) and prints what it measured. Subjects are
interleaved round-robin so machine noise hits them alike; each row is the median
of --runs children. Ratios are function median / reference median and targets
are printed, not asserted. See bench/README.md.

With --lambda-layout every subject instead runs from its packaged assets laid out as
Lambda lays them out, read-only, with and without the bytecode packaging ships
(bench/lambda_layout.py); each ratio is against the reference packaged the same way.

    .venv/bin/python -m bench.coldstart              # table
    .venv/bin/python -m bench.coldstart --json       # machine-readable
    .venv/bin/python -m bench.coldstart --importtime ops   # where ops' cold start goes
    .venv/bin/python -m bench.coldstart --lambda-layout    # as Lambda runs them, bytecode or not
    .venv/bin/python -m bench.coldstart --lambda-layout --importtime "posts [bytecode]"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from bench.coldstart_events import (
    REFERENCE,
    api_event,
    api_route,
    authorizer_event,
    reference_event,
    sample_event,
)
from bench.coldstart_report import render, summarize
from bench.database import BENCH_SIGNING_KEYS, Fixture, prepare_database, progress, start_database
from bench.importtime import importtime_report, parse_importtime
from bench.lambda_layout import VARIANTS, Layouts, choose
from infra_cdk.lambda_env import RUNTIME_ENV

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core" / "python"
FUNCTIONS_DIR = ROOT / "functions"
EVENTS_DIR = ROOT / "events"
REFERENCE_DIR = ROOT / "bench" / "reference_app"

# What a Lambda sees: the layer (/opt/python), the function code (/var/task); plus the repo root.
CHILD_PATH = [str(LAYER), str(FUNCTIONS_DIR), str(ROOT)]

MIN_RUNS = 7
# --lambda-layout: two variants of every subject, the one without bytecode ~1.5 s each.
LAYOUT_RUNS = 3
STARTUP = "python -c pass"
# The budget (issue 16.5), as a fraction of the reference median: Lambda layout with bytecode only
# (--lambda-layout, the `bytecode` variant; the local interpreter stands in for the runtime's). The
# default mode (dev venv, warm caches) and the layout without bytecode are reported without a target.
TARGET_DB_API = 0.75
TARGET_AUTHORIZER = 0.25
TARGET_LAYOUT = "bytecode"
MARKER = "@@coldstart@@ "
# Packages the children must not find (--hide): dev-only packages that the Lambda layer would not ship.
HIDDEN: list[str] = []

# The child. Before `_t0` come only interpreter startup, the event literal (the
# Lambda runtime hands the event over already parsed) and --hide; `time` and
# `sys` are already loaded by startup, so nothing is imported before `_t0`.
CHILD_TEMPLATE = """\
import time
_event = {event!r}
class _Context:
    function_name = {name!r}
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + {name!r}
    memory_limit_in_mb = 1024
    aws_request_id = {request_id!r}
    log_group_name = "/aws/lambda/" + {name!r}
    log_stream_name = "coldstart-bench"
    @staticmethod
    def get_remaining_time_in_millis():
        return 900000
import sys
for _name in {hidden!r}:
    sys.modules[_name] = None  # --hide: as if not installed (ImportError on import)
_t0 = time.perf_counter()
_m0 = len(sys.modules)
sys.path[:0] = {paths!r}
_handler = getattr(__import__({module!r}, fromlist=["_"]), {attr!r})
_t1 = time.perf_counter()
_m1 = len(sys.modules)
_error = None
_result = None
try:
    _result = _handler(_event, _Context())
except BaseException as exc:
    _error = type(exc).__name__ + ": " + str(exc)
_t2 = time.perf_counter()
_m2 = len(sys.modules)
import json
_status = _effect = None
if isinstance(_result, dict):
    _status = _result.get("statusCode")
    _statements = (_result.get("policyDocument") or {{}}).get("Statement") or [{{}}]
    _effect = _statements[0].get("Effect")
# --lambda-layout: where every module came from (roots: the shipped layout, the runtime's boto3, the stdlib).
_roots = {roots!r}
_layout_modules = _layout_pyc = 0
_foreign = []
if _roots:
    import os
    for _module in list(sys.modules.values()):
        _file = getattr(_module, "__file__", None) or ""
        if _file.startswith(_roots[0]):
            if _file.endswith(".py"):
                _layout_modules += 1
                _cached = getattr(_module, "__cached__", None)
                _layout_pyc += bool(_cached and os.path.exists(_cached))
        elif _file and not _file.startswith(_roots[1]):
            if not _file.startswith(tuple(_roots[2:])) or "/site-packages/" in _file:
                _foreign.append(_file)  # neither the runtime's nor the stdlib
sys.stdout.flush()
print("\\n" + {marker!r} + json.dumps({{
    "import_ms": (_t1 - _t0) * 1000, "call_ms": (_t2 - _t1) * 1000, "total_ms": (_t2 - _t0) * 1000,
    "modules_at_start": _m0, "modules_after_import": _m1, "modules_after_call": _m2,
    "status": _status, "effect": _effect, "error": _error,
    "layout_modules": _layout_modules, "layout_pyc": _layout_pyc, "foreign": sorted(_foreign)[:5],
}}), flush=True)
"""


@dataclass
class Subject:
    name: str
    kind: str  # "reference", a FunctionKind, or "startup"
    module: str
    make_event: Callable[[], dict[str, Any]] = dict
    variant: str = ""
    attr: str = "handler"
    uses_db: bool = True
    target: float | None = None
    event_note: str = ""
    expected_error: str | None = None  # an authorizer denies with Exception("Unauthorized")
    paths: list[str] = field(default_factory=lambda: list(CHILD_PATH))
    # --lambda-layout: "no bytecode" or "bytecode", and how the child runs there.
    layout: str = ""
    python: str | None = None  # else --python
    flags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    roots: list[str] = field(default_factory=list)  # where modules may come from: layout, runtime, stdlib
    samples: list[dict[str, Any]] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        tags = ", ".join(tag for tag in (self.variant, self.layout) if tag)
        return f"{self.name} [{tags}]" if tags else self.name


# ---------------------------------------------------------------- subjects


def check_only(only: Sequence[str]) -> None:
    from core.routes import FUNCTIONS

    unknown = set(only) - {spec.name for spec in FUNCTIONS} - {REFERENCE}
    if unknown:
        raise SystemExit(f"unknown function(s): {', '.join(sorted(unknown))}")


def subjects(fixture: Fixture, only: Sequence[str] = ()) -> list[Subject]:
    """The reference first, then every function of core.routes.FUNCTIONS (catalog order)."""
    from core.routes import FUNCTIONS

    result = [
        Subject(
            REFERENCE,
            REFERENCE,
            "app",
            reference_event,
            paths=[str(REFERENCE_DIR), *CHILD_PATH],
            event_note="GET /items/1 (one ORM SELECT)",
        )
    ]
    for spec in FUNCTIONS:
        if only and spec.name not in only:
            continue
        name, module = spec.name, f"{spec.name}.handler"
        if spec.kind == "api":
            subject = Subject(
                name,
                "api",
                module,
                partial(api_event, name, fixture),
                uses_db=spec.uses_db,
                target=TARGET_DB_API if spec.uses_db else None,
            )
            try:
                route = api_route(name)
                subject.event_note = f"{route.method} {route.path}" + (" as the fixture user" if route.auth else "")
            except LookupError as exc:
                subject.event_note = str(exc)
            result.append(subject)
        elif spec.kind == "authorizer":
            result.append(
                Subject(
                    name,
                    "authorizer",
                    module,
                    partial(authorizer_event, "x"),
                    uses_db=spec.uses_db,
                    target=TARGET_AUTHORIZER,
                    expected_error="Unauthorized",
                    event_note="REQUEST authorizer, Authorization: Bearer x (denied)",
                )
            )
            if fixture.access_token:
                token = fixture.access_token
                result.append(
                    Subject(
                        name,
                        "authorizer",
                        module,
                        partial(authorizer_event, token),
                        variant="valid token",
                        uses_db=spec.uses_db,
                        target=TARGET_AUTHORIZER,
                        event_note="REQUEST authorizer, a valid token of a live session (allowed)",
                    )
                )
        elif spec.kind in ("events", "invoked"):  # an invoked function: its contract's sample request
            event, note = sample_event(name)
            result.append(Subject(name, "events", module, partial(dict, event), uses_db=spec.uses_db, event_note=note))
        else:
            # Tasks run with an empty event (migrate: upgrade to head, already there).
            result.append(Subject(name, spec.kind, module, dict, uses_db=spec.uses_db, event_note="{} (task)"))
    return result


def in_layouts(
    items: list[Subject],
    layouts: Layouts,
    variants: Sequence[str] = VARIANTS,
    runtime_env: dict[str, str] | None = None,
) -> list[Subject]:
    """Every subject twice, as Lambda runs it: from its packaged assets without, then with, bytecode
    (or only in `variants`); the functions with `runtime_env` (default: what every function gets)."""
    function_env = RUNTIME_ENV if runtime_env is None else runtime_env
    setup = layouts.setup
    result = []
    for subject in items:
        for variant in variants:
            layout = layouts.layout(subject.name, variant, reference=subject.kind == REFERENCE)
            result.append(
                replace(
                    subject,
                    paths=[],
                    layout=variant,
                    target=subject.target if variant == TARGET_LAYOUT else None,
                    python=setup.interpreter.executable,
                    flags=["-S"],
                    # Our functions get the environment function_factory gives every function; the
                    # reference app gets none of it.
                    env={
                        **({} if subject.kind == REFERENCE else function_env),
                        "PYTHONPATH": layout.pythonpath,
                        "PYTHONDONTWRITEBYTECODE": "1",
                    },
                    cwd=layout.task,
                    roots=[f"{layout.base}/", f"{layout.runtime}/", *setup.stdlib],
                    samples=[],
                    wall_ms=[],
                    failures=[],
                )
            )
    return result


# ---------------------------------------------------------------- running children


def child_env(database_url: str, service: str, extra: dict[str, str]) -> dict[str, str]:
    """A clean, Lambda-like environment: nothing inherited that changes how Python starts."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback HOME
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "STAGE": "local",
        "DATABASE_URL": database_url,
        "JWT_SIGNING_KEYS": BENCH_SIGNING_KEYS,
        "POWERTOOLS_SERVICE_NAME": service,
        # Lambda sets it for every function (core.coldstart pauses the collector only where it is set).
        "AWS_LAMBDA_FUNCTION_NAME": service,
        # The embedded PostgreSQL has no TLS: neither side asks for it (the reference app reads it too).
        "DB_TLS": "off",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.update(extra)
    return env


def child_source(subject: Subject) -> str:
    if subject.kind == "startup":
        return "pass"
    return CHILD_TEMPLATE.format(
        event=subject.make_event(),
        name=subject.name,
        request_id=str(uuid.uuid4()),
        paths=subject.paths,
        module=subject.module,
        attr=subject.attr,
        marker=MARKER,
        hidden=list(HIDDEN),
        roots=subject.roots,
    )


def run_child(
    python: str, subject: Subject, env: dict[str, str], flags: Sequence[str] = ()
) -> tuple[dict[str, Any] | None, float, subprocess.CompletedProcess[str]]:
    source = child_source(subject)
    start = time.perf_counter()
    proc = subprocess.run(
        [subject.python or python, *subject.flags, *flags, "-c", source],
        cwd=subject.cwd,
        env=env | subject.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    if subject.kind == "startup":
        return ({} if proc.returncode == 0 else None), wall, proc
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        return None, wall, proc
    return json.loads(lines[-1][len(MARKER) :]), wall, proc


def _failure(subject: Subject, sample: dict[str, Any] | None, proc: subprocess.CompletedProcess[str]) -> str | None:
    if sample is None:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-5:]
        return f"child exited {proc.returncode}: " + " | ".join(tail)
    error = sample.get("error")
    if error and not (subject.expected_error and subject.expected_error in error):
        return f"first call raised {error}"
    status = sample.get("status")
    if isinstance(status, int) and status >= 500:
        return f"first call answered {status}"
    if sample.get("foreign"):
        return "modules from outside the layout and the stdlib: " + ", ".join(sample["foreign"])
    if subject.layout == "bytecode" and sample.get("layout_pyc") != sample.get("layout_modules"):
        return f"only {sample.get('layout_pyc')} of {sample.get('layout_modules')} modules had bytecode"
    if subject.layout == "no bytecode" and sample.get("layout_pyc"):
        return f"{sample.get('layout_pyc')} modules had bytecode"
    return None


def measure(
    python: str, items: list[Subject], runs: int, warmup: int, database_url: str, extra_env: dict[str, str]
) -> None:
    """Round-robin: each round runs every subject once, starting one further along each time."""
    envs = {s.label: child_env(database_url, s.name, extra_env) for s in items}
    total = warmup + runs
    for round_no in range(total):
        measured = round_no >= warmup
        label = f"round {round_no + 1 - warmup}/{runs}" if measured else f"warm-up {round_no + 1}/{warmup}"
        shift = round_no % len(items)
        parts = []
        for subject in items[shift:] + items[:shift]:
            sample, wall, proc = run_child(python, subject, envs[subject.label])
            failure = _failure(subject, sample, proc) if subject.kind != "startup" or sample is None else None
            if failure:
                subject.failures.append(failure)
            if measured:
                subject.wall_ms.append(wall)
                if sample:
                    subject.samples.append(sample)
            shown = sample["total_ms"] if sample else wall
            parts.append(f"{subject.label} {shown:.0f}{'!' if failure else ''}")
        progress(f"{label}: " + ", ".join(parts) + " ms")


def run_importtime(
    python: str, subject: Subject, database_url: str, extra_env: dict[str, str], threshold_ms: float, top: int
) -> str:
    env = child_env(database_url, subject.name, extra_env)
    run_child(python, subject, env)  # warm the bytecode and page caches
    sample, _, proc = run_child(python, subject, env, flags=["-X", "importtime"])
    failure = _failure(subject, sample, proc)
    if failure:
        raise SystemExit(f"{subject.label}: {failure}")
    assert sample is not None
    head = (
        f"{subject.label}: import {sample['import_ms']:.1f} ms + first call {sample['call_ms']:.1f} ms "
        f"under -X importtime (which inflates both); "
        f"{sample['modules_after_import'] - sample['modules_at_start']} modules at import, "
        f"{sample['modules_after_call'] - sample['modules_after_import']} more during the first call"
    )
    return head + "\n" + importtime_report(parse_importtime(proc.stderr), threshold_ms, top)


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        help=f"measured children per subject (default and minimum {MIN_RUNS}; --lambda-layout: {LAYOUT_RUNS})",
    )
    parser.add_argument(
        "--lambda-layout",
        action="store_true",
        help="run every subject from its packaged assets laid out as Lambda lays them out, read-only, "
        "with and without bytecode (bench/lambda_layout.py); --python: the interpreter (default: "
        "$PYTHON_LAMBDA, python3.12, else this one)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=VARIANTS,
        help="--lambda-layout: only this variant (repeatable; default both)",
    )
    parser.add_argument(
        "--no-runtime-env",
        action="store_true",
        help="--lambda-layout: run the functions without infra_cdk.lambda_env.RUNTIME_ENV",
    )
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (bytecode and page caches)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="benchmark only these functions (repeatable); the reference always runs",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    parser.add_argument("--python", help="interpreter for the children (default: this one)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for every child (repeatable)"
    )
    parser.add_argument(
        "--hide",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="make PACKAGE unimportable in the children, as if absent from the layer (repeatable)",
    )
    parser.add_argument(
        "--importtime",
        metavar="SUBJECT",
        help=f"instead of benchmarking, show -X importtime of one subject ({REFERENCE} or a function)",
    )
    parser.add_argument("--threshold-ms", type=float, default=2.0, help="--importtime: smallest subtree shown")
    parser.add_argument("--top", type=int, default=15, help="--importtime: packages listed by self time")
    args = parser.parse_args(argv)
    least = LAYOUT_RUNS if args.lambda_layout else MIN_RUNS
    if args.runs is None:
        args.runs = least
    if args.runs < least:
        parser.error(f"--runs must be at least {least}")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    for item in args.env:
        if "=" not in item:
            parser.error(f"--env wants KEY=VALUE, not {item!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.env)
    HIDDEN[:] = args.hide
    check_only([*args.only, args.importtime.split(" [")[0]] if args.importtime else args.only)
    layouts = None
    if args.lambda_layout:
        setup = choose(args.python)
        progress(f"Lambda layout: {setup.note}")
        layouts = Layouts(setup)
    python = args.python or sys.executable

    server, url = start_database()
    try:
        fixture = prepare_database(url)
        if args.importtime:
            only = [args.importtime.split(" [")[0]]
            items = subjects(fixture, only)
            if layouts is not None:
                items = in_layouts(items, layouts)
                layouts.freeze()
            subject = pick(items, args.importtime)
            print(run_importtime(python, subject, url, extra_env, args.threshold_ms, args.top))
            return 0
        items = subjects(fixture, args.only)
        startup = Subject(STARTUP, "startup", "", paths=[])
        if layouts is None:  # the budget applies to the Lambda layout only
            items = [replace(subject, target=None) for subject in items]
        else:
            runtime_env: dict[str, str] | None = {} if args.no_runtime_env else None
            items = in_layouts(items, layouts, args.variant or VARIANTS, runtime_env)
            startup = replace(startup, python=layouts.setup.interpreter.executable, flags=["-S"])
            progress(f"layouts ready in {layouts.root}, read-only")
            layouts.freeze()
        items.append(startup)
        progress(
            f"{len(items) - 1} subjects + interpreter baseline, {args.runs} runs each "
            f"(+{args.warmup} warm-up round{'s' if args.warmup != 1 else ''})"
        )
        measure(python, items, args.runs, args.warmup, url, extra_env)
        if layouts is not None and layouts.written():
            raise SystemExit(f"{layouts.written()} files appeared in the read-only layout {layouts.root}")
    finally:
        progress("stopping PostgreSQL")
        server.destroy()
        if layouts is not None:
            layouts.cleanup()

    report = summarize(items, args.runs, layouts.setup.interpreter.executable if layouts else python)
    if layouts is not None:
        report["lambda_layout"] = layouts.setup.note
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if any(row["failures"] for row in report["rows"]) else 0


def pick(items: list[Subject], wanted: str) -> Subject:
    """By label ("authorizer [valid token]") or, failing that, the first subject of that name."""
    for subject in items:
        if subject.label == wanted:
            return subject
    for subject in items:
        if subject.name == wanted:
            return subject
    raise SystemExit(f"no subject {wanted!r}; there are: {', '.join(s.label for s in items)}")


if __name__ == "__main__":
    sys.exit(main())
