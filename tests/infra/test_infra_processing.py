"""Media processing in the cloud: queue, DLQ, notification, event source, sizing, grants, alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from infra_cdk.stacks.processing import MAX_RECEIVE_COUNT, MEDIA_MEMORY_MB, MEDIA_TIMEOUT

pytestmark = pytest.mark.infra


def _template(synth: Synth, part: str) -> dict[str, Any]:
    return dict(synth.assembly.get_stack_by_name(synth.stack_name(part)).template)


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def _one(template: dict[str, Any], type_: str, contains: str = "") -> dict[str, Any]:
    found = [r for k, r in _resources(template, type_).items() if contains in k]
    assert len(found) == 1, (type_, contains, list(_resources(template, type_)))
    return found[0]["Properties"]


def _media_function(dev: Synth) -> tuple[str, dict[str, Any]]:
    functions = _resources(_template(dev, "api"), "AWS::Lambda::Function")
    (found,) = [
        (k, r["Properties"]) for k, r in functions.items() if r["Properties"].get("FunctionName") == "social-dev-media"
    ]
    return found


def _queues(dev: Synth) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    queues = _resources(_template(dev, "processing"), "AWS::SQS::Queue")
    (main,) = [(k, q["Properties"]) for k, q in queues.items() if "RedrivePolicy" in q["Properties"]]
    (dlq,) = [(k, q["Properties"]) for k, q in queues.items() if "RedrivePolicy" not in q["Properties"]]
    return main[0], main[1], dlq[0], dlq[1]


def test_the_event_source_reports_batch_item_failures(dev: Synth) -> None:
    mapping = _one(_template(dev, "api"), "AWS::Lambda::EventSourceMapping", "Media")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "Processing" in json.dumps(mapping["EventSourceArn"]) and "MediaQueue" in json.dumps(
        mapping["EventSourceArn"]
    )
    assert mapping["BatchSize"] <= 10 and mapping["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_function_is_sized_for_12_megapixel_photos(dev: Synth) -> None:
    _, props = _media_function(dev)
    assert (props["MemorySize"], props["Timeout"]) == (MEDIA_MEMORY_MB, MEDIA_TIMEOUT.to_seconds()) == (1769, 120)
    assert props["Handler"] == "media.handler.handler" and props["Architectures"] == ["arm64"]
    env = props["Environment"]["Variables"]
    assert env["MEDIA_SCANNER"] == "guardduty"
    assert "MediaConvertRole" in json.dumps(env["MEDIACONVERT_ROLE_ARN"])
    assert "mediaconvert." in json.dumps(env["MEDIACONVERT_ENDPOINT"]) and "ASSETS_BUCKET" in env


def test_queue_and_dlq(dev: Synth) -> None:
    _, main, dlq_id, dlq = _queues(dev)
    assert main["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT == 5
    assert main["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert main["VisibilityTimeout"] >= 6 * MEDIA_TIMEOUT.to_seconds()
    assert main["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = json.dumps(_resources(_template(dev, "processing"), "AWS::SQS::QueuePolicy"))
    assert '"aws:SecureTransport": "false"' in policies  # TLS only
    assert "s3.amazonaws.com" in policies and "events.amazonaws.com" in policies


def test_an_alarm_fires_on_the_first_dead_letter(dev: Synth) -> None:
    _, _, dlq_id, _ = _queues(dev)
    alarm = _one(_template(dev, "processing"), "AWS::CloudWatch::Alarm")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"


def test_uploads_under_both_prefixes_notify_the_queue(dev: Synth) -> None:
    notifications = _one(_template(dev, "processing"), "Custom::S3BucketNotifications")
    configs = notifications["NotificationConfiguration"]["QueueConfigurations"]
    prefixes = {c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in configs}
    assert prefixes == {"assets/", "post-images/"}
    assert {e for c in configs for e in c["Events"]} == {"s3:ObjectCreated:*"}
    assert notifications["Managed"] is False  # merged with GuardDuty's EventBridge setting, never overwriting it


def test_eventbridge_brings_job_states_and_scan_results_to_the_same_queue(dev: Synth) -> None:
    main_id, _, _, _ = _queues(dev)
    rules = _resources(_template(dev, "processing"), "AWS::Events::Rule")
    patterns = {r["Properties"]["EventPattern"]["source"][0]: r["Properties"] for r in rules.values()}
    job = patterns["aws.mediaconvert"]
    assert job["EventPattern"]["detail-type"] == ["MediaConvert Job State Change"]
    assert job["EventPattern"]["detail"] == {"status": ["COMPLETE", "ERROR"], "userMetadata": {"stage": ["dev"]}}
    assert patterns["aws.guardduty"]["EventPattern"]["detail-type"] == [
        "GuardDuty Malware Protection Object Scan Result"
    ]
    for rule in patterns.values():
        assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [main_id, "Arn"]}


def test_guardduty_scans_and_tags_the_upload_prefixes(dev: Synth) -> None:
    plan = _one(_template(dev, "processing"), "AWS::GuardDuty::MalwareProtectionPlan")
    assert plan["Actions"] == {"Tagging": {"Status": "ENABLED"}}
    assert plan["ProtectedResource"]["S3Bucket"]["ObjectPrefixes"] == ["assets/", "post-images/"]


def _statements(dev: Synth, part: str, role_fragment: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for policy in _resources(_template(dev, part), "AWS::IAM::Policy").values():
        if any(role_fragment in r["Ref"] for r in policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found[statement.get("Sid") or json.dumps(statement["Action"])] = statement
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    return sorted(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])


def test_media_grants_are_least_privilege(dev: Synth) -> None:
    statements = _statements(dev, "api", "FunctionsMediaRole")
    uploads, variants = statements["MediaUploads"], statements["MediaVariants"]
    assert _actions(uploads) == ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    assert "/assets/*" in json.dumps(uploads["Resource"]) and "/post-images/*" in json.dumps(uploads["Resource"])
    assert _actions(variants) == ["s3:PutObject"] and "/variants/*" in json.dumps(variants["Resource"])
    assert _actions(statements["MediaConvertJobs"]) == ["mediaconvert:CreateJob"]
    pass_role = statements["MediaConvertPassRole"]
    assert _actions(pass_role) == ["iam:PassRole"] and "MediaConvertRole" in json.dumps(pass_role["Resource"])
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}}
    every = [a for s in statements.values() for a in _actions(s)]
    assert not any(a in ("s3:*", "s3:DeleteObject", "iam:*", "mediaconvert:*") for a in every)


def test_mediaconvert_reads_originals_and_writes_variants_only(dev: Synth) -> None:
    statements = _statements(dev, "processing", "MediaConvertRole")
    assert _actions(statements["ReadOriginals"]) == ["s3:GetObject"]
    assert "/assets/*" in json.dumps(statements["ReadOriginals"]["Resource"])
    assert _actions(statements["WriteVariants"]) == ["s3:PutObject"]
    assert "/variants/*" in json.dumps(statements["WriteVariants"]["Resource"])


def test_stacks_depend_storage_then_processing_then_api(dev: Synth) -> None:
    manifest = json.loads((dev.outdir / "manifest.json").read_text())["artifacts"]
    assert dev.stack_name("storage") in manifest[dev.stack_name("processing")]["dependencies"]
    assert dev.stack_name("processing") in manifest[dev.stack_name("api")]["dependencies"]
    assert dev.stack_name("api") not in manifest[dev.stack_name("processing")].get("dependencies", [])


def test_processing_is_nag_clean_with_reasons_and_passes_cfn_lint(dev: Synth) -> None:
    from cfnlint.api import lint

    report = dev.validation_report()
    errors = [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        if v["severity"] in ("error", "fatal")
        for c in v.get("violatingConstructs", [])
    ]
    assert errors == []
    acknowledged = dev.metadata("processing", "aws:cdk:acknowledged-rules")
    assert acknowledged and all(len(r.strip()) >= 40 for _, data in acknowledged for r in dict(data).values())
    lint_errors = [
        f"{m.rule.id} {m.message}" for m in lint(json.dumps(_template(dev, "processing"))) if m.rule.id.startswith("E")
    ]
    assert lint_errors == []


def test_prod_has_the_same_pipeline(prod: Synth) -> None:
    rules = _resources(_template(prod, "processing"), "AWS::Events::Rule")
    stages = [
        r["Properties"]["EventPattern"].get("detail", {}).get("userMetadata", {}).get("stage") for r in rules.values()
    ]
    assert ["prod"] in stages
