"""Forked rooms' conversations, copied in batches: the room-forks queue's consumer (core.room_forks)."""
