"""Request and response bodies of the auth routes (API.md, Auth)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.auth import MAX_PASSWORD_CHARS
from core.types import Timestamp

if TYPE_CHECKING:
    from auth.logic import Issued, Me

EMAIL = r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$"
USERNAME = r"^[A-Za-z0-9_]{3,50}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterIn(Strict):
    email: str = Field(max_length=254, pattern=EMAIL)
    username: str = Field(pattern=USERNAME, description="3..50 of [A-Za-z0-9_]")
    password: str = Field(min_length=8, max_length=MAX_PASSWORD_CHARS, description="8..1024 characters")


class LoginIn(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=256)


class MePatch(Strict):
    bio: str | None = Field(default=None, max_length=500)
    avatar_url: str | None = Field(default=None, max_length=2048, pattern=r"^https://[^\s\x00]+$")


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    bio: str
    avatar_url: str | None
    created_at: Timestamp


class MeOut(UserOut):
    email: str

    @classmethod
    def of(cls, user: Me) -> MeOut:
        return cls.model_validate(user, from_attributes=True)


class TokensOut(BaseModel):
    user: MeOut
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="seconds until the access token expires")

    @classmethod
    def of(cls, issued: Issued) -> TokensOut:
        return cls(
            user=MeOut.of(issued.user),
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_in=issued.expires_in,
        )
