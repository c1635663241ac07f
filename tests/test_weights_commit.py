"""Weight commitments (`zkllm_jax.weights`) and the `zkllm commit` command: equality with
`commit.commit`, recomputed witnesses that open, the on-disk format and its validation, caching."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gadget_harness import random_params
from zkllm_jax.models import FixedPointConfig, LlamaConfig, save_params

from zkllm_jax import commit, curve, field, mle, weights
from zkllm_jax.transcript import Transcript

FX = FixedPointConfig()
SEED = bytes(range(32))


def _cfg(tied: bool) -> LlamaConfig:
    return LlamaConfig(vocab_size=48, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                       rms_norm_eps=1e-5, max_position_embeddings=16, tie_word_embeddings=tied)


def _params(cfg: LlamaConfig, seed: int = 0) -> dict:
    """A random fixed-point model of the given shapes."""
    return random_params(cfg, seed, FX)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """(path, cfg, params) of an untied tiny fixed-point model saved with save_params."""
    cfg = _cfg(tied=False)
    params = _params(cfg)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_params(path, params, cfg, mode="fixed", fx=FX)
    return path, cfg, params


@pytest.fixture(scope="module")
def committed(model_file, tmp_path_factory):
    """A commitment directory of the tiny model made by `commit_model` with SEED."""
    path, cfg, params = model_file
    out = tmp_path_factory.mktemp("com") / "c"
    calls = []
    m, cms, cached = weights.commit_model(path, out, seed=SEED,
                                          progress=lambda *a: calls.append(a))
    assert not cached
    return out, m, cms, weights.tensors(params, cfg), calls


def _same_points(a, b) -> bool:
    return bool(np.all(np.asarray(curve.eq(a, b))))


# --- names, tensors, generators ------------------------------------------------------------------


def test_tensor_names_and_order(model_file):
    _, cfg, params = model_file
    ts = weights.tensors(params, cfg)
    assert list(ts) == weights.names(cfg)
    assert len(ts) == 2 + 9 * cfg.num_hidden_layers + 1
    assert ts["lm_head.weight"].shape == (48, 32)
    np.testing.assert_array_equal(ts["model.layers.1.mlp.up_proj.weight"],
                                  np.asarray(params["model"]["layers"]["mlp"]["up_proj"]["weight"][1]))
    assert all(a.dtype == np.int32 for a in ts.values())
    assert weights.resolve("lm_head.weight", cfg) == "lm_head.weight"


def test_tensors_rejects_float_and_missing(model_file):
    _, cfg, params = model_file
    fl = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    with pytest.raises(ValueError, match="quantize"):
        weights.tensors(fl, cfg)
    with pytest.raises(ValueError, match="missing"):
        weights.tensors({"model": params["model"]}, cfg)  # no lm_head in an untied model


def test_generators_prefix_and_max_cols():
    assert weights.max_cols([(48, 32), (32,), (96, 32)]) == 64  # 2^12 entries -> 64 columns
    small, big = weights.generators(16), weights.generators(64)
    assert _same_points(small.g, big.g[:16])
    assert _same_points(small.h, big.h) and _same_points(small.u, big.u)
    assert weights.generators(64) is big  # cached


def test_blind_key_deterministic_and_separated():
    k = np.asarray(weights.blind_key(SEED, "a"))
    # all 256 bits of SHA-256(BLIND_DST || seed || name), independently computed
    want = hashlib.sha256(weights.BLIND_DST + SEED + b"a").digest()
    assert k.dtype == np.uint32 and k.astype("<u4").tobytes() == want
    assert np.array_equal(k, weights.blind_key(SEED, "a"))
    assert not np.array_equal(k, weights.blind_key(SEED, "b"))
    other = bytes([1]) + SEED[1:]
    assert not np.array_equal(k, weights.blind_key(other, "a"))
    with pytest.raises(ValueError, match="32 bytes"):
        weights.blind_key(b"short", "a")


# --- commitments and witnesses -------------------------------------------------------------------


def test_commitments_equal_commit_commit(committed):
    _, _, cms, ts, calls = committed
    gens = weights.generators(weights.max_cols(ts))
    assert [c[2] for c in calls] == list(ts) and calls[-1][:2] == (len(ts), len(ts))
    for name in ("model.embed_tokens.weight", "model.layers.1.self_attn.k_proj.weight",
                 "model.norm.weight", "lm_head.weight"):
        want, wit = commit.commit(jnp.asarray(ts[name]), gens, weights.blind_key(SEED, name))
        got = cms[name]
        assert (got.num_vars, got.col_vars) == (want.num_vars, want.col_vars)
        assert _same_points(got.rows, want.rows)
        mine = weights.witness(name, ts[name], SEED)
        assert np.array_equal(np.asarray(mine.matrix), np.asarray(wit.matrix))
        assert np.array_equal(np.asarray(mine.blinds), np.asarray(wit.blinds))


def test_commit_commitment_and_witness_agree_with_commit():
    """The helpers factored out of commit.py keep commit's behaviour (int and field tensors)."""
    gens = commit.setup(8, b"zkllm-test/weights")
    key = jax.random.PRNGKey(3)
    for x in (jnp.arange(-20, 20, dtype=jnp.int32).reshape(5, 8), field.random(key, (3, 5))):
        c, w = commit.commit(x, gens, key)
        assert _same_points(commit.commitment(x, gens, key).rows, c.rows)
        w2 = commit.witness(x, key)
        assert np.array_equal(np.asarray(w2.matrix), np.asarray(w.matrix))
        assert np.array_equal(np.asarray(w2.blinds), np.asarray(commit.blinds(key, w.blinds.shape[0])))
        assert np.array_equal(np.asarray(w2.blinds), np.asarray(w.blinds))


