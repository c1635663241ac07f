"""Summarise a JAX profiler trace of one prove: per step, its wall time, how long the device was
busy, and its costliest kernels.

Used by `bench_layer.py --trace DIR`, which marks the end of every step with a host annotation
named MARK + step; or on its own: `python benchmarks/trace_summary.py DIR`. Reads the newest
`*.xplane.pb` under DIR with `jax.profiler.ProfileData`. Device kernels are the events on a GPU
plane's stream lines (XLA's per-op and per-module lines would count them twice). Busy time is
the union of kernel intervals, so two streams running at once count once; wall minus busy is
where the device waited for the host (dispatch, Python, host syncs).
"""

from __future__ import annotations

import bisect
import collections
import glob
import itertools
import os
import sys

MARK = "zkmark:"


def _newest(folder: str) -> str:
    paths = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise FileNotFoundError(f"no *.xplane.pb under {folder}")
    return max(paths, key=os.path.getmtime)


def _busy(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of `spans` (sorted by start) clipped to [lo, hi)."""
    total, end = 0.0, lo
    for s, e in spans:
        s, e = max(s, end), min(e, hi)
        if e > s:
            total += e - s
            end = e
        if s >= hi:
            break
    return total


def summarize(folder: str, top: int = 6, out=sys.stderr, prefix: str = "") -> dict:
    """Per-step and overall device busy time and costliest kernels of the newest trace, printed
    to `out` (each line starting with `prefix`) and returned."""
    from jax.profiler import ProfileData

    data = ProfileData.from_file(_newest(folder))
    marks, kernels = [], []
    for plane in data.planes:
        if plane.name.startswith("/host"):
            marks += [(e.start_ns, e.name[len(MARK):]) for line in plane.lines
                      for e in line.events if e.name.startswith(MARK)]
        elif plane.name.startswith("/device:GPU"):
            for line in plane.lines:
                if line.name.lower().startswith("stream"):
                    kernels += [(e.start_ns, e.start_ns + e.duration_ns, e.name)
                                for e in line.events]
    marks.sort()
    kernels.sort()
    spans = [(s, e) for s, e, _ in kernels]
    starts = [s for s, _ in spans]
    steps = []
    for (lo, _), (hi, name) in itertools.pairwise(marks):
        a, b = bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi)
        by = collections.Counter()
        for s, e, k in kernels[a:b]:
            by[k] += e - s
        steps.append({"step": name, "wall_ms": round((hi - lo) / 1e6, 1),
                      "busy_ms": round(_busy(spans[:b], lo, hi) / 1e6, 1),
                      "kernels": b - a,
                      "top": [[k[:90], round(v / 1e6, 1)] for k, v in by.most_common(3)]})
    total, count = collections.Counter(), collections.Counter()
    for s, e, k in kernels:
        total[k] += e - s
        count[k] += 1
    lo, hi = (marks[0][0], marks[-1][0]) if len(marks) > 1 else (0, float("inf"))
    res = {"wall_ms": round((hi - lo) / 1e6, 1) if len(marks) > 1 else None,
           "busy_ms": round(_busy(spans, lo, hi) / 1e6, 1), "kernels": len(kernels),
           "steps": steps,
           "top": [[k[:120], round(v / 1e6, 1), count[k]] for k, v in total.most_common(15)]}

    def say(line: str) -> None:
        print(prefix + line, file=out, flush=True)

    say(f"trace: wall {res['wall_ms']} ms, device busy {res['busy_ms']} ms, "
          f"{res['kernels']} kernels")
    for st in steps:
        say(f"  {st['step']:<22} wall {st['wall_ms']:9.1f} ms  busy {st['busy_ms']:9.1f} ms "
            f" kernels {st['kernels']:6d}")
        for k, v in st["top"][:top]:
            say(f"      {v:9.1f} ms  {k}")
    say("  costliest kernels overall (ms, launches):")
    for k, v, c in res["top"]:
        say(f"    {v:9.1f} ms x{c:<6d} {k}")
    return res


if __name__ == "__main__":
    summarize(sys.argv[1])
