"""Realtime rooms: WebSocket tickets, connections, subscriptions and typing (API.md, Realtime)."""
