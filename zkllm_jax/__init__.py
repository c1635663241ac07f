"""zkllm-jax: zero-knowledge proofs of LLaMa-family inference over BLS12-381, in JAX.

Submodules load lazily, so `zkllm_jax.models` (the model, usable without proving) does not pull
in the native proof code.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
_SUBMODULES = {
    "commit", "curve", "field", "ffi", "hashing", "mle", "models", "proof", "sumcheck", "transcript",
    "lookup", "claims", "gadgets",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
