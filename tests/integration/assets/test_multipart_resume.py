"""Issue 15, item 4: a multipart upload whose part URLs expired is resumed, not lost.

`GET /assets/{id}/multipart` lists the parts S3 already holds (ListParts, paged by cursor) and
`POST /assets/{id}/multipart/parts` signs fresh part URLs exactly as the first ones (each part's
Content-Length, the same TTL). moto checks neither signatures nor expiry, so both are checked here
the way S3 checks a SigV4 query (X-Amz-Date + X-Amz-Expires, and the signature itself)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from core import storage
from core.config import reset_settings
from core.storage import StorageSettings
from tests.client import call
from tests.integration.security.test_uploads_signing import s3_accepts
from tests.integration.social import Member, member

MIB = 1024 * 1024
TTL = 900


@pytest.fixture
def small_parts(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(5 * MIB))
    monkeypatch.setenv("MULTIPART_PART_BYTES", str(5 * MIB))
    monkeypatch.setenv("UPLOAD_URL_TTL_S", str(TTL))
    reset_settings()
    yield None
    monkeypatch.undo()
    reset_settings()


def expired(url: str, now: datetime) -> bool:
    """What S3 answers a presigned URL after X-Amz-Date + X-Amz-Expires: 403 Request has expired."""
    query = dict(parse_qsl(urlsplit(url).query))
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return now > signed_at + timedelta(seconds=int(query["X-Amz-Expires"]))


def start(who: Member, size: int) -> dict[str, Any]:
    answer = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": "holiday.mp4", "content_type": "video/mp4", "size": size},
        token=who.token,
    )
    assert answer.status == 201, answer.body
    return dict(answer.body)


def put_part(url: str, chunk: bytes) -> str:
    response = requests.put(url, data=chunk, timeout=30)  # a plain HTTP client, as a browser would
    assert response.status_code == 200, response.text
    return str(response.headers["ETag"])


def held_parts(who: Member, asset_id: str, limit: int) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Every part the upload holds, page by page; the first page; how many pages."""
    items: list[dict[str, Any]] = []
    cursor, pages, first = None, 0, None
    while True:
        query = [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        answer = call("GET", f"/api/v1/assets/{asset_id}/multipart", token=who.token, query=query)
        assert answer.status == 200, answer.body
        first, pages = first or answer.body, pages + 1
        items += answer.body["items"]
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return items, first, pages
        assert pages < 20


def test_an_interrupted_upload_resumes_with_fresh_urls_and_completes_byte_for_byte(small_parts: None) -> None:
    ada = member("ada")
    data = hashlib.sha256(b"seed").digest() * ((4 * 5 * MIB + 4321) // 32 + 1)
    data = data[: 4 * 5 * MIB + 4321]  # four full parts and a short fifth
    lengths = [5 * MIB] * 4 + [4321]
    # The upload starts two hours ago: its part URLs (900 s) are long expired when the laptop reopens.
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr("botocore.auth.get_current_datetime", lambda: two_hours_ago)
        started = start(ada, len(data))
    asset_id, first = started["asset"]["id"], started["multipart"]
    assert first["part_size"] == 5 * MIB and [p["size"] for p in first["parts"]] == lengths

    def chunk(number: int) -> bytes:
        return data[(number - 1) * 5 * MIB : number * 5 * MIB]

    # Parts 1 and 3 go up before the network drops (they were uploaded while the URLs were fresh).
    sent = {n: put_part(first["parts"][n - 1]["url"], chunk(n)) for n in (1, 3)}
    now = datetime.now(UTC)
    assert all(expired(p["url"], now) for p in first["parts"])

    # Back online: what does storage already hold? Paged one part at a time, by cursor.
    items, page, pages = held_parts(ada, asset_id, limit=1)
    assert pages == 2
    assert page["upload_id"] == first["upload_id"] and page["size"] == len(data)
    assert page["part_size"] == 5 * MIB and page["parts_total"] == 5
    assert [(p["part_number"], p["size"], p["etag"]) for p in items] == [(n, 5 * MIB, sent[n]) for n in (1, 3)]
    assert all(p["last_modified"].endswith("Z") for p in items)
    whole, _, pages = held_parts(ada, asset_id, limit=100)
    assert whole == items and pages == 1

    # Fresh URLs for the missing parts, signed as the first ones were: own length, same TTL.
    missing = sorted(set(range(1, 6)) - {p["part_number"] for p in items})
    answer = call("POST", f"/api/v1/assets/{asset_id}/multipart/parts", {"part_numbers": [5, 2, 4, 2]}, token=ada.token)
    assert answer.status == 200, answer.body
    fresh = answer.body
    assert fresh["upload_id"] == first["upload_id"] and fresh["part_size"] == 5 * MIB
    assert fresh["expires_in"] == TTL == first["expires_in"]
    assert [(p["part_number"], p["size"]) for p in fresh["parts"]] == [(n, lengths[n - 1]) for n in missing]
    now = datetime.now(UTC)
    for part in fresh["parts"]:
        url, length = part["url"], part["size"]
        query = dict(parse_qsl(urlsplit(url).query))
        assert int(query["X-Amz-Expires"]) == TTL
        assert not expired(url, now) and expired(url, now + timedelta(seconds=TTL + 1))
        assert query["partNumber"] == str(part["part_number"]) and query["uploadId"] == first["upload_id"]
        assert "content-length" in query["X-Amz-SignedHeaders"].split(";")
        assert s3_accepts(url, "PUT", {"Content-Length": str(length)})
        assert not s3_accepts(url, "PUT", {"Content-Length": str(length + 1)})
        sent[part["part_number"]] = put_part(url, chunk(part["part_number"]))

    # Complete with the ETags storage reports (a resumed client may have lost its own).
    items, page, _ = held_parts(ada, asset_id, limit=100)
    assert [p["part_number"] for p in items] == [1, 2, 3, 4, 5]
    assert {p["part_number"]: p["etag"] for p in items} == sent
    etags = [{"part_number": p["part_number"], "etag": p["etag"]} for p in items]
    done = call("POST", f"/api/v1/assets/{asset_id}/multipart/complete", {"parts": etags}, token=ada.token)
    assert done.status == 200 and done.body["size"] == len(data)

    key = f"assets/{ada.id}/{asset_id}"
    stored = storage.s3_client().get_object(Bucket=StorageSettings.current().assets_bucket, Key=key)["Body"].read()
    assert len(stored) == len(data) and hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()

    # Finished: nothing is in progress any more.
    assert call("GET", f"/api/v1/assets/{asset_id}/multipart", token=ada.token).status == 409
    again = call("POST", f"/api/v1/assets/{asset_id}/multipart/parts", {"part_numbers": [1]}, token=ada.token)
    assert again.status == 409


def test_nothing_uploaded_yet_lists_no_parts(small_parts: None) -> None:
    ada = member("ada")
    asset_id = start(ada, 11 * MIB)["asset"]["id"]
    answer = call("GET", f"/api/v1/assets/{asset_id}/multipart", token=ada.token)
    assert answer.status == 200, answer.body
    assert answer.body["items"] == [] and answer.body["next_cursor"] is None
    assert (answer.body["part_size"], answer.body["parts_total"]) == (5 * MIB, 3)


def test_only_the_declared_parts_are_signed(small_parts: None) -> None:
    ada = member("ada")
    asset_id = start(ada, 11 * MIB)["asset"]["id"]  # 3 parts
    path = f"/api/v1/assets/{asset_id}/multipart/parts"
    beyond = call("POST", path, {"part_numbers": [3, 4, 10_000]}, token=ada.token)
    assert beyond.status == 409 and beyond.error_code == "conflict"
    assert [d["message"] for d in beyond.body["error"]["details"]] == [
        "part 4 is beyond the upload's 3",
        "part 10000 is beyond the upload's 3",
    ]
    bad: list[dict[str, Any]] = [
        {"part_numbers": []},
        {"part_numbers": [0]},
        {"part_numbers": [10_001]},
        {"part_numbers": [-1]},
        {"part_numbers": list(range(1, 102))},
        {"part_numbers": [1], "upload_id": "x"},
        {},
    ]
    for body in bad:
        answer = call("POST", path, body, token=ada.token)
        assert answer.status == 422, (body, answer.body)
    last = call("POST", path, {"part_numbers": [3]}, token=ada.token)
    assert last.status == 200 and [p["size"] for p in last.body["parts"]] == [MIB]


def test_a_lowered_size_limit_signs_no_more_parts(small_parts: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = member("ada")
    asset_id = start(ada, 11 * MIB)["asset"]["id"]
    monkeypatch.setenv("ASSET_MAX_BYTES", str(10 * MIB))
    reset_settings()
    answer = call("POST", f"/api/v1/assets/{asset_id}/multipart/parts", {"part_numbers": [1]}, token=ada.token)
    assert answer.status == 413 and answer.error_code == "payload_too_large"


def test_a_changed_part_size_setting_keeps_the_uploads_own_parts(
    small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MULTIPART_PART_BYTES changed since the upload started: the parts storage holds tell its part size."""
    ada = member("ada")
    started = start(ada, 16 * MIB)  # 5, 5, 5 and 1 MiB
    asset_id = started["asset"]["id"]
    put_part(started["multipart"]["parts"][0]["url"], b"\x01" * 5 * MIB)
    monkeypatch.setenv("MULTIPART_PART_BYTES", str(6 * MIB))
    reset_settings()
    listed = call("GET", f"/api/v1/assets/{asset_id}/multipart", token=ada.token).body
    assert (listed["part_size"], listed["parts_total"]) == (5 * MIB, 4)
    fresh = call("POST", f"/api/v1/assets/{asset_id}/multipart/parts", {"part_numbers": [4]}, token=ada.token)
    assert fresh.status == 200 and [p["size"] for p in fresh.body["parts"]] == [MIB]


def test_no_upload_in_progress_is_409_and_others_assets_are_404(small_parts: None) -> None:
    ada, eve = member("ada"), member("eve")
    single = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": "a.png", "content_type": "image/png", "size": 10},
        token=ada.token,
    ).body["asset"]["id"]
    multi = start(ada, 11 * MIB)["asset"]["id"]
    for asset_id, who, status in (
        (single, ada, 409),
        (multi, eve, 404),
        ("7" * 8 + "-7777-4777-8777-" + "7" * 12, ada, 404),
    ):
        assert call("GET", f"/api/v1/assets/{asset_id}/multipart", token=who.token).status == status
        body = {"part_numbers": [1]}
        assert call("POST", f"/api/v1/assets/{asset_id}/multipart/parts", body, token=who.token).status == status
    assert call("GET", f"/api/v1/assets/{multi}/multipart").status == 401
    assert call("POST", f"/api/v1/assets/{multi}/multipart/parts", {"part_numbers": [1]}).status == 401


def test_an_upload_storage_aborted_is_409(small_parts: None) -> None:
    """The lifecycle rule aborts unfinished uploads after a day; the row still names it."""
    ada = member("ada")
    started = start(ada, 11 * MIB)
    asset_id = started["asset"]["id"]
    key = f"assets/{ada.id}/{asset_id}"
    storage.abort_multipart(key, started["multipart"]["upload_id"])
    for method, path, body in (
        ("GET", f"/api/v1/assets/{asset_id}/multipart", None),
        ("POST", f"/api/v1/assets/{asset_id}/multipart/parts", {"part_numbers": [1]}),
    ):
        answer = call(method, path, body, token=ada.token)
        assert answer.status == 409 and "start again" in answer.body["error"]["message"], answer.body
    assert call("DELETE", f"/api/v1/assets/{asset_id}/multipart", token=ada.token).status == 204


def test_part_cursors_are_checked(small_parts: None) -> None:
    from core.pagination import encode_cursor

    ada = member("ada")
    asset_id = start(ada, 11 * MIB)["asset"]["id"]
    path = f"/api/v1/assets/{asset_id}/multipart"
    for bad in ("x", encode_cursor("assets", (5,)), encode_cursor("multipart-parts", (5,)) + "A"):
        assert call("GET", path, token=ada.token, query=[("cursor", bad)]).status == 400
    # Any position of the right shape is one: before the first part, or past the last.
    for position in (-5, 0, 2, 10_000, 2**62):
        cursor = encode_cursor("multipart-parts", (position,))
        answer = call("GET", path, token=ada.token, query=[("cursor", cursor)])
        assert answer.status == 200 and answer.body["items"] == [], (position, answer.body)


def test_listing_follows_list_parts_pages(s3_endpoint: str) -> None:
    """ListParts answers at most 1000 parts a call: the listing follows NextPartNumberMarker."""
    from botocore.stub import Stubber

    client = storage.s3_client()
    when = datetime(2026, 12, 4, tzinfo=UTC)

    def page(numbers: range, truncated: bool) -> dict[str, Any]:
        return {
            "Parts": [{"PartNumber": n, "Size": 5, "ETag": f'"{n:032x}"', "LastModified": when} for n in numbers],
            "IsTruncated": truncated,
            "NextPartNumberMarker": numbers[-1],
        }

    expected = {"Bucket": "b", "Key": "k", "UploadId": "u"}
    with Stubber(client) as stub, pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "_bucket", lambda: "b")
        stub.add_response(
            "list_parts", page(range(1, 1001), True), expected | {"PartNumberMarker": 0, "MaxParts": 1000}
        )
        stub.add_response(
            "list_parts", page(range(1001, 1201), False), expected | {"PartNumberMarker": 1000, "MaxParts": 501}
        )
        listing = storage.list_parts("k", "u", limit=1500)
        assert [p.number for p in listing.parts] == list(range(1, 1201)) and not listing.more
        stub.add_response("list_parts", page(range(11, 14), True), expected | {"PartNumberMarker": 10, "MaxParts": 3})
        listing = storage.list_parts("k", "u", after=10, limit=2)
        assert [p.number for p in listing.parts] == [11, 12] and listing.more
        stub.assert_no_pending_responses()
