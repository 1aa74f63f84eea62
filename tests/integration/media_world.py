"""What the media security tests share: a photo that carries a location, and one SQS batch
through the real media handler (their `env` fixture is tests/integration/security/conftest.py)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from PIL import Image

from local.lambda_context import LocalLambdaContext

GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def gps_of(data: bytes) -> dict[int, Any]:
    return dict(Image.open(BytesIO(data)).getexif().get_ifd(GPS_IFD))


def gps_jpeg(size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A JPEG whose EXIF names a camera, a time and a position (GPS IFD 0x8825), as a phone writes it."""
    im = Image.merge(
        "RGB",
        (Image.linear_gradient("L").resize(size), Image.radial_gradient("L").resize(size), Image.new("L", size, 90)),
    )
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Spycam", "SC-1"
    exif.get_ifd(EXIF_IFD)[0x9003] = "2024:05:01 12:34:56"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    out = BytesIO()
    im.save(out, "JPEG", exif=exif, quality=85)
    data = out.getvalue()
    assert gps_of(data)  # the original really carries a location
    return data


def run(*bodies: str) -> list[str]:
    """One SQS batch through the media function; the ids of the messages it reported failed."""
    from media.handler import handler

    records = [
        {
            "messageId": f"m{i}",
            "receiptHandle": f"h{i}",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:media-test",
            "awsRegion": "us-east-1",
        }
        for i, body in enumerate(bodies)
    ]
    response = handler({"Records": records}, LocalLambdaContext("media"))
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]
