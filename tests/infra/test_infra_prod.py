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
    # Several allowed origins: gateway responses echo the request's Origin (and vary on it).
    (response, *_) = prod.resources("api", "AWS::ApiGateway::GatewayResponse").values()
    headers = response["Properties"]["ResponseParameters"]
    assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin"
    assert headers["gatewayresponse.header.Vary"] == "'Origin'"