def test_recomputed_witness_opens(committed):
    out, _, _, ts, _ = committed
    m, cms = weights.load(out)
    seed = weights.load_seed(out, m)
    name = "model.layers.0.mlp.down_proj.weight"
    gens = weights.generators(m.generator_count)
    wit = weights.witnesses(ts, seed, only=[name])[name]
    cm = cms[name]
    pt = field.random(jax.random.PRNGKey(11), (cm.num_vars,))
    t0 = Transcript.new(b"zkllm-test/weights")
    vals, prf, tp = commit.prove_opening([cm], [wit], pt, gens, t0, jax.random.PRNGKey(12))
    want = mle.evaluate_tensor(field.encode(jnp.asarray(ts[name])),
                               mle.split_point(pt, ts[name].shape))
    assert field.decode(vals[0]) == field.decode(want)
    tv = commit.verify_opening([cm], pt, vals, prf, gens, t0)
    assert np.array_equal(np.asarray(tv.state), np.asarray(tp.state))
    # a witness of another seed does not open this commitment
    bad = weights.witness(name, ts[name], bytes(32))
    vals2, prf2, _ = commit.prove_opening([cm], [bad], pt, gens, t0, jax.random.PRNGKey(12))
    with pytest.raises(commit.OpeningError):
        commit.verify_opening([cm], pt, vals2, prf2, gens, t0)


# --- files ---------------------------------------------------------------------------------------


def test_point_cache(committed, tmp_path, monkeypatch):
    """`load(..., point_cache=DIR)` keeps the decoded points by the commitments' SHA-256 and
    reads them back without decoding; a cache file of the wrong shape is decoded anew, and a
    changed commitments file is refused before the cache is consulted."""
    out, m, cms, *_ = committed
    cache = tmp_path / "points"
    _, a = weights.load(out, point_cache=cache)
    assert (cache / f"{m.commitments_sha256}.npy").is_file()
    monkeypatch.setattr(weights, "_decode_points", lambda *a: pytest.fail("decoded again"))
    _, b = weights.load(out, point_cache=cache)
    for k in cms:
        assert _same_points(a[k].rows, cms[k].rows) and _same_points(b[k].rows, cms[k].rows)
    monkeypatch.undo()
    np.save(cache / f"{m.commitments_sha256}.npy", np.zeros((3, 3, 12), np.uint32))
    _, c = weights.load(out, point_cache=cache)
    assert all(_same_points(c[k].rows, cms[k].rows) for k in cms)
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    _flip_point(bad, 0, 5)
    with pytest.raises(weights.CommitmentFormatError):
        weights.load(bad, point_cache=cache)


