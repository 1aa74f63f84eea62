"""Functions laid out as Lambda runs them (bench.coldstart --lambda-layout).

Each subject runs from its packaged asset directories, not from the repository and the dev venv:

* `opt/python/`: the layers' `python/` directories merged, as Lambda unpacks layers under /opt
  (core + deps for every function; the reference app's own layer for the reference);
* `var/task/`: the function's asset directory (`infra_cdk.packaging.function_code`), or the
  reference app packaged the same way;
* `var/lang/site-packages/`: boto3, which the runtime provides (the deps layer leaves it out),
  compiled as pip installs it;

all read-only (`chmod -R a-w`; root ignores that, so the benchmark also checks that no file
appeared), run by a fresh interpreter with `-S` (no site-packages: nothing comes from a venv; the
child reports any module from elsewhere than the layout and the standard library, a failure),
`PYTHONPATH=<task>:<opt/python>:<runtime>`, `PYTHONDONTWRITEBYTECODE=1` and the task directory as
its working directory. Every subject runs twice: with the bytecode packaging ships
(`compileall --invalidation-mode unchecked-hash`), and from the same files without it (what ships
when packaging finds no interpreter of the runtime's version).

The interpreter is the runtime's version when packaging finds one ($PYTHON_LAMBDA, python3.12),
else this one, standing in. The Lambda deps layer holds arm64 wheels; on any other machine, or
with another Python, the layers are built by the same packaging code from the same requirements
for this machine and that interpreter (`packaging.host_target`), and the report says so.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra_cdk import packaging

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = ROOT / "bench" / "reference_app"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
# The reference app's layer: what it imports, as the deps layer (else the dev venv) pins it.
REFERENCE_PACKAGES = ("fastapi", "mangum", "pydantic", "sqlalchemy", "pg8000", "python-dateutil")
RUNTIME_PACKAGES = ("boto3",)
VARIANTS = ("no bytecode", "bytecode")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(==|>=|<=|~=|<|>|!=)")


@dataclass(frozen=True)
class Setup:
    """Who runs the children and what the layers are built for."""

    interpreter: packaging.Interpreter
    target: packaging.Target
    stdlib: tuple[str, ...]  # the interpreter's standard library: the only origin allowed besides the layout
    note: str

    @property
    def lambda_assets(self) -> bool:
        """True: the very assets `cdk synth` ships (this machine is arm64 and runs the runtime's Python)."""
        return self.target.build_prefix == ""


@dataclass(frozen=True)
class Layout:
    """One subject's directories in one variant."""

    base: Path  # what the variant ships (task and layers): the modules whose bytecode is counted
    task: Path
    opt: Path  # the merged layers: <opt>/python is on the path
    runtime: Path  # what the runtime provides (boto3), the same in both variants

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join((str(self.task), str(self.opt / "python"), str(self.runtime)))


def choose(python: str | None) -> Setup:
    """The interpreter (`python`, else the runtime's version via packaging, else this one) and the
    target its layers are built for."""
    if python:
        interpreter = packaging.probe(python)
        if interpreter is None:
            raise SystemExit(f"--python {python} does not run")
        why = "--python"
    else:
        found = packaging.runtime_interpreter()
        interpreter = found or packaging.probe(sys.executable)
        if interpreter is None:
            raise SystemExit(f"{sys.executable} does not run")
        why = packaging.PYTHON_LAMBDA_ENV + " or python" + packaging.LAMBDA_PYTHON if found else "this interpreter"
    target = packaging.host_target(interpreter)
    machine = platform.machine()
    parts = [f"Python {interpreter.version} ({why})"]
    if interpreter.minor != packaging.LAMBDA_PYTHON:
        parts.append(f"standing in for the runtime's {packaging.LAMBDA_PYTHON}")
    if target.build_prefix:
        parts.append(
            f"layers built by infra_cdk/packaging.py from the same requirements for this machine "
            f"({target.pip_args[1]}, Python {interpreter.minor}), not the shipped arm64 "
            f"Python {packaging.LAMBDA_PYTHON} wheels"
        )
    else:
        parts.append("the very layers and function assets `cdk synth` ships")
    if machine != "aarch64":
        parts.append(f"this machine is {machine}")
    probe = subprocess.run(
        [
            interpreter.executable,
            "-S",
            "-c",
            "import sysconfig; print(sysconfig.get_path('stdlib')); print(sysconfig.get_path('platstdlib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    stdlib = tuple(dict.fromkeys(line.rstrip("/") + "/" for line in probe.stdout.split()))
    return Setup(interpreter, target, stdlib, "; ".join(parts))


def pins(names: tuple[str, ...]) -> str:
    """requirements.txt lines for `names` as the deps layer, else requirements-dev.txt, states them."""
    found: dict[str, str] = {}
    for source in (packaging.DEPS_REQUIREMENTS, DEV_REQUIREMENTS):
        for line in source.read_text(encoding="utf-8").splitlines():
            match = _PIN.match(line.strip())
            if match and match.group(1).lower() in names:
                found.setdefault(match.group(1).lower(), line.strip())
    missing = [name for name in names if name not in found]
    if missing:
        where = f"{packaging.DEPS_REQUIREMENTS.relative_to(ROOT)} or {DEV_REQUIREMENTS.relative_to(ROOT)}"
        raise SystemExit(f"no requirement for {', '.join(missing)} in {where}")
    return "".join(found[name] + "\n" for name in names)


def reference_code(target: packaging.Target) -> Path:
    """The reference app as a function asset: bench/reference_app/* at the root (handler `app.handler`)."""

    def build(out: Path) -> None:
        shutil.copytree(REFERENCE_DIR, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*packaging.IGNORED))
        if target.compiler is not None:
            packaging.compile_bytecode(out, target.compiler, packaging.TASK_ROOT_IN_LAMBDA, "reference app", own=out)

    key = packaging.tree_hash(REFERENCE_DIR, target.bytecode_key)
    return packaging.cached_build(f"{target.build_prefix}bench-reference/fn", key, build)


def _copy(src: Path, dest: Path, bytecode: bool) -> None:
    ignore = None if bytecode else shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(src, dest, dirs_exist_ok=True, ignore=ignore)


class Layouts:
    """Every subject's layout in both variants, under one temporary directory (read-only once built)."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.root = Path(tempfile.mkdtemp(prefix="lambda-layout-"))
        target = setup.target
        runtime = packaging.requirements_layer("bench-runtime", pins(RUNTIME_PACKAGES), target, runtime_provided=True)
        self.runtime = self.root / "var" / "lang" / "site-packages"
        _copy(runtime / "python", self.runtime, bytecode=True)  # the runtime's own: assumed compiled
        self._layers = {
            "functions": [packaging.core_layer(target), packaging.deps_layer(target)],
            "reference": [packaging.requirements_layer("bench-reference", pins(REFERENCE_PACKAGES), target)],
        }
        self._made: dict[tuple[str, str], Layout] = {}
        self.files_before = 0

    def layout(self, name: str, variant: str, reference: bool = False) -> Layout:
        """The directories of function `name` (or the reference app) in `variant`, made on first use."""
        bytecode = variant == "bytecode"
        slug = "bytecode" if bytecode else "sources"
        group = "reference" if reference else "functions"
        opt = self.root / slug / f"opt-{group}"
        if not opt.exists():
            for layer in self._layers[group]:
                _copy(layer / "python", opt / "python", bytecode)
        task = self.root / slug / "task" / name
        if (name, variant) not in self._made:
            code = reference_code(self.setup.target) if reference else packaging.function_code(name, self.setup.target)
            _copy(code, task, bytecode)
            self._made[name, variant] = Layout(self.root / slug, task, opt, self.runtime)
        return self._made[name, variant]

    def freeze(self) -> None:
        """Read-only, as Lambda's /opt and /var/task are."""
        _chmod(self.root, writable=False)
        self.files_before = _count_files(self.root)

    def written(self) -> int:
        """Files that appeared since freeze() (root can write through a-w; nothing may)."""
        return _count_files(self.root) - self.files_before

    def cleanup(self) -> None:
        _chmod(self.root, writable=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def _chmod(root: Path, writable: bool) -> None:
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~write))
