"""Likes (API.md): idempotent both ways, likers newest first, a missing post is 404."""

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