def test_save_load_round_trip(committed):
    out, m, cms, ts, _ = committed
    m2, cms2 = weights.load(out)
    assert m2 == m
    assert list(cms2) == list(cms)
    for name in cms:
        assert weights.compressed(cms2[name]) == weights.compressed(cms[name])
    assert (out / "commitments.bin").stat().st_size == m.commitment_bytes
    assert m.commitment_bytes == 48 * sum(c.rows.shape[0] for c in cms.values())
    seed_file = out / "private" / "seed"
    assert seed_file.read_bytes() == SEED
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "private").stat().st_mode) == 0o700
    d = json.loads((out / "manifest.json").read_text())
    assert d["version"] == weights.VERSION and d["generators"]["tag"] == "zkllm-jax/weights"
    assert d["model_digest"] == weights.model_digest(ts, m.config, m.fx)
    assert d["tensors"][3]["name"] == "model.layers.0.self_attn.k_proj.weight"
    assert SEED.hex() not in (out / "manifest.json").read_text()


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in ("manifest.json", "commitments.bin"):
        (dst / f).write_bytes((src / f).read_bytes())
    return dst


def _edit_manifest(d: Path, fn) -> None:
    m = json.loads((d / "manifest.json").read_text())
    fn(m)
    (d / "manifest.json").write_text(json.dumps(m))


def _flip_point(d: Path, index: int, byte: int = 47) -> None:
    b = bytearray((d / "commitments.bin").read_bytes())
    b[48 * index + byte] ^= 1
    (d / "commitments.bin").write_bytes(bytes(b))


@pytest.mark.parametrize("case, match", [
    ("no_manifest", "manifest.json: missing"),
    ("no_bin", "commitments.bin: missing"),
    ("bad_json", "malformed JSON"),
    ("version", "unsupported version 3"),
    ("format", "format is"),
    ("truncated", "bytes, the manifest describes"),
    ("flipped", "commitment of model.embed_tokens.weight does not match"),
    ("shape", "shape"),
    ("layout", "layout"),
    ("tag", "generator tag"),
    ("whole_digest", "commitments_sha256"),
    ("not_a_point", "invalid point"),
    ("fx", "bad fixed_point"),
])
def test_load_rejects(committed, tmp_path, case, match):
    src = committed[0]
    d = _copy(src, tmp_path / "c")
    if case == "no_manifest":
        (d / "manifest.json").unlink()
    elif case == "no_bin":
        (d / "commitments.bin").unlink()
    elif case == "bad_json":
        (d / "manifest.json").write_text("{not json")
    elif case == "version":
        _edit_manifest(d, lambda m: m.update(version=3))
    elif case == "format":
        _edit_manifest(d, lambda m: m.update(format="something-else"))
    elif case == "truncated":
        (d / "commitments.bin").write_bytes((d / "commitments.bin").read_bytes()[:-48])
    elif case == "flipped":
        _flip_point(d, 0)
    elif case == "shape":
        _edit_manifest(d, lambda m: m["tensors"][1].update(shape=[33]))
    elif case == "layout":
        _edit_manifest(d, lambda m: m["tensors"][1].update(col_vars=1))
    elif case == "tag":
        _edit_manifest(d, lambda m: m["generators"].update(tag="other"))
    elif case == "whole_digest":
        _edit_manifest(d, lambda m: m.update(commitments_sha256="0" * 64))
    elif case == "not_a_point":
        # a point that is not on the curve, with every hash in the manifest updated to match
        import hashlib
        blob = bytearray((d / "commitments.bin").read_bytes())
        blob[0:48] = bytes([0x80]) + bytes(46) + b"\x05"
        (d / "commitments.bin").write_bytes(bytes(blob))

        def fix(m):
            rows = m["tensors"][0]["rows"]
            m["tensors"][0]["sha256"] = hashlib.sha256(blob[:48 * rows]).hexdigest()
            m["commitments_sha256"] = hashlib.sha256(blob).hexdigest()
        _edit_manifest(d, fix)
    elif case == "fx":
        _edit_manifest(d, lambda m: m["fixed_point"].update(scale_bits=99))
    with pytest.raises(weights.CommitmentFormatError, match=match):
        weights.load(d)


