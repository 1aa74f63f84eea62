"""CloudFront: OAC on variants/ only, signed URLs through a key group, HTTPS only, access logs;
signing keys that can be set and rotated (a key per resource, named after a hash of its PEM); the
cache keyed on path and versionId; the functions sign where the stage stores the private key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdn_keys import SECOND_TEST_PUBLIC_KEY_PEM, TEST_PUBLIC_KEY_PEM
from infra_synth import Synth

from infra_cdk.config import normalize_public_key_pem, stage_config
from infra_cdk.constructs.cdn import PLACEHOLDER_PUBLIC_KEY, signing_key_id

pytestmark = pytest.mark.infra


def _distribution(synth: Synth) -> dict[str, Any]:
    (distribution,) = synth.resources("storage", "AWS::CloudFront::Distribution").values()
    return dict(distribution["Properties"]["DistributionConfig"])


def _key_ids(resources: dict[str, Any]) -> dict[str, str]:
    """Logical id -> encoded key of each public key of a template's resources."""
    return {
        logical_id: r["Properties"]["PublicKeyConfig"]["EncodedKey"]
        for logical_id, r in resources.items()
        if r.get("Type") == "AWS::CloudFront::PublicKey"
    }


def _key_group_items(resources: dict[str, Any]) -> list[str]:
    (group,) = [r for r in resources.values() if r.get("Type") == "AWS::CloudFront::KeyGroup"]
    return [item["Ref"] for item in group["Properties"]["KeyGroupConfig"]["Items"]]


def _output_refs(value: dict[str, Any]) -> list[str]:
    """The logical ids an output lists (CDK writes a one-element join as a plain Ref)."""
    items = value["Fn::Join"][1] if "Fn::Join" in value else [value]
    return [item["Ref"] for item in items]


def test_signed_urls_https_only_and_logged(dev: Synth) -> None:
    config = _distribution(dev)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    (key_group_ref,) = behavior["TrustedKeyGroups"]
    (key_group_id,) = dev.resources("storage", "AWS::CloudFront::KeyGroup")
    assert key_group_ref == {"Ref": key_group_id}
    logging = config["Logging"]
    assert logging["Bucket"]["Fn::GetAtt"][0].startswith("CdnLogs")
    (logs,) = [b for k, b in dev.resources("storage", "AWS::S3::Bucket").items() if k.startswith("CdnLogs")]
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_dev_keeps_the_placeholder_key_with_a_warning(dev: Synth) -> None:
    keys = _key_ids(dev.raw["storage"]["Resources"])
    ((logical_id, encoded),) = keys.items()
    assert encoded == PLACEHOLDER_PUBLIC_KEY
    assert logical_id.startswith("Cdn" + signing_key_id(PLACEHOLDER_PUBLIC_KEY))
    assert _key_group_items(dev.raw["storage"]["Resources"]) == [logical_id]
    warnings = [data for path, data in dev.metadata("storage", "aws:cdk:warning") if path.endswith("/Cdn")]
    assert any("cdnPublicKeyPem is unset" in str(w) and "docs/operations.md" in str(w) for w in warnings)


def test_prod_uses_the_configured_key(prod: Synth) -> None:
    """The test suite gives prod a test key (tests/infra/cdn_keys.py), as an operator gives cdk.json one."""
    keys = _key_ids(prod.raw["storage"]["Resources"])
    ((logical_id, encoded),) = keys.items()
    assert encoded == normalize_public_key_pem(TEST_PUBLIC_KEY_PEM) != PLACEHOLDER_PUBLIC_KEY
    assert logical_id.startswith("Cdn" + signing_key_id(TEST_PUBLIC_KEY_PEM))
    assert _key_group_items(prod.raw["storage"]["Resources"]) == [logical_id]
    assert not [
        p for p, d in prod.metadata("storage", "aws:cdk:warning") if p.endswith("/Cdn") and "PublicKey" in str(d)
    ]
    outputs = prod.raw["storage"]["Outputs"]
    assert _output_refs(outputs["CdnPublicKeyIds"]["Value"]) == [logical_id]


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_staging_and_prod_refuse_the_placeholder_key(stage: str, tmp_path: Path) -> None:
    from infra_cdk.app import build_app

    with pytest.raises(ValueError, match=rf"stages\.{stage}\.cdnPublicKeyPem: .*placeholder.*docs/operations.md"):
        build_app(stage, outdir=str(tmp_path))
    # Setting the placeholder by hand is no way around it.
    with pytest.raises(ValueError, match="placeholder"):
        build_app(stage, outdir=str(tmp_path), settings={"cdnPublicKeyPem": PLACEHOLDER_PUBLIC_KEY})


