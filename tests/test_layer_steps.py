"""The per-layer workflow on files (`zkllm layer ...`) on a tiny tied GQA model: every step of
every layer is proven through the CLI (in this process, `cli.main`; one verify in a separate
process), the chained output equals the model's h_L from `models.run` (what `zkllm prove`
proves), `zkllm layer verify` ACCEPTs the chain and REJECTs a flipped proof byte, an
out-of-order chain, a step proven on a different input, an edited commitment digest in a
header and a layer-0 proof presented as layer 1; a wrong .npy gives exit 2. At the Python
level, a dishonest output (one element changed, witness checks off) is rejected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from test_cli_e2e import CFG, PROMPT, _model
from zkllm_jax.models import FixedPointConfig, build_tables, load_model, run, run_step

from zkllm_jax import cli, layer, model, proof, steps, weights
from zkllm_jax.claims import GadgetError

# 12 step proofs through the CLI (about 8 minutes on 2 cores): the slow target
pytestmark = pytest.mark.slow

# one layer's steps: (CLI step, extra args, input file, residual file, output file)
LAYER_STEPS = [
    ("rmsnorm", ["--which", "input"], "h{i}", None, "x1_{i}"),
    ("self-attn", [], "x1_{i}", None, "a{i}"),
    ("skip", [], "a{i}", "h{i}", "hm{i}"),
    ("rmsnorm", ["--which", "post_attention"], "hm{i}", None, "x2_{i}"),
    ("ffn", [], "x2_{i}", None, "f{i}"),
    ("skip", [], "f{i}", "hm{i}", "h{j}"),
]


def _main(*args: str) -> int:
    return cli.main([str(a) for a in args])


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    d = tmp_path_factory.mktemp("steps")
    _model(d / "tiny.safetensors", 0)
    assert _main("commit", "--model", d / "tiny.safetensors", "--out", d / "coms", "-q") == 0
    assert _main("layer", "embed", "--model", d / "tiny.safetensors", "--prompt", PROMPT,
                 "--output", d / "h0.npy", "-q") == 0
    files = []
    for i in range(CFG.num_hidden_layers):
        for k, (step, extra, x, res, y) in enumerate(LAYER_STEPS):
            def f(name: str, i: int = i) -> Path:
                return d / (name.format(i=i, j=i + 1) + ".npy")
            p = d / f"L{i}_{k}_{step}.zks"
            args = ["layer", step, "--model", d / "tiny.safetensors", "--commitments",
                    d / "coms", "--layer", i, "--input", f(x), *extra, "--output", f(y),
                    "--proof", p, "-q"]
            if res is not None:
                args += ["--residual", f(res)]
            assert _main(*args) == 0, args
            files.append(p)
    return d, files


def _verify(d: Path, *files, capsys=None) -> tuple[int, str]:
    rc = _main("layer", "verify", "--commitments", d / "coms", "--proof", *files)
    out = capsys.readouterr().out if capsys is not None else ""
    return rc, out


def test_chained_steps_equal_the_model_forward(chain):
    d, _ = chain
    mdl = load_model(str(d / "tiny.safetensors"))
    ids = mdl.tokenizer.encode(PROMPT).ids
    tables = build_tables(CFG, mdl.fx, len(ids))
    _, wit = run(mdl.params, tables, np.asarray(ids, np.int32), cfg=CFG, fx=mdl.fx,
                 mode="fixed")
    h_last = np.asarray(wit["layers"]["out"][-1])
    got = np.load(d / f"h{CFG.num_hidden_layers}.npy")
    assert got.dtype == np.int32 and np.array_equal(got, h_last)
    assert np.array_equal(np.load(d / "hm0.npy"), np.asarray(wit["layers"]["residual_attn"][0]))
    assert np.array_equal(np.load(d / "h0.npy"), np.asarray(wit["embed"]["out"]))


def test_verify_accepts_the_chain(chain, capsys):
    d, files = chain
    rc, out = _verify(d, *files, capsys=capsys)
    lines = out.strip().splitlines()
    assert rc == 0, out
    assert len(lines) == len(files) + 1 and lines[-1].startswith("ACCEPT")
    assert lines[7].endswith("self_attn layer 1: ACCEPT")
    assert "decoder layers 0..1 in order" in lines[-1]
    rc, out = _verify(d, *files[3:5], capsys=capsys)  # from h_mid of layer 0: a plain chain
    assert rc == 0 and "not whole decoder layers in order" in out, out


def test_rejects_miswired_layer(chain, capsys):
    """A skip that adds the wrong residual (x1 instead of h) is a valid chain of proven steps,
    but not the layer: the structure check names it."""
    d, files = chain
    assert _main("layer", "skip", "--model", d / "tiny.safetensors", "--commitments",
                 d / "coms", "--layer", 0, "--input", d / "a0.npy", "--residual",
                 d / "x1_0.npy", "--output", d / "hm_bad.npy", "--proof", d / "skip_bad.zks",
                 "-q") == 0
    rc, out = _verify(d, files[0], files[1], d / "skip_bad.zks", capsys=capsys)
    assert rc == 1 and "REJECT" in out and "skip_bad.zks: skip layer 0" in out
    assert "layer structure" in out and "'res'" in out


def test_verify_in_a_separate_process(chain):
    """The console entry point on its own: a residual step verifies (exit 0, no traceback)."""
    d, files = chain
    r = subprocess.run([sys.executable, "-m", "zkllm_jax.cli", "layer", "verify",
                        "--commitments", str(d / "coms"), "--proof", str(files[2])],
                       capture_output=True, text=True, env=dict(os.environ), timeout=900,
                       check=False, cwd=d)  # not the source tree: import the installed package
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skip layer 0: ACCEPT" in r.stdout and r.stdout.strip().splitlines()[-1].startswith(
        "ACCEPT")
    assert "Traceback" not in r.stderr


def _rewrite(src: Path, dst: Path, header_fn=None, proof_fn=None) -> Path:
    header, pb = steps.decode_file(src.read_bytes())
    header.pop("version")
    if header_fn is not None:
        header = header_fn(dict(header))
    if proof_fn is not None:
        pb = proof_fn(bytearray(pb))
    dst.write_bytes(steps.encode_file(header, bytes(pb)))
    return dst


def _flip(pb: bytearray) -> bytearray:
    pb[len(pb) // 2] ^= 0x01
    return pb


def test_rejects_flipped_proof_byte(chain, capsys):
    d, files = chain
    bad = _rewrite(files[4], d / "flipped.zks", proof_fn=_flip)
    rc, out = _verify(d, *files[:4], bad, capsys=capsys)
    assert rc == 1 and "REJECT" in out and "flipped.zks" in out and "ffn layer 0" in out


def test_rejects_out_of_order_chain(chain, capsys):
    d, files = chain
    rc, out = _verify(d, files[0], files[2], files[1], capsys=capsys)
    assert rc == 1 and "REJECT" in out and "skip layer 0" in out and "chain" in out


def test_rejects_a_step_on_a_different_input(chain, capsys):
    d, files = chain
    h0 = np.load(d / "h0.npy")
    h0[1, 3] += 1
    np.save(d / "h0x.npy", h0)
    assert _main("layer", "rmsnorm", "--model", d / "tiny.safetensors", "--commitments",
                 d / "coms", "--layer", 0, "--input", d / "h0x.npy", "--output", d / "x1x.npy",
                 "--proof", d / "other.zks", "-q") == 0
    rc, out = _verify(d, d / "other.zks", files[1], capsys=capsys)
    assert rc == 1 and "REJECT" in out and "self_attn layer 0" in out and "chain" in out


HEADER_EDITS = {
    "output digest": (lambda h: {**h, "output": "0" * 64}, "output commitment digest"),
    "input digest": (lambda h: {**h, "inputs": {"in": "1" * 64}}, "digest of input 'in'"),
    "model digest": (lambda h: {**h, "model_digest": "2" * 64}, "the step is for model"),
    "rows": (lambda h: {**h, "rows": h["rows"] + 1}, "proof"),
}


@pytest.mark.parametrize("edit", sorted(HEADER_EDITS))
def test_rejects_edited_header(chain, capsys, edit):
    d, files = chain
    fn, why = HEADER_EDITS[edit]
    bad = _rewrite(files[0], d / "header.zks", header_fn=fn)
    rc, out = _verify(d, bad, capsys=capsys)
    assert rc == 1 and out.startswith("REJECT") and why in out, out


def test_rejects_layer0_proof_as_layer1(chain, capsys):
    d, files = chain
    bad = _rewrite(files[4], d / "as_layer1.zks", header_fn=lambda h: {**h, "layer": 1})
    rc, out = _verify(d, bad, capsys=capsys)
    assert rc == 1 and "REJECT" in out and "ffn layer 1" in out


def test_wrong_dtype_npy_is_a_clear_error(chain, capsys):
    d, _ = chain
    np.save(d / "float.npy", np.load(d / "h0.npy").astype(np.float32))
    rc = _main("layer", "rmsnorm", "--model", d / "tiny.safetensors", "--commitments",
               d / "coms", "--layer", 0, "--input", d / "float.npy", "--output", d / "y.npy",
               "--proof", d / "y.zks")
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "float.npy" in err and "int32" in err


def _prove_and_verify(d: Path, kind: str, index: int, xs, tamper_y=None, weights_of: int = -1):
    """Prove a step at the Python level (witness checks off) and verify it after a bytes round
    trip; tamper_y edits the output, weights_of proves with another layer's weights (and
    witnesses) under layer `index`'s commitments."""
    m, coms = weights.load(d / "coms")
    seed = weights.load_seed(d / "coms", m)
    mdl = load_model(str(d / "tiny.safetensors"))
    fx: FixedPointConfig = mdl.fx
    ts = weights.tensors(mdl.params, CFG)
    rows = xs[0].shape[0]
    tables = build_tables(CFG, fx, rows)
    src = index if weights_of < 0 else weights_of
    y, wit = run_step(mdl.params, tables, kind, src, xs, cfg=CFG, fx=fx)
    y = np.array(y)
    if tamper_y is not None:
        tamper_y(y)
    sp = layer.spec(CFG, fx, rows)
    pub = layer.public(sp, tables)
    agens = layer.advice_generators(sp)
    mspec = model.spec(CFG, fx, rows)
    names, src_names = mspec.layer_weights(index), mspec.layer_weights(src)
    local = steps.WEIGHTS[kind]
    lazy = weights.LazyWitnesses(ts, seed)
    in_c, in_w = {}, {}
    for n, a in zip(steps.inputs_of(kind), xs):
        in_c[n], in_w[n] = steps.commit_activation(a, seed, agens)
    out_c, out_w = steps.commit_activation(y, seed, agens)
    wgens = weights.generators(m.generator_count)
    prf, _ = steps.prove_step(sp, kind, index, {n: ts[src_names[n]] for n in local},
                              {n: coms[names[n]] for n in local},
                              {n: lazy[src_names[n]] for n in local}, wgens, xs, y,
                              jax.tree_util.tree_map(np.asarray, wit), in_c, in_w, out_c,
                              out_w, pub, steps.statement(m.model_digest),
                              jax.random.PRNGKey(5), check_witness=False)
    like = steps.template(sp, kind, CFG, fx, pub, wgens)
    back = proof.tree_from_bytes(proof.tree_to_bytes(prf), like)
    return steps.verify_step(sp, kind, index, {n: coms[names[n]] for n in local}, wgens, back,
                             pub, steps.statement(m.model_digest))


@pytest.mark.parametrize("kind", ["skip", "rmsnorm_input"])
def test_dishonest_output_rejected(chain, kind):
    """A prover that changes one element of Y (witness checks off) is caught."""
    d, _ = chain
    h0 = np.load(d / "h0.npy")
    xs = [np.load(d / "x1_0.npy"), h0] if kind == "skip" else [h0]

    def bump(y):
        y[2, 7] += 1
    with pytest.raises(GadgetError):
        _prove_and_verify(d, kind, 0, xs, tamper_y=bump)


def test_honest_python_step_verifies_and_layer0_weights_fail_as_layer1(chain):
    """The same prover passes honestly; with layer 0's weights under layer 1's commitments the
    openings fail."""
    d, _ = chain
    xs = [np.load(d / "x2_0.npy")]
    ins, out, _ = _prove_and_verify(d, "ffn", 0, xs)
    assert set(ins) == {"in"} and set(out) == {"lo", "hi"}
    with pytest.raises(GadgetError) as e:
        _prove_and_verify(d, "ffn", 1, xs, weights_of=0)
    assert "openings" in str(e.value)
