"""The realtime handler sets its request id on the parent logger, so it works whatever
POWERTOOLS_SERVICE_NAME says (unset in a plain `make dev` shell, where a child logger of another
service name is orphaned and refuses to take keys)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
from realtime import sockets
event = {"requestContext": {"eventType": "CONNECT", "requestId": "r1", "connectionId": "c1"},
         "queryStringParameters": None}
print(sockets.handle(event)["statusCode"])
"""


def test_a_handshake_without_a_service_name_answers_instead_of_raising() -> None:
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_SERVICE_NAME"}
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("layers/core/python", "functions", "."))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "401"  # no ticket: refused, not a crash
