"""Private APIs of third-party libraries live here, and nowhere else in core or the functions.

One module per library, each named after it, each opening with what it touches (`TOUCHES`: the
internal, and why), and `WRITTEN_AGAINST`, the version its contract tests were written for:

- `pg8000_wire`: pg8000's protocol internals (one round trip per statement, the fallback
  timestamptz parser, the memoized placeholder rewrite).
- `sqlalchemy_pool`: the pool's pre-ping, skipped while `core.db.read` checks a connection out.
- `powertools_validation`: the resolver's response-validation middleware, swapped for a subclass
  that writes a `JsonBody` once.

tests/unit/internals/test_<library>_contract.py checks every internal a module lists (it exists
and behaves as relied upon), and that the installed version, the pin in
layers/deps/requirements.txt and `WRITTEN_AGAINST` are one and the same: bumping a pin fails a
test until the contracts are checked again and `WRITTEN_AGAINST` follows.

This package imports nothing at import time (the authorizer imports `pg8000_wire` and must not
pay for Powertools or SQLAlchemy): import the module you need.
"""
