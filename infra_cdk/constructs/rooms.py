"""The rooms feature's cloud resources: the AI providers for every function that calls them
(`FunctionSpec.calls_ai`: rooms, and the AI worker): Bedrock limited to the configured model, and
(when the stage uses an OpenAI-compatible endpoint) a secret for its API key that only they read.

Configured from CDK context (cdk.json `context` or `-c key=value`), because StageConfig holds
only what every stage must decide:
- `roomsAiProvider`: bedrock (default) | openai | echo, the provider of rooms that name none;
- `roomsBedrockModel`: a foundation-model id or a cross-region inference-profile id (us./eu./...);
- `roomsOpenaiBaseUrl` (https, up to /v1) and `roomsOpenaiModel`: an OpenAI-compatible endpoint.

Network (docs/decisions.md "Where each function runs"): outside the VPC a function reaches Bedrock's
regional endpoint and any OpenAI-compatible endpoint in every stage. In the VPC there is no route to
either (Bedrock has no dual-stack endpoint for the IPv6 egress, there is no NAT, and no stage has a
`bedrock-runtime` interface endpoint any more): a function there that calls a provider fails synth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from core.keys import ROOM_IMAGE_VARIANTS_PREFIX, ROOM_IMAGES_PREFIX
from core.routes import FunctionSpec
from infra_cdk.config import StageConfig
from infra_cdk.constructs.bucket_access import grant_prefixes
from infra_cdk.nag import acknowledge, finding_label

ROOMS = "rooms"
AI_WORKER = "ai_worker"
# Room images (issue 19.5). rooms: PutObject signs the presigned POST uploads, GetObject answers the
# HEAD of an upload not yet seen by the pipeline (never a read: no ListBucket, no tags). Both read
# the variants only: rooms presigns GETs of them, the ai_worker reads a preview's bytes for a
# model. Neither may read an original; the media function's grants cover the rest. rooms also
# deletes a user's stale unsent images (issue #19): DeleteObject puts a delete marker on a key,
# DeleteObjectVersion removes the versions the pipeline recorded, on the original and its variants.
ROOM_IMAGE_DELETE_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")
ROOM_IMAGE_ACTIONS = ("s3:PutObject", "s3:GetObject", *ROOM_IMAGE_DELETE_ACTIONS)
ROOM_IMAGE_VARIANT_ACTIONS = ("s3:GetObject",)
ROOMS_VARIANT_ACTIONS = (*ROOM_IMAGE_VARIANT_ACTIONS, *ROOM_IMAGE_DELETE_ACTIONS)
PROVIDERS = ("bedrock", "openai", "echo")
DEFAULT_BEDROCK_MODEL = "amazon.nova-lite-v1:0"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# Converse is authorized as bedrock:InvokeModel, ConverseStream as bedrock:InvokeModelWithResponseStream:
# a request-path function answers within its request, an event processor (the AI worker) streams.
BEDROCK_ACTIONS = {"api": ("bedrock:InvokeModel",), "events": ("bedrock:InvokeModelWithResponseStream",)}
# Cross-region inference profiles are the model id with a geography prefix.
_PROFILE = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.(?P<model>.+)$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")


@dataclass(frozen=True)
class RoomsAi:
    provider: str = "bedrock"
    bedrock_model: str = DEFAULT_BEDROCK_MODEL
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_OPENAI_MODEL

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> RoomsAi:
        """Read and check the rooms context keys; a mistake fails the synth, not the first reply."""
        ai = cls(
            provider=str(get("roomsAiProvider") or "bedrock"),
            bedrock_model=str(get("roomsBedrockModel") or DEFAULT_BEDROCK_MODEL),
            openai_base_url=str(get("roomsOpenaiBaseUrl")) if get("roomsOpenaiBaseUrl") else None,
            openai_model=str(get("roomsOpenaiModel") or DEFAULT_OPENAI_MODEL),
        )
        if ai.provider not in PROVIDERS:
            raise ValueError(f"roomsAiProvider must be one of {', '.join(PROVIDERS)}, not {ai.provider!r}")
        for key, model in (("roomsBedrockModel", ai.bedrock_model), ("roomsOpenaiModel", ai.openai_model)):
            if not _MODEL.match(model):
                raise ValueError(f"{key}: not a model id: {model!r}")
        if ai.openai_base_url is not None and not re.match(r"^https://[^\s/]+(/\S*)?$", ai.openai_base_url):
            raise ValueError("roomsOpenaiBaseUrl must be an https:// URL (the API key travels with every request)")
        if ai.provider == "openai" and ai.openai_base_url is None:
            raise ValueError("roomsAiProvider=openai needs roomsOpenaiBaseUrl")
        return ai

    @property
    def models(self) -> tuple[str, ...]:
        """The models a room may choose: the ones this deployment can reach (IAM, secret)."""
        return (self.bedrock_model, self.openai_model) if self.openai_base_url else (self.bedrock_model,)


def bedrock_model_arns(stack: Stack, model_id: str) -> list[str]:
    """What bedrock:InvokeModel needs for one model id: its foundation model here, or for an
    inference profile the profile plus its foundation model in every region it routes to."""
    profile = _PROFILE.match(model_id)
    if profile is None:
        return [
            stack.format_arn(
                service="bedrock",
                account="",
                resource="foundation-model",
                resource_name=model_id,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
        ]
    return [
        stack.format_arn(
            service="bedrock",
            resource="inference-profile",
            resource_name=model_id,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        ),
        stack.format_arn(
            service="bedrock",
            region="*",
            account="",
            resource="foundation-model",
            resource_name=profile["model"],
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        ),
    ]


class RoomsResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.Function],
        specs: Sequence[FunctionSpec],
    ) -> None:
        super().__init__(scope, construct_id)
        callers = [spec for spec in specs if spec.calls_ai and spec.name in functions]
        self.ai = RoomsAi.from_context(self.node.try_get_context)
        self.openai_api_key: secretsmanager.Secret | None = None
        rooms = functions.get(ROOMS)
        if rooms is not None:  # rooms checks a room's AI choice against what this deployment can reach
            rooms.add_environment("ROOMS_AI_MODELS", ",".join(self.ai.models))
            if self.ai.openai_base_url is not None:
                rooms.add_environment("OPENAI_BASE_URL", self.ai.openai_base_url)
        for spec in callers:
            fn = functions[spec.name]
            role = fn.role
            assert role is not None  # the factory always gives one
            fn.add_environment("ROOMS_AI_PROVIDER", provider_for(self.ai.provider, spec))
            fn.add_environment("ROOMS_BEDROCK_MODEL", self.ai.bedrock_model)
            fn.add_environment("ROOMS_AI_MODELS", ",".join(self.ai.models))
            self._grant_bedrock(config, role, spec)
            if self.ai.openai_base_url is not None:
                self._openai_key(config, fn)

    def _grant_bedrock(self, config: StageConfig, role: iam.IRole, spec: FunctionSpec) -> None:
        if spec.kind not in BEDROCK_ACTIONS:
            raise ValueError(f"{spec.name}: only api and events functions call the AI providers")
        name = spec.name
        resources = bedrock_model_arns(Stack.of(self), self.ai.bedrock_model)
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="AiBedrock", actions=list(BEDROCK_ACTIONS[spec.kind]), resources=resources)
        )
        for arn in resources:
            if ":*:" in arn:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{finding_label(self, arn)}]",
                    f"{config.prefix}-{name} invokes the cross-region inference profile {self.ai.bedrock_model}, "
                    "which routes to this one foundation model in the regions of its geography; Bedrock "
                    "authorizes the routed call against the model in each region.",
                )

    def _openai_key(self, config: StageConfig, fn: lambda_.Function) -> None:
        if self.openai_api_key is None:
            secret = secretsmanager.Secret(
                self,
                "OpenAiApiKey",
                description=(
                    f"{config.prefix}: API key for the OpenAI-compatible endpoint of the AI replies. Put the "
                    'real key as {"api_key": "..."} (the generated value is a placeholder).'
                ),
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps({}),
                    generate_string_key="api_key",
                    password_length=40,
                    exclude_punctuation=True,
                ),
            )
            acknowledge(
                secret,
                "AwsSolutions-SMG4",
                "A third-party API key: it is issued and rotated at the AI provider and pasted in with "
                "put-secret-value; no rotation Lambda can mint a new one.",
            )
            self.openai_api_key = secret
        secret = self.openai_api_key
        secret.grant_read(fn)
        fn.add_environment("OPENAI_API_KEY_SECRET_ARN", secret.secret_arn)
        fn.add_environment("OPENAI_BASE_URL", self.ai.openai_base_url or "")
        fn.add_environment("ROOMS_OPENAI_MODEL", self.ai.openai_model)


class RoomImagesResources(Construct):
    """The assets bucket for room images: uploads and variant URLs for rooms, the previews' bytes for
    the ai_worker; each on its key prefix only (core.keys). The notifications to the media queue
    come with ROOM_IMAGES_PREFIX being one of core.keys.UPLOAD_PREFIXES (the processing stack)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.Function],
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        rooms = functions.get(ROOMS)
        if rooms is not None:
            grant_prefixes(
                self,
                rooms,
                bucket,
                {ROOM_IMAGES_PREFIX: ROOM_IMAGE_ACTIONS, ROOM_IMAGE_VARIANTS_PREFIX: ROOMS_VARIANT_ACTIONS},
                f"{config.prefix}-rooms presigns uploads to keys it generates per image "
                f"({ROOM_IMAGES_PREFIX}<room>/<user>/<image>.<ext>) and GETs of their variants "
                f"({ROOM_IMAGE_VARIANTS_PREFIX}<room>/<user>/<image>/<kind>.jpg), and deletes both for "
                "images never sent; those prefixes are the narrowest fixed scope.",
            )
        worker = functions.get(AI_WORKER)
        if worker is not None:
            grant_prefixes(
                self,
                worker,
                bucket,
                {ROOM_IMAGE_VARIANTS_PREFIX: ROOM_IMAGE_VARIANT_ACTIONS},
                f"{config.prefix}-ai_worker reads the preview variant of a room image it shows a model "
                f"({ROOM_IMAGE_VARIANTS_PREFIX}<room>/<user>/<image>/preview.jpg); the prefix is the narrowest "
                "fixed scope.",
            )


def provider_for(provider: str, spec: FunctionSpec) -> str:
    """The provider a function calls: the configured one. A function in the VPC reaches no provider
    (no Bedrock interface endpoint, no NAT, no dual-stack Bedrock endpoint), so one there that calls
    a provider fails synth, rather than time out on every reply in the cloud."""
    if spec.uses_db:
        raise ValueError(
            f"{spec.name} calls an AI provider from the VPC, which reaches none: AI calls belong to a "
            "function outside the VPC (uses_db=False, as the ai_worker), with its database steps in ai_steps"
        )
    return provider
