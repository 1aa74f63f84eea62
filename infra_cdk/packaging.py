"""Lambda code and layers, packaged without Docker.

- "core" layer: `layers/core/python` copied to `<build>/python/` (imports as `core` from /opt/python).
- "deps" layer: `layers/deps/requirements.txt` installed with pip for the Lambda platform
  (manylinux2014 aarch64, CPython 3.12, wheels only) into `<build>/python/`, minus what the
  runtime already has (boto3, botocore, s3transfer) and minus bytecode.
- function code: `functions/<name>/` copied to `<build>/<name>/`, so the asset holds only
  that package and the handler is `<name>.handler.handler`.
- a function's own dependencies: `functions/<name>/requirements.txt`, when there is one
  (media: Pillow), installed like the deps layer into its own cached build and copied to the
  root of that function's asset (`/var/task`), so no other function ships them.

Every build lands in `.build/<kind>/<key>/`, where the key hashes the inputs, so repeated
synths and test runs reuse it. Builds are made in a temporary directory and renamed into
place under a file lock, so concurrent synths (pytest-xdist workers, a CLI synth) are safe.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".build"
CORE_SRC = ROOT / "layers" / "core" / "python"
DEPS_REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
FUNCTIONS_DIR = ROOT / "functions"

# Bump to invalidate every cached build when the recipe below changes.
RECIPE = "1"
LAMBDA_PYTHON = "3.12"
PIP_TARGET_ARGS = (
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    LAMBDA_PYTHON,
    "--only-binary=:all:",
)
# A function's own dependencies may also use manylinux_2_28 wheels (Pillow 13 ships no
# manylinux2014 aarch64 wheel): the python3.12 runtime is Amazon Linux 2023, glibc 2.34.
FUNCTION_PIP_TARGET_ARGS = (*PIP_TARGET_ARGS, "--platform", "manylinux_2_28_aarch64")
# Provided by the Lambda Python runtime; shipping them again only adds size and version skew.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".DS_Store")
KEEP_BUILDS = 3


class PackagingError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[packaging] {message}", file=sys.stderr, flush=True)


def _ignored(path: Path) -> bool:
    return any(path.match(pattern) for pattern in IGNORED) or "__pycache__" in path.parts


def tree_hash(root: Path, *extra: str) -> str:
    """Hash of every file's relative path and bytes under root (bytecode ignored)."""
    digest = hashlib.sha256()
    for part in (RECIPE, *extra):
        digest.update(part.encode() + b"\0")
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _ignored(p.relative_to(root))):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:20]


