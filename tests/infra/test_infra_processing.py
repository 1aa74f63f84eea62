"""Media processing in the cloud: queues, DLQs, notifications, event sources, sizing, grants, alarm;
the media function in the VPC, the transcode function (MediaConvert jobs) outside it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth, invoked_function

from core.queues import QueueSpec
from core.routes import function
from core.transcoding import MAX_RECEIVES as TRANSCODE_MAX_RECEIVES

pytestmark = pytest.mark.infra


def _queue_spec(name: str) -> QueueSpec:
    spec = function(name).queue
    assert spec is not None
    return spec


MEDIA, TRANSCODE = _queue_spec("media"), _queue_spec("transcode")


def _template(synth: Synth, part: str) -> dict[str, Any]:
    return dict(synth.assembly.get_stack_by_name(synth.stack_name(part)).template)


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def _one(template: dict[str, Any], type_: str, contains: str = "") -> dict[str, Any]:
    found = [r for k, r in _resources(template, type_).items() if contains in k]
    assert len(found) == 1, (type_, contains, list(_resources(template, type_)))
    return found[0]["Properties"]


def _function(dev: Synth, name: str) -> tuple[str, dict[str, Any]]:
    functions = _resources(_template(dev, "api"), "AWS::Lambda::Function")
    (found,) = [
        (k, r["Properties"])
        for k, r in functions.items()
        if r["Properties"].get("FunctionName") == f"social-dev-{name}"
    ]
    return found


def _media_function(dev: Synth) -> tuple[str, dict[str, Any]]:
    return _function(dev, "media")


def _queues(dev: Synth, name: str = "media") -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """(id, properties) of the named queue and of its DLQ."""
    queues = _resources(_template(dev, "processing"), "AWS::SQS::Queue")
    ((main_id, main),) = [
        (k, q["Properties"]) for k, q in queues.items() if q["Properties"]["QueueName"] == f"social-dev-{name}"
    ]
    ((dlq_id, dlq),) = [
        (k, q["Properties"]) for k, q in queues.items() if q["Properties"]["QueueName"] == f"social-dev-{name}-dlq"
    ]
    assert main["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    return main_id, main, dlq_id, dlq


def test_the_event_source_reports_batch_item_failures(dev: Synth) -> None:
    mapping = _one(_template(dev, "api"), "AWS::Lambda::EventSourceMapping", "Media")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "Processing" in json.dumps(mapping["EventSourceArn"]) and "MediaQueue" in json.dumps(
        mapping["EventSourceArn"]
    )
    assert mapping["BatchSize"] <= 10 and mapping["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_function_is_sized_for_12_megapixel_photos(dev: Synth) -> None:
    _, props = _media_function(dev)
    assert (props["MemorySize"], props["Timeout"]) == (MEDIA.memory_mb, MEDIA.function_timeout_s) == (1769, 120)
    assert props["Handler"] == "media.handler.handler" and props["Architectures"] == ["arm64"]
    assert "VpcConfig" in props  # the database: isolated subnets, no route to MediaConvert
    env = props["Environment"]["Variables"]
    assert env["MEDIA_SCANNER"] == "guardduty" and "ASSETS_BUCKET" in env
    # Only the switch that hands videos to the transcode function; the job settings live there.
    assert "mediaconvert." in json.dumps(env["MEDIACONVERT_ENDPOINT"])
    assert "MEDIACONVERT_ROLE_ARN" not in env and "MEDIACONVERT_QUEUE_ARN" not in env


def test_queue_and_dlq(dev: Synth) -> None:
    _, main, _, dlq = _queues(dev)
    assert main["RedrivePolicy"]["maxReceiveCount"] == MEDIA.max_receives == 5
    assert main["VisibilityTimeout"] >= 6 * MEDIA.function_timeout_s
    assert main["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    _, transcode, _, transcode_dlq = _queues(dev, "transcode")
    # The transcode function fails the asset on the last delivery, so its count must be the queue's.
    assert transcode["RedrivePolicy"]["maxReceiveCount"] == TRANSCODE.max_receives == TRANSCODE_MAX_RECEIVES
    assert transcode["VisibilityTimeout"] >= 6 * TRANSCODE.function_timeout_s
    assert transcode["SqsManagedSseEnabled"] is True and transcode_dlq["SqsManagedSseEnabled"] is True
    assert transcode_dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = json.dumps(_resources(_template(dev, "processing"), "AWS::SQS::QueuePolicy"))
    assert '"aws:SecureTransport": "false"' in policies  # TLS only
    assert "s3.amazonaws.com" in policies and "events.amazonaws.com" in policies


def test_an_alarm_fires_on_the_first_dead_letter_of_either_dlq(dev: Synth) -> None:
    dlqs = {_queues(dev, name)[2] for name in ("media", "transcode")}
    alarm = _one(_template(dev, "processing"), "AWS::CloudWatch::Alarm", "MediaDlq")
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"].startswith("MAX(") and expression["ReturnData"] is True
    watched = set()
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            assert (metric["Namespace"], metric["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
            assert query["MetricStat"]["Stat"] == "Maximum" and query["Id"] in expression["Expression"]
            ((dimension,),) = [metric["Dimensions"]]
            watched.add(dimension["Value"]["Fn::GetAtt"][0])
    assert watched == dlqs
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"


def test_uploads_notify_the_media_queue_and_transcode_requests_the_transcode_queue(dev: Synth) -> None:
    media_id, transcode_id = _queues(dev)[0], _queues(dev, "transcode")[0]
    notifications = _one(_template(dev, "processing"), "Custom::S3BucketNotifications")
    configs = notifications["NotificationConfiguration"]["QueueConfigurations"]
    filters: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for config in configs:
        rules = tuple(sorted((r["Name"], r["Value"]) for r in config["Filter"]["Key"]["FilterRules"]))
        filters.setdefault(config["QueueArn"]["Fn::GetAtt"][0], set()).add(rules)
    assert filters == {
        media_id: {(("prefix", "assets/"),), (("prefix", "post-images/"),), (("prefix", "room-images/"),)},
        transcode_id: {(("prefix", "jobs/transcode/"), ("suffix", ".json"))},
    }
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
    assert plan["ProtectedResource"]["S3Bucket"]["ObjectPrefixes"] == ["assets/", "post-images/", "room-images/"]


def _statements(dev: Synth, part: str, role_fragment: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for policy in _resources(_template(dev, part), "AWS::IAM::Policy").values():
        if any(role_fragment in r["Ref"] for r in policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found[statement.get("Sid") or json.dumps(statement["Action"])] = statement
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    return sorted(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])


def _resource_suffixes(statement: dict[str, Any]) -> list[str]:
    """What each resource of a statement ends with after the imported bucket ARN."""
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return sorted(r["Fn::Join"][1][-1] if "Fn::Join" in r else json.dumps(r) for r in resources)


def test_media_grants_are_least_privilege(dev: Synth) -> None:
    statements = _statements(dev, "api", "FunctionsMediaRole")
    uploads, variants = statements["MediaUploads"], statements["MediaVariants"]
    assert _actions(uploads) == [  # each also by version; a second version of an upload is deleted (issue 14)
        "s3:DeleteObjectVersion",
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:GetObjectVersion",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
    ]
    assert "/assets/*" in json.dumps(uploads["Resource"]) and "/post-images/*" in json.dumps(uploads["Resource"])
    assert "/room-images/*" in json.dumps(uploads["Resource"])
    assert _actions(variants) == ["s3:PutObject"] and "/variants/*" in json.dumps(variants["Resource"])
    requests = statements["MediaTranscodeRequests"]
    assert _actions(requests) == ["s3:PutObject", "s3:PutObjectTagging"]
    assert _resource_suffixes(requests) == ["/jobs/transcode/*"]
    # It cannot reach MediaConvert, so it may not call it or hand it a role.
    every = [a for s in statements.values() for a in _actions(s)]
    assert not any(a.startswith(("mediaconvert:", "iam:")) for a in every), every
    assert not any(a in ("s3:*", "s3:DeleteObject", "sqs:SendMessage") for a in every)


def test_transcode_runs_outside_the_vpc_sized_small_on_its_own_queue(dev: Synth) -> None:
    function_id, props = _function(dev, "transcode")
    assert "VpcConfig" not in props  # MediaConvert has no VPC endpoint: default Lambda networking
    assert props["Handler"] == "transcode.handler.handler" and props["Architectures"] == ["arm64"]
    assert (props["MemorySize"], props["Timeout"]) == (TRANSCODE.memory_mb, TRANSCODE.function_timeout_s) == (256, 30)
    env = props["Environment"]["Variables"]
    assert "MediaConvertRole" in json.dumps(env["MEDIACONVERT_ROLE_ARN"])
    assert "mediaconvert." in json.dumps(env["MEDIACONVERT_ENDPOINT"])
    # A job that cannot be created waits in the transcode DLQ with its request: nothing goes to media.
    assert "MEDIA_QUEUE_URL" not in env and "MediaQueue" not in json.dumps(env)
    assert not any(name.startswith("DB_") or name == "DATABASE_URL" for name in env)
    api = _template(dev, "api")["Resources"]
    mappings = _resources(_template(dev, "api"), "AWS::Lambda::EventSourceMapping").values()
    (mapping,) = [
        m["Properties"] for m in mappings if invoked_function(api, m["Properties"]["FunctionName"]) == function_id
    ]
    assert ":live" in json.dumps(mapping["FunctionName"])  # through its alias (infra_cdk/constructs/canary.py)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "TranscodeQueue" in json.dumps(mapping["EventSourceArn"])
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == 2


def test_transcode_grants_are_least_privilege(dev: Synth) -> None:
    statements = _statements(dev, "api", "FunctionsTranscodeRole")
    requests = statements["TranscodeRequests"]
    assert _actions(requests) == ["s3:DeleteObject", "s3:GetObject"]
    assert _resource_suffixes(requests) == ["/jobs/transcode/*"]
    # A deleted (already submitted) request must read as 404, not as a denied read: the bucket itself.
    listing = statements["TranscodeMissingIs404"]
    assert _actions(listing) == ["s3:ListBucket"] and "Fn::Join" not in json.dumps(listing["Resource"])
    jobs = statements["MediaConvertJobs"]
    assert _actions(jobs) == ["mediaconvert:CreateJob"]
    assert _resource_suffixes(jobs) == [":jobs/*", ":queues/Default"]
    pass_role = statements["MediaConvertPassRole"]
    assert _actions(pass_role) == ["iam:PassRole"] and "MediaConvertRole" in json.dumps(pass_role["Resource"])
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}}
    # Every CreateJob failure is retried into the transcode DLQ: it sends nothing, to the media queue least.
    every = [a for s in statements.values() for a in _actions(s)]
    assert "sqs:SendMessage" not in every and "MediaQueue" not in json.dumps(statements)
    named = {"TranscodeRequests", "TranscodeMissingIs404", "MediaConvertJobs", "MediaConvertPassRole"}
    others = [a for sid, s in statements.items() if sid not in named for a in _actions(s)]
    # What the factory and the event source add: logs, X-Ray, reading its own queue. No database, no VPC.
    assert sorted(set(others)) == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]


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

    errors = dev.nag_errors()
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
