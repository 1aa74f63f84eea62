"""Bodies of the shared-space routes (issue 20): spaces, members, roles, moves, usage, audit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from core.schemas import UserSummary
from core.types import JSON_NUMBER, Timestamp

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from assets.space_access import SpaceView
    from core.memberships import MemberView

from assets.schemas import FILENAME, Model, Strict, TypeUsage

SpaceRole = Literal["viewer", "editor", "owner"]
GrantableRole = Literal["viewer", "editor"]
QUOTA_MAX = 10**15  # bytes (1 PB): exact as a JSON number (below 2**53), and sums stay within BIGINT


Quota = Annotated[int, Field(ge=0, le=QUOTA_MAX), JSON_NUMBER]


class SpaceIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=FILENAME)
    quota_bytes: Quota | None = Field(
        default=None,
        description="optional byte quota; omitted: the stage's default (SPACE_DEFAULT_QUOTA_BYTES, none unless "
        "set); null: no quota",
    )


class SpacePatch(Strict):
    """Only the fields sent change; `quota_bytes: null` lifts the quota."""

    name: str = Field(default=None, min_length=1, max_length=100, pattern=FILENAME)  # type: ignore[assignment]
    quota_bytes: Quota | None = Field(default=None, description="null lifts the quota")


class SpaceOut(Model):
    id: uuid.UUID
    name: str
    my_role: SpaceRole
    quota_bytes: int | None = Field(description="null: no quota")
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, space: SpaceView) -> SpaceOut:
        return cls.model_validate(space, from_attributes=True)


class SpacePage(Model):
    items: list[SpaceOut]
    next_cursor: str | None

    @classmethod
    def of(cls, spaces: list[SpaceView], next_cursor: str | None) -> SpacePage:
        return cls(items=[SpaceOut.of(s) for s in spaces], next_cursor=next_cursor)


class SpaceMemberIn(Strict):
    username: str = Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_]+$")
    role: GrantableRole = Field(description="below your own role: the owner grants viewer or editor, an editor viewer")


class SpaceRoleIn(Strict):
    role: GrantableRole = Field(description="below your own role; owner only by transfer (PATCH .../owner)")


class SpaceOwnerIn(Strict):
    user_id: uuid.UUID = Field(description="a member of the space; the old owner becomes editor")


class SpaceMemberOut(Model):
    user: UserSummary
    role: SpaceRole
    joined_at: Timestamp

    @classmethod
    def of(cls, found: MemberView) -> SpaceMemberOut:
        user = UserSummary(id=found.user_id, username=found.username, avatar_url=found.avatar_url)
        return cls.model_validate({"user": user, "role": found.role, "joined_at": found.joined_at})


class SpaceMemberPage(Model):
    items: list[SpaceMemberOut]
    next_cursor: str | None

    @classmethod
    def of(cls, members: list[MemberView], next_cursor: str | None) -> SpaceMemberPage:
        return cls(items=[SpaceMemberOut.of(m) for m in members], next_cursor=next_cursor)


class MoveIn(Strict):
    space_id: uuid.UUID | None = Field(
        description="the space to move the asset into (editor+ there), or null for its uploader's personal library; "
        "the asset's share links are revoked"
    )


class SpaceUsageOut(Model):
    asset_count: int
    total_bytes: int = Field(description="bytes of the space's assets, uploads in progress included")
    by_type: dict[str, TypeUsage]
    used_bytes: int = Field(description="counted against the quota: stored assets")
    reserved_bytes: int = Field(description="counted against the quota: multipart uploads in progress")
    quota_bytes: int | None
    downloads: int = Field(description="download URLs issued and share links opened, of the space's assets")
    downloads_30d: int
    shares_active: int


class SpaceAuditOut(Model):
    id: uuid.UUID
    action: str
    user_id: uuid.UUID | None = Field(description="who did it (the link's creator for share.accessed)")
    target_type: str | None
    target_id: str | None
    data: dict[str, Any]
    ip: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, event: Row[Any]) -> SpaceAuditOut:
        return cls.model_validate(event, from_attributes=True)


class SpaceAuditPage(Model):
    items: list[SpaceAuditOut]
    next_cursor: str | None

    @classmethod
    def of(cls, events: Sequence[Row[Any]], next_cursor: str | None) -> SpaceAuditPage:
        return cls(items=[SpaceAuditOut.of(e) for e in events], next_cursor=next_cursor)
