"""The prod stage keeps its data: deletion protection, snapshots, retained logs."""

from __future__ import annotations

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra


def test_prod_cluster_is_protected_and_snapshotted(prod: Synth) -> None:
    (cluster,) = prod.resources("data", "AWS::RDS::DBCluster").values()
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert cluster["UpdateReplacePolicy"] == "Snapshot"
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 1, "MaxCapacity": 8}
    # A reader in a second AZ to fail over to.
    assert len(prod.resources("data", "AWS::RDS::DBInstance")) == 2


def test_prod_stage_and_logs(prod: Synth) -> None:
    (stage,) = prod.resources("api", "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == "prod"
    for group in prod.resources("api", "AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "Retain"
    # Several allowed origins: gateway responses cannot run the allowlist, so they name the first
    # origin and never echo the request's (which would grant any site).
    for response in prod.resources("api", "AWS::ApiGateway::GatewayResponse").values():
        headers = response["Properties"]["ResponseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://example.com'"
        assert "method.request.header.Origin" not in headers.values()


def test_several_origins_never_echo_the_request_origin() -> None:
    """Gateway responses name the first origin, and the synth warns about the others."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match, Template

    from infra_cdk.config import stage_config
    from infra_cdk.constructs.rest_api import RestApi

    config = stage_config("dev", {"corsAllowedOrigins": ["https://a.example.com", "https://b.example.com"]})
    stack = cdk.Stack(cdk.App(), "S")
    rest = RestApi(stack, "Rest", config=config)
    rest.api.root.add_method("GET")  # a REST API needs one method to synthesize
    responses = Template.from_stack(stack).find_resources("AWS::ApiGateway::GatewayResponse")
    assert responses
    for response in responses.values():
        headers = response["Properties"]["ResponseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://a.example.com'"
        assert "method.request.header.Origin" not in headers.values()
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("2 origins"))
