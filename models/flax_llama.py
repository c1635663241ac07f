"""`LlamaForCausalLM` as a Flax linen module over the one network of `llama.py`.

The module holds the params pytree under transformers' names in its "params" collection
(`{"model": {...}, "lm_head": {...}}`) and calls the same pure forward that the prover certifies,
so a Flax user gets the float reference or the exact fixed-point model (with its witness) through
`module.apply`. Checkpoints convert to this pytree with `load_hf`/`load_gguf` (+
`quantize_params` for fixed point); `init` draws random weights of the config's shapes.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from .config import FixedPointConfig, LlamaConfig
from .llama import forward as _forward
from .llama import init_cache
from .tables import build_tables


def random_params(cfg: LlamaConfig, key: jax.Array, std: float = 0.02) -> dict[str, Any]:
    """Float32 params of the config's shapes (normal(0, std) matrices, unit norm weights)."""
    d, i, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    hq = cfg.num_attention_heads * cfg.head_dim
    hkv = cfg.num_key_value_heads * cfg.head_dim
    shapes = {
        "q_proj": (hq, d), "k_proj": (hkv, d), "v_proj": (hkv, d), "o_proj": (d, hq),
        "gate_proj": (i, d), "up_proj": (i, d), "down_proj": (d, i),
    }
    keys = iter(jax.random.split(key, len(shapes) + 2))

    def mat(shape):
        return std * jax.random.normal(next(keys), (layers, *shape), jnp.float32)

    layer = {
        "self_attn": {n: {"weight": mat(shapes[n])} for n in ("q_proj", "k_proj", "v_proj",
                                                             "o_proj")},
        "mlp": {n: {"weight": mat(shapes[n])} for n in ("gate_proj", "up_proj", "down_proj")},
        "input_layernorm": {"weight": jnp.ones((layers, d), jnp.float32)},
        "post_attention_layernorm": {"weight": jnp.ones((layers, d), jnp.float32)},
    }
    params = {"model": {
        "embed_tokens": {"weight": std * jax.random.normal(next(keys), (cfg.vocab_size, d))},
        "layers": layer,
        "norm": {"weight": jnp.ones((d,), jnp.float32)},
    }}
    if not cfg.tie_word_embeddings:
        params["lm_head"] = {"weight": std * jax.random.normal(next(keys), (cfg.vocab_size, d))}
    return params


class LlamaForCausalLM(nn.Module):
    """LLaMa decoder for causal LM, float32 (`mode="float"`) or exact fixed point (`"fixed"`).

    `apply(variables, tokens)` returns (logits, witness): float32 logits, or int32 logits at
    scale 2^f with the full witness pytree in fixed mode (docs/models.md). Fixed mode expects
    quantized params (`quantize_params`); `init` in fixed mode rounds the random weights.
    """

    config: LlamaConfig
    mode: str = "float"
    fixed_point: FixedPointConfig = FixedPointConfig()

    @nn.compact
    def __call__(self, tokens: jax.Array) -> tuple[jax.Array, Any]:
        cfg, fx = self.config, self.fixed_point
        if self.mode not in ("float", "fixed"):
            raise ValueError(f"mode must be 'float' or 'fixed', got {self.mode!r}")

        def init(key):
            p = random_params(cfg, key)
            if self.mode == "float":
                return p
            # Flax traces `init` to check the shapes of given params, so this stays in jnp
            # (quantize_params, which also range-checks real checkpoints, works on numpy).
            return jax.tree_util.tree_map(lambda w: jnp.round(w * fx.scale).astype(jnp.int32), p)

        params = self.param("weights", init)
        tokens = jnp.asarray(tokens, jnp.int32)
        t = tokens.shape[0]
        tables = build_tables(cfg, fx, t)
        logits, _, wit, _ = _forward(
            params, tables, tokens, jnp.int32(0), init_cache(cfg, t, self.mode),
            cfg=cfg, fx=fx, mode=self.mode,
        )
        return logits, wit
