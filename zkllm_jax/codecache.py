"""Keep XLA:CPU's compiled code within Linux's memory-map limit.

Every XLA:CPU executable maps its code sections separately, and the eager prover compiles
thousands of small executables (one per op and shape). A whole SmolLM2 proof on CPU reached the
kernel's default `vm.max_map_count` (65,530) in the finish's openings, where LLVM fails with
"Cannot allocate memory" and aborts the process. `relieve()`, called between the prover's and
verifier's phases, drops JAX's compiled executables (they are recompiled, or read back from the
persistent cache, on demand) once the process holds more than a fraction of that limit; below it,
it costs one read of /proc/self/maps.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import jax

MAPS = "/proc/self/maps"
LIMIT = "/proc/sys/vm/max_map_count"
# A SmolLM2 layer's executables hold about half the default limit, so the layers (which reuse
# them) stay below this and only the phase changes that compile anew (the finish) clear.
THRESHOLD = 0.6
_log = logging.getLogger(__name__)


def map_usage() -> float | None:
    """The fraction of vm.max_map_count this process uses; None where /proc does not say."""
    try:
        with open(LIMIT) as f:
            limit = int(f.read())
        with open(MAPS, "rb") as f:
            used = sum(1 for _ in f)
    except (OSError, ValueError):
        return None
    return used / limit if limit > 0 else None


def relieve(state: Any = None, threshold: float = THRESHOLD) -> bool:
    """Clear JAX's compiled executables if this process is near the map limit.

    `state` is any array of the caller's: under tracing (a jitted caller) nothing is done.
    Returns whether the caches were cleared.
    """
    if isinstance(state, jax.core.Tracer):
        return False
    usage = map_usage()
    if usage is None or usage < threshold:
        return False
    # a later call recompiles (or reads back from the persistent cache) every executable it
    # needs, which can cost minutes: say so, for whoever times the next step
    _log.info("cleared JAX's compiled executables at %.0f%% of vm.max_map_count", 100 * usage)
    jax.clear_caches()
    gc.collect()
    return True


__all__ = ["map_usage", "relieve"]
