"""Issue 14, item 1: no byte is served that was not scanned.

The attack: upload a clean file, wait for `ready`, then PUT other bytes of the same size to the
same presigned URL (valid for 15 minutes). The bucket is versioned (as in the cloud), so that
PUT makes a new version; the pipeline accepted one version and pins everything to it:
downloads, shares and variants are presigned with `VersionId`, a new version of an accepted
object is deleted when its event arrives, and the upload URL signs `If-None-Match: *` so S3
itself refuses the second PUT (moto does not check signatures: the attacker here simply leaves
the signed header out, which S3 would refuse as a signature mismatch).
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from PIL import Image
from sqlalchemy import text

from core import db as core_db
from core import storage
from media import pipeline
from media.scan import EICAR
from tests.client import call
from tests.integration.media_world import run
from tests.integration.social import Member, member

BUCKET = "assets-test"


def photo(size: tuple[int, int] = (800, 600)) -> bytes:
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    out = BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def evil_twin(clean: bytes) -> bytes:
    """The EICAR test file padded to the clean file's size (Content-Length is signed)."""
    assert len(clean) > len(EICAR)
    return EICAR + b" " * (len(clean) - len(EICAR))


def start(who: Member, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> dict[str, Any]:
    answer = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": filename, "content_type": content_type, "size": len(data)},
        token=who.token,
    )
    assert answer.status == 201, answer.body
    return dict(answer.body)


def put(started: dict[str, Any], data: bytes, *, drop: tuple[str, ...] = ()) -> requests.Response:
    upload = started["upload"]
    headers = {k: v for k, v in upload["headers"].items() if k not in drop}
    return requests.put(upload["url"], data=data, headers=headers, timeout=10)


def key_of(asset_id: str) -> str:
    with core_db.get_engine().connect() as conn:
        return str(conn.execute(text("SELECT s3_key FROM assets WHERE id = :i"), {"i": asset_id}).scalar_one())


def asset_row(asset_id: str) -> dict[str, Any]:
    with core_db.get_engine().connect() as conn:
        found = conn.execute(text("SELECT status, version_id FROM assets WHERE id = :i"), {"i": asset_id}).one()
    return dict(found._mapping)


def versions(key: str) -> list[str]:
    """Version ids of the key, newest first."""
    listed = storage.s3_client().list_object_versions(Bucket=BUCKET, Prefix=key)
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]


def s3_body(key: str, version_id: str | None = None) -> str:
    """An S3 notification as AWS sends it for a versioned bucket (moto leaves versionId out)."""
    obj: dict[str, Any] = {"key": quote(key, safe=""), "size": 1}
    if version_id is not None:
        obj["versionId"] = version_id
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def served(url: str) -> bytes:
    got = requests.get(url, timeout=10)
    assert got.status_code == 200, got.text
    return bytes(got.content)


def ready_photo(who: Member) -> tuple[str, str, bytes, dict[str, Any]]:
    """(asset id, key, bytes, upload answer) of a photo the pipeline accepted."""
    clean = photo()
    started = start(who, clean)
    assert put(started, clean).status_code == 200
    asset_id = started["asset"]["id"]
    key = key_of(asset_id)
    assert run(s3_body(key, versions(key)[0])) == []
    assert asset_row(asset_id)["status"] == "ready"
    return asset_id, key, clean, started


# ------------------------------------------------------------------ the reported attack


def test_a_second_put_to_the_upload_url_is_never_served(env: None) -> None:
    ada = member("ada")
    asset_id, key, clean, started = ready_photo(ada)
    share = call("POST", f"/api/v1/assets/{asset_id}/shares", {"original": True}, token=ada.token)
    assert share.status == 201, share.body

    # S3 refuses the same signed PUT once the object exists (If-None-Match: * is signed) ...
    assert put(started, evil_twin(clean)).status_code == 412
    # ... and where it does not (moto skips signature checks), the new version is never served.
    assert put(started, evil_twin(clean), drop=("If-None-Match",)).status_code == 200
    accepted, overwrite = versions(key)[1], versions(key)[0]
    assert asset_row(asset_id)["version_id"] == accepted

    # Before the new version's event is handled: every URL we hand out is pinned to the scanned one.
    download = call("GET", f"/api/v1/assets/{asset_id}/download", token=ada.token).body["url"]
    assert parse_qs(urlsplit(download).query)["versionId"] == [accepted]
    assert served(download) == clean
    opened = call("GET", f"/api/v1/shares/{share.body['token']}", ip="198.51.100.77")
    assert opened.status == 200 and served(opened.body["download"]["url"]) == clean
    for variant in call("GET", f"/api/v1/assets/{asset_id}", token=ada.token).body["variants"]:
        assert "versionId=" in variant["url"] and EICAR not in served(variant["url"])

    # The event of the new version: it is deleted, the accepted version is current again.
    assert run(s3_body(key, overwrite)) == []
    assert versions(key) == [accepted]
    assert asset_row(asset_id) == {"status": "ready", "version_id": accepted}
    assert storage.s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == clean
    assert served(call("GET", f"/api/v1/assets/{asset_id}/download", token=ada.token).body["url"]) == clean


