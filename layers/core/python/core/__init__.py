"""Shared code of every function, shipped as the `core` Lambda layer."""