def test_committed_cdk_json_sets_no_key() -> None:
    """A real key is the operator's to add; the repository's staging and prod stay refused."""
    from infra_cdk.app import cdk_json_context

    for stage, settings in cdk_json_context()["stages"].items():
        assert "cdnPublicKeyPem" not in settings and "cdnPreviousPublicKeyPem" not in settings, stage


def _storage(settings: dict[str, Any]) -> dict[str, Any]:
    """The prod storage stack's resources (and outputs) with these stage settings."""
    import aws_cdk as cdk

    from infra_cdk.app import cdk_json_context
    from infra_cdk.stacks.storage import StorageStack

    app = cdk.App(context=cdk_json_context())
    stack = StorageStack(app, "Storage", config=stage_config("prod", settings))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return {**template["Resources"], "Outputs": template["Outputs"]}


def test_rotation_adds_a_key_then_drops_the_old_one_without_changing_either() -> None:
    """CloudFront cannot change a key's value in place (UpdatePublicKey changes only the comment):
    each key keeps one logical id through the rotation, a new key is a new resource."""
    old, new = TEST_PUBLIC_KEY_PEM, SECOND_TEST_PUBLIC_KEY_PEM
    before = _storage({"cdnPublicKeyPem": old})
    during = _storage({"cdnPublicKeyPem": new, "cdnPreviousPublicKeyPem": old})
    after = _storage({"cdnPublicKeyPem": new})
    old_id, new_id = signing_key_id(old), signing_key_id(new)
    assert old_id != new_id

    def ids(resources: dict[str, Any]) -> dict[str, str]:
        return {k[len("Cdn") : len("Cdn") + len(old_id)]: v for k, v in _key_ids(resources).items()}

    assert ids(before) == {old_id: normalize_public_key_pem(old)}
    assert ids(during) == {old_id: normalize_public_key_pem(old), new_id: normalize_public_key_pem(new)}
    assert ids(after) == {new_id: normalize_public_key_pem(new)}
    # the same logical ids, so CloudFormation creates the new key and deletes the old, never updates a value
    (old_logical,) = _key_ids(before)
    (new_logical,) = _key_ids(after)
    assert set(_key_ids(during)) == {old_logical, new_logical}
    # the key group trusts the current key first, then the previous one
    assert _key_group_items(during) == [new_logical, old_logical]
    assert _key_group_items(after) == [new_logical]
    # the old key's resource is the same before and during the rotation: nothing of it is updated
    assert during[old_logical] == before[old_logical] and during[new_logical] == after[new_logical]
    assert _output_refs(during["Outputs"]["CdnPublicKeyIds"]["Value"]) == [new_logical, old_logical]


def test_the_key_id_follows_the_key_not_its_formatting() -> None:
    crlf = TEST_PUBLIC_KEY_PEM.strip().replace("\n", "\r\n") + "\r\n\r\n"
    assert signing_key_id(crlf) == signing_key_id(TEST_PUBLIC_KEY_PEM) != signing_key_id(SECOND_TEST_PUBLIC_KEY_PEM)
    assert normalize_public_key_pem(crlf) == TEST_PUBLIC_KEY_PEM


def test_key_settings_are_checked() -> None:
    config = stage_config("prod", {"cdnPublicKeyPem": TEST_PUBLIC_KEY_PEM})
    assert config.cdn_public_key_pem == TEST_PUBLIC_KEY_PEM
    for bad in (
        "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n",
        "ssh-rsa AAAA",
        "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",  # a PEM, but not a public key
    ):
        with pytest.raises(ValueError, match=r"stages\.prod\.cdnPublicKeyPem"):
            stage_config("prod", {"cdnPublicKeyPem": bad})
    with pytest.raises(ValueError, match="needs cdnPublicKeyPem"):
        stage_config("prod", {"cdnPreviousPublicKeyPem": TEST_PUBLIC_KEY_PEM})
    with pytest.raises(ValueError, match="the same key"):
        stage_config("prod", {"cdnPublicKeyPem": TEST_PUBLIC_KEY_PEM, "cdnPreviousPublicKeyPem": TEST_PUBLIC_KEY_PEM})


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
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]  # versionId: pinned variant URLs
    assert json.dumps(statement["Resource"]).endswith('"/variants/*"]]}')
    assert "AWS:SourceArn" in statement["Condition"]["StringEquals"]


SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:social-prod/cdn-private-key-AbCdEf"


