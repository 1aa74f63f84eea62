"""Contract fuzzing with schemathesis against the running local stack (tools we did not write).

Every operation of /api/v1/openapi.json, authenticated as a fixture user, with every check
(`--checks all`): no 5xx, every response (errors included) matches the document, nothing
schema-valid refused, nothing schema-invalid accepted, 405 with Allow for undeclared methods.
`make test` runs a bounded number of examples per operation; `make fuzz` runs many more
(FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, LocalStack

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
# Logout would revoke the fixture user's token for every later case; tests/integration/auth/test_auth.py covers it.
EXCLUDED_PATHS = ("/api/v1/auth/logout",)


def _schemathesis() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("schemathesis is not installed: run `make install`")
    return found


def test_every_operation_holds_its_contract(local_stack: LocalStack, tmp_path: Path) -> None:
    api = local_stack.api
    user = {"email": "fuzz@example.com", "username": "fuzzer", "password": "correct horse battery"}
    registered = requests.post(f"{api}/api/v1/auth/register", json=user, timeout=10)
    if registered.status_code == 409:
        registered = requests.post(f"{api}/api/v1/auth/login", json=user, timeout=10)
    token = registered.json()["access_token"]
    command = [
        _schemathesis(),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{api}/api/v1/openapi.json",
        "--checks",
        "all",
        "--url",
        api,
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(EXAMPLES),
        "--generation-deterministic",
        "--no-color",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False)
    summary = result.stdout[result.stdout.find("FAILURES") :] if "FAILURES" in result.stdout else result.stdout[-3000:]
    assert result.returncode == 0, f"schemathesis found contract failures:\n{summary[:20000]}\n{result.stderr[-2000:]}"
