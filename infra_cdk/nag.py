"""cdk-nag 3.x: the AwsSolutions pack as a CDK validation plugin, and reasoned acknowledgements.

cdk-nag 3 reports through CDK's policy-validation framework (not annotations): findings
go to `cdk.out/validation-report.json`, an unacknowledged error fails `app.synth()`, and
an acknowledgement is `Validations.of(construct).acknowledge(...)` on the resource or an
ancestor. Findings with several parts are acknowledged one by one, e.g.
`AwsSolutions-IAM5[Resource::*]`.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

MIN_REASON = 40


def add_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding on scope (and everything under it) with a specific reason."""
    if len(reason.strip()) < MIN_REASON:
        raise ValueError(f"acknowledgement of {rule_id} at {scope.node.path} needs a specific reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def finding_label(scope: IConstruct, value: str) -> str:
    """How cdk-nag writes `value` (a string with tokens) in a granular finding id, e.g. the
    `...` of `AwsSolutions-IAM5[Resource::...]`: resolved in scope's stack, then flattened
    like cdk-nag's flattenCfnReference (Ref -> <Id>, GetAtt -> <Id.Attr>, ImportValue -> its name)."""

    def visit(node: Any) -> str:
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, dict):
            if "Fn::Join" in node:
                delimiter, items = node["Fn::Join"]
                return str(delimiter).join(visit(item) for item in items)
            if "Fn::Sub" in node:
                return visit(node["Fn::Sub"])
            if "Fn::GetAtt" in node:
                resource, attribute = node["Fn::GetAtt"]
                return f"<{visit(resource)}.{visit(attribute)}>"
            if "Fn::ImportValue" in node:
                return visit(node["Fn::ImportValue"])
            if "Ref" in node:
                return f"<{visit(node['Ref'])}>"
        return json.dumps(node, separators=(",", ":"))

    return visit(Stack.of(scope).resolve(value))
