"""Feed paging at depth, and the handler's overhead over bare SQL, measured in one run.

Seeds --posts posts (default 1,000,000) into a throwaway embedded PostgreSQL, then prints:
- p50 of a page at depth --depth via cursor / p50 of the first page (target <= 1.3),
- the same depth with OFFSET, for contrast,
- p50 of a warm `GET /posts` (20 items) through the handler / p50 of the bare SQL for those rows
  as any request must run it: the pool's pre-ping, then the statement in its own transaction
  (target <= 2). The statement alone, on a connection already inside a transaction, is printed too.

    .venv/bin/python -m bench.feed [--posts 1000000] [--depth 500000] [--runs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from bench.coldstart import prepare_database, progress, start_database
from bench.timing import p50_ms

TARGET_DEPTH = 1.3
TARGET_HANDLER = 2.0

BARE_PAGE = """
SELECT p.id, p.author_id, p.content, p.image_key, p.likes_count, p.comments_count, p.created_at, p.updated_at,
       u.username, u.avatar_url
FROM posts p JOIN users u ON u.id = p.author_id
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ["DB_SOCKET_TIMEOUT_S"] = "900"  # seeding a million rows is one long statement
    server, url = start_database()
    try:
        prepare_database(url)
        from sqlalchemy import text

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

        def page(cursor: str | None) -> Callable[[], Any]:
            def run() -> Any:
                with db.session_scope() as session:
                    return logic.feed(session, 20, cursor, None)

            return run

        def offset_page() -> Any:
            with engine.connect() as conn:
                return conn.execute(text(BARE_PAGE.replace("LIMIT 21", "LIMIT 21 OFFSET :d")), {"d": args.depth}).all()

        progress("timing pages")
        first = p50_ms(page(None), args.runs)
        at_depth = p50_ms(page(deep), args.runs)
        with_offset = p50_ms(offset_page, max(5, args.runs // 10))

        event = proxy_event("GET", "/api/v1/posts", query={"limit": "20"})

        def through_handler() -> Any:
            response = handler(event, None)
            assert response["statusCode"] == 200, response["body"][:300]
            assert len(json.loads(response["body"])["items"]) == 20
            return response

        handler_ms = p50_ms(through_handler, args.runs)
        raw = engine.raw_connection()  # the pool's one connection, after the handler is done with it
        cursor = raw.cursor()

        def bare_sql() -> Any:
            cursor.execute(BARE_PAGE)
            return cursor.fetchall()

        def bare_request() -> Any:
            cursor.execute("SELECT 1")  # the pool's pre-ping (ARCHITECTURE.md)
            raw.commit()
            cursor.execute(BARE_PAGE)  # in its own transaction: BEGIN ... COMMIT
            rows = cursor.fetchall()
            raw.commit()
            return rows

        bare_ms = p50_ms(bare_sql, args.runs)
        request_ms = p50_ms(bare_request, args.runs)
        raw.close()

        rows = [
            ("first page (cursor)", first, None, None),
            (f"page at depth {args.depth:,} (cursor)", at_depth, at_depth / first, TARGET_DEPTH),
            (f"page at depth {args.depth:,} (OFFSET)", with_offset, with_offset / first, None),
            ("GET /posts, 20 items, via handler", handler_ms, handler_ms / request_ms, TARGET_HANDLER),
            ("bare SQL as a request runs it (ping, txn)", request_ms, None, None),
            ("bare SQL statement alone", bare_ms, handler_ms / bare_ms, None),
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
                        "request_sql_ms": request_ms,
                        "bare_sql_ms": bare_ms,
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
