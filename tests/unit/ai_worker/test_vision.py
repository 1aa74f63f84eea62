"""Images in the provider payloads (issue 19.5): Converse image blocks with bytes, OpenAI-compatible
`image_url` parts with base64 data URLs, echo's reflection, and which images a model is shown."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ai_worker import vision
from ai_worker.providers import (
    BedrockProvider,
    ChatMessage,
    EchoProvider,
    ImagePart,
    alternating,
    converse_messages,
    openai_messages,
)
from core.config import reset_settings
from core.room_images import ImageVariant, MessageImage

JPEG = ImagePart("jpeg", b"\xff\xd8\xff\xe0jpeg-bytes")
PNG = ImagePart("png", b"\x89PNG\r\n\x1a\npng-bytes")
OPTIONS: dict[str, Any] = {"system": "be brief", "model": "m", "timeout": 1.0, "max_tokens": 64}


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    reset_settings()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


def stored(status: str = "ready", *, size: tuple[int, int] = (640, 480)) -> MessageImage:
    preview = ImageVariant("preview", "variants/room-images/x/preview.jpg", "image/jpeg", 640, 480, 10, "v1")
    return MessageImage(uuid.uuid4(), status, "image/png", *size, variants=(preview,) if status == "ready" else ())


class RecordingBedrock:
    """A bedrock-runtime client that records what it is sent and streams one word back."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def converse_stream(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {
            "stream": [{"contentBlockDelta": {"delta": {"text": "ok"}}}, {"messageStop": {"stopReason": "end_turn"}}]
        }


def test_converse_gets_image_blocks_with_raw_bytes_after_the_text_in_user_turns() -> None:
    client = RecordingBedrock()
    chat = [
        ChatMessage("user", "look", author="ann", images=(JPEG,)),
        ChatMessage("user", "and mine", author="bob", images=(PNG,)),
        ChatMessage("assistant", "nice"),
        ChatMessage("user", "which is better?", author="ann"),
    ]
    assert "".join(BedrockProvider(client).stream(chat, **OPTIONS)) == "ok"
    (sent,) = client.calls
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "ann: look"},
                {"image": {"format": "jpeg", "source": {"bytes": JPEG.data}}},
                {"text": "bob: and mine"},
                {"image": {"format": "png", "source": {"bytes": PNG.data}}},
            ],
        },
        {"role": "assistant", "content": [{"text": "nice"}]},
        {"role": "user", "content": [{"text": "ann: which is better?"}]},
    ]
    assert sent["system"] == [{"text": "be brief"}] and sent["modelId"] == "m"


def test_converse_without_images_is_what_it_was() -> None:
    chat = [ChatMessage("assistant", "hi"), ChatMessage("user", "a", author="x"), ChatMessage("user", "b", author="y")]
    assert converse_messages(chat) == [{"role": role, "content": [{"text": text}]} for role, text in alternating(chat)]


def test_openai_gets_text_then_base64_data_url_parts_and_plain_strings_otherwise() -> None:
    chat = [ChatMessage("user", "look", author="ann", images=(JPEG, PNG)), ChatMessage("assistant", "nice")]
    assert openai_messages(chat, "be brief") == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "ann: look"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(JPEG.data).decode()},
                },
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG.data).decode()},
                },
            ],
        },
        {"role": "assistant", "content": "nice"},
    ]


def test_echo_reflects_how_many_images_it_was_shown_and_their_bytes() -> None:
    chat = [ChatMessage("user", "what is it", author="ann", images=(JPEG, PNG))]
    said = "".join(EchoProvider(delay_s=0).stream(chat, **OPTIONS))
    assert said == f"what is it [2 images: jpeg {len(JPEG.data)} bytes, png {len(PNG.data)} bytes]"
    assert "".join(EchoProvider(delay_s=0).stream([ChatMessage("user", "plain")], **OPTIONS)) == "plain"


@pytest.mark.parametrize(
    ("model", "sees"),
    [
        ("echo", True),
        ("amazon.nova-lite-v1:0", True),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", True),
        ("gpt-4o-mini", True),
        ("amazon.titan-text-express-v1", False),
        ("text-only-echo", False),
        ("mistral.mistral-7b-instruct-v0:2", False),
    ],
)
def test_which_models_are_shown_images(model: str, sees: bool) -> None:
    assert vision.accepts_images(model) is sees


def test_the_setting_names_the_vision_models(fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("ROOMS_AI_VISION_MODELS", "my-vlm,other")
    reset_settings()
    assert vision.accepts_images("my-vlm-7b") and not vision.accepts_images("echo")


def test_newest_images_take_the_seats_and_the_rest_are_described_never_dropped() -> None:
    older, refused, newest = stored(), stored("refused"), stored()
    read: list[uuid.UUID] = []

    def reader(image: MessageImage) -> ImagePart:
        read.append(image.id)
        return JPEG

    turns = [
        ChatMessage("user", "old", author="a", attachments=(older, refused)),
        ChatMessage("assistant", "ok"),
        ChatMessage("user", "new", author="b", attachments=(newest,)),
    ]
    shown = vision.resolve(turns, sees=True, max_images=1, read=reader)
    assert read == [newest.id]
    assert shown[2] == ChatMessage("user", "new", author="b", images=(JPEG,))
    assert shown[0].images == () and shown[0].attachments == ()
    assert shown[0].text == (
        "old [attached image 1 of 2: image/png 640x480; over the 1 images one request may show, not shown] "
        "[attached image 2 of 2: image/png 640x480; refused by the media check, not shown]"
    )
    assert shown[1] == turns[1]


def test_a_model_without_vision_reads_nothing_and_is_told_what_was_attached() -> None:
    def reader(image: MessageImage) -> ImagePart:
        raise AssertionError("nothing is read for a model that cannot see")

    turns = [ChatMessage("user", "see?", author="a", attachments=(stored(), stored("processing")))]
    (turn,) = vision.resolve(turns, sees=False, max_images=20, read=reader)
    assert turn.images == ()
    assert turn.text == (
        "see? [attached image 1 of 2: image/png 640x480; this model cannot see images] "
        "[attached image 2 of 2: image/png 640x480; still being checked, not shown]"
    )
