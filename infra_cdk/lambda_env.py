"""Environment every function runs with, whatever it does (function_factory sets it; the cold-start
benchmark's Lambda layout runs the functions with it too, so it measures what Lambda runs)."""

from __future__ import annotations

RUNTIME_ENV: dict[str, str] = {
    # pydantic looks for plugins on the first model it builds: importlib.metadata reads every
    # distribution's entry points on the path (layers and the runtime's boto3). We install none.
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
}
