"""The assets feature's grants: only the assets function, only its prefixes and actions."""

from __future__ import annotations

import json

import pytest
from infra_synth import Synth

from infra_cdk.constructs.assets import ORIGINAL_ACTIONS, VARIANT_ACTIONS

pytestmark = pytest.mark.infra


def _s3_statements(dev: Synth) -> dict[str, list[dict]]:  # role logical id -> its S3 statements
    found: dict[str, list[dict]] = {}
    for policy in dev.resources("api", "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("s3:") for a in actions):
                for role in policy["Properties"]["Roles"]:
                    found.setdefault(role["Ref"], []).append(statement)
    return found


def test_assets_function_may_touch_only_its_prefixes(dev: Synth) -> None:
    statements = [s for stmts in _s3_statements(dev).values() for s in stmts if s.get("Sid") in ("Assets", "Variants")]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"Assets", "Variants"}
    assert sorted(by_sid["Assets"]["Action"]) == sorted(ORIGINAL_ACTIONS)
    assert sorted(by_sid["Variants"]["Action"]) == sorted(VARIANT_ACTIONS)
    assert "/assets/*" in json.dumps(by_sid["Assets"]["Resource"])
    assert "/variants/*" in json.dumps(by_sid["Variants"]["Resource"])
    assert not any(a in ("s3:*", "s3:ListBucket") for s in statements for a in s["Action"])


def test_urls_pinned_to_a_version_and_discarding_versions_are_granted(dev: Synth) -> None:
    """A presigned GET with VersionId is authorized as s3:GetObjectVersion; the media function reads,
    tags and deletes single versions of uploads (never of variants)."""
    assert "s3:GetObjectVersion" in ORIGINAL_ACTIONS and "s3:GetObjectVersion" in VARIANT_ACTIONS
    media = [
        s for stmts in _s3_statements(dev).values() for s in stmts if s.get("Sid") in ("MediaUploads", "MediaVariants")
    ]
    by_sid = {s["Sid"]: s for s in media}
    uploads = set(by_sid["MediaUploads"]["Action"])
    versioned = {"s3:GetObjectVersion", "s3:GetObjectVersionTagging", "s3:PutObjectVersionTagging"}
    assert versioned | {"s3:DeleteObjectVersion"} <= uploads
    assert "s3:DeleteObject" not in uploads  # a version, never the key (that would leave a delete marker)
    variants = by_sid["MediaVariants"]["Action"]
    assert not any("Delete" in a for a in (variants if isinstance(variants, list) else [variants]))
