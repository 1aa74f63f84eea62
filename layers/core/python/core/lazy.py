"""A module loaded on first attribute access, not at import (the standard library's
`importlib.util.LazyLoader`, https://docs.python.org/3/library/importlib.html#implementing-lazy-imports).

A function with many routes serves one per cold start: its routers register every route at import,
but the logic behind each runs (and is imported) only when its route does. Use it with the real
import under TYPE_CHECKING, so types stay checked:

    if TYPE_CHECKING:
        from rooms import groups
    else:
        groups = lazy_module("rooms.groups")
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

_registered: list[ModuleType] = []


def lazy_module(name: str) -> ModuleType:
    """`name`, imported already or registered to load on first use (its package is imported now)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)  # `from package import name` finds it in sys.modules (Python >= 3.7)
    _registered.append(module)
    return module


def load_all() -> None:
    """Run every module registered so far (SnapStart's snapshot should hold them all: loading
    costs nothing there, and a restored copy would otherwise pay on its first request)."""
    for module in _registered:
        getattr(module, "__name__", None)  # any attribute access runs a lazy module
