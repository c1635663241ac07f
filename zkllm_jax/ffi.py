"""Loads the native modules and registers their XLA custom calls.

The only module that knows native code exists. The CPU module is always present; the CUDA module
is registered when it was built. If it was built but cannot be loaded while JAX sees a GPU, that
is an error, never a silent fall back to the CPU handlers.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from typing import Any

import jax

_native_cpu = importlib.import_module("zkllm_jax._native_cpu")
for _name, _capsule in _native_cpu.registrations().items():
    jax.ffi.register_ffi_target(_name, _capsule, platform="cpu")

HAS_CUDA_MODULE = False
if importlib.util.find_spec("zkllm_jax._native_cuda") is not None:
    try:
        _native_cuda = importlib.import_module("zkllm_jax._native_cuda")
    except ImportError as err:  # built, but its CUDA runtime is missing or broken
        if any(d.platform == "gpu" for d in jax.devices()):
            raise ImportError(
                f"zkllm_jax: JAX sees a GPU but the CUDA module failed to load: {err}"
            ) from err
    else:
        for _name, _capsule in _native_cuda.registrations().items():
            jax.ffi.register_ffi_target(_name, _capsule, platform="CUDA")
        HAS_CUDA_MODULE = True

TARGETS: frozenset[str] = frozenset(_native_cpu.registrations())


def call(
    target: str,
    out: jax.ShapeDtypeStruct | Sequence[jax.ShapeDtypeStruct],
    *args: Any,
    vmap_method: str = "broadcast_all",
    **attrs: Any,
) -> Any:
    """Invoke the custom call `target` (one of TARGETS) on `args`.

    `attrs` are the handler's static attributes (Python ints, numpy scalars or 1-D numpy arrays).
    """
    if target not in TARGETS:
        raise KeyError(f"unknown custom call target {target!r}")
    return jax.ffi.ffi_call(target, out, vmap_method=vmap_method)(*args, **attrs)
