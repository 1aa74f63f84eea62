"""The authorizer's hot path stays lean: no boto3, no SQLAlchemy, no pydantic, no Powertools, in a fresh process."""

import json
import os
import subprocess
import sys

from tests.client import call
from tests.conftest import ROOT

CHILD = """
import json, sys
from authorizer.handler import handler
event = json.loads(sys.argv[1])
result = handler(event, None)
print(json.dumps({"effect": result["policyDocument"]["Statement"][0]["Effect"],
                  "boto3": "boto3" in sys.modules, "orm": "sqlalchemy.orm" in sys.modules,
                  "sqlalchemy": "sqlalchemy" in sys.modules, "pydantic": "pydantic" in sys.modules,
                  "powertools": "aws_lambda_powertools" in sys.modules}))
"""


def test_no_boto3_or_orm_on_the_hot_path(db: str) -> None:
    token = call(
        "POST", "/api/v1/auth/register", {"email": "f@example.com", "username": "footprint", "password": "p" * 10}
    )
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:0:api/local/GET/api/v1/auth/me",
        "headers": {"Authorization": f"Bearer {token.body['access_token']}"},
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["layers/core/python", "functions", "."])}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(event)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "effect": "Allow",
        "boto3": False,
        "orm": False,
        "sqlalchemy": False,
        "pydantic": False,
        "powertools": False,
    }
