"""The transcode function's own settings, read from the environment once per container.

Not `core.config.Settings`: that one insists on a database (DATABASE_URL or DB_HOST), and this
function has none. The variables keep the names core uses for the same values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

_HTTPS_URL = re.compile(r"^https://\S+$")


class SettingsError(ValueError):
    """The environment cannot submit jobs or report failures."""


@dataclass(frozen=True)
class TranscodeSettings:
    media_queue_url: str  # where a job that could not be created is reported as failed
    mediaconvert_role_arn: str  # the role MediaConvert jobs run as
    # The regional MediaConvert endpoint; unset: boto3's default for the region.
    mediaconvert_endpoint: str | None = None
    mediaconvert_queue_arn: str | None = None  # unset: the account's Default queue

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TranscodeSettings:
        env = os.environ if environ is None else environ
        missing = [name for name in ("MEDIA_QUEUE_URL", "MEDIACONVERT_ROLE_ARN") if not env.get(name)]
        if missing:
            raise SettingsError(f"set {', '.join(missing)}")
        endpoint = env.get("MEDIACONVERT_ENDPOINT") or None
        if endpoint is not None and not _HTTPS_URL.match(endpoint):
            raise SettingsError("MEDIACONVERT_ENDPOINT must be an https:// URL")
        return cls(
            media_queue_url=env["MEDIA_QUEUE_URL"],
            mediaconvert_role_arn=env["MEDIACONVERT_ROLE_ARN"],
            mediaconvert_endpoint=endpoint,
            mediaconvert_queue_arn=env.get("MEDIACONVERT_QUEUE_ARN") or None,
        )


@lru_cache(maxsize=1)
def get_settings() -> TranscodeSettings:
    return TranscodeSettings.from_env()
