"""The auth feature's resources: the signing-key secret reaches exactly auth and the authorizer."""

from __future__ import annotations

import json

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra


def test_signing_key_secret_is_wired_to_auth_and_authorizer_only(dev: Synth) -> None:
    secrets = dev.resources("api", "AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    (secret_id,) = secrets
    wired = set()
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if env.get("JWT_SECRET_ARN") == {"Ref": secret_id}:
            wired.add(fn["Properties"]["FunctionName"].rsplit("-", 1)[-1])
    assert wired == {"auth", "authorizer"}
    readers: set[str] = set()
    for policy in dev.resources("api", "AWS::IAM::Policy").values():
        text = json.dumps(policy["Properties"]["PolicyDocument"])
        if "secretsmanager:GetSecretValue" in text and secret_id in text:
            readers.update(r["Ref"] for r in policy["Properties"]["Roles"])
    assert len(readers) == 2
