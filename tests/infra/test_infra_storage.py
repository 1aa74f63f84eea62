"""The storage stack (private assets bucket, access logs, lifecycle, CORS) and the posts
feature's least-privilege access to it: s3 actions for the posts function only, on post-images/."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from infra_synth import PARTS, Synth

from core.keys import POST_IMAGES_PREFIX, post_image_key
from core.storage import DELETED_TAG
from infra_cdk.app import cdk_json_context
from infra_cdk.config import stage_config
from infra_cdk.constructs.assets import ORIGINAL_ACTIONS, VARIANT_ACTIONS
from infra_cdk.constructs.media import MEDIA_S3_ACTIONS
from infra_cdk.constructs.posts import POST_IMAGE_ACTIONS, POST_IMAGE_VARIANT_ACTIONS
from infra_cdk.constructs.rooms import ROOM_IMAGE_ACTIONS, ROOM_IMAGE_VARIANT_ACTIONS, ROOMS_VARIANT_ACTIONS
from infra_cdk.constructs.transcode import TRANSCODE_S3_ACTIONS

pytestmark = pytest.mark.infra

BPA_ALL = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _buckets(synth: Synth) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """(assets id, assets props, access-log id, access-log props): the assets bucket is the one that logs."""
    # Without the CloudFront log bucket (ACLs enabled for CloudFront; test_infra_cdn.py).
    buckets = {k: b for k, b in synth.resources("storage", "AWS::S3::Bucket").items() if not k.startswith("CdnLogs")}
    assert len(buckets) == 2
    ((assets_id, assets),) = [(k, b) for k, b in buckets.items() if "LoggingConfiguration" in b["Properties"]]
    ((logs_id, logs),) = [(k, b) for k, b in buckets.items() if k != assets_id]
    return assets_id, assets, logs_id, logs


def _function_roles(synth: Synth) -> dict[str, str]:
    """Catalog function name -> logical id of its role."""
    prefix = f"social-{synth.stage}-"
    out = {}
    for fn in synth.resources("api", "AWS::Lambda::Function").values():
        name = fn["Properties"].get("FunctionName")
        if isinstance(name, str) and name.startswith(prefix):
            out[name.removeprefix(prefix)] = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    return out


def _role_statements(synth: Synth, part: str, role_id: str) -> list[dict[str, Any]]:
    """Every statement granted to one role: its inline policies and the AWS::IAM::Policy resources on it."""
    role = synth.raw[part]["Resources"][role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for policy in synth.resources(part, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            documents.append(policy["Properties"]["PolicyDocument"])
    return [statement for document in documents for statement in document["Statement"]]


def _s3_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if any(str(a).lower().startswith("s3:") for a in _as_list(s["Action"]))]


def test_assets_bucket_is_private_encrypted_versioned_and_logged(dev: Synth) -> None:
    assets_id, assets, logs_id, logs = _buckets(dev)
    for bucket in (assets, logs):
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == BPA_ALL
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert "BucketName" not in props  # generated names: no collisions between stages or accounts
    assert assets["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert assets["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    # The log bucket keeps its logs for a limited time and logs nowhere itself.
    assert "LoggingConfiguration" not in logs["Properties"]
    (log_rule,) = logs["Properties"]["LifecycleConfiguration"]["Rules"]
    assert log_rule["Status"] == "Enabled" and log_rule["ExpirationInDays"] == 90
    # S3 delivers the access logs (bucket policy, only from the assets bucket of this account).
    (logs_policy,) = [
        p
        for p in dev.resources("storage", "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logs_id}
    ]
    (delivery,) = [
        s for s in logs_policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal", {}).get("Service")
    ]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": [assets_id, "Arn"]}


def test_both_buckets_refuse_requests_without_tls(dev: Synth) -> None:
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in dev.resources("storage", "AWS::S3::BucketPolicy").values()}
    assert set(policies) == set(dev.resources("storage", "AWS::S3::Bucket"))
    for bucket_id, policy in policies.items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (tls_only,) = [s for s in statements if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
        assert tls_only["Effect"] == "Deny"
        assert tls_only["Principal"] == {"AWS": "*"}
        assert tls_only["Action"] == "s3:*"
        arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
        assert tls_only["Resource"] == [arn, {"Fn::Join": ["", [arn, "/*"]]}]
        # Nothing in the bucket policy allows anyone outside the account.
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert statement["Principal"] != {"AWS": "*"} and statement["Principal"] != "*"


def test_lifecycle_expires_deleted_objects_aborts_uploads_and_tiers_down(dev: Synth) -> None:
    _, assets, _, _ = _buckets(dev)
    rules = assets["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)

    # The tag the functions set (core.storage.tag_deleted), bucket-wide.
    (deleted,) = [rule for rule in rules if "TagFilters" in rule]
    assert deleted["TagFilters"] == [DELETED_TAG] == [{"Key": "deleted", "Value": "true"}]
    assert deleted["ExpirationInDays"] == 30
    assert "Prefix" not in deleted

    (abort,) = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
    # Upload URLs live at most an hour; parts nobody completes stop costing storage after a day.
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in abort and "TagFilters" not in abort

    transitions = {
        rule["Prefix"]: [(t["StorageClass"], t["TransitionInDays"]) for t in rule["Transitions"]]
        for rule in rules
        if "Transitions" in rule
    }
    assert transitions == {
        "assets/": [("STANDARD_IA", 30), ("GLACIER_IR", 90)],
        "post-images/": [("STANDARD_IA", 30)],
    }


def test_versioning_costs_a_week_of_noncurrent_versions_at_most(dev: Synth) -> None:
    """Versioned (the pipeline pins what it scanned to a version id): every noncurrent version,
    whatever its prefix or tags (a deleted asset, a rewritten variant), expires 7 days later."""
    _, assets, _, _ = _buckets(dev)
    assert assets["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = assets["Properties"]["LifecycleConfiguration"]["Rules"]
    noncurrent = [rule for rule in rules if "NoncurrentVersionExpiration" in rule]
    assert [rule["NoncurrentVersionExpiration"] for rule in noncurrent] == [{"NoncurrentDays": 7}]
    (rule,) = noncurrent
    assert "Prefix" not in rule and "TagFilters" not in rule and "ObjectSizeGreaterThan" not in rule
    # Delete markers whose versions have all expired go too.
    assert any(r.get("ExpiredObjectDeleteMarker") is True for r in rules)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_bucket_policy_denies_reading_refused_objects(stage: str, request: pytest.FixtureRequest) -> None:
    """A second line behind the pipeline: nobody (the functions, CloudFront, a presigned URL, an
    admin role) reads an object version the pipeline or GuardDuty tagged as refused."""
    from core.storage import REFUSED_OBJECT_TAGS

    synth: Synth = request.getfixturevalue(stage)
    assets_id, _, _, _ = _buckets(synth)
    (policy,) = [
        p
        for p in synth.resources("storage", "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": assets_id}
    ]
    denied: dict[str, str] = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        conditions = statement.get("Condition", {}).get("StringLike", {})
        keys = [k for k in conditions if k.startswith("s3:ExistingObjectTag/")]
        if not keys:
            continue
        assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
        assert sorted(_as_list(statement["Action"])) == ["s3:GetObject", "s3:GetObjectVersion"]
        assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [assets_id, "Arn"]}, "/*"]]}
        assert len(conditions) == 1 and set(statement["Condition"]) == {"StringLike"}  # one tag per statement
        (key,) = keys
        denied[key.removeprefix("s3:ExistingObjectTag/")] = conditions[key]
    assert (
        denied
        == dict(REFUSED_OBJECT_TAGS)
        == {
            "quarantined": "true",  # media: malware found
            "rejected": "*",  # media: a post image whose type or scan failed
            "GuardDutyMalwareScanStatus": "THREATS_FOUND",  # GuardDuty's own verdict, before media acts
        }
    )


def test_the_pipeline_tags_are_the_ones_the_policy_denies() -> None:
    from core.storage import REFUSED_OBJECT_TAGS, REFUSED_TAGS
    from media.pipeline import QUARANTINED_TAG
    from media.scan import GUARDDUTY_TAG

    assert QUARANTINED_TAG.items() <= dict(REFUSED_OBJECT_TAGS).items()
    assert set(REFUSED_TAGS) <= dict(REFUSED_OBJECT_TAGS).keys()
    assert dict(REFUSED_OBJECT_TAGS)[GUARDDUTY_TAG] == "THREATS_FOUND"


def test_the_s3_gateway_endpoint_reaches_this_stages_bucket_only(dev: Synth) -> None:
    """What runs in the VPC (posts, assets, media) talks to the assets bucket only; any other
    bucket, another account's included, is out of reach through the endpoint."""
    assets_id, _, _, _ = _buckets(dev)
    (arn_export,) = [
        output["Export"]["Name"]
        for output in dev.raw["storage"]["Outputs"].values()
        if output["Value"] == {"Fn::GetAtt": [assets_id, "Arn"]} and "Export" in output
    ]
    arn = {"Fn::ImportValue": arn_export}
    gateways = [
        e["Properties"]
        for e in dev.resources("network", "AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Gateway"
    ]
    (endpoint,) = gateways
    assert ".s3" in json.dumps(endpoint["ServiceName"])
    (statement,) = endpoint["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == "s3:*"  # which buckets is the endpoint's question; the roles limit the actions
    assert sorted(_as_list(statement["Resource"]), key=json.dumps) == sorted(
        [arn, {"Fn::Join": ["", [arn, "/*"]]}], key=json.dumps
    )
    assert "Condition" not in statement and "NotResource" not in statement


def test_post_images_prefix_is_the_one_the_posts_function_uses() -> None:
    from posts.schemas import PostIn

    key = post_image_key(uuid.uuid4(), uuid.uuid4().hex, "png")  # as posts.logic.upload_url makes them
    assert key.startswith(POST_IMAGES_PREFIX) and PostIn(content="x", image_key=key).image_key == key


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cors_admits_the_stage_origins_for_uploads(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    _, assets, _, logs = _buckets(synth)
    (rule,) = assets["Properties"]["CorsConfiguration"]["CorsRules"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "POST", "PUT"]
    configured = stage_config(stage, cdk_json_context()["stages"].get(stage))
    assert rule["AllowedOrigins"] == list(configured.cors_allowed_origins)
    assert rule["ExposedHeaders"] == ["ETag"]
    assert "CorsConfiguration" not in logs["Properties"]


def test_prod_retains_the_buckets_dev_empties_and_removes_them(dev: Synth, prod: Synth) -> None:
    for bucket in prod.resources("storage", "AWS::S3::Bucket").values():
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert prod.resources("storage", "Custom::S3AutoDeleteObjects") == {}
    for bucket in dev.resources("storage", "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    assert len(dev.resources("storage", "Custom::S3AutoDeleteObjects")) == 3  # assets, access logs, CDN logs


def test_posts_role_may_put_get_and_tag_post_images_and_read_their_variants_only(dev: Synth) -> None:
    assets_id, _, _, _ = _buckets(dev)
    (arn_export,) = [
        output["Export"]["Name"]
        for output in dev.raw["storage"]["Outputs"].values()
        if output["Value"] == {"Fn::GetAtt": [assets_id, "Arn"]} and "Export" in output
    ]
    roles = _function_roles(dev)
    uploads, variants = _s3_statements(_role_statements(dev, "api", roles["posts"]))
    for statement in (uploads, variants):
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement and "NotAction" not in statement and "NotResource" not in statement
    assert sorted(_as_list(uploads["Action"])) == sorted(POST_IMAGE_ACTIONS)
    assert sorted(POST_IMAGE_ACTIONS) == ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"]
    assert uploads["Resource"] == {"Fn::Join": ["", [{"Fn::ImportValue": arn_export}, "/post-images/*"]]}
    # Presigned GETs of the metadata-free variants the media function makes (issue 15.1).
    assert _as_list(variants["Action"]) == list(POST_IMAGE_VARIANT_ACTIONS) == ["s3:GetObject"]
    assert variants["Resource"] == {"Fn::Join": ["", [{"Fn::ImportValue": arn_export}, "/variants/post-images/*"]]}


def test_rooms_may_upload_room_images_read_their_variants_and_delete_both_the_ai_worker_read_variants_only(
    dev: Synth,
) -> None:
    roles = _function_roles(dev)
    uploads, variants = _s3_statements(_role_statements(dev, "api", roles["rooms"]))
    # Deletes (issue #19: stale unsent images): a key (delete marker) or a recorded version, on the
    # two room-image prefixes only; no ListBucket(Versions), no tagging, no reading a version.
    deletes = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    assert (
        sorted(_as_list(uploads["Action"]))
        == sorted(ROOM_IMAGE_ACTIONS)
        == sorted(["s3:GetObject", "s3:PutObject", *deletes])
    )
    assert json.dumps(uploads["Resource"]).endswith('"/room-images/*"]]}')
    assert sorted(_as_list(variants["Action"])) == sorted(ROOMS_VARIANT_ACTIONS) == sorted(["s3:GetObject", *deletes])
    assert json.dumps(variants["Resource"]).endswith('"/variants/room-images/*"]]}')
    (previews,) = _s3_statements(_role_statements(dev, "api", roles["ai_worker"]))
    assert _as_list(previews["Action"]) == ["s3:GetObject"]
    assert json.dumps(previews["Resource"]).endswith('"/variants/room-images/*"]]}')
    for statement in (uploads, variants, previews):
        assert statement["Effect"] == "Allow" and "Condition" not in statement


def test_only_the_posts_and_assets_functions_know_the_bucket(dev: Synth) -> None:
    assets_id, _, _, _ = _buckets(dev)
    outputs = dev.raw["storage"]["Outputs"].values()
    (name_export,) = [o["Export"]["Name"] for o in outputs if o["Value"] == {"Ref": assets_id} and "Export" in o]
    with_bucket = set()
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "ASSETS_BUCKET" in env:
            assert env["ASSETS_BUCKET"] == {"Fn::ImportValue": name_export}
            with_bucket.add(fn["Properties"]["FunctionName"].removeprefix("social-dev-"))
    assert with_bucket == {"posts", "assets", "media", "rooms", "ai_worker"}


def test_no_other_role_has_s3_actions(dev: Synth) -> None:
    roles = _function_roles(dev)
    assert {"posts", "likes", "comments", "assets"} <= set(roles)
    for name, role_id in roles.items():
        role = dev.raw["api"]["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role, name
        if name not in ("posts", "assets", "media", "transcode", "rooms", "ai_worker"):
            assert _s3_statements(_role_statements(dev, "api", role_id)) == [], name
    # Nor any other role or policy of the app outside the storage stack (whose only other role is
    # CDK's auto-delete provider in dev, granted through the bucket policies).
    for part in PARTS:
        if part == "storage":
            continue
        for role_id in dev.resources(part, "AWS::IAM::Role"):
            if role_id not in (
                roles["posts"],
                roles["assets"],
                roles["media"],
                roles["transcode"],
                roles["rooms"],
                roles["ai_worker"],
            ):
                assert _s3_statements(_role_statements(dev, part, role_id)) == [], (part, role_id)
        text = json.dumps(dev.resources(part, "AWS::IAM::Policy"))
        granted = (
            len(POST_IMAGE_ACTIONS)
            + len(POST_IMAGE_VARIANT_ACTIONS)
            + len(ORIGINAL_ACTIONS)
            + len(VARIANT_ACTIONS)
            + len(MEDIA_S3_ACTIONS)
        )
        granted += len(TRANSCODE_S3_ACTIONS)
        granted += len(ROOM_IMAGE_ACTIONS) + len(ROOMS_VARIANT_ACTIONS)  # rooms
        granted += len(ROOM_IMAGE_VARIANT_ACTIONS)  # the ai_worker
        assert text.lower().count('"s3:') == (granted if part == "api" else 0), part


def test_the_api_stack_refuses_a_posts_function_without_the_bucket() -> None:
    from infra_synth import api_stack_for

    from core.routes import FunctionSpec, Route

    with pytest.raises(ValueError, match="need the assets bucket"):
        api_stack_for(
            (FunctionSpec("posts", "api", "The feed"),), (Route("GET", "/api/v1/posts", "posts", auth=False),)
        )
