"""The rooms' access rule lives in core.room_access, shared with the realtime function."""

from core.room_access import RANK, ROOM_COLUMNS, RoomView, below, rank, room_for, writable

__all__ = ["RANK", "ROOM_COLUMNS", "RoomView", "below", "rank", "room_for", "writable"]
