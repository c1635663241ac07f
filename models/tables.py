"""Public lookup tables of the fixed-point model (the only place floats enter the integer path).

Each table is a deterministic function of the model config and `FixedPointConfig`, computed in
float64 numpy and rounded half away from zero, so prover and verifier rebuild identical tables.
"""

from __future__ import annotations

import numpy as np

from .config import FixedPointConfig, LlamaConfig


def rope_tables(cfg: LlamaConfig, fx: FixedPointConfig, n_pos: int) -> tuple[np.ndarray, ...]:
    """cos/sin at scale 2^f for positions [0, n_pos), laid out like HF (freqs repeated twice)."""
    hd = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.arange(n_pos, dtype=np.float64)[:, None] * inv_freq[None, :]
    ang = np.concatenate([ang, ang], axis=-1)
    return (
        np.round(np.cos(ang) * fx.scale).astype(np.int32),
        np.round(np.sin(ang) * fx.scale).astype(np.int32),
    )


def exp_digit_positions(fx: FixedPointConfig) -> list[int]:
    """Bit offset (in x = max − score) of each softmax digit."""
    pos, out = fx.softmax_round_bits, []
    for b in fx.softmax_digit_bits:
        out.append(pos)
        pos += b
    return out


def exp_tables(cfg: LlamaConfig, fx: FixedPointConfig) -> list[np.ndarray]:
    """T_k[d] = round(2^f · exp(−(d·2^p_k + c_k) / (2^f·sqrt(head_dim)))), one per softmax digit.

    The 1/sqrt(head_dim) attention scaling is folded into the tables, so scores stay at 2^f.
    x is rounded down to a multiple of 2^R (R = softmax_round_bits), so the first digit's table
    is taken at the middle of each bucket, c_0 = (2^R − 1)/2, which makes the rounding unbiased;
    c_k = 0 for the others.
    """
    out = []
    mid = ((1 << fx.softmax_round_bits) - 1) / 2
    for k, (p, b) in enumerate(zip(exp_digit_positions(fx), fx.softmax_digit_bits)):
        d = np.arange(1 << b, dtype=np.float64)
        t = np.exp(-(d * 2.0**p + (mid if k == 0 else 0.0)) / (fx.scale * np.sqrt(cfg.head_dim)))
        out.append(np.round(t * fx.scale).astype(np.int32))
    return out


def silu_table(fx: FixedPointConfig) -> np.ndarray:
    """SiLU at scale 2^f on inputs (i − 2^(tb−1))·2^−step for i in [0, 2^tb)."""
    n = 1 << fx.silu_table_bits
    x = (np.arange(n, dtype=np.float64) - n // 2) / (1 << fx.silu_step_bits)
    y = x / (1.0 + np.exp(-x))
    return np.round(y * fx.scale).astype(np.int32)


def build_tables(cfg: LlamaConfig, fx: FixedPointConfig, n_pos: int) -> dict:
    """All public tables as a pytree of int32 arrays (pass it to the jitted forward)."""
    if n_pos > cfg.max_position_embeddings:
        raise ValueError(
            f"sequence length {n_pos} exceeds max_position_embeddings={cfg.max_position_embeddings}"
        )
    cos, sin = rope_tables(cfg, fx, n_pos)
    return {"rope_cos": cos, "rope_sin": sin, "exp": exp_tables(cfg, fx), "silu": silu_table(fx)}