def test_seed_check(model_file, committed, tmp_path):
    out, m, *_ = committed
    d = _copy(out, tmp_path / "c")
    with pytest.raises(weights.CommitmentFormatError, match="seed: missing"):
        weights.load_seed(d, m)
    weights.save_seed(d, bytes(32))
    with pytest.raises(weights.CommitmentFormatError, match="seed_check"):
        weights.load_seed(d, m)
    with pytest.raises(weights.CommitmentFormatError, match="seed_check.*--force"):
        weights.commit_model(model_file[0], d)  # a wrong seed is no cache, and no silent recommit


def test_tied_lm_head_resolves_to_embedding(tmp_path):
    cfg = _cfg(tied=True)
    params = _params(cfg, seed=1)
    ts = weights.tensors(params, cfg)
    assert "lm_head.weight" not in ts and list(ts)[-1] == "model.norm.weight"
    assert weights.resolve("lm_head.weight", cfg) == "model.embed_tokens.weight"
    assert weights.resolve("model.norm.weight", cfg) == "model.norm.weight"
    cms = {n: commit.Commitment(rows=curve.generator((1,)), num_vars=commit.layout(a.shape)[0],
                                col_vars=commit.layout(a.shape)[0]) for n, a in ts.items()}
    m = weights.build_manifest(ts, cfg, FX, cms, SEED)
    assert m.entry("lm_head.weight").name == "model.embed_tokens.weight"
    d = json.loads(json.dumps(weights._manifest_json(m)))
    assert d["aliases"] == {"lm_head.weight": "model.embed_tokens.weight"}


def test_commit_model_reuses_and_recommits(model_file, committed, tmp_path):
    out, m, cms, _, _ = committed
    path = model_file[0]
    assert m.source == "tiny.safetensors"
    m2, _, cached = weights.commit_model(path, out)
    assert cached and m2 == m
    # a different model (one weight changed) in the same directory recommits
    from zkllm_jax.models import load_params
    params, cfg, _, fx, _ = load_params(path)
    params["model"]["norm"]["weight"] = params["model"]["norm"]["weight"].copy()
    params["model"]["norm"]["weight"][0] += 1
    changed = tmp_path / "changed.safetensors"
    save_params(changed, params, cfg, mode="fixed", fx=fx)
    d = _copy(out, tmp_path / "c")
    weights.save_seed(d, SEED)
    assert weights.existing(d)[0] == m
    m3, cms3, cached3 = weights.commit_model(changed, d)
    assert not cached3 and m3.model_digest != m.model_digest
    assert weights.load(d)[0] == m3
    # a fresh seed: even unchanged tensors get new (unlinkable) commitments
    emb = "model.embed_tokens.weight"
    assert weights.compressed(cms3[emb]) != weights.compressed(cms[emb])
    with pytest.raises(weights.CommitmentFormatError, match="not empty"):
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "notes.txt").write_text("x")
        weights.commit_model(changed, tmp_path / "busy")


# --- the command ---------------------------------------------------------------------------------


def _zkllm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # run outside the checkout so the installed package (with its native module) is imported
    return subprocess.run([sys.executable, "-m", "zkllm_jax.cli", *args], cwd=cwd, check=False,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})


