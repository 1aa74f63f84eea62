"""The one way the benchmarks time a call: the median of many, after one unmeasured warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def p50_ms(fn: Callable[[], Any], calls: int, *, warm_up: bool = True) -> float:
    if warm_up:
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
