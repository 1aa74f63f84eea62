"""The function's one Powertools logger (every module logs through it, JSON in Lambda)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "transcode"))
