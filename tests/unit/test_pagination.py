import base64
import re
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from core.errors import BadRequest
from core.pagination import cursor_pattern, decode_cursor, encode_cursor

KEY_TYPES = (datetime, UUID)
FIXED = UUID("0b8f3c52-3a1e-4c8e-9d5e-6f7a8b9c0d1e")  # collected identically by every xdist worker
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def test_round_trip() -> None:
    key = (datetime(2026, 11, 23, 12, 0, 1, 123456, tzinfo=UTC), uuid4())
    assert decode_cursor("posts", encode_cursor("posts", key), KEY_TYPES) == key
    assert decode_cursor("messages", encode_cursor("messages", (42,)), (int,)) == (42,)


def test_the_pattern_matches_exactly_the_issued_shape() -> None:
    pattern = cursor_pattern("posts", KEY_TYPES)
    assert re.fullmatch(pattern, encode_cursor("posts", (WHEN, FIXED)))
    assert not re.fullmatch(pattern, encode_cursor("comments", (WHEN, FIXED)))
    seq = cursor_pattern("messages", (int,))
    for value in (0, 1, -1, 2**63 - 1, -(2**63)):
        assert re.fullmatch(seq, encode_cursor("messages", (value,)))


@pytest.mark.parametrize(("scope", "types"), [("posts", KEY_TYPES), ("messages", (int,))])
def test_every_string_the_pattern_matches_is_a_position(scope: str, types: tuple[type, ...]) -> None:
    """What the OpenAPI document declares is what the list accepts: no schema-valid cursor is a 400
    (generated from the pattern the way the contract fuzzer does)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.from_regex(cursor_pattern(scope, types), fullmatch=True))
    def accepted(cursor: str) -> None:
        key = decode_cursor(scope, cursor, types)
        assert [type(value) for value in key] == list(types)
        assert encode_cursor(scope, key) == cursor or key[0] in _CLAMPED

    accepted()


_CLAMPED = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))


def test_times_past_the_calendar_are_the_ends_of_the_list() -> None:
    tag = encode_cursor("posts", (WHEN, FIXED))[:4]
    latest = base64.urlsafe_b64decode(tag + "=" * 0)  # the tag is 3 bytes, 4 characters
    big = base64.urlsafe_b64encode(latest + (2**63 - 1).to_bytes(8, "big") + FIXED.bytes).decode()
    small = base64.urlsafe_b64encode(latest + (-(2**63)).to_bytes(8, "big", signed=True) + FIXED.bytes).decode()
    assert decode_cursor("posts", big, KEY_TYPES)[0] == datetime.max.replace(tzinfo=UTC)
    assert decode_cursor("posts", small, KEY_TYPES)[0] == datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "0",
        "not-base64!!",
        "A" * 600,
        encode_cursor("posts", (WHEN, FIXED)) + "A",
        encode_cursor("posts", (WHEN, FIXED))[:-1],
        encode_cursor("posts", (WHEN, FIXED)) + "=",
        encode_cursor("comments", (WHEN, FIXED)),
        encode_cursor("posts", (5,)),
        encode_cursor("posts", (WHEN,)),
        "eyJ2IjoxLCJzIjoicG9zdHMiLCJrIjpbXX0",  # a cursor of the previous (JSON) format
    ],
)
def test_tampered_cursors_are_bad_requests(cursor: str) -> None:
    with pytest.raises(BadRequest) as info:
        decode_cursor("posts", cursor, KEY_TYPES)
    assert info.value.status == 400
    assert info.value.details[0]["field"] == "cursor"


def test_other_value_types_are_refused_when_encoding() -> None:
    with pytest.raises(TypeError):
        encode_cursor("rooms", (1.5,))
    with pytest.raises(TypeError):
        encode_cursor("rooms", ("abc",))
    with pytest.raises(TypeError):
        encode_cursor("rooms", (datetime(2026, 1, 1),))  # naive


def test_keyset_orders_filters_and_reads_key_types_from_the_columns() -> None:
    from sqlalchemy import select

    from core.models.assets import asset_table
    from core.pagination import keyset

    key = (asset_table.c.created_at, asset_table.c.id)
    first = keyset(select(asset_table), key, "assets", None, 20)
    assert "ORDER BY assets.created_at DESC, assets.id DESC" in str(first) and first._limit == 21
    cursor = encode_cursor("assets", (datetime.now(UTC), uuid4()))
    after = str(keyset(select(asset_table), key, "assets", cursor, 20, newest_first=False))
    assert "(assets.created_at, assets.id) > (" in after and "ORDER BY assets.created_at, assets.id" in after
    with pytest.raises(BadRequest):  # a key of other types than the columns'
        keyset(select(asset_table), key, "assets", encode_cursor("assets", (1,)), 20)
