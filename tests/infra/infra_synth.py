"""In-process synthesis of the CDK app for the infra tests (imported by conftest.py)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

# Before aws_cdk is imported: jsii warns on every start under Node 20 otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

if TYPE_CHECKING:
    import aws_cdk as cdk
    from aws_cdk import cx_api
    from aws_cdk.assertions import Template

PARTS = ("network", "data", "storage", "api", "monitoring")


@contextmanager
def no_network() -> Iterator[None]:
    """Every attempt of this process to resolve a name or open an internet socket raises (unix
    sockets and pipes, which jsii and xdist use, still work): the synths of the tests run in it,
    so a stage that needs the network to synthesize fails them."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network access during synth (tests/infra/infra_synth.py no_network)")

    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        refuse()

    with (
        mock.patch.object(socket.socket, "connect", connect),
        mock.patch.object(socket.socket, "connect_ex", refuse),
        mock.patch.object(socket, "getaddrinfo", refuse),
        mock.patch.object(socket, "create_connection", refuse),
    ):
        yield


@dataclass
class Synth:
    stage: str
    app: cdk.App
    assembly: cx_api.CloudAssembly
    outdir: Path
    templates: dict[str, Template]  # by part: network, data, storage, api
    raw: dict[str, dict[str, Any]]  # the same templates as plain JSON

    def stack_name(self, part: str) -> str:
        from infra_cdk.app import stack_name

        return stack_name(self.stage, part.capitalize())

    def resources(self, part: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.raw[part]["Resources"].items() if r["Type"] == type_}

    def metadata(self, part: str, type_: str) -> list[tuple[str, Any]]:
        """(construct path, data) of the stack's metadata entries of one type."""
        manifest = json.loads((self.outdir / "manifest.json").read_text(encoding="utf-8"))
        artifact = manifest["artifacts"][self.stack_name(part)]
        metadata = dict(artifact.get("metadata", {}))
        if "additionalMetadataFile" in artifact:
            metadata |= json.loads((self.outdir / artifact["additionalMetadataFile"]).read_text(encoding="utf-8"))
        return [(path, e.get("data")) for path, entries in metadata.items() for e in entries if e["type"] == type_]

    def validation_report(self) -> dict[str, Any]:
        return dict(json.loads((self.outdir / "validation-report.json").read_text(encoding="utf-8")))

    def nag_errors(self) -> list[tuple[str, str]]:
        """(rule, construct path) of every cdk-nag error or fatal finding in the validation report."""
        return [
            (v["ruleName"], c["constructPath"])
            for plugin in self.validation_report()["pluginReports"]
            for v in plugin["violations"]
            if v["severity"] in ("error", "fatal")
            for c in v.get("violatingConstructs", [])
        ]


def synthesize(stage: str, outdir: Path) -> Synth:
    from aws_cdk.assertions import Template
    from cdn_keys import synth_settings

    from infra_cdk.app import build_app, stack_name

    with no_network():  # every stage synthesizes offline (the RDS CA bundle comes from node_modules)
        # staging and prod get a test CloudFront key (they refuse the placeholder: tests/infra/cdn_keys.py)
        app = build_app(stage, outdir=str(outdir), settings=synth_settings(stage))
        assembly = app.synth()  # runs cdk-nag: an unacknowledged error raises here
    raw = {part: assembly.get_stack_by_name(stack_name(stage, part.capitalize())).template for part in PARTS}
    templates = {part: Template.from_json(template) for part, template in raw.items()}
    return Synth(stage=stage, app=app, assembly=assembly, outdir=outdir, templates=templates, raw=raw)


def api_stack_for(functions: tuple[Any, ...], routes: tuple[Any, ...], **extra: Any) -> Any:
    """An api stack of the dev stage built from a made-up catalog (for the stack's own refusals)."""
    import aws_cdk as cdk

    from infra_cdk.config import stage_config
    from infra_cdk.stacks.api import ApiStack
    from infra_cdk.stacks.data import DataStack
    from infra_cdk.stacks.network import NetworkStack

    config = stage_config("dev")
    app = cdk.App()
    network = NetworkStack(app, "N", config=config)
    data = DataStack(
        app, "D", config=config, vpc=network.vpc, secrets_manager_endpoint=network.secrets_manager_endpoint
    )
    return ApiStack(
        app,
        "A",
        config=config,
        vpc=network.vpc,
        db_clients=data.db_clients,
        proxy=data.proxy,
        cluster=data.cluster,
        functions=functions,
        routes=routes,
        **extra,
    )


def invoked_function(resources: dict[str, dict[str, Any]], function_name: Any) -> str | None:
    """The logical id of the function an event source mapping's (or a permission's) FunctionName names:
    through one of its aliases (`<function>:live`), or directly ({"Ref": id})."""
    text = json.dumps(function_name)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Alias" and f'"{logical_id}"' in text:
            return str(resource["Properties"]["FunctionName"]["Ref"])
    if isinstance(function_name, dict) and set(function_name) == {"Ref"}:
        return str(function_name["Ref"])
    return None
