"""Likes and comments (API.md): idempotence, counts, ownership, lists under a missing parent."""

from __future__ import annotations

import uuid

from tests.client import call
from tests.integration.social import member, post


def test_like_is_idempotent_both_ways(db: str) -> None:
    ada, bob = member("ada"), member("bob")
    path = f"/api/v1/posts/{post(ada)['id']}/likes"
    first = call("POST", path, token=bob.token)
    assert (first.status, first.body) == (201, {"liked": True, "likes_count": 1})
    again = call("POST", path, token=bob.token)
    assert (again.status, again.body) == (200, {"liked": True, "likes_count": 1})
    assert call("DELETE", path, token=bob.token).status == 204
    assert call("DELETE", path, token=bob.token).status == 204
    assert call("GET", path.removesuffix("/likes")).body["likes_count"] == 0


def test_likers_newest_first_with_pages(db: str) -> None:
    ada = member("ada")
    path = f"/api/v1/posts/{post(ada)['id']}/likes"
    fans = [member() for _ in range(5)]
    for fan in fans:
        assert call("POST", path, token=fan.token).status == 201
    first = call("GET", f"{path}?limit=3")
    rest = call("GET", f"{path}?limit=3&cursor={first.body['next_cursor']}")
    names = [i["user"]["username"] for i in first.body["items"] + rest.body["items"]]
    assert names == [f.username for f in reversed(fans)] and rest.body["next_cursor"] is None
    assert first.body["items"][0]["created_at"].endswith("Z")


def test_likes_of_a_missing_post_are_404(db: str) -> None:
    token = member().token
    path = f"/api/v1/posts/{uuid.uuid4()}/likes"
    assert call("GET", path).status == 404
    assert call("POST", path, token=token).status == 404
    assert call("DELETE", path, token=token).status == 404
    assert call("POST", path).status == 401


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
