"""Tiny random LLaMa checkpoints written by transformers: float parity, fixed point, witness."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from zkllm_jax.models import (
    FixedPointConfig,
    LayerWitnesses,
    build_tables,
    greedy,
    load_model,
    run,
    save_params,
)
from zkllm_jax.models import intmath as im

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

FX = FixedPointConfig()
S = FX.scale
TOKENS = np.array([1, 5, 9, 20, 3, 77, 100, 2, 4, 5, 6, 7, 90, 91, 13, 14], np.int32)

CONFIGS = {
    # GQA: 4 query heads share 2 key/value heads; separate lm_head
    "gqa": {"num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False},
    # tied embeddings, plain multi-head attention, explicit head_dim
    "tied": {
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "tie_word_embeddings": True,
        "head_dim": 32,
    },
}


def make_checkpoint(path, kind: str, shard: bool = False, seed: int = 0):
    """Save a random tiny LlamaForCausalLM with O(1) activations (HF's init is nearly zero)."""
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=3,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        **CONFIGS[kind],
    )
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            else:
                p.normal_(0.0, 1.5 / p.shape[-1] ** 0.5)
    model.save_pretrained(path, max_shard_size="100KB" if shard else "2GB")
    return model


def hf_logits(model, tokens):
    with torch.no_grad():
        return model(torch.tensor(tokens[None].astype(np.int64))).logits[0].numpy()


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def tiny(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param)
    model = make_checkpoint(path, request.param)
    return request.param, path, model


@pytest.fixture(scope="module")
def tiny_fixed(tiny):
    """One compiled fixed-point forward (with witness) per config, shared by the tests."""
    kind, path, model = tiny
    m = load_model(path)
    logits, wit = _fixed(m, TOKENS)
    return kind, m, model, logits, wit


def _fixed(m, tokens):
    fm = m.to_fixed(FX)
    logits, wit = run(
        fm.params, build_tables(m.cfg, FX, len(tokens)), tokens, cfg=m.cfg, fx=FX, mode="fixed"
    )
    return np.asarray(logits), jax.tree_util.tree_map(np.asarray, wit)


def test_float_matches_transformers(tiny):
    kind, path, model = tiny
    m = load_model(path)
    assert m.cfg.tie_word_embeddings == (kind == "tied")
    assert ("lm_head" in m.params) == (kind != "tied")
    ref = hf_logits(model, TOKENS)
    ours, _ = run(m.params, {}, TOKENS, cfg=m.cfg, fx=FX, mode="float")
    rel = np.abs(np.asarray(ours) - ref).max() / np.abs(ref).max()
    assert rel < 1e-4, rel


def test_fixed_point_close_to_float(tiny_fixed):
    kind, _, model, logits, _ = tiny_fixed
    ref = hf_logits(model, TOKENS)
    fl = np.asarray(logits) / S
    err = np.abs(fl - ref).max()
    top1 = (fl.argmax(-1) == ref.argmax(-1)).mean()
    print(
        f"[{kind}] fixed vs float: max logit error {err:.2e} (logit range "
        f"{np.abs(ref).max():.2f}), top-1 agreement {top1:.3f}"
    )
    assert err < 5e-3 * max(1.0, np.abs(ref).max())
    assert top1 == 1.0


def test_sharded_checkpoint_and_save_load_roundtrip(tmp_path):
    model = make_checkpoint(tmp_path / "hf", "gqa", shard=True, seed=1)
    assert (tmp_path / "hf" / "model.safetensors.index.json").is_file()
    m = load_model(tmp_path / "hf")
    ref = hf_logits(model, TOKENS)
    ours, _ = run(m.params, {}, TOKENS, cfg=m.cfg, fx=FX, mode="float")
    assert np.abs(np.asarray(ours) - ref).max() / np.abs(ref).max() < 1e-4
    # convert once: float and quantized files load back identically
    save_params(tmp_path / "f.safetensors", m.params, m.cfg, mode="float")
    fm = m.to_fixed(FX)
    save_params(tmp_path / "q.safetensors", fm.params, m.cfg, mode="fixed", fx=FX)
    mf, mq = load_model(tmp_path / "f.safetensors"), load_model(tmp_path / "q.safetensors")
    assert mf.cfg == m.cfg and mq.cfg == m.cfg and mq.mode == "fixed" and mq.fx == FX
    eq = jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)), fm.params, mq.params)
    assert all(jax.tree_util.tree_leaves(eq))
    eq = jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)), m.params, mf.params)
    assert all(jax.tree_util.tree_leaves(eq))


