"""bench.coldstart --lambda-layout: the layout a child runs in, and what the child reports about it.

Packaging is replaced by small fake assets (no pip); the child is a real interpreter run as the
benchmark runs it: -S, PYTHONPATH=<task>:<opt/python>:<runtime>, PYTHONDONTWRITEBYTECODE=1."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench import coldstart, lambda_layout
from infra_cdk import packaging

HANDLER = """\
import os
import core, dep, fakeboto
if os.environ.get("IMPORT_FOREIGN"):
    import iniconfig  # only in the dev venv
def handler(event, context):
    return {"statusCode": 200}
"""


def _asset(root: Path, files: dict[str, str], compile_as: str | None = None) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    if compile_as:
        interpreter = packaging.probe(sys.executable)
        assert interpreter is not None
        packaging.compile_bytecode(root, interpreter, compile_as, "a fake asset")
    return root


@pytest.fixture
def layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[lambda_layout.Layouts]:
    assets = tmp_path / "assets"
    core = _asset(assets / "core", {"python/core/__init__.py": ""}, "/opt/python")
    deps = _asset(assets / "deps", {"python/dep/__init__.py": "VALUE = 1\n"}, "/opt/python")
    runtime = _asset(assets / "runtime", {"python/fakeboto/__init__.py": ""}, "/opt/python")
    reference = _asset(assets / "reference", {"python/fastapi/__init__.py": ""}, "/opt/python")
    code = _asset(assets / "fake", {"fake/__init__.py": "", "fake/handler.py": HANDLER}, "/var/task")
    monkeypatch.setattr(packaging, "core_layer", lambda target: core)
    monkeypatch.setattr(packaging, "deps_layer", lambda target: deps)
    monkeypatch.setattr(packaging, "function_code", lambda name, target: code)
    monkeypatch.setattr(
        packaging,
        "requirements_layer",
        lambda kind, text, target, runtime_provided=False: runtime if runtime_provided else reference,
    )
    made = lambda_layout.Layouts(lambda_layout.choose(sys.executable))
    yield made
    made.cleanup()
    assert not made.root.exists()


def test_the_layers_merge_into_opt_python_and_only_the_bytecode_variant_ships_bytecode(
    layouts: lambda_layout.Layouts,
) -> None:
    sources = layouts.layout("fake", "no bytecode")
    compiled = layouts.layout("fake", "bytecode")
    for layout in (sources, compiled):
        assert sorted(p.name for p in (layout.opt / "python").iterdir()) == ["core", "dep"]
        assert (layout.task / "fake" / "handler.py").is_file()
        assert layout.pythonpath.split(":") == [str(layout.task), str(layout.opt / "python"), str(layout.runtime)]
    assert not list(sources.base.rglob("*.pyc"))
    assert len(list(compiled.base.rglob("*.pyc"))) == 4
    assert list(sources.runtime.rglob("*.pyc"))  # the runtime's own: compiled in both
    assert layouts.layout("fake", "bytecode") is compiled


def test_the_layout_is_read_only_and_writes_are_noticed(layouts: lambda_layout.Layouts) -> None:
    layout = layouts.layout("fake", "bytecode")
    layouts.freeze()
    for path in (layouts.root, layout.task / "fake" / "handler.py", layout.opt / "python" / "dep"):
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert layouts.written() == 0
    try:
        (layout.task / "fake" / "new.pyc").write_bytes(b"")
    except PermissionError:  # not root: a-w holds
        return
    assert layouts.written() == 1  # root writes through a-w: the benchmark counts files instead


def _subject(layouts: lambda_layout.Layouts) -> list[coldstart.Subject]:
    base = coldstart.Subject("fake", "events", "fake.handler", paths=[])
    return coldstart.in_layouts([base], layouts)


def _run(subject: coldstart.Subject, **env: str) -> tuple[dict[str, object] | None, str | None]:
    child_env = coldstart.child_env("postgresql+pg8000://nobody@127.0.0.1:1/none", subject.name, env)
    sample, _, proc = coldstart.run_child(sys.executable, subject, child_env)
    assert sample is not None, proc.stderr
    return sample, coldstart._failure(subject, sample, proc)


def test_the_child_loads_the_layout_from_bytecode_or_sources_and_nothing_from_the_venv(
    layouts: lambda_layout.Layouts,
) -> None:
    sources, compiled = _subject(layouts)
    assert (sources.label, compiled.label) == ("fake [no bytecode]", "fake [bytecode]")
    assert compiled.flags == ["-S"] and compiled.env["PYTHONDONTWRITEBYTECODE"] == "1"
    layouts.freeze()
    sample, failure = _run(sources)
    assert sample is not None and (sample["layout_modules"], sample["layout_pyc"], sample["foreign"]) == (4, 0, [])
    assert failure is None and sample["status"] == 200
    sample, failure = _run(compiled)
    assert sample is not None and (sample["layout_modules"], sample["layout_pyc"], sample["foreign"]) == (4, 4, [])
    assert failure is None
    assert layouts.written() == 0

    # With site-packages (no -S), the venv leaks in and the row fails.
    sample, failure = _run(replace(compiled, flags=[]), IMPORT_FOREIGN="1")
    assert sample is not None and isinstance(sample["foreign"], list)
    assert any("iniconfig" in str(f) for f in sample["foreign"])
    assert failure is not None and failure.startswith("modules from outside the layout")


def test_the_reference_layer_pins_what_the_deps_layer_and_the_dev_venv_pin() -> None:
    lines = lambda_layout.pins(lambda_layout.REFERENCE_PACKAGES).splitlines()
    assert [line.split("=")[0].split(">")[0].split("<")[0] for line in lines] == list(lambda_layout.REFERENCE_PACKAGES)
    deps = packaging.DEPS_REQUIREMENTS.read_text(encoding="utf-8")
    assert all(line in deps for line in lines if not line.startswith(("fastapi", "mangum")))
    with pytest.raises(SystemExit, match="no requirement for nothing-such"):
        lambda_layout.pins(("nothing-such",))


def test_functions_run_with_the_runtime_env_and_the_budget_applies_to_bytecode_only(
    layouts: lambda_layout.Layouts,
) -> None:
    from infra_cdk.lambda_env import RUNTIME_ENV

    function = coldstart.Subject("fake", "api", "fake.handler", paths=[], target=coldstart.TARGET_DB_API)
    sources, compiled = coldstart.in_layouts([function], layouts)
    assert (sources.target, compiled.target) == (None, 0.75)
    assert all(compiled.env[key] == value for key, value in RUNTIME_ENV.items())
    assert (
        coldstart.in_layouts([function], layouts, ("bytecode",), runtime_env={})[0].env.keys().isdisjoint(RUNTIME_ENV)
    )
    reference = coldstart.Subject("reference", "reference", "app", paths=[])
    assert coldstart.in_layouts([reference], layouts)[1].env.keys().isdisjoint(RUNTIME_ENV)
