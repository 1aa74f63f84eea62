"""The auth feature's cloud resources: the JWT signing-key secret, readable only by auth and the authorizer."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra_cdk.config import StageConfig
from infra_cdk.nag import acknowledge

USERS_OF_THE_KEYS = ("auth", "authorizer")


class AuthResources(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, functions: Mapping[str, lambda_.Function]
    ) -> None:
        super().__init__(scope, construct_id)
        self.signing_keys = secretsmanager.Secret(
            self,
            "JwtSigningKeys",
            description=f"{config.prefix}: HS256 signing key for access tokens ({{kid, secret}})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"kid": "k1"}),
                generate_string_key="secret",
                password_length=64,
                exclude_punctuation=True,
            ),
        )
        acknowledge(
            self.signing_keys,
            "AwsSolutions-SMG4",
            "Signing keys rotate by adding a kid to {keys: {...}} and removing the old one after the access-token "
            "lifetime (docs/decisions.md); an automatic single-key rotation would log every user out.",
        )
        for name in USERS_OF_THE_KEYS:
            fn = functions.get(name)
            if fn is None:
                continue
            if config.interface_endpoints:
                self.signing_keys.grant_read(fn)
                fn.add_environment("JWT_SECRET_ARN", self.signing_keys.secret_arn)
            else:
                # No Secrets Manager endpoint in this stage (dev): CloudFormation resolves the key into the
                # environment at deploy time (a dynamic reference; the template holds no secret).
                kid = self.signing_keys.secret_value_from_json("kid").unsafe_unwrap()
                secret = self.signing_keys.secret_value_from_json("secret").unsafe_unwrap()
                fn.add_environment("JWT_SIGNING_KEYS", f"{kid}:{secret}")
