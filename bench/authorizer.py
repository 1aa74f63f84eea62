"""Warm authorizer latency: p50 of a whole invocation minus p50 of its one database round trip.

The issue's budget is below 1 ms locally excluding the database round trip.
Both are measured here in one run on the same lean connection, so the
difference is the authorizer's own work (token parsing, HMAC, claims, policy).

    .venv/bin/python -m bench.authorizer [--calls 2000]
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.coldstart_events import authorizer_event
from bench.database import prepare_database, progress, start_database
from bench.timing import p50_ms

TARGET_MS = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    server, url = start_database()
    try:
        fixture = prepare_database(url)
        if fixture.access_token is None:
            print("no fixture caller: cannot sign a token", file=sys.stderr)
            return 1
        from authorizer.handler import _ACTIVE_SESSION, handler
        from core import db

        event = authorizer_event(fixture.access_token)
        assert handler(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        progress(f"timing {args.calls} warm invocations and {args.calls} bare lookups")
        whole = p50_ms(lambda: handler(event, None), args.calls)
        lookup = p50_ms(lambda: db.lean_query(_ACTIVE_SESSION, sid=fixture.session_id, uid=fixture.user_id), args.calls)
        own = whole - lookup
        verdict = "OK" if own < TARGET_MS else "over"
        if args.json:
            print(json.dumps({"warm_ms": whole, "lookup_ms": lookup, "own_ms": own, "target_ms": TARGET_MS}))
            return 0
        print(f"{'measure':<40} {'p50 ms':>8}")
        print(f"{'warm invocation (with lookup)':<40} {whole:>8.3f}")
        print(f"{'database lookup alone':<40} {lookup:>8.3f}")
        print(f"{'authorizer own work':<40} {own:>8.3f}  target < {TARGET_MS:.1f} ms  {verdict}")
        return 0
    finally:
        server.destroy()


if __name__ == "__main__":
    sys.exit(main())
