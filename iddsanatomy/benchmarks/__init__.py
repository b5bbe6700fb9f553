"""Benchmarks for ``iddsanatomy bench``: each area module has ``run(quick) -> list[Figure]``.

Benchmarks are not tests: they measure (warm-up, repeated runs, medians) and print; the test suite
never asserts on time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Figure:
    """One measured figure against its target."""

    name: str
    median: float
    spread: float  # half the interquartile range, same unit
    unit: str
    target: float | None = None
    better: str = "lower"  # "lower": median <= target is met; "higher": median >= target
    samples: int = 0
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.median <= self.target if self.better == "lower" else self.median >= self.target

    def as_dict(self) -> dict:
        d = asdict(self)
        d["met"] = self.met
        return d


def timings_ms(fn: Callable[[], object], repeat: int = 20, warmup: int = 2) -> list[float]:
    """Wall-clock times of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def summarise(name: str, samples: list[float], unit: str, target=None, better="lower", note=""):
    """A :class:`Figure` from raw samples: median and half the interquartile range."""
    samples = sorted(samples)
    med = statistics.median(samples)
    if len(samples) >= 4:
        q = statistics.quantiles(samples, n=4)
        spread = (q[2] - q[0]) / 2
    else:
        spread = (samples[-1] - samples[0]) / 2
    return Figure(name, med, spread, unit, target, better, len(samples), note)
