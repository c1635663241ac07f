"""The Flax linen module runs the same network as the functional forward."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from zkllm_jax.models import FixedPointConfig, LlamaConfig, build_tables, quantize_params, run
from zkllm_jax.models.flax_llama import LlamaForCausalLM, random_params

CFG = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
TOKENS = jnp.array([1, 5, 9, 2, 7, 3], jnp.int32)


def test_flax_float_matches_functional_forward():
    module = LlamaForCausalLM(CFG)
    variables = module.init(jax.random.key(0), TOKENS)
    params = variables["params"]["weights"]
    logits, wit = module.apply(variables, TOKENS)
    fx = FixedPointConfig()
    want, _ = run(params, build_tables(CFG, fx, 6), TOKENS, cfg=CFG, fx=fx, mode="float")
    assert wit == {}
    np.testing.assert_array_equal(np.asarray(logits), np.asarray(want))
    # the random weights are not degenerate: different tokens give different logits
    assert float(jnp.std(logits)) > 0


def test_flax_fixed_point_is_the_exact_integer_forward():
    fx = FixedPointConfig()
    float_params = random_params(CFG, jax.random.key(1))
    q = quantize_params(float_params, CFG, fx)
    module = LlamaForCausalLM(CFG, mode="fixed", fixed_point=fx)
    logits, wit = module.apply({"params": {"weights": q}}, TOKENS)
    want, want_wit = run(q, build_tables(CFG, fx, 6), TOKENS, cfg=CFG, fx=fx, mode="fixed")
    assert logits.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(logits), np.asarray(want))
    got_leaves = jax.tree_util.tree_leaves(wit)
    want_leaves = jax.tree_util.tree_leaves(want_wit)
    assert len(got_leaves) == len(want_leaves) > 10
    assert all(np.array_equal(a, b) for a, b in zip(got_leaves, want_leaves))
    # and it tracks the float model of the same weights
    flogits, _ = LlamaForCausalLM(CFG).apply({"params": {"weights": float_params}}, TOKENS)
    err = np.max(np.abs(np.asarray(logits) / fx.scale - np.asarray(flogits)))
    assert err < 1e-2, err
    # init in fixed mode gives int32 weights that run
    v = LlamaForCausalLM(CFG, mode="fixed", fixed_point=fx).init(jax.random.key(2), TOKENS)
    assert jax.tree_util.tree_leaves(v)[0].dtype == jnp.int32
