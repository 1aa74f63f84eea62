"""The rooms feature's resources: Bedrock InvokeModel on the configured model only, for the rooms
function only; with an OpenAI-compatible endpoint configured, a key secret only rooms can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import PARTS, Synth

from core.routes import function
from infra_cdk.constructs.rooms import DEFAULT_BEDROCK_MODEL, RoomsAi, provider_for

pytestmark = pytest.mark.infra

PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
OPENAI = {
    "roomsAiProvider": "openai",
    "roomsOpenaiBaseUrl": "https://llm.example.com/v1",
    "roomsOpenaiModel": "team-model",
    "roomsBedrockModel": PROFILE,
}


def _synth_with(context: dict[str, Any], outdir: Path) -> Synth:
    """The dev app as build_app makes it, with extra context."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra_cdk import nag
    from infra_cdk.app import build_stacks, cdk_json_context, stack_name
    from infra_cdk.config import stage_config

    base = cdk_json_context()
    app = cdk.App(context={**base, **context, "stage": "dev"}, outdir=str(outdir))
    build_stacks(app, stage_config("dev", base["stages"]["dev"]))
    nag.add_checks(app)
    assembly = app.synth()  # an unacknowledged cdk-nag finding raises here
    raw = {part: assembly.get_stack_by_name(stack_name("dev", part.capitalize())).template for part in PARTS}
    templates = {part: Template.from_json(t) for part, t in raw.items()}
    return Synth(stage="dev", app=app, assembly=assembly, outdir=outdir, templates=templates, raw=raw)


@pytest.fixture(scope="module")
def with_openai(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth_with(OPENAI, tmp_path_factory.mktemp("cdk-rooms-openai"))


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    """Catalog name -> function properties."""
    out = {}
    for fn in synth.resources("api", "AWS::Lambda::Function").values():
        name = fn["Properties"].get("FunctionName")
        if isinstance(name, str) and name.startswith("social-dev-"):
            out[name.removeprefix("social-dev-")] = fn["Properties"]
    return out


def _statements_by_role(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    """Catalog name -> every IAM statement on its role."""
    role_of = {name: props["Role"]["Fn::GetAtt"][0] for name, props in _functions(synth).items()}
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in role_of}
    for policy in synth.resources("api", "AWS::IAM::Policy").values():
        for ref in policy["Properties"].get("Roles", []):
            for name, role_id in role_of.items():
                if ref == {"Ref": role_id}:
                    out[name] += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _flat(value: Any) -> str:
    """An ARN built with Fn::Join, as text with the pseudo parameters named."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_flat(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    return str(value)


def _bedrock(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [s for s in statements if any(a.startswith("bedrock:") for a in _actions(s))]
        for name, statements in _statements_by_role(synth).items()
    }


def test_only_the_ai_worker_may_invoke_bedrock_and_only_the_default_model(dev: Synth) -> None:
    granted = {name: found for name, found in _bedrock(dev).items() if found}
    assert list(granted) == ["ai_worker"]  # rooms calls no provider: its replies are the worker's
    (statement,) = granted["ai_worker"]
    # ConverseStream is authorized as InvokeModelWithResponseStream; nothing else is granted.
    assert statement["Effect"] == "Allow" and _actions(statement) == ["bedrock:InvokeModelWithResponseStream"]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert [_flat(r) for r in resources] == [
        f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{DEFAULT_BEDROCK_MODEL}"
    ]


def test_rooms_is_told_the_models_and_the_ai_worker_its_provider(dev: Synth) -> None:
    rooms = _functions(dev)["rooms"]["Environment"]["Variables"]
    worker = _functions(dev)["ai_worker"]["Environment"]["Variables"]
    # No stage has a Bedrock endpoint in the VPC, but the worker runs outside it: Bedrock.
    assert worker["ROOMS_AI_PROVIDER"] == "bedrock"
    assert worker["ROOMS_BEDROCK_MODEL"] == rooms["ROOMS_AI_MODELS"] == DEFAULT_BEDROCK_MODEL
    assert "ROOMS_AI_PROVIDER" not in rooms  # rooms calls no provider
    for env in (rooms, worker):
        assert "OPENAI_API_KEY_SECRET_ARN" not in env and "OPENAI_BASE_URL" not in env


def test_without_an_openai_endpoint_there_is_no_key_secret(dev: Synth) -> None:
    for secret in dev.resources("api", "AWS::SecretsManager::Secret").values():
        assert "OpenAI" not in json.dumps(secret["Properties"])


def test_an_openai_endpoint_gets_a_secret_only_the_ai_worker_reads(with_openai: Synth) -> None:
    secrets = {
        lid: s
        for lid, s in with_openai.resources("api", "AWS::SecretsManager::Secret").items()
        if "OpenAI" in s["Properties"]["Description"]
    }
    assert len(secrets) == 1
    ((secret_id, secret),) = secrets.items()
    assert json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]) == {}
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "api_key"
    readers = [
        name
        for name, statements in _statements_by_role(with_openai).items()
        for s in statements
        if "secretsmanager:GetSecretValue" in _actions(s) and secret_id in json.dumps(s["Resource"])
    ]
    assert readers == ["ai_worker"]
    env = _functions(with_openai)["ai_worker"]["Environment"]["Variables"]
    assert env["OPENAI_API_KEY_SECRET_ARN"] == {"Ref": secret_id}
    assert (env["OPENAI_BASE_URL"], env["ROOMS_OPENAI_MODEL"], env["ROOMS_AI_PROVIDER"]) == (
        "https://llm.example.com/v1",
        "team-model",
        "openai",
    )
    assert env["ROOMS_AI_MODELS"] == f"{PROFILE},team-model"
    for name, props in _functions(with_openai).items():
        if name != "ai_worker":
            assert "OPENAI_API_KEY_SECRET_ARN" not in props["Environment"]["Variables"], name


def test_an_inference_profile_is_granted_with_its_routed_foundation_model(with_openai: Synth) -> None:
    (statement,) = _bedrock(with_openai)["ai_worker"]
    assert sorted(_flat(r) for r in statement["Resource"]) == sorted(
        [
            f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}:inference-profile/{PROFILE}",
            "arn:${AWS::Partition}:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
        ]
    )
    errors = with_openai.nag_errors()
    assert errors == []


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"roomsAiProvider": "oracle"}, "roomsAiProvider"),
        ({"roomsAiProvider": "openai"}, "needs roomsOpenaiBaseUrl"),
        ({"roomsOpenaiBaseUrl": "http://llm.example.com/v1"}, "https://"),
        ({"roomsBedrockModel": "not a model"}, "roomsBedrockModel"),
    ],
)
def test_rooms_context_mistakes_fail_the_synth(context: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RoomsAi.from_context(context.get)


def test_rooms_context_defaults() -> None:
    empty: dict[str, str] = {}
    ai = RoomsAi.from_context(empty.get)
    assert (ai.provider, ai.bedrock_model, ai.openai_base_url, ai.models) == (
        "bedrock",
        DEFAULT_BEDROCK_MODEL,
        None,
        (DEFAULT_BEDROCK_MODEL,),
    )


def test_a_function_in_the_vpc_cannot_be_given_an_ai_provider() -> None:
    """The VPC reaches no provider (no Bedrock interface endpoint, no NAT): synth refuses, rather
    than a deployment whose every reply times out."""
    assert provider_for("bedrock", function("ai_worker")) == "bedrock"
    with pytest.raises(ValueError, match="rooms calls an AI provider from the VPC"):
        provider_for("bedrock", function("rooms"))
