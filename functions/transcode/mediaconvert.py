"""MediaConvert: one HLS job per video, created from outside the VPC (MediaConvert has no VPC endpoint).

The job reads the original and writes an HLS ladder under the asset's variants prefix; its
"Job State Change" event (EventBridge -> the media queue) finishes the asset. The job carries
the asset id and the stage in its user metadata, so the event needs no lookup of job ids and
the EventBridge rule can keep other stages' jobs out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from core.keys import hls_prefix
from core.transcoding import TranscodeRequest

HLS_PLAYLIST_NAME = "index"  # MediaConvert writes index.m3u8 (multivariant) and index_<rung>.m3u8
# (name modifier, height, max bitrate): width follows the input's aspect ratio.
LADDER = (("_1080p", 1080, 6_000_000), ("_720p", 720, 3_500_000), ("_360p", 360, 900_000))
SEGMENT_SECONDS = 6


@lru_cache(maxsize=4)
def mediaconvert_client(endpoint: str | None) -> Any:
    import boto3  # ~150 ms of import: only once there is a request to submit
    from botocore.config import Config

    return boto3.client("mediaconvert", endpoint_url=endpoint, config=Config(retries={"mode": "standard"}))


def job_settings(bucket: str, key: str, variants_prefix: str) -> dict[str, Any]:
    """CreateJob Settings: one input, one HLS output group (H.264 QVBR + AAC)."""
    outputs = [
        {
            "NameModifier": modifier,
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": {
                "Height": height,
                "ScalingBehavior": "DEFAULT",
                "CodecSettings": {
                    "Codec": "H_264",
                    "H264Settings": {
                        "RateControlMode": "QVBR",
                        "MaxBitrate": bitrate,
                        "QvbrSettings": {"QvbrQualityLevel": 7},
                        "SceneChangeDetect": "TRANSITION_DETECTION",
                        "GopSize": 2.0,
                        "GopSizeUnits": "SECONDS",
                    },
                },
            },
            "AudioDescriptions": [
                {
                    "AudioSourceName": "Audio Selector 1",
                    "CodecSettings": {
                        "Codec": "AAC",
                        "AacSettings": {"Bitrate": 96000, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000},
                    },
                }
            ],
        }
        for modifier, height, bitrate in LADDER
    ]
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [
            {
                "FileInput": f"s3://{bucket}/{key}",
                "TimecodeSource": "ZEROBASED",
                "VideoSelector": {"Rotate": "AUTO"},
                "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
            }
        ],
        "OutputGroups": [
            {
                "Name": "HLS",
                "OutputGroupSettings": {
                    "Type": "HLS_GROUP_SETTINGS",
                    "HlsGroupSettings": {
                        "Destination": f"s3://{bucket}/{hls_prefix(variants_prefix)}{HLS_PLAYLIST_NAME}",
                        "SegmentLength": SEGMENT_SECONDS,
                        "MinSegmentLength": 0,
                        "DirectoryStructure": "SINGLE_DIRECTORY",
                        "ManifestDurationFormat": "INTEGER",
                        "OutputSelection": "MANIFESTS_AND_SEGMENTS",
                    },
                },
                "Outputs": outputs,
            }
        ],
    }


def create_hls_job(request: TranscodeRequest, *, endpoint: str | None, role_arn: str, queue_arn: str | None) -> str:
    """Create the job; returns its id. Errors propagate: the record is retried, then the DLQ."""
    job: dict[str, Any] = {
        "Role": role_arn,
        "Settings": job_settings(request.bucket, request.key, request.variants_prefix),
        "UserMetadata": dict(request.user_metadata),
        "StatusUpdateInterval": "SECONDS_60",
        # MediaConvert answers a CreateJob repeated within a minute with the first job.
        "ClientRequestToken": request.client_token,
    }
    if queue_arn:
        job["Queue"] = queue_arn
    created = mediaconvert_client(endpoint).create_job(**job)["Job"]
    return str(created["Id"])