def test_an_overwrite_announced_without_a_version_id_is_discarded_too(env: None) -> None:
    """moto's notifications carry no versionId: the function then looks at the current version."""
    ada = member("ada")
    asset_id, key, clean, started = ready_photo(ada)
    accepted = asset_row(asset_id)["version_id"]
    assert put(started, evil_twin(clean), drop=("If-None-Match",)).status_code == 200
    assert run(s3_body(key)) == []
    assert versions(key) == [accepted] and asset_row(asset_id)["status"] == "ready"


# ------------------------------------------------------------------ which version is processed


def test_variants_are_made_from_the_scanned_version(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An overwrite landing between the scan and the decode must not reach the parser."""
    from media import scan

    ada = member("ada")
    clean = photo()
    started = start(ada, clean)
    assert put(started, clean).status_code == 200
    asset_id = started["asset"]["id"]
    key = key_of(asset_id)
    scanned = versions(key)[0]
    real = scan.EicarOnlyScanner.scan

    def scan_then_overwrite(self: Any, target: Any) -> Any:
        verdict = real(self, target)
        storage.s3_client().put_object(Bucket=BUCKET, Key=key, Body=evil_twin(clean))
        return verdict

    monkeypatch.setattr(scan.EicarOnlyScanner, "scan", scan_then_overwrite)
    assert run(s3_body(key, scanned)) == []
    assert asset_row(asset_id) == {"status": "ready", "version_id": scanned}
    with core_db.get_engine().connect() as conn:
        sources = set(
            conn.execute(
                text("SELECT source_version_id FROM asset_variants WHERE asset_id = :i"), {"i": asset_id}
            ).scalars()
        )
    assert sources == {scanned}


@pytest.mark.parametrize("first", ["clean", "infected"])
def test_the_first_version_handled_wins_and_every_other_is_deleted(env: None, first: str) -> None:
    ada = member("ada")
    clean = photo()
    started = start(ada, clean)
    assert put(started, clean).status_code == 200
    asset_id = started["asset"]["id"]
    key = key_of(asset_id)
    assert put(started, evil_twin(clean), drop=("If-None-Match",)).status_code == 200
    infected, clean_version = versions(key)
    order = [clean_version, infected] if first == "clean" else [infected, clean_version]
    assert run(*(s3_body(key, v) for v in order)) == []
    assert versions(key) == [order[0]]
    expected = "ready" if first == "clean" else "quarantined"
    assert asset_row(asset_id) == {"status": expected, "version_id": order[0]}
    if expected == "quarantined":
        assert call("GET", f"/api/v1/assets/{asset_id}/download", token=ada.token).status == 409


def test_a_duplicate_event_of_the_accepted_version_changes_nothing(env: None) -> None:
    ada = member("ada")
    asset_id, key, _, _ = ready_photo(ada)
    accepted = asset_row(asset_id)["version_id"]
    assert run(s3_body(key, accepted), s3_body(key)) == []
    assert versions(key) == [accepted] and asset_row(asset_id) == {"status": "ready", "version_id": accepted}


def test_an_event_for_a_version_that_is_gone_changes_nothing(env: None) -> None:
    ada = member("ada")
    clean = photo()
    started = start(ada, clean)
    assert put(started, clean).status_code == 200
    asset_id = started["asset"]["id"]
    key = key_of(asset_id)
    ghost = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    assert run(s3_body(key, ghost)) == []
    assert asset_row(asset_id)["status"] == "pending"
    assert run(s3_body(key, versions(key)[0])) == []
    assert asset_row(asset_id)["status"] == "ready"


def test_the_quarantine_tag_lands_on_the_scanned_version(env: None) -> None:
    ada = member("ada")
    started = start(ada, EICAR, "x.jpg")
    assert put(started, EICAR).status_code == 200
    asset_id = started["asset"]["id"]
    key = key_of(asset_id)
    version = versions(key)[0]
    assert run(s3_body(key, version)) == []
    tags = storage.s3_client().get_object_tagging(Bucket=BUCKET, Key=key, VersionId=version)["TagSet"]
    assert {"Key": "quarantined", "Value": "true"} in tags


def test_the_pipeline_outcome_names_the_discarded_version(env: None) -> None:
    from media.records import ObjectCreated

    ada = member("ada")
    asset_id, key, clean, started = ready_photo(ada)
    assert put(started, evil_twin(clean), drop=("If-None-Match",)).status_code == 200
    overwrite = versions(key)[0]
    outcome = pipeline.object_created(ObjectCreated(BUCKET, key, version_id=overwrite))
    assert outcome.action == "discarded" and overwrite in outcome.detail
    assert asset_row(asset_id)["version_id"] in outcome.detail
