"""Vision (issue 19.5), end to end: images uploaded to a room, checked by the media pipeline and sent
with invoke_ai reach the provider as bytes read from S3 (echo reflects what it was shown; the
OpenAI-compatible endpoint receives base64 data URLs); a model that takes no images gets them
described in text; earlier messages' images are in the context too."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from io import BytesIO

import pytest
from PIL import Image

from core.config import reset_settings
from local.pump import SqsPump
from tests.client import call
from tests.integration.ai_worker.ai_helpers import answered
from tests.integration.rooms.room_images_helpers import png, uploaded
from tests.integration.rooms.rooms_helpers import OpenAIServer, Team, sent, team


@pytest.fixture
def vision(media_env: None, worker: SqsPump, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ROOMS_AI_ECHO_DELAY_S", "0")
    reset_settings()
    yield None
    monkeypatch.undo()
    reset_settings()


def ask(room: Team, content: str, image_ids: list[str]) -> dict:
    body = sent(room.room, room["member"], content, invoke_ai=True, image_ids=image_ids)
    return answered(room.room, room["member"], body["ai_message"]["id"])


def test_echo_is_shown_the_images_previews_as_bytes(vision: None) -> None:
    room = team()
    ids = [uploaded(room.room, room["member"], png((2000, 1000), c))[0] for c in ("red", "green")]
    reply = ask(room, "what are these?", ids)
    assert reply["status"] == "completed"
    assert reply["content"].startswith("what are these? [2 images: jpeg ")
    sizes = [int(part.split(" ")[1]) for part in reply["content"].split(": ", 1)[1].rstrip("]").split(", ")]
    assert all(0 < n < 3_750_000 for n in sizes)


def test_a_model_without_vision_gets_the_images_described_in_text(vision: None) -> None:
    room = team()
    patch = {"ai_model": "text-only-echo"}
    assert call("PATCH", f"/api/v1/rooms/{room.room}", patch, token=room["admin"].token).status == 200
    image_id, _ = uploaded(room.room, room["member"], png((640, 480)))
    reply = ask(room, "and this?", [image_id])
    assert reply["status"] == "completed"
    assert reply["content"] == "and this? [attached image 1 of 1: image/png 640x480; this model cannot see images]"


def test_the_openai_compatible_endpoint_gets_data_urls_for_this_and_earlier_images(
    vision: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
        reset_settings()
        room = team()
        patch = {"ai_provider": "openai", "ai_model": "gpt-4o-mini"}
        assert call("PATCH", f"/api/v1/rooms/{room.room}", patch, token=room["admin"].token).status == 200
        earlier, _ = uploaded(room.room, room["admin"], png((300, 200), "blue"))
        sent(room.room, room["admin"], "an earlier one", image_ids=[earlier])
        now, _ = uploaded(room.room, room["member"], png((300, 200), "red"))
        reply = ask(room, "compare them", [now])
        assert reply["status"] == "completed"
        chat = server.requests[-1]["body"]["messages"]
        users = [m for m in chat if m["role"] == "user"]
        parts = [m["content"] for m in users if isinstance(m["content"], list)]
        assert len(parts) == 2  # the earlier message's image and the question's
        for content, colour in zip(parts, ((0, 0, 255), (255, 0, 0)), strict=True):
            text, picture = content
            assert text["type"] == "text" and picture["type"] == "image_url"
            url = picture["image_url"]["url"]
            assert url.startswith("data:image/jpeg;base64,") and "http" not in url
            im = Image.open(BytesIO(base64.b64decode(url.split(",", 1)[1])))
            assert im.format == "JPEG" and im.size == (300, 200)
            r, _, b = im.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
            assert abs(r - colour[0]) < 40 and abs(b - colour[2]) < 40
        assert parts[-1][0]["text"].endswith("compare them")
