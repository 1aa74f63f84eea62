"""No N+1: a list request runs the same number of SQL statements for a page of 1 and of 100."""

from __future__ import annotations

import pytest

from core import db as core_db
from tests.client import call
from tests.integration.social import member, post
from tests.statements import counting


def statements_for(path: str) -> int:
    with counting() as statements:
        answer = call("GET", path)
    assert answer.status == 200, answer.body
    return len(statements)


@pytest.fixture
def busy_post(db: str) -> str:
    authors = [member() for _ in range(5)]
    target = post(authors[0])["id"]
    for i in range(105):
        post(authors[i % 5], f"post {i}")
    for i in range(105):
        fan = member() if i >= 4 else authors[i + 1]
        call("POST", f"/api/v1/posts/{target}/likes", token=fan.token)
        call("POST", f"/api/v1/posts/{target}/comments", {"content": f"c{i}"}, token=authors[i % 5].token)
    return str(target)


def test_list_requests_do_not_grow_with_the_page(busy_post: str) -> None:
    for path in ("/api/v1/posts", f"/api/v1/posts/{busy_post}/likes", f"/api/v1/posts/{busy_post}/comments"):
        one, hundred = statements_for(f"{path}?limit=1"), statements_for(f"{path}?limit=100")
        assert one == hundred, path
        assert one <= 2, path  # the page (and, under a post, the parent check)
    assert statements_for("/api/v1/posts?author=" + "nobody") == 1


def test_the_feed_with_images_is_one_statement_a_page(db: str, s3_endpoint: str) -> None:
    """What the media pipeline made of each image (post_images) is joined, not fetched per post."""
    from sqlalchemy import text

    author = member()
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO posts (id, author_id, content, image_key) "
                "SELECT gen_random_uuid(), CAST(:a AS uuid), 'post ' || g, "
                "'post-images/' || :a || '/' || md5(g::text) || '.jpg' FROM generate_series(1, 105) g"
            ),
            {"a": author.id},
        )
        conn.execute(
            text(
                "INSERT INTO post_images (image_key, status, variants) "
                "SELECT image_key, (ARRAY['ready', 'refused', 'processing'])[1 + g % 3], "
                "jsonb_build_array(jsonb_build_object('kind', 'preview', 'key', 'variants/' || image_key, "
                "'width', 1280, 'height', 960, 'content_type', 'image/jpeg', 'version_id', NULL)) "
                "FROM (SELECT image_key, row_number() OVER () AS g FROM posts) p WHERE g % 4 <> 0"
            )
        )
    one, hundred = statements_for("/api/v1/posts?limit=1"), statements_for("/api/v1/posts?limit=100")
    assert one == hundred == 1
    statuses = {p["image_status"] for p in call("GET", "/api/v1/posts?limit=100").body["items"]}
    assert statuses == {"ready", "refused", "processing"}


def test_asset_and_audit_lists_do_not_grow_with_the_page(db: str, s3_endpoint: str) -> None:
    from sqlalchemy import text

    owner = member()
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO assets (id, owner_id, s3_key, filename, content_type, size, status) "
                "SELECT gen_random_uuid(), CAST(:o AS uuid), 'assets/' || :o || '/' || g, 'f' || g || '.png', "
                "'image/png', 10, 'ready' FROM generate_series(1, 105) g"
            ),
            {"o": owner.id},
        )
        conn.execute(
            text(
                "INSERT INTO asset_variants (id, asset_id, kind, s3_key, content_type) "
                "SELECT gen_random_uuid(), id, 'thumb', 'variants/' || id || '/thumb.jpg', 'image/jpeg' FROM assets"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit_events (id, user_id, action) "
                "SELECT gen_random_uuid(), CAST(:o AS uuid), 'asset.download_url_issued' FROM generate_series(1, 105)"
            ),
            {"o": owner.id},
        )

    def count(path: str) -> int:
        with counting() as statements:
            answer = call("GET", path, token=owner.token)
        assert answer.status == 200, answer.body
        return len(statements)

    for path in ("/api/v1/assets", "/api/v1/audit"):
        assert count(f"{path}?limit=1") == count(f"{path}?limit=100") <= 2, path


def test_a_space_s_asset_list_does_not_grow_with_the_page(db: str, s3_endpoint: str) -> None:
    """The membership check, the page, its variants: three statements (core.db.read, no BEGIN/COMMIT)."""
    from sqlalchemy import text

    from tests.integration.assets.space_world import add, new_space

    owner, viewer = member(), member()
    space = new_space(owner)["id"]
    assert add(space, owner, viewer, "viewer").status == 201
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO assets (id, owner_id, space_id, s3_key, filename, content_type, size, status) "
                "SELECT gen_random_uuid(), CAST(:o AS uuid), CAST(:s AS uuid), 'assets/' || :o || '/' || g, "
                "'f' || g || '.png', 'image/png', 10, 'ready' FROM generate_series(1, 105) g"
            ),
            {"o": owner.id, "s": space},
        )
        conn.execute(
            text(
                "INSERT INTO asset_variants (id, asset_id, kind, s3_key, content_type) "
                "SELECT gen_random_uuid(), id, 'thumb', 'variants/' || id || '/thumb.jpg', 'image/jpeg' FROM assets"
            )
        )

    def count(limit: int) -> int:
        with counting() as statements:
            answer = call("GET", f"/api/v1/spaces/{space}/assets?limit={limit}", token=viewer.token)
        assert answer.status == 200 and len(answer.body["items"]) == limit, answer.body
        assert all(item["variants"] for item in answer.body["items"])
        return len(statements)

    assert count(1) == count(100) == 3
