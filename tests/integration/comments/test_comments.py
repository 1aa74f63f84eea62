"""Comments (API.md): oldest first with an exact count, validation, who may delete one."""

from __future__ import annotations

import uuid

from tests.client import call
from tests.integration.social import member, post


def test_comments_oldest_first_with_exact_count(db: str) -> None:
    ada, bob = member("ada"), member("bob")
    created = post(ada)
    path = f"/api/v1/posts/{created['id']}/comments"
    texts = [f"comment {i}" for i in range(5)]
    for i, content in enumerate(texts):
        answer = call("POST", path, {"content": content}, token=(ada if i % 2 else bob).token)
        assert answer.status == 201 and answer.body["post_id"] == created["id"]
    first = call("GET", f"{path}?limit=2")
    pages = [first]
    while pages[-1].body["next_cursor"]:
        pages.append(call("GET", f"{path}?limit=2&cursor={pages[-1].body['next_cursor']}"))
    assert [c["content"] for p in pages for c in p.body["items"]] == texts
    assert call("GET", f"/api/v1/posts/{created['id']}").body["comments_count"] == 5


def test_comment_validation_and_missing_post(db: str) -> None:
    token = member().token
    assert call("POST", f"/api/v1/posts/{uuid.uuid4()}/comments", {"content": "x"}, token=token).status == 404
    assert call("GET", f"/api/v1/posts/{uuid.uuid4()}/comments").status == 404
    created = post(member())
    for bad in ({"content": ""}, {"content": "x" * 281}, {}, {"content": "x", "extra": 1}):
        assert call("POST", f"/api/v1/posts/{created['id']}/comments", bad, token=token).status == 422


def test_comment_deleted_by_its_author_or_the_post_author_only(db: str) -> None:
    ada, bob, eve = member("ada"), member("bob"), member("eve")
    created = post(ada)
    path = f"/api/v1/posts/{created['id']}/comments"
    by_bob = [call("POST", path, {"content": f"c{i}"}, token=bob.token).body["id"] for i in range(2)]
    assert call("DELETE", f"/api/v1/comments/{by_bob[0]}", token=eve.token).status == 403
    assert call("DELETE", f"/api/v1/comments/{by_bob[0]}", token=bob.token).status == 204
    assert call("DELETE", f"/api/v1/comments/{by_bob[1]}", token=ada.token).status == 204
    assert call("DELETE", f"/api/v1/comments/{by_bob[1]}", token=ada.token).status == 404
    assert call("GET", f"/api/v1/posts/{created['id']}").body["comments_count"] == 0
