"""Greedy decoding with a key/value cache (float or fixed point)."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .config import FixedPointConfig, LlamaConfig
from .llama import check_ranges, forward, init_cache, presplit, validate_tokens
from .tables import build_tables


def greedy(
    params,
    cfg: LlamaConfig,
    prompt: Sequence[int],
    max_new_tokens: int,
    *,
    mode: str,
    fx: FixedPointConfig | None = None,
    stop_at_eos: bool = True,
) -> tuple[list[int], list[np.ndarray]]:
    """Greedy continuation of `prompt`; returns (new token ids, last-position logits per step).

    Fixed-point logits are int32 at scale 2^f. Range violations raise FixedPointRangeError.
    """
    fx = fx or FixedPointConfig()
    prompt = np.asarray(prompt, np.int32)
    validate_tokens(prompt, cfg)
    if prompt.size == 0:
        raise ValueError("empty prompt")
    max_len = int(prompt.size + max_new_tokens)
    tables = build_tables(cfg, fx, max_len) if mode == "fixed" else {}
    if mode == "fixed":
        params = presplit(params, fx)
    cache = init_cache(cfg, max_len, mode)
    kw = {"cfg": cfg, "fx": fx, "mode": mode, "with_witness": False, "last_only": True}
    logits, cache, _, chk = forward(params, tables, jnp.asarray(prompt), jnp.int32(0), cache, **kw)
    out, all_logits = [], []
    pos = int(prompt.size)
    for _ in range(max_new_tokens):
        if mode == "fixed":
            check_ranges(chk)
        last = np.asarray(logits[-1])
        all_logits.append(last)
        nxt = int(np.argmax(last))
        out.append(nxt)
        if stop_at_eos and cfg.eos_token_id is not None and nxt == cfg.eos_token_id:
            break
        if len(out) == max_new_tokens:
            break
        logits, cache, _, chk = forward(
            params, tables, jnp.asarray([nxt], jnp.int32), jnp.int32(pos), cache, **kw
        )
        pos += 1
    return out, all_logits
