"""core.coldstart: the collector pauses while a Lambda cold start imports, and every handler resumes it."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.routes import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted((ROOT / "functions").glob("*/handler.py"))
PYTHONPATH = os.pathsep.join(str(ROOT / part) for part in ("layers/core/python", "functions", "."))


def _run(code: str, lambda_name: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    env["PYTHONPATH"] = PYTHONPATH
    if lambda_name:
        env["AWS_LAMBDA_FUNCTION_NAME"] = lambda_name
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_there_are_handlers() -> None:
    assert len(HANDLERS) >= 16


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.parent.name)
def test_every_handler_module_pauses_first_and_resumes_after_its_first_invocation(path: Path) -> None:
    """The pause must come before any other import (what is imported before it is collected as
    usual); a handler not wrapped in `entry` would leave the collector off for the container's life."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = [
        node
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "module", None) != "__future__"
    ]
    first = imports[0]
    assert isinstance(first, ast.ImportFrom) and first.module == "core", ast.unparse(first)
    assert [alias.name for alias in first.names] == ["coldstart"]

    # A caller waits on an API or authorizer function: its first answer pays no collection. The
    # others may run for minutes: they resume as their first invocation starts.
    kind = {spec.name: spec.kind for spec in FUNCTIONS}[path.parent.name]
    wrapper = "coldstart.entry" if kind in ("api", "authorizer") else "coldstart.background_entry"

    def wrapped_in(node: ast.stmt) -> bool:
        if isinstance(node, ast.FunctionDef) and node.name == "handler":
            return [ast.unparse(d) for d in node.decorator_list[:1]] == [wrapper]
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["handler"]:
            return isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == wrapper
        return False

    wrapped = [node for node in tree.body if wrapped_in(node)]
    assert len(wrapped) == 1, f"{path} ({kind}): `handler` = {wrapper}(...), or @{wrapper} outermost"


PROBE = """
import gc, json
from core import coldstart
paused_at_import = not gc.isenabled()
calls = []
def handler(event, context):
    calls.append(gc.isenabled())
    if event == "fail":
        raise RuntimeError("first invocation failed")
    return "ok"
wrapped = coldstart.entry(handler)
background_calls = []
def background(event, context):
    background_calls.append(gc.isenabled())
try:
    wrapped("fail", None)
except RuntimeError:
    pass
after_first = gc.isenabled()
frozen = gc.get_freeze_count()
wrapped("again", None)
coldstart._paused = True; gc.disable()  # a second cold start, for background_entry
coldstart.background_entry(background)("event", None)
print(json.dumps({"background_first": background_calls[0], "paused_at_import": paused_at_import,
                  "during_first": calls[0], "after_first": after_first,
                  "frozen": frozen, "after_second": gc.isenabled(), "still_paused": coldstart.is_paused()}))
"""


def test_in_lambda_the_collector_pauses_until_the_first_invocation_ends_even_if_it_fails() -> None:
    state = _run(PROBE, lambda_name="probe")
    assert state["paused_at_import"] is True
    assert state["during_first"] is False
    assert state["after_first"] is True
    assert isinstance(state["frozen"], int) and state["frozen"] > 1000  # what the import built is frozen
    assert state["after_second"] is True and state["still_paused"] is False
    assert state["background_first"] is True  # an event handler's first batch is collected as usual


def test_outside_lambda_nothing_changes() -> None:
    """Tests, the local stack and scripts keep Python's collector as it is."""
    state = _run(PROBE, lambda_name=None)
    assert state["paused_at_import"] is False and state["during_first"] is True
    assert state["frozen"] == 0


def test_a_real_handler_resumes_collection_after_its_first_request() -> None:
    event = json.loads((ROOT / "events/ops/get_openapi.json").read_text(encoding="utf-8"))
    code = f"""
import gc, json
from ops.handler import handler
paused = not gc.isenabled()
answer = handler({event!r}, None)
print(json.dumps({{"paused": paused, "status": answer["statusCode"], "enabled": gc.isenabled(),
                  "frozen": gc.get_freeze_count()}}))
"""
    state = _run(code, lambda_name="ops")
    assert state["paused"] is True
    assert state["status"] == 200
    assert state["enabled"] is True and isinstance(state["frozen"], int) and state["frozen"] > 10000
