import base64
import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from core.errors import BadRequest
from core.pagination import decode_cursor, encode_cursor

KEY_TYPES = (datetime, UUID)
FIXED = "0b8f3c52-3a1e-4c8e-9d5e-6f7a8b9c0d1e"  # collected identically by every xdist worker


def test_round_trip() -> None:
    key = (datetime(2026, 11, 23, 12, 0, 1, 123456, tzinfo=UTC), uuid4())
    assert decode_cursor("posts", encode_cursor("posts", key), KEY_TYPES) == key


def _forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-base64!!",
        "A" * 600,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _forge([1, 2]),
        _forge({"v": 2, "s": "posts", "k": ["2026-01-01T00:00:00+00:00", FIXED]}),
        _forge({"v": 1, "s": "comments", "k": ["2026-01-01T00:00:00+00:00", FIXED]}),
        _forge({"v": 1, "s": "posts", "k": ["2026-01-01T00:00:00", FIXED]}),
        _forge({"v": 1, "s": "posts", "k": ["2026-01-01T00:00:00+00:00", "x' OR 1=1 --"]}),
        _forge({"v": 1, "s": "posts", "k": ["2026-01-01T00:00:00+00:00"]}),
        _forge({"v": 1, "s": "posts", "k": [5, FIXED]}),
    ],
)
def test_tampered_cursors_are_bad_requests(cursor: str) -> None:
    with pytest.raises(BadRequest) as info:
        decode_cursor("posts", cursor, KEY_TYPES)
    assert info.value.status == 400
    assert info.value.details[0]["field"] == "cursor"


def test_other_value_types() -> None:
    assert decode_cursor("rooms", encode_cursor("rooms", (42, "abc")), (int, str)) == (42, "abc")
    with pytest.raises(TypeError):
        encode_cursor("rooms", (1.5,))


def test_keyset_orders_filters_and_reads_key_types_from_the_columns() -> None:
    from sqlalchemy import select

    from core.models.assets import Asset
    from core.pagination import keyset

    first = keyset(select(Asset), (Asset.created_at, Asset.id), "assets", None, 20)
    assert "ORDER BY assets.created_at DESC, assets.id DESC" in str(first) and first._limit == 21
    cursor = encode_cursor("assets", (datetime.now(UTC), uuid4()))
    after = str(keyset(select(Asset), (Asset.created_at, Asset.id), "assets", cursor, 20, newest_first=False))
    assert "(assets.created_at, assets.id) > (" in after and "ORDER BY assets.created_at, assets.id" in after
    with pytest.raises(BadRequest):  # a key of other types than the columns'
        keyset(select(Asset), (Asset.created_at, Asset.id), "assets", encode_cursor("assets", (1, "x")), 20)