def test_cli_commit_cached_and_recommit(model_file, tmp_path):
    path, cfg, _ = model_file
    out, rep = tmp_path / "c", tmp_path / "r.json"
    r = _zkllm("commit", "--model", str(path), "--out", str(out), "--json", str(rep),
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first = json.loads(rep.read_text())
    n = len(weights.names(cfg))
    assert first["cached"] is False and first["tensors"] == n
    assert f"[{n}/{n}] lm_head.weight (48x32)" in r.stderr
    assert "[1/" in r.stderr and "committed: " in r.stdout and "private/seed" in r.stdout
    m, _ = weights.load(out)
    assert first["commitment_bytes"] == m.commitment_bytes == (out / "commitments.bin").stat().st_size
    t = time.perf_counter()
    r = _zkllm("commit", "--model", str(path), "--out", str(out), "--json", str(rep),
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    second = json.loads(rep.read_text())
    assert second["cached"] is True and "reused cached commitments" in r.stdout
    assert "[1/" not in r.stderr and second["commit_seconds"] < first["commit_seconds"]
    assert time.perf_counter() - t < 60
    assert weights.load(out)[0] == m
    r = _zkllm("commit", "--model", str(path), "--out", str(out), "--force", "-q", cwd=tmp_path)
    assert r.returncode == 0 and "committed: " in r.stdout and "[1/" not in r.stderr
    assert weights.load(out)[0].model_digest == m.model_digest


def test_cli_errors(model_file, committed, tmp_path):
    """Bad input, and a corrupt or incomplete commitment directory: `error: ...`, exit 2."""
    out, m, *_ = committed
    src = model_file[0]

    def corrupt(name, fn):
        d = _copy(out, tmp_path / name)
        weights.save_seed(d, SEED)
        fn(d)
        return d

    cases = [
        (["--model", str(tmp_path / "nope.gguf"), "--out", str(tmp_path / "x")], "no such file"),
        (["--model", str(src), "--out", str(out / "commitments.bin")], "not a directory"),
        (["--model", str(src), "--out", str(tmp_path)], "not empty"),
        (["--model", str(src), "--out", str(corrupt("bin", lambda d: _flip_point(d, 2, 10)))],
         "commitments.bin: the commitment of model.embed_tokens.weight"),
        (["--model", str(src), "--out",
          str(corrupt("man", lambda d: (d / "manifest.json").write_text("[")))],
         "manifest.json: malformed JSON"),
        (["--model", str(src), "--out",
          str(corrupt("miss", lambda d: (d / "commitments.bin").unlink()))],
         "commitments.bin: missing"),
        (["--model", str(src), "--out",
          str(corrupt("seed", lambda d: (d / "private" / "seed").unlink()))],
         "seed: missing"),
        (["--model", str(src), "--out", str(tmp_path / "y"), "--scale-bits", "40"],
         "scale_bits=40"),
        (["--model", str(src), "--out", str(tmp_path / "y"), "--softmax-digits", "11,x"],
         "comma-separated bit widths"),
        (["--model", str(src), "--out", str(tmp_path / "y"), "--softmax-digits", "23"],
         "softmax_digit_bits"),
    ]
    for args, match in cases:
        r = _zkllm("commit", *args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("error: ") and match in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    # the digit layout is part of the model: a file quantized with other digits is refused; one
    # quantized with a 22-bit digit is committed with it (manifest, digest)
    r = _zkllm("commit", "--model", str(src), "--out", str(tmp_path / "d22"), "--softmax-digits",
               "22", cwd=tmp_path)
    assert r.returncode == 2 and "quantized already, with digits [11, 11]" in r.stderr, r.stderr
    src22 = tmp_path / "tiny22.safetensors"
    save_params(src22, model_file[2], model_file[1], mode="fixed",
                fx=FixedPointConfig(softmax_digit_bits=(22,)))
    r = _zkllm("commit", "--model", str(src22), "--out", str(tmp_path / "d22"),
               "--softmax-digits", "22", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m22 = weights.load(tmp_path / "d22")[0]
    assert m22.fx.softmax_digit_bits == (22,) and m22.model_digest != m.model_digest
    # --force replaces a corrupt directory
    d = tmp_path / "bin"
    r = _zkllm("commit", "--model", str(src), "--out", str(d), "--force", "-q", cwd=tmp_path)
    assert r.returncode == 0 and "committed: " in r.stdout, r.stderr
    assert weights.load(d)[0].model_digest == m.model_digest
