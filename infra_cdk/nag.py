"""cdk-nag 3.x: the AwsSolutions pack as a CDK validation plugin, and reasoned acknowledgements.

cdk-nag 3 reports through CDK's policy-validation framework (not annotations): findings
go to `cdk.out/validation-report.json`, an unacknowledged error fails `app.synth()`, and
an acknowledgement is `Validations.of(construct).acknowledge(...)` on the resource or an
ancestor. Findings with several parts are acknowledged one by one, e.g.
`AwsSolutions-IAM5[Resource::*]`.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
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
