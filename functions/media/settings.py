"""The media function's settings: the malware scanner and the image variants.

MEDIACONVERT_ENDPOINT belongs to core.transcoding (the transcode function reads it too), the
bucket to core.storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class MediaSettings(FeatureSettings):
    """The media function: scanning, variants, claims."""

    media_queue_url: str | None = setting(
        None, doc="SQS queue the `media` function consumes: S3 notifications and MediaConvert job events"
    )
    # Malware scanner: auto = clamd (CLAMD_ADDRESS or a default socket), else clamscan on PATH, else
    # GuardDuty's object tag in the cloud, else the local EICAR-only scanner.
    media_scanner: Literal["auto", "clamd", "clamscan", "guardduty", "eicar"] = setting(
        "auto",
        doc="malware scanner of the media function: `auto` (clamd, else clamscan, else GuardDuty's tag in the "
        "cloud, else the local EICAR-only scanner), `clamd`, `clamscan`, `guardduty`, `eicar`; CDK sets `guardduty`",
    )
    # clamd: a unix socket path (/run/clamav/clamd.ctl, optionally "unix:"-prefixed) or host:port.
    clamd_address: str | None = setting(
        None,
        shown="(auto)",
        doc="clamd unix socket path or `host:port`; unset: the usual socket paths are tried",
    )
    media_scan_timeout_s: float = setting(60.0, gt=0, le=600, doc="longest wait for clamd or clamscan")
    media_thumb_px: int = setting(256, ge=16, le=1024, doc="longest side of the `thumb` variant")
    media_preview_px: int = setting(1280, ge=256, le=4096, doc="longest side of the `preview` variant")
    # Decompression-bomb guard (pixels) and the largest image decoded in memory (bytes).
    media_max_image_pixels: int = setting(
        60_000_000,
        ge=1_000_000,
        le=250_000_000,
        doc="decompression-bomb limit: larger images are `failed` before decoding",
    )
    media_max_image_bytes: int = setting(
        100 * 1024 * 1024, ge=1024 * 1024, doc="largest image read into memory for variants (100 MiB)"
    )
    # A claim ('processing') older than this with no job in flight was lost to a crash: take it again.
    media_claim_lease_s: int = setting(
        300,
        ge=60,
        le=3600,
        doc="a `processing` claim older than this, with no transcoding job, is taken again (a crashed attempt)",
    )