def test_cached_decoding_equals_full_forward(tiny):
    """Incremental decoding (what `zkllm run` does) gives the very integers of one full forward."""
    kind, path, _ = tiny
    if kind != "gqa":
        pytest.skip("decoding path is config-independent; the gqa config covers it")
    m = load_model(path)
    fm = m.to_fixed(FX)
    prompt = TOKENS[:11]
    new, step_logits = greedy(fm.params, m.cfg, prompt, 6, mode="fixed", fx=FX, stop_at_eos=False)
    seq = np.concatenate([prompt, np.asarray(new[:-1], np.int32)])
    full, _ = run(
        fm.params,
        build_tables(m.cfg, FX, len(seq)),
        seq,
        cfg=m.cfg,
        fx=FX,
        mode="fixed",
        with_witness=False,
    )
    full = np.asarray(full)
    for i, lg in enumerate(step_logits):
        np.testing.assert_array_equal(lg, full[len(prompt) - 1 + i])


def test_streamed_witness_equals_the_stacked_one(tiny_fixed):
    """run(stream=True): the same logits and embedding/head witness, and each layer's witness
    remade on demand equals the stacked witness at that layer; tree_map passes it through."""
    _, m, _, logits, w = tiny_fixed
    fm = m.to_fixed(FX)
    s_logits, s = run(fm.params, build_tables(m.cfg, FX, len(TOKENS)), TOKENS, cfg=m.cfg, fx=FX,
                      mode="fixed", stream=True)
    np.testing.assert_array_equal(np.asarray(s_logits), logits)
    s = jax.tree_util.tree_map(np.asarray, s)
    assert isinstance(s["layers"], LayerWitnesses) and len(s["layers"]) == m.cfg.num_hidden_layers
    for part in ("embed", "norm", "lm_head"):
        jax.tree_util.tree_map(np.testing.assert_array_equal, s[part], w[part])
    for i in (2, 0, 1):  # any order
        got = s["layers"].layer(i)
        want = jax.tree_util.tree_map(lambda a, i=i: a[i], w["layers"])
        assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    np.testing.assert_array_equal(np.asarray(s["layers"].output), w["layers"]["out"][-1])
    with pytest.raises(IndexError, match="layer 3 of 3"):
        s["layers"].layer(3)


def test_witness_layout_and_identities(tiny_fixed):
    _, m, _, logits, w = tiny_fixed
    cfg = m.cfg
    fm = m.to_fixed(FX)
    n_l, t = cfg.num_hidden_layers, len(TOKENS)
    h, kv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    lay = w["layers"]
    assert lay["input"].shape == (n_l, t, cfg.hidden_size)
    assert lay["self_attn"]["q_proj"]["out"].shape == (n_l, t, h * hd)
    assert lay["self_attn"]["k_rope"]["out"].shape == (n_l, kv, t, hd)
    assert lay["self_attn"]["softmax"]["probs"].shape == (n_l, h, t, t)
    assert lay["mlp"]["swiglu"]["act"].shape == (n_l, t, cfg.intermediate_size)
    assert w["lm_head"]["out"].shape == (t, cfg.vocab_size)
    np.testing.assert_array_equal(w["lm_head"]["out"], logits)
    for leaf in jax.tree_util.tree_leaves(w):
        assert leaf.dtype == np.int32
    # layer chaining and residuals
    np.testing.assert_array_equal(lay["input"][0], w["embed"]["out"])
    np.testing.assert_array_equal(lay["input"][1:], lay["out"][:-1])
    sa, mlp = lay["self_attn"], lay["mlp"]
    np.testing.assert_array_equal(lay["residual_attn"], lay["input"] + sa["o_proj"]["out"])
    np.testing.assert_array_equal(lay["out"], lay["residual_attn"] + mlp["down_proj"]["out"])
    # one matmul recomputed exactly from its witnessed input and the committed weight
    x = lay["input_layernorm"]["out"][1].astype(object)
    wq = np.asarray(fm.params["model"]["layers"]["self_attn"]["q_proj"]["weight"][1]).astype(object)
    raw = x @ wq.T
    q = sa["q_proj"]
    assert (q["out"][1].astype(object) * S + q["rem"][1] == raw).all()
    assert np.abs(q["rem"]).max() <= S // 2
    # GQA: scores of head j use key/value head j // groups
    qr = sa["q_rope"]["out"][0].astype(object)
    kr = sa["k_rope"]["out"][0].astype(object)
    g = h // kv
    for j in range(h):
        raw = qr[j] @ kr[j // g].T
        s = sa["scores"]
        assert (s["out"][0, j].astype(object) * S + s["rem"][0, j] == raw).all()
    # rmsnorm gaps are non-negative everywhere
    for key in ("gap_lo", "gap_hi"):
        assert (im.wide_to_int(lay["input_layernorm"][key]) >= 0).all()
