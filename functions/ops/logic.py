"""What the ops routes answer: the OpenAPI document, read once per container."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

OPENAPI_FILE = Path(__file__).with_name("openapi.json")


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return dict(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))
