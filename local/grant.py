"""`make grant USER=<username or id> TOKENS=<n>`: add AI tokens to a user's balance (issue 19.4).

    python -m local.grant --user alice --tokens 100000 [--note "refill"] [--actor ops-alice]

The same logic every balance change goes through (core.balances.grant): one conditional UPDATE, a
`grant` in the user's ledger with the operator as its actor, an audit event (`balance.granted`),
and `balance.changed` pushed to the user's WebSocket connections. The user is named by username
(any case) or id. The actor is the operator's login name unless --actor says otherwise.

Database: DATABASE_URL if set (a stage's database, through your own access to it), else the local
stack's embedded PostgreSQL (LOCAL_PG_PORT, LOCAL_DATA_DIR), migrated first. Exit status 2 for a
bad argument or an unknown user, 1 when the grant was refused (the balance would pass its maximum).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from local.environment import add_import_paths


def _tokens(raw: str) -> int:
    from core.balances import MAX_GRANT

    try:
        tokens = int(raw.strip().replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"TOKENS must be a whole number, not {raw!r}") from None
    if not 1 <= tokens <= MAX_GRANT:
        raise argparse.ArgumentTypeError(f"TOKENS must be 1..{MAX_GRANT}, not {tokens}")
    return tokens


def main(argv: list[str] | None = None) -> int:
    add_import_paths()
    parser = argparse.ArgumentParser(prog="make grant", description="Add AI tokens to a user's balance (audited).")
    parser.add_argument("--user", required=True, help="username (any case) or user id")
    parser.add_argument("--tokens", required=True, type=_tokens, help="tokens to add, 1..10^9")
    parser.add_argument("--note", default=None, help="why (kept in the ledger, at most 200 characters)")
    parser.add_argument("--actor", default=None, help="who grants (default: your login name)")
    args = parser.parse_args(argv)
    actor = (args.actor or getpass.getuser() or "").strip()
    if not actor:
        parser.error("name the operator with --actor")

    from core import balances, db
    from core.errors import AppError
    from local.environment import local_database

    with local_database():
        print(f"==> looking up user {args.user!r}", flush=True)
        with db.session_scope() as session:
            found = balances.user_named(session, args.user)
        if found is None:
            print(f"error: no user {args.user!r} (give a username or a user id)", file=sys.stderr)
            return 2
        user_id, username = found
        print(f"==> granting {args.tokens} tokens to {username} ({user_id}) as {actor}", flush=True)
        try:
            with db.session_scope() as session:
                change = balances.grant(session, user_id, args.tokens, actor=actor, note=args.note)
        except AppError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        pushed = balances.announce(change)
    told = f"transaction {change.transaction_id}; told {pushed} connections"
    print(f"{username} now holds {change.tokens} tokens ({told})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
