"""Room events to WebSocket connections: the room-events FIFO queue's consumer (core.room_events)."""
