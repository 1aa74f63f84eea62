"""A question's images count toward the estimate its room's master must cover (issue 19.4 and 19.5):
a ready image is ~ its preview's pixels / 750 tokens, so a balance that covers the words alone is
402 once the images are attached, before anything is stored or queued; the same for regenerate."""

from __future__ import annotations

import uuid

import pytest

from core import balances
from core.room_images import ImageVariant, MessageImage
from tests.client import call
from tests.integration.rooms.room_images_helpers import png, uploaded
from tests.integration.rooms.rooms_helpers import history, send, team
from tests.integration.rooms.test_rooms_balances import set_tokens

QUESTION = "what is in this picture?"


def _image(status: str, width: int | None, height: int | None) -> MessageImage:
    preview = ImageVariant("preview", "k", "image/jpeg", width, height, 1, "v")
    return MessageImage(uuid.uuid4(), status, "image/png", width, height, (preview,) if status == "ready" else ())


def test_an_image_costs_its_previews_pixels_over_750() -> None:
    assert balances.image_tokens([_image("ready", 1280, 640)]) == 1093  # ceil(1280 * 640 / 750)
    assert balances.image_tokens([_image("ready", None, None)]) == balances.IMAGE_TOKENS_UNKNOWN
    assert balances.image_tokens([_image("processing", 1280, 640)]) == 0  # never sent: the reply is refused
    assert balances.image_tokens([]) == 0


def test_the_images_a_call_cannot_show_cost_a_line_of_words() -> None:
    """However many pictures a room holds, the estimate stays bounded: past the 20 newest a call
    shows, each is described in words (a member cannot price the room's replies out of reach)."""
    many = [_image("ready", 1280, 640)] * 30 + [_image("pending", 1280, 640)] * 5
    shown = balances.MAX_IMAGES_PER_CALL
    assert shown == 20
    assert balances.image_tokens(many) == shown * 1093 + 10 * balances.IMAGE_DESCRIPTION_TOKENS
    assert balances.image_tokens(many, shown_at_most=0) == 30 * balances.IMAGE_DESCRIPTION_TOKENS


@pytest.mark.usefixtures("media_env")
def test_the_images_of_a_question_count_toward_the_402(db: str) -> None:
    room = team()
    words = balances.call_estimate(balances.estimate_tokens(QUESTION))
    image_id, _ = uploaded(room.room, room["member"], png((1280, 960)))  # preview 1280 x 960: 1,639 tokens
    set_tokens(room["master"], words + 100)  # covers the words, not the picture
    refused = send(room.room, room["member"], QUESTION, invoke_ai=True, image_ids=[image_id])
    assert refused.status == 402 and refused.body["error"]["code"] == "insufficient_balance", refused.body
    assert history(room.room, room["master"]) == []  # nothing stored, the image still unsent
    set_tokens(room["master"], words + 1639)
    asked = send(room.room, room["member"], QUESTION, invoke_ai=True, image_ids=[image_id])
    assert asked.status == 201, asked.body
    # Regenerating it is estimated the same way.
    set_tokens(room["master"], words + 100)
    message_id = asked.body["message"]["id"]
    again = call(
        "POST", f"/api/v1/rooms/{room.room}/messages/{message_id}/regenerate", None, token=room["member"].token
    )
    assert again.status == 402, again.body
    set_tokens(room["master"], words + 1639)
    again = call(
        "POST", f"/api/v1/rooms/{room.room}/messages/{message_id}/regenerate", None, token=room["member"].token
    )
    assert again.status == 202, again.body
