"""The profile summary's device busy time (`benchmarks/trace_summary.py`): the union of kernel
intervals, clipped to a step's window, so overlapping streams count once and gaps not at all."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "trace_summary", Path(__file__).parents[1] / "benchmarks" / "trace_summary.py")
trace_summary = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trace_summary)


def _brute(spans, lo, hi):
    return sum(1 for t in range(lo, hi) if any(s <= t < e for s, e in spans))


def test_busy_is_the_clipped_union_of_kernel_intervals():
    spans = sorted([(0, 10), (5, 15), (20, 25), (22, 23), (30, 40), (41, 42)])
    for lo, hi in ((0, 50), (7, 21), (12, 31), (24, 41), (15, 20), (0, 1)):
        assert trace_summary._busy(spans, lo, hi) == _brute(spans, lo, hi), (lo, hi)


def test_busy_of_random_overlapping_streams():
    import random

    rng = random.Random(3)
    for _ in range(50):
        spans = []
        for _ in range(rng.randrange(1, 30)):
            s = rng.randrange(0, 200)
            spans.append((s, s + rng.randrange(1, 40)))
        spans.sort()
        lo = rng.randrange(0, 150)
        hi = lo + rng.randrange(1, 100)
        assert trace_summary._busy(spans, lo, hi) == _brute(spans, lo, hi)
