"""Bytecode in the Lambda assets: compiled by an interpreter of the runtime's version (PEP 552
unchecked-hash, sources named as Lambda unpacks them), used by a read-only import, part of the
cache key; without such an interpreter, a loud warning and sources only.

The local interpreter stands in for the runtime's (PYTHON_LAMBDA=sys.executable, LAMBDA_PYTHON its
version): the mechanism is the same whatever the version."""

from __future__ import annotations

import dataclasses
import importlib.util
import marshal
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra_cdk import packaging

pytestmark = pytest.mark.infra

LOCAL = f"{sys.version_info.major}.{sys.version_info.minor}"
TAG = sys.implementation.cache_tag
UNCHECKED_HASH = 0b01  # PEP 552: bit 0 hash-based, bit 1 check_source (off)


@pytest.fixture
def fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(packaging, "BUILD_DIR", tmp_path / "build")
    return tmp_path / "build"


@pytest.fixture
def local_runtime(fresh_build: Path, monkeypatch: pytest.MonkeyPatch) -> packaging.Interpreter:
    """This interpreter standing in for the runtime's: PYTHON_LAMBDA names it, LAMBDA_PYTHON is its version."""
    monkeypatch.setenv(packaging.PYTHON_LAMBDA_ENV, sys.executable)
    monkeypatch.setattr(packaging, "LAMBDA_PYTHON", LOCAL)
    found = packaging.runtime_interpreter()
    assert found is not None
    return found


