"""The auth feature's resources: the signing-key secret reaches exactly auth and the authorizer."""

from __future__ import annotations

import json

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra


def test_dev_resolves_the_signing_key_into_the_environment(dev: Synth) -> None:
    """dev has no Secrets Manager endpoint: a CloudFormation dynamic reference, no secret in the template."""
    (secret_id,) = dev.resources("api", "AWS::SecretsManager::Secret")
    wired = set()
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        assert "JWT_SECRET_ARN" not in env
        if "JWT_SIGNING_KEYS" in env:
            text = json.dumps(env["JWT_SIGNING_KEYS"])
            assert text.count("{{resolve:secretsmanager:") == 2 and secret_id in text
            assert ":SecretString:kid::}}" in text and ":SecretString:secret::}}" in text
            wired.add(fn["Properties"]["FunctionName"].rsplit("-", 1)[-1])
    assert wired == {"auth", "authorizer"}


def test_signing_key_secret_is_wired_to_auth_and_authorizer_only(prod: Synth) -> None:
    """Staging and prod read the secret at run time through the Secrets Manager endpoint: the key is in no
    function's configuration (the deploy-time copy in the environment is dev's trade alone)."""
    secrets = prod.resources("api", "AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    (secret_id,) = secrets
    wired = set()
    for fn in prod.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        assert "JWT_SIGNING_KEYS" not in env and "resolve:secretsmanager" not in json.dumps(env)
        if env.get("JWT_SECRET_ARN") == {"Ref": secret_id}:
            wired.add(fn["Properties"]["FunctionName"].rsplit("-", 1)[-1])
    assert wired == {"auth", "authorizer"}
    readers: set[str] = set()
    for policy in prod.resources("api", "AWS::IAM::Policy").values():
        text = json.dumps(policy["Properties"]["PolicyDocument"])
        if "secretsmanager:GetSecretValue" in text and secret_id in text:
            readers.update(r["Ref"] for r in policy["Properties"]["Roles"])
    assert len(readers) == 2
