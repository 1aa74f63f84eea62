"""The transcode function's settings (MEDIACONVERT_ENDPOINT: core.transcoding, the media function reads it too)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class TranscodeSettings(FeatureSettings):
    """The transcode function: the MediaConvert jobs it creates."""

    mediaconvert_role_arn: str | None = setting(None, doc="`transcode`: role MediaConvert jobs run as (set by CDK)")
    mediaconvert_queue_arn: str | None = setting(
        None, doc="`transcode`: MediaConvert queue; unset: the account's Default queue"
    )