@pytest.fixture(scope="module")
def signing_prod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The prod api stack with the private key's secret set, as an operator sets it in cdk.json."""
    from cdn_keys import synth_settings
    from infra_synth import no_network

    from infra_cdk.app import build_app, stack_name

    with no_network():
        app = build_app(
            "prod",
            outdir=str(tmp_path_factory.mktemp("cdk-prod-cdn")),
            settings={**synth_settings("prod"), "cdnPrivateKeySecretArn": SECRET_ARN},
        )
        assembly = app.synth()
    return dict(assembly.get_stack_by_name(stack_name("prod", "Api")).template)


def _environments(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: r["Properties"].get("Environment", {}).get("Variables", {})
        for k, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }


def test_without_the_private_key_secret_the_functions_presign_s3(dev: Synth, prod: Synth) -> None:
    """dev (no Secrets Manager endpoint) and any stage without cdnPrivateKeySecretArn: no CDN_DOMAIN."""
    for synth in (dev, prod):
        for env in _environments(synth.raw["api"]["Resources"]).values():
            assert not {"CDN_DOMAIN", "CDN_PRIVATE_KEY_SECRET_ARN"} & set(env)
    warnings = [str(d) for p, d in prod.metadata("storage", "aws:cdk:warning") if p.endswith("/Cdn")]
    assert any("cdnPrivateKeySecretArn is unset" in w for w in warnings)


def test_with_the_secret_the_variant_functions_sign_for_cloudfront(signing_prod: dict[str, Any]) -> None:
    from infra_cdk.constructs.cdn import public_key_fingerprint

    resources = signing_prod["Resources"]
    signing = {k: env for k, env in _environments(resources).items() if "CDN_DOMAIN" in env}
    assert len(signing) == 3 and all(sum(n in k for n in ("Assets", "Posts", "Rooms")) == 1 for k in signing), sorted(
        signing
    )
    fingerprint = public_key_fingerprint(TEST_PUBLIC_KEY_PEM)
    for env in signing.values():
        assert env["CDN_PRIVATE_KEY_SECRET_ARN"] == SECRET_ARN
        assert "Fn::ImportValue" in json.dumps(env["CDN_DOMAIN"])  # the storage stack's distribution
        assert fingerprint in json.dumps(env["CDN_KEY_PAIR_IDS"])
    # those two roles may read exactly that secret; no other function gets it
    readers = [
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy"
        and any(
            "secretsmanager:GetSecretValue" in json.dumps(st.get("Action")) and st.get("Resource") == SECRET_ARN
            for st in r["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    assert len(readers) == 3


def test_the_secret_needs_a_complete_arn_and_the_endpoint() -> None:
    with pytest.raises(ValueError, match="complete ARN"):
        stage_config("prod", {"cdnPrivateKeySecretArn": "social-prod/cdn"})
    with pytest.raises(ValueError, match="interfaceEndpoints false"):
        stage_config("dev", {"cdnPrivateKeySecretArn": SECRET_ARN})
    assert stage_config("prod", {"cdnPrivateKeySecretArn": SECRET_ARN}).cdn_private_key_secret_arn == SECRET_ARN


def test_the_cache_keys_on_path_and_version_not_on_signatures(dev: Synth) -> None:
    behavior = _distribution(dev)["DefaultCacheBehavior"]
    ((policy_id, policy),) = dev.resources("storage", "AWS::CloudFront::CachePolicy").items()
    assert behavior["CachePolicyId"] == {"Ref": policy_id}
    config = policy["Properties"]["CachePolicyConfig"]
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["versionId"]}
    assert key["CookiesConfig"]["CookieBehavior"] == "none" and key["HeadersConfig"]["HeaderBehavior"] == "none"
    assert config["MaxTTL"] == 365 * 86400 and config["DefaultTTL"] == 86400
    # HLS players fetch segments cross-origin: CORS for the stage's origins, answered at the edge
    ((headers_id, headers),) = dev.resources("storage", "AWS::CloudFront::ResponseHeadersPolicy").items()
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    cors = headers["Properties"]["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert cors["AccessControlAllowOrigins"]["Items"] == ["https://dev.example.com"]
    assert cors["AccessControlAllowCredentials"] is False


def test_cryptography_ships_with_the_signing_functions_only() -> None:
    """assets and posts sign CloudFront URLs; the shared deps layer must not carry cryptography,
    which PyJWT imports whenever it is on the path (~50 ms of the authorizer's cold start)."""
    from infra_cdk.packaging import DEPS_REQUIREMENTS, FUNCTIONS_DIR

    def pins(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if line.startswith("cryptography==")]

    assert not pins(DEPS_REQUIREMENTS)
    for name in ("assets", "posts"):
        assert pins(FUNCTIONS_DIR / name / "requirements.txt"), name
    for path in FUNCTIONS_DIR.glob("*/requirements.txt"):
        if path.parent.name not in ("assets", "posts"):
            assert not pins(path), path