def _pyc(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"


def _filename(pyc: bytes) -> str:
    """The source a .pyc names (we built it: trusted bytes)."""
    return str(marshal.loads(pyc[16:]).co_filename)  # noqa: S302


def test_the_runtime_interpreter_compiles_every_module_unchecked_hash(local_runtime: packaging.Interpreter) -> None:
    assert (local_runtime.cache_tag, local_runtime.minor) == (TAG, LOCAL)
    assert local_runtime.magic == importlib.util.MAGIC_NUMBER.hex()
    site = packaging.core_layer() / "python"
    sources = sorted(site.rglob("*.py"))
    assert len(sources) > 10
    for source in sources:
        data = _pyc(source).read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH, source
        assert data[8:16] == importlib.util.source_hash(source.read_bytes())
        # Named where Lambda unpacks the layer, not where it was built: the same bytes on any machine.
        assert _filename(data) == f"/opt/python/{source.relative_to(site).as_posix()}"
    assert {p.name.split(".")[-2] for p in site.rglob("*.pyc")} == {TAG}  # no other version's

    code_dir = packaging.function_code("ops")
    handler = code_dir / "ops" / "handler.py"
    assert _filename(_pyc(handler).read_bytes()) == "/var/task/ops/handler.py"
    assert sorted(p.name for p in code_dir.iterdir()) == ["ops"]


def test_a_read_only_import_uses_the_shipped_bytecode_without_reading_the_source(
    local_runtime: packaging.Interpreter, tmp_path: Path
) -> None:
    opt = tmp_path / "opt"
    shutil.copytree(packaging.core_layer() / "python", opt / "python")
    init = opt / "python" / "core" / "__init__.py"
    # Same size, different bytes: only a reader of the source would notice.
    init.write_text('raise RuntimeError("the source was read")\n', encoding="utf-8")
    before = sorted(p for p in opt.rglob("*"))
    for path in [opt, *before]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(opt / "python"), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = "import core, os; print(core.__cached__, os.path.exists(core.__cached__), core.__doc__ is not None)"
    try:
        used = subprocess.run(
            [sys.executable, "-S", "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
        )
        assert used.stdout.split() == [str(_pyc(init)), "True", "True"]
        assert sorted(p for p in opt.rglob("*")) == before  # nothing written
        # Without the bytecode the same import reads (and compiles) the source.
        cache = init.parent / "__pycache__"
        cache.chmod(cache.stat().st_mode | stat.S_IWUSR)
        _pyc(init).unlink()
        sources = subprocess.run(
            [sys.executable, "-S", "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert "the source was read" in sources.stderr
    finally:
        for path in [opt, *opt.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_the_compiling_interpreter_is_part_of_the_cache_key(local_runtime: packaging.Interpreter) -> None:
    compiled = packaging.core_layer()
    assert packaging.core_layer() == compiled  # cached
    target = packaging.lambda_target()
    other = dataclasses.replace(local_runtime, version=LOCAL + ".99")
    rebuilt = packaging.core_layer(dataclasses.replace(target, compiler=other))
    assert rebuilt != compiled and rebuilt.parent == compiled.parent
    sources_only = packaging.core_layer(dataclasses.replace(target, compiler=None))
    assert sources_only not in (compiled, rebuilt)
    assert not list(sources_only.rglob("*.pyc"))


def test_without_an_interpreter_of_the_runtimes_version_packaging_warns_and_ships_sources(
    fresh_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A python3.12 on PATH that does not run, like a pyenv shim for a version that is not selected.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / f"python{packaging.LAMBDA_PYTHON}"
    shim.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n", encoding="utf-8")
    shim.chmod(0o755)
    monkeypatch.delenv(packaging.PYTHON_LAMBDA_ENV, raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert packaging.runtime_interpreter() is None
    err = capsys.readouterr().err
    assert "WARNING" in err and "NO BYTECODE" in err and f"{shim} does not run" in err
    assert f"{packaging.PYTHON_LAMBDA_ENV}=/path/to/python{packaging.LAMBDA_PYTHON}" in err
    assert not list(packaging.core_layer().rglob("*.pyc"))
    assert packaging.runtime_interpreter() is None
    assert "NO BYTECODE" not in capsys.readouterr().err  # once per process, not once per asset

    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert packaging.runtime_interpreter() is None
    assert f"no python{packaging.LAMBDA_PYTHON} on PATH" in capsys.readouterr().err


def test_python_lambda_of_another_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaging, "LAMBDA_PYTHON", "3.99")
    monkeypatch.setenv(packaging.PYTHON_LAMBDA_ENV, sys.executable)
    with pytest.raises(packaging.PackagingError, match=rf"is Python {LOCAL}\.\d+, the Lambda runtime is 3\.99.*{TAG}"):
        packaging.runtime_interpreter()
    monkeypatch.setenv(packaging.PYTHON_LAMBDA_ENV, "/nonexistent/python")
    with pytest.raises(packaging.PackagingError, match="does not run"):
        packaging.runtime_interpreter()


def test_our_code_must_compile_a_dependencys_odd_file_ships_as_source(
    local_runtime: packaging.Interpreter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "asset"
    (root / "theirs").mkdir(parents=True)
    (root / "theirs" / "py2.py").write_text("print 'hello'\n", encoding="utf-8")
    (root / "theirs" / "ok.py").write_text("x = 1\n", encoding="utf-8")
    packaging.compile_bytecode(root, local_runtime, "/var/task", "a dependency")
    assert _pyc(root / "theirs" / "ok.py").is_file() and not _pyc(root / "theirs" / "py2.py").exists()
    err = capsys.readouterr().err
    assert "1 files do not compile" in err and "shipped as sources: theirs/py2.py" in err
    (root / "ours").mkdir()
    (root / "ours" / "handler.py").write_text("def handler(:\n", encoding="utf-8")
    with pytest.raises(packaging.PackagingError, match=r"handler\.py does not compile"):
        packaging.compile_bytecode(root, local_runtime, "/var/task", "function x", own=root / "ours")


def test_the_host_target_is_the_lambda_target_on_arm64_with_the_runtimes_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = packaging.Interpreter("/usr/bin/python3.12", packaging.LAMBDA_PYTHON + ".1", "cpython-312", "cb0d0d0a")
    monkeypatch.setattr(packaging.platform, "machine", lambda: "aarch64")
    same = packaging.host_target(runtime)
    assert (same.pip_args, same.function_pip_args, same.build_prefix) == (
        packaging.PIP_TARGET_ARGS,
        packaging.FUNCTION_PIP_TARGET_ARGS,
        "",
    )
    monkeypatch.setattr(packaging.platform, "machine", lambda: "x86_64")
    here = packaging.host_target(runtime)
    assert "manylinux2014_x86_64" in here.pip_args and "manylinux_2_28_x86_64" in here.function_pip_args
    assert here.build_prefix == "host-x86_64-cp" + packaging.LAMBDA_PYTHON.replace(".", "") + "/"
    assert here.compiler == runtime
