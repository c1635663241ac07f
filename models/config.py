"""Model and fixed-point configuration.

`LlamaConfig` uses the field names of `transformers.LlamaConfig`, so a `config.json` written by
`save_pretrained` maps onto it one to one. `FixedPointConfig` holds every parameter of the integer
forward (scales, limb counts, table sizes); both are frozen and hashable so they can be static
arguments of `jax.jit`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)
SUPPORTED_MODEL_TYPES = ("llama",)


class ModelFormatError(ValueError):
    """A checkpoint or config file is missing, malformed or describes an unsupported model."""


class FixedPointRangeError(ValueError):
    """A value left the range the fixed-point arithmetic (and later the proof) can represent."""


@dataclass(frozen=True)
class LlamaConfig:
    """Shape and numerics of a LLaMa-family decoder, with `transformers`' field names."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int | None = None
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self) -> None:
        if self.head_dim is None:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_attention_heads)
        if self.num_attention_heads % self.num_key_value_heads:
            raise ModelFormatError(
                f"num_attention_heads={self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )
        if self.head_dim % 2:
            raise ModelFormatError(f"head_dim={self.head_dim} must be even for RoPE")

    @property
    def num_kv_groups(self) -> int:
        """Query heads per key/value head (GQA)."""
        return self.num_attention_heads // self.num_key_value_heads

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> LlamaConfig:
        """Build from a `config.json` dict, rejecting anything this model does not implement."""
        archs = d.get("architectures") or []
        mtype = d.get("model_type")
        if mtype is not None and mtype not in SUPPORTED_MODEL_TYPES:
            raise ModelFormatError(
                f"{source}: unsupported model_type {mtype!r} (supported: {SUPPORTED_MODEL_TYPES})"
            )
        for a in archs:
            if a not in SUPPORTED_ARCHITECTURES:
                raise ModelFormatError(
                    f"{source}: unsupported architecture {a!r} (supported: {SUPPORTED_ARCHITECTURES})"
                )
        act = d.get("hidden_act", "silu")
        if act != "silu":
            raise ModelFormatError(f"{source}: unsupported hidden_act {act!r} (only 'silu')")
        if d.get("rope_scaling") not in (None, {}):
            rs = d["rope_scaling"]
            if not (isinstance(rs, dict) and rs.get("rope_type", rs.get("type")) == "default"):
                raise ModelFormatError(f"{source}: unsupported rope_scaling {rs!r}")
        for flag in ("attention_bias", "mlp_bias"):
            if d.get(flag):
                raise ModelFormatError(f"{source}: unsupported {flag}=True")
        theta = d.get("rope_theta")
        if theta is None and isinstance(d.get("rope_parameters"), dict):
            theta = d["rope_parameters"].get("rope_theta")
        required = (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
        )
        missing = [k for k in required if k not in d]
        if missing:
            raise ModelFormatError(f"{source}: missing required field(s) {missing}")
        kw: dict[str, Any] = {k: d[k] for k in required}
        kw["num_key_value_heads"] = d.get("num_key_value_heads") or d["num_attention_heads"]
        for k in (
            "head_dim",
            "rms_norm_eps",
            "max_position_embeddings",
            "tie_word_embeddings",
            "bos_token_id",
            "eos_token_id",
        ):
            if d.get(k) is not None:
                kw[k] = d[k]
        if isinstance(kw.get("eos_token_id"), list):
            kw["eos_token_id"] = kw["eos_token_id"][0]
        if theta is not None:
            kw["rope_theta"] = float(theta)
        try:
            return cls(**kw)
        except TypeError as e:
            raise ModelFormatError(f"{source}: malformed config: {e}") from e

    @classmethod
    def from_json(cls, path: str | Path) -> LlamaConfig:
        """Read a `config.json` file."""
        path = Path(path)
        if not path.is_file():
            raise ModelFormatError(f"{path}: config file not found")
        try:
            d = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelFormatError(f"{path}: malformed JSON: {e}") from e
        if not isinstance(d, dict):
            raise ModelFormatError(f"{path}: expected a JSON object")
        return cls.from_dict(d, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """A `config.json`-compatible dict (loadable by `transformers.LlamaConfig` too)."""
        d = dataclasses.asdict(self)
        d.update(model_type="llama", architectures=["LlamaForCausalLM"], hidden_act="silu")
        return d


@dataclass(frozen=True)
class FixedPointConfig:
    """Parameters of the integer forward; see docs/models.md for how each was chosen.

    scale_bits:   activations and weights are integers at scale 2^scale_bits.
    weight_limbs: 8-bit limbs per weight in the exact matmul (3 → |w| < 127.5 at scale 2^16).
    act_limbs:    8-bit limbs per activation in the exact matmul (4 → |x| < 32640 at 2^16).
    rsqrt_bits:   RMSNorm's r = floor(sqrt(d·2^(2f+2R) / Σ(x²+ε))) is at scale 2^R; None picks
                  the largest R (<= 24) for which r <= 2^R/sqrt(eps) still fits 4 limbs, because
                  r's relative precision is 1/r and shrinks as the row's RMS grows.
    softmax_round_bits: low bits of x = max − score removed by rounding down (the first exp
                  table is taken at each bucket's middle).
    softmax_digit_bits: digit widths (least significant first) of the rounded x; each digit
                  maps through its own public exp table of 2^bits entries.
    softmax_recip_bits: K of the normalisation probs = round(exp·inv / 2^K) with the row's
                  inv = floor(2^(scale_bits+K) / row_sum); its remainder is K bits, so K = 24 is
                  two range pieces (exact division needed four) with a row's mass within
                  row_sum/2^K ulp of exact.
    silu_step_bits: the SiLU table input step is 2^-silu_step_bits.
    silu_table_bits: the SiLU table has 2^silu_table_bits entries centred on 0.
    max_score_bits: attention scores (at 2^scale_bits) must satisfy |s| < 2^max_score_bits so that
                  max − s fits int32.
    """

    scale_bits: int = 16
    weight_limbs: int = 3
    act_limbs: int = 4
    rsqrt_bits: int | None = None
    softmax_round_bits: int = 8
    softmax_digit_bits: tuple[int, ...] = (11, 11)
    softmax_recip_bits: int = 24
    silu_step_bits: int = 10
    silu_table_bits: int = 20
    max_score_bits: int = 29

    def __post_init__(self) -> None:
        if not 4 <= self.scale_bits <= 20:
            raise ValueError(f"scale_bits={self.scale_bits} outside [4, 20]")
        if self.silu_step_bits > self.scale_bits:
            raise ValueError("silu_step_bits must not exceed scale_bits")
        bits = tuple(self.softmax_digit_bits)
        if not ((len(bits) in (2, 3) and all(1 <= b <= 16 for b in bits))
                or (len(bits) == 1 and 1 <= bits[0] <= 22)):
            raise ValueError(f"softmax_digit_bits: 2 or 3 digits of 1..16 bits or one of 1..22 "
                             f"(a table of at most 2^22 entries), got {bits}")
        if self.softmax_round_bits + sum(self.softmax_digit_bits) < self.max_score_bits + 1:
            raise ValueError("softmax digits do not cover max − score < 2^(max_score_bits+1)")
        if not 17 <= self.softmax_recip_bits <= 30:
            raise ValueError(f"softmax_recip_bits={self.softmax_recip_bits} outside [17, 30] (two "
                             "16-bit pieces of the remainder, the reciprocal below 2^31)")
        if not 1 <= self.act_limbs <= 4 or not 1 <= self.weight_limbs <= 4:
            raise ValueError("limb counts must be in [1, 4]")

    def rsqrt_bits_for(self, eps: float) -> int:
        """R actually used for a model with RMSNorm epsilon `eps`."""
        if self.rsqrt_bits is not None:
            return self.rsqrt_bits
        limit = 127 * ((1 << 32) - 1) // 255 - 1  # 4-limb bound, minus one for r + 1
        r = 24
        while r > 1 and (1 << r) / math.sqrt(eps) > limit:
            r -= 1
        return r

    @property
    def scale(self) -> int:
        """The fixed-point scale 2^scale_bits."""
        return 1 << self.scale_bits

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (stored next to quantized params)."""
        d = dataclasses.asdict(self)
        d["softmax_digit_bits"] = list(self.softmax_digit_bits)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FixedPointConfig:
        """Inverse of `to_dict`."""
        d = dict(d)
        if "softmax_digit_bits" in d:
            d["softmax_digit_bits"] = tuple(d["softmax_digit_bits"])
        return cls(**d)
