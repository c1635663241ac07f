"""LLaMa-family models over float32 and exact fixed-point integers (`zkllm_jax.models`).

This package never imports the proof system; the prover consumes the witness pytree that
`llama.run(..., mode="fixed")` returns. See docs/models.md for the fixed-point design.
"""

from .config import FixedPointConfig, FixedPointRangeError, LlamaConfig, ModelFormatError
from .convert import load_gguf, load_hf, load_params, quantize_params, save_params
from .flax_llama import LlamaForCausalLM
from .generate import greedy
from .llama import (
    STEPS,
    KVCache,
    LayerWitnesses,
    check_ranges,
    forward,
    init_cache,
    presplit,
    run,
    run_step,
)
from .loader import Model, load_model, smollm2_path
from .tables import build_tables

__all__ = [
    "STEPS",
    "FixedPointConfig",
    "FixedPointRangeError",
    "KVCache",
    "LayerWitnesses",
    "LlamaConfig",
    "LlamaForCausalLM",
    "Model",
    "ModelFormatError",
    "build_tables",
    "check_ranges",
    "forward",
    "greedy",
    "init_cache",
    "load_gguf",
    "load_hf",
    "load_model",
    "load_params",
    "presplit",
    "quantize_params",
    "run",
    "run_step",
    "save_params",
    "smollm2_path",
]
