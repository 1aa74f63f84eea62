"""CloudFront: OAC on variants/ only, signed URLs through a key group, HTTPS only, access logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from infra_cdk.config import stage_config
from infra_cdk.constructs.cdn import PLACEHOLDER_PUBLIC_KEY

pytestmark = pytest.mark.infra


def _distribution(synth: Synth) -> dict[str, Any]:
    (distribution,) = synth.resources("storage", "AWS::CloudFront::Distribution").values()
    return dict(distribution["Properties"]["DistributionConfig"])


def test_signed_urls_https_only_and_logged(dev: Synth) -> None:
    config = _distribution(dev)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    (key_group_ref,) = behavior["TrustedKeyGroups"]
    (key_group_id,) = dev.resources("storage", "AWS::CloudFront::KeyGroup")
    assert key_group_ref == {"Ref": key_group_id}
    (public_key,) = dev.resources("storage", "AWS::CloudFront::PublicKey").values()
    assert public_key["Properties"]["PublicKeyConfig"]["EncodedKey"] == PLACEHOLDER_PUBLIC_KEY
    logging = config["Logging"]
    assert logging["Bucket"]["Fn::GetAtt"][0].startswith("CdnLogs")
    (logs,) = [b for k, b in dev.resources("storage", "AWS::S3::Bucket").items() if k.startswith("CdnLogs")]
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_origin_access_control_reads_variants_only(dev: Synth) -> None:
    config = _distribution(dev)
    (origin,) = config["Origins"]
    assert "OriginAccessControlId" in origin
    (oac,) = dev.resources("storage", "AWS::CloudFront::OriginAccessControl").values()
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    cloudfront_statements = [
        statement
        for policy in dev.resources("storage", "AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
    ]
    (statement,) = cloudfront_statements
    assert statement["Action"] == "s3:GetObject"
    assert json.dumps(statement["Resource"]).endswith('"/variants/*"]]}')
    assert "AWS:SourceArn" in statement["Condition"]["StringEquals"]


def test_operator_public_key_from_context(tmp_path: Any) -> None:
    config = stage_config("prod", {"cdnPublicKeyPem": "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n"})
    assert config.cdn_public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_functions_get_no_cdn_domain_while_the_app_cannot_sign(dev: Synth) -> None:
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        assert "CDN_DOMAIN" not in fn["Properties"].get("Environment", {}).get("Variables", {})
