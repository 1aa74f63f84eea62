"""CDK and the settings classes agree: every variable CDK gives a function is documented in the
README, as a setting of a class (generated table) or as one a library reads (the table after it),
so a renamed setting cannot leave CDK setting a name nothing reads."""

from __future__ import annotations

import re

import pytest
from infra_synth import Synth

import local.settings_doc as doc
from core.routes import FUNCTIONS


def _documented() -> set[str]:
    names = {name.upper() for kind in doc.load_classes() for name in kind.__dataclass_fields__}
    readme = doc.README.read_text(encoding="utf-8")
    after = readme[readme.index(doc.END) :].split("\n## ", 1)[0]
    for row in re.findall(r"^\| (`[^|]+) \|", after, flags=re.M):
        names.update(re.findall(r"`([A-Z0-9_]+)`", row))
    if "`<NAME>_QUEUE_URL`" in after:  # one variable per event processor's queue (core.queues)
        names.update(spec.queue.env_var for spec in FUNCTIONS if spec.queue is not None)
    if "`AWS_ENDPOINT_URL_<SERVICE>`" in after:  # boto3's service-specific endpoints
        names.update(re.findall(r"`(AWS_ENDPOINT_URL_[A-Z0-9_]+)`", after))
    return names


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_variable_cdk_sets_is_a_documented_setting(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    documented = _documented()
    assert {"STAGE", "JWT_SIGNING_KEYS", "ROOMS_AI_MODELS", "POWERTOOLS_LOG_LEVEL"} <= documented
    unknown = {
        f"{logical_id}: {name}"
        for part in synth.raw
        for logical_id, fn in synth.resources(part, "AWS::Lambda::Function").items()
        for name in fn["Properties"].get("Environment", {}).get("Variables", {})
        if name not in documented
    }
    assert not unknown, sorted(unknown)
