"""Feed paging at depth, and the handler's overhead over bare SQL, measured in one run.

Seeds --posts posts (default 1,000,000) into a throwaway embedded PostgreSQL, then prints:
- p50 of a page at depth --depth via cursor / p50 of the first page (target <= 1.3),
- the same depth with OFFSET, for contrast,
- p50 of a warm `GET /posts` (20 items) through the handler / p50 of the bare SQL for the same
  rows (target <= 2): the very statement and parameters the handler sent, run with pg8000's
  cursor on the pool's already open connection, outside a transaction block as a read request
  runs it. The same rows read with a hand-written statement (LIMIT as a literal, so pg8000 uses
  the simple query protocol) are printed too, as a stricter reference.
Timings that are compared take turns for --rounds rounds; each p50 is the median of its rounds'.

    .venv/bin/python -m bench.feed [--posts 1000000] [--depth 500000] [--runs 200] [--calls 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

from bench.database import prepare_database, progress, start_database
from bench.timing import p50_ms

TARGET_DEPTH = 1.3
TARGET_HANDLER = 2.0

BARE_PAGE = """
SELECT p.id, p.author_id, p.content, p.image_key, p.likes_count, p.comments_count, p.created_at, p.updated_at,
       u.username, u.avatar_url, i.status, i.variants
FROM posts p JOIN users u ON u.id = p.author_id LEFT OUTER JOIN post_images i ON i.image_key = p.image_key
ORDER BY p.created_at DESC, p.id DESC LIMIT 21
"""


def seed(engine: Any, posts: int) -> None:
    from sqlalchemy import text

    progress(f"seeding 1,000 users and {posts:,} posts")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, username, password_hash) "
                "SELECT gen_random_uuid(), 'feed' || g || '@example.com', 'feed' || g, 'x' "
                "FROM generate_series(1, 1000) g"
            )
        )
        conn.execute(
            text(
                "INSERT INTO posts (id, author_id, content, created_at, updated_at) "
                "SELECT gen_random_uuid(), u.ids[1 + mod(g, 1000)], 'post number ' || g, "
                "       now() - g * interval '1 second', now() - g * interval '1 second' "
                "FROM generate_series(1, :n) g, (SELECT array_agg(id) AS ids FROM users) u"
            ),
            {"n": posts},
        )
    from core import db

    for table in ("posts", "users"):  # the lean pg8000 connection runs outside a transaction block
        db.lean_query(f"VACUUM ANALYZE {table}")


def in_turns(timers: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Each timer returns one p50; they take turns for `rounds` rounds, so machine noise falls on all
    of them alike, and each result is the median of its rounds."""
    medians: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            medians[name].append(timer())
    return {name: statistics.median(values) for name, values in medians.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=200, help="calls per page timing (split over the rounds)")
    parser.add_argument("--calls", type=int, default=1000, help="calls per handler or bare SQL timing (same)")
    parser.add_argument("--rounds", type=int, default=5, help="turns the timings being compared take")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ["DB_SOCKET_TIMEOUT_S"] = "900"  # seeding a million rows is one long statement
    server, url = start_database()
    try:
        prepare_database(url)
        from sqlalchemy import event, text

        from core import db
        from core.pagination import encode_cursor
        from local.events import proxy_event
        from posts import logic
        from posts.handler import handler

        engine = db.get_engine()
        seed(engine, args.posts)
        with engine.connect() as conn:
            created_at, post_id = conn.execute(
                text("SELECT created_at, id FROM posts ORDER BY created_at DESC, id DESC OFFSET :d LIMIT 1"),
                {"d": args.depth - 1},
            ).one()
        deep = encode_cursor(logic.FEED, (created_at, post_id))
        page_calls, calls = max(1, args.runs // args.rounds), max(1, args.calls // args.rounds)

        def page(cursor: str | None) -> Callable[[], float]:
            return lambda: p50_ms(lambda: db.read(logic.feed, 20, cursor, None), page_calls)

        def offset_page() -> Any:
            with engine.connect() as conn:
                return conn.execute(text(BARE_PAGE.replace("LIMIT 21", "LIMIT 21 OFFSET :d")), {"d": args.depth}).all()

        progress("timing pages")
        pages = in_turns({"first": page(None), "deep": page(deep)}, args.rounds)
        with_offset = p50_ms(offset_page, max(5, args.runs // 40))

        # What the handler sends for a warm GET /posts: one statement (tests/integration/test_db_reads.py).
        request = proxy_event("GET", "/api/v1/posts", query={"limit": "20"})
        sent: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            sent.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        answer = handler(request, None)
        event.remove(engine, "before_cursor_execute", record)
        assert answer["statusCode"] == 200, answer["body"][:300]
        assert len(json.loads(answer["body"])["items"]) == 20 and len(sent) == 1, sent
        statement, parameters = sent[0]

        def through_handler() -> float:
            def call() -> None:
                assert handler(request, None)["statusCode"] == 200

            return p50_ms(call, calls)

        def bare(sql: str, params: Any) -> Callable[[], float]:
            """The rows read with pg8000's cursor on the pool's open connection (the handler gets it
            back between turns), outside a transaction block as db.read runs a statement."""

            def timer() -> float:
                raw = engine.raw_connection()
                driver: Any = raw.driver_connection
                driver.autocommit = True
                try:
                    cursor = raw.cursor()
                    return p50_ms(lambda: (cursor.execute(sql, params), cursor.fetchall()), calls)
                finally:
                    driver.autocommit = False
                    raw.close()

            return timer

        progress("timing GET /posts through the handler and the bare SQL, in turns")
        timed = in_turns(
            {
                "handler": through_handler,
                "same": bare(statement, parameters),  # the very statement and parameters: extended protocol
                "literal": bare(BARE_PAGE, ()),  # no parameters: pg8000's simple query protocol
            },
            args.rounds,
        )
        handler_ms, same_ms, literal_ms = timed["handler"], timed["same"], timed["literal"]
        first, at_depth = pages["first"], pages["deep"]

        rows = [
            ("first page (cursor)", first, None, None),
            (f"page at depth {args.depth:,} (cursor)", at_depth, at_depth / first, TARGET_DEPTH),
            (f"page at depth {args.depth:,} (OFFSET)", with_offset, with_offset / first, None),
            ("GET /posts, 20 items, via handler", handler_ms, handler_ms / same_ms, TARGET_HANDLER),
            ("bare SQL: the same statement", same_ms, None, None),
            ("bare SQL: literal LIMIT, simple protocol", literal_ms, handler_ms / literal_ms, None),
        ]
        if args.json:
            print(
                json.dumps(
                    {
                        "posts": args.posts,
                        "depth": args.depth,
                        "first_ms": first,
                        "deep_ms": at_depth,
                        "offset_ms": with_offset,
                        "handler_ms": handler_ms,
                        # the SQL as a read request runs it: the same statement, on the open connection
                        "request_sql_ms": same_ms,
                        "bare_sql_ms": literal_ms,
                    }
                )
            )
            return 0
        print(f"{'measure':<42} {'p50 ms':>9} {'ratio':>8} {'target':>7}")
        for name, ms, ratio, target in rows:
            ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
            verdict = "" if target is None else (" OK" if ratio is not None and ratio <= target else " over")
            target_text = f"{target:.1f}x" if target is not None else ""
            print(f"{name:<42} {ms:>9.3f} {ratio_text:>8} {target_text:>7}{verdict}")
        return 0
    finally:
        db.dispose_engine()
        server.destroy()


if __name__ == "__main__":
    sys.exit(main())
