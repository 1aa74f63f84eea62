"""Bodies of the group routes (issue 19.3)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import ConfigDict, Field

from core.schemas import UserSummary
from core.types import Timestamp
from rooms.limits import GROUP_MAX_MEMBERS
from rooms.schemas import Model

if TYPE_CHECKING:
    from rooms.groups import GroupMemberView, GroupView


USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,50}$"
Username = Annotated[str, Field(pattern=USERNAME_PATTERN)]


class GroupIn(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    members: list[Username] = Field(
        default_factory=list,
        max_length=GROUP_MAX_MEMBERS,
        description=f"usernames (case-insensitive; repeats count once), at most {GROUP_MAX_MEMBERS}; "
        "an unknown one is 409. You manage the group; you are a member only if you list yourself",
    )


class GroupPatch(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class GroupOut(Model):
    id: uuid.UUID
    name: str
    manager: UserSummary = Field(description="its creator: the one who changes it")
    member_count: int = Field(ge=0, le=GROUP_MAX_MEMBERS)
    created_at: Timestamp

    @classmethod
    def of(cls, view: GroupView) -> GroupOut:
        manager = UserSummary(id=view.manager_id, username=view.manager_username, avatar_url=view.manager_avatar_url)
        return cls(
            id=view.id, name=view.name, manager=manager, member_count=view.member_count, created_at=view.created_at
        )


class GroupPage(Model):
    items: list[GroupOut]
    next_cursor: str | None

    @classmethod
    def of(cls, groups: Sequence[GroupView], next_cursor: str | None) -> GroupPage:
        return cls(items=[GroupOut.of(g) for g in groups], next_cursor=next_cursor)


class GroupMemberIn(Model):
    model_config = ConfigDict(extra="forbid")

    username: Username


class GroupMemberOut(Model):
    user: UserSummary
    added_at: Timestamp

    @classmethod
    def of(cls, view: GroupMemberView) -> GroupMemberOut:
        user = UserSummary(id=view.user_id, username=view.username, avatar_url=view.avatar_url)
        return cls(user=user, added_at=view.added_at)


class GroupMemberPage(Model):
    items: list[GroupMemberOut]
    next_cursor: str | None

    @classmethod
    def of(cls, members: Sequence[GroupMemberView], next_cursor: str | None) -> GroupMemberPage:
        return cls(items=[GroupMemberOut.of(m) for m in members], next_cursor=next_cursor)
