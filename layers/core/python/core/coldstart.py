"""No cyclic garbage collection during a cold start (docs/decisions.md "Issue 16.5: the collector
paused for a cold start").

A cold start creates ~115,000 objects that live as long as the container (modules, classes,
SQLAlchemy tables, pydantic validators) and leaves ~500 in garbage cycles. Meanwhile CPython's
collector scans the growing heap again and again: ~35 ms of a ~330 ms cold start, for nothing.

Every handler module imports this module first, and importing it pauses the collector (in Lambda
only: `AWS_LAMBDA_FUNCTION_NAME` is set). Every handler is wrapped in `entry` (API and authorizer:
resumes when the first invocation ends) or `background_entry` (the rest: resumes as it starts).
Resuming freezes what exists first: `gc.freeze` moves those objects to a permanent generation that
later collections skip (documented for fork(); here it spares warm requests a rescan of them).
tests/unit/test_coldstart.py checks that every handler module does both, by its function's kind.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import Any, TypeVar

H = TypeVar("H", bound=Callable[..., Any])

_paused = False


def pause() -> None:
    """Stop collecting until `resume` (no-op outside Lambda, or if the collector is already off)."""
    global _paused
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what the cold start built and collect again from here on (once; no-op if not paused)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def is_paused() -> bool:
    return _paused


def entry(handler: H) -> H:
    """An API or authorizer handler (a caller waits; the function's timeout, 10 s for the API's,
    bounds the pause): collection resumes when its first invocation ends, however it ends."""
    return _wrapped(handler, through_first_invocation=True)


def background_entry(handler: H) -> H:
    """An event, task or invoked handler: collection resumes as its first invocation starts. Its
    batches may run for minutes (an AI reply streaming, a fork copying), longer than a pause should."""
    return _wrapped(handler, through_first_invocation=False)


def _wrapped(handler: H, through_first_invocation: bool) -> H:
    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        if _paused and not through_first_invocation:
            resume()
        try:
            return handler(event, context)
        finally:
            if _paused:
                resume()

    return invoke  # type: ignore[return-value]


pause()