@contextmanager
def _lock(kind_dir: Path) -> Iterator[None]:
    kind_dir.mkdir(parents=True, exist_ok=True)
    with (kind_dir / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(kind_dir: Path, keep: Path) -> None:
    """Keep the newest few builds of a kind (and drop leftovers of interrupted ones)."""
    others = sorted(
        (p for p in kind_dir.iterdir() if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    leftovers = [p for p in others if p.name.startswith(".")]
    older = [p for p in others if not p.name.startswith(".")][KEEP_BUILDS - 1 :]
    for stale in leftovers + older:
        shutil.rmtree(stale, ignore_errors=True)


def cached_build(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """`.build/<kind>/<key>`, made by build(tmpdir) once and reused while the key holds."""
    kind_dir = BUILD_DIR / kind
    final = kind_dir / key
    if final.is_dir():
        return final
    with _lock(kind_dir):
        if final.is_dir():  # another process built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=kind_dir))
        try:
            build(tmp)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _prune(kind_dir, keep=final)
    return final


def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*IGNORED))


def core_layer() -> Path:
    """Asset directory of the core layer: <dir>/python/core/..."""
    if not (CORE_SRC / "core" / "__init__.py").is_file():
        raise PackagingError(f"core layer sources missing: {CORE_SRC / 'core'}")

    def build(out: Path) -> None:
        log("packaging core layer ...")
        _copy_tree(CORE_SRC, out / "python")

    return cached_build("core", tree_hash(CORE_SRC), build)


# Where Lambda finds the bundle of the rds-ca layer (layers unpack under /opt).
RDS_CA_PATH_IN_LAMBDA = "/opt/rds-ca/global-bundle.pem"


def _rds_ca_problem(pem: str) -> str | None:
    """Why this is not an RDS CA bundle, or None: every certificate must be an Amazon RDS CA."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        return f"not a PEM certificate bundle ({exc})"
    certs = context.get_ca_certs()
    if not certs:
        return "no CA certificate in it"
    for cert in certs:
        rdns = cast("tuple[tuple[tuple[str, str], ...], ...]", cert["subject"])
        subject = {name: value for rdn in rdns for (name, value) in rdn}
        if subject.get("organizationalUnitName") != "Amazon RDS":
            return f"a certificate that is not an Amazon RDS CA: {subject.get('commonName')!r}"
    return None


def rds_ca_layer(url: str) -> Path:
    """Asset directory of the rds-ca layer: <dir>/rds-ca/global-bundle.pem, fetched once from url.

    Stages without RDS Proxy connect to the cluster endpoint, whose certificate chains to the
    RDS CA; the system trust store does not hold it. Cached under .build/rds-ca/ per URL (and
    per content, for a file:// copy). The check below catches a wrong file (an HTML error page,
    another CA bundle), not a forged one: trust comes from the URL (AWS's truststore over HTTPS).
    """
    # A vendored copy (file://) may be replaced in place: its bytes are part of the key.
    local = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)) if url.startswith("file://") else None
    content = hashlib.sha256(local.read_bytes()).hexdigest() if local is not None and local.is_file() else ""
    key = hashlib.sha256("\0".join((RECIPE, url, content)).encode()).hexdigest()[:20]

    def build(out: Path) -> None:
        import urllib.request

        log(f"fetching the RDS CA bundle from {url} ...")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https or file:// by setting
                pem = response.read().decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise PackagingError(
                f"cannot fetch the RDS CA bundle from {url} ({exc}); a stage without RDS Proxy needs it. "
                "Download it on a machine with access and set the stage's rdsCaBundleUrl to file:///path/to/it."
            ) from exc
        problem = _rds_ca_problem(pem)
        if problem:
            raise PackagingError(f"{url} is not the RDS CA bundle: {problem}")
        target = out / "rds-ca" / "global-bundle.pem"
        target.parent.mkdir(parents=True)
        target.write_text(pem, encoding="ascii")
        log(f"RDS CA bundle ready: {pem.count('BEGIN CERTIFICATE')} certificates")

    return cached_build("rds-ca", key, build)


def _strip_deps(site: Path) -> None:
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(site / name, ignore_errors=True)
        for meta in site.glob(f"{name}-*.dist-info"):
            shutil.rmtree(meta, ignore_errors=True)
    # Console scripts point at the build machine's interpreter; nothing in Lambda runs them.
    shutil.rmtree(site / "bin", ignore_errors=True)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for compiled in list(site.rglob("*.py[co]")):
        compiled.unlink()


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def deps_layer() -> Path:
    """Asset directory of the deps layer: <dir>/python/<third-party packages>."""
    if not DEPS_REQUIREMENTS.is_file():
        raise PackagingError(f"missing {DEPS_REQUIREMENTS}")
    requirements = DEPS_REQUIREMENTS.read_text(encoding="utf-8")
    key = hashlib.sha256("\0".join((RECIPE, *PIP_TARGET_ARGS, requirements)).encode()).hexdigest()[:20]

    def build(out: Path) -> None:
        site = out / "python"
        log(f"packaging deps layer ({DEPS_REQUIREMENTS.relative_to(ROOT)}, arm64, cp312) ...")
        _pip_install(DEPS_REQUIREMENTS, site, "the deps layer")
        log(f"deps layer ready: {_size_mb(site):.1f} MB unzipped")

    return cached_build("deps", key, build)


def _pip_install(requirements: Path, target: Path, what: str, platform_args: tuple[str, ...] = PIP_TARGET_ARGS) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        *platform_args,
        "--requirement",
        str(requirements),
        "--target",
        str(target),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(f"pip install for {what} failed:\n{result.stdout}\n{result.stderr}")
    _strip_deps(target)


def function_deps(name: str) -> Path | None:
    """The function's own third-party packages (functions/<name>/requirements.txt), or None."""
    requirements = FUNCTIONS_DIR / name / "requirements.txt"
    if not requirements.is_file():
        return None
    text = requirements.read_text(encoding="utf-8")
    key = hashlib.sha256("\0".join((RECIPE, *FUNCTION_PIP_TARGET_ARGS, name, text)).encode()).hexdigest()[:20]

    def build(out: Path) -> None:
        log(f"packaging {name}'s own dependencies ({requirements.relative_to(ROOT)}, arm64, cp312) ...")
        _pip_install(requirements, out, f"{name}'s requirements.txt", FUNCTION_PIP_TARGET_ARGS)
        log(f"{name} dependencies ready: {_size_mb(out):.1f} MB unzipped")

    return cached_build(f"fn-deps/{name}", key, build)


def function_code(name: str) -> Path:
    """Asset directory of one function: <dir>/<name>/handler.py (handler `<name>.handler.handler`),
    plus its own dependencies at <dir>/ when it has a requirements.txt."""
    src = FUNCTIONS_DIR / name
    if not (src / "__init__.py").is_file() or not (src / "handler.py").is_file():
        raise PackagingError(
            f"function {name!r} is in core.routes.FUNCTIONS but {src.relative_to(ROOT)}/ has no "
            "__init__.py and handler.py; create the package or remove the catalog entry"
        )
    deps = function_deps(name)

    def build(out: Path) -> None:
        if deps is not None:
            shutil.copytree(deps, out, dirs_exist_ok=True)
        _copy_tree(src, out / name)

    return cached_build(f"fn/{name}", tree_hash(src, deps.name if deps else ""), build)
