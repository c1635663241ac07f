"""The fixed-point forward is bit-identical on CPU and GPU (run with `-m gpu` on a CUDA host)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from zkllm_jax.models import FixedPointConfig, LlamaConfig, build_tables, quantize_params, run
from zkllm_jax.models.convert import expected_shapes, from_flat

pytestmark = pytest.mark.gpu


def _gpu():
    try:
        return jax.devices("gpu")[0]
    except RuntimeError:
        pytest.skip("no GPU visible to JAX")


def test_fixed_forward_cpu_equals_gpu():
    gpu = _gpu()
    cfg = LlamaConfig(
        vocab_size=200,
        hidden_size=128,
        intermediate_size=320,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=2,
        rms_norm_eps=1e-5,
        max_position_embeddings=128,
    )
    fx = FixedPointConfig()
    rng = np.random.default_rng(0)
    flat = {}
    for name, shp in expected_shapes(cfg).items():
        names = (
            [name]
            if name.startswith(("model.", "lm_head"))
            else [f"model.layers.{i}.{name}" for i in range(cfg.num_hidden_layers)]
        )
        for n in names:
            base = 1.0 if "norm" in n else 0.0
            flat[n] = (
                base + rng.standard_normal(shp) * (0.3 if "norm" in n else 1.5 / np.sqrt(shp[-1]))
            ).astype(np.float32)
    params = quantize_params(from_flat(flat, cfg, "random"), cfg, fx)
    tables = build_tables(cfg, fx, 96)
    toks = rng.integers(0, cfg.vocab_size, 96).astype(np.int32)
    out = {}
    for dev in (jax.devices("cpu")[0], gpu):
        with jax.default_device(dev):
            p, t = jax.device_put(params, dev), jax.device_put(tables, dev)
            logits, wit = run(p, t, toks, cfg=cfg, fx=fx, mode="fixed")
            out[dev.platform] = jax.tree_util.tree_map(np.asarray, (logits, wit))
    a, b = out["cpu"], out[gpu.platform]
    same = jax.tree_util.tree_map(lambda x, y: bool(np.array_equal(x, y)), a, b)
    bad = [
        jax.tree_util.keystr(k) for k, v in jax.tree_util.tree_flatten_with_path(same)[0] if not v
    ]
    assert not bad, f"CPU and GPU differ in {bad}"
