"""End to end through the CLI in separate processes on a tiny tied GQA model with a word-level
tokenizer: commit → prove → verify ACCEPTs; corrupted, truncated, empty, mismatched and edited
proof files are REJECTed (exit 1) or give a clear error (exit 2), never a traceback or ACCEPT.
The fixture's proof is made with `--stream` (layer witnesses remade when proven); the slow
tests' proves and the README's main command (tests/test_smollm2_e2e.py) hold them stacked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gadget_harness import random_params
from zkllm_jax.models import FixedPointConfig, LlamaConfig, save_params

from zkllm_jax import bundle

PROMPT = "w1 w5 w9 w3"
CFG = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-5,
                  max_position_embeddings=32, tie_word_embeddings=True)


def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({f"w{i}": i for i in range(64)}, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok.to_str()


def _model(path: Path, seed: int) -> Path:
    save_params(path, random_params(CFG, seed), CFG, mode="fixed", fx=FixedPointConfig(),
                tokenizer_json=_tokenizer_json())
    return path


def _zkllm(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return subprocess.run([sys.executable, "-m", "zkllm_jax.cli", *args], cwd=cwd, check=False,
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    cache = d / "jax-cache"
    _model(d / "tiny.safetensors", 0)
    _model(d / "other.safetensors", 1)
    for name in ("tiny", "other"):
        r = _zkllm("commit", "--model", f"{name}.safetensors", "--out", f"coms-{name}", "-q",
                   cwd=d, cache=cache)
        assert r.returncode == 0, r.stderr
    r = _zkllm("prove", "--model", "tiny.safetensors", "--commitments", "coms-tiny",
               "--prompt", PROMPT, "--max-new-tokens", "3", "--out", "p.zkp", "--json",
               "report.json", "--stream", cwd=d, cache=cache)
    assert r.returncode == 0, r.stderr
    return d, cache, r


def _verify(d: Path, cache: Path, proof: str = "p.zkp", coms: str = "coms-tiny", *extra):
    return _zkllm("verify", "--commitments", coms, "--proof", proof, "-q", *extra, cwd=d,
                  cache=cache)


def test_prove_report(run):
    d, _, r = run
    rep = json.loads((d / "report.json").read_text())
    assert rep["prompt_tokens"] == 4 and rep["generated_tokens"] == 3
    assert rep["proven_tokens"] == 6 and rep["proof_bytes"] > 0
    assert rep["stream"] is True  # the fixture's proof is made from streamed layer witnesses
    assert "output: " in r.stdout


def test_verify_accepts(run):
    d, cache, _ = run
    r = _verify(d, cache)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ACCEPT" in r.stdout and "prompt: 'w1 w5 w9 w3'" in r.stdout
    assert "zero-knowledge: yes" in r.stdout  # the default proof is zero-knowledge
    assert "Traceback" not in r.stderr


def _edited(d: Path, name: str, fn, src: str = "p.zkp") -> str:
    b = bundle.decode((d / src).read_bytes())
    header, logits, prf = fn(dict(b.header), np.array(b.logits), bytearray(b.proof))
    (d / name).write_bytes(bundle.encode(header, logits, bytes(prf)))
    return name


def _flip_first_payload_byte(h, lg, prf):
    # the first leaf is h_0's first commitment (a point): its last byte is deep in x
    n = int.from_bytes(prf[12:14], "big")
    at = 14 + n + 2 + 4 + 47
    prf[at] ^= 0x01
    return h, lg, prf


def _write(d: Path, name: str, data: bytes) -> str:
    (d / name).write_bytes(data)
    return name


CASES = {
    "corrupted_proof_byte": lambda d: _edited(d, "c1.zkp", _flip_first_payload_byte),
    "changed_output_token": lambda d: _edited(
        d, "c2.zkp", lambda h, lg, p: ({**h, "generated": [*h["generated"][:-1], 7]}, lg, p)),
    "changed_prompt_token": lambda d: _edited(
        d, "c3.zkp", lambda h, lg, p: ({**h, "tokens": [2, *h["tokens"][1:]]}, lg, p)),
    "changed_logit": lambda d: _edited(
        d, "c4.zkp", lambda h, lg, p: (h, lg + (np.arange(lg.size).reshape(lg.shape) == 5), p)),
    "claims_plain": lambda d: _edited(
        d, "c5.zkp", lambda h, lg, p: ({**h, "zero_knowledge": False}, lg, p)),
    "changed_batch_layers": lambda d: _edited(
        d, "c8.zkp", lambda h, lg, p: ({**h, "batch_layers": 1}, lg, p)),
    "truncated": lambda d: _write(d, "c6.zkp", (d / "p.zkp").read_bytes()[:-7]),
    "empty": lambda d: _write(d, "c7.zkp", b""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_rejects(run, case):
    d, cache, _ = run
    r = _verify(d, cache, CASES[case](d))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "REJECT" in r.stdout and "ACCEPT" not in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.slow  # a second whole-model prove (1–1.5 min)
def test_one_finish_per_layer_verifies(run):
    """--batch-layers 1: every layer discharges its own range checks and openings (a finish per
    layer, the head in the last); the header records it and verify follows it."""
    d, cache, _ = run
    r = _zkllm("prove", "--model", "tiny.safetensors", "--commitments", "coms-tiny", "--prompt",
               PROMPT, "--max-new-tokens", "2", "--batch-layers", "1", "--out", "b1.zkp", "-q",
               cwd=d, cache=cache)
    assert r.returncode == 0, r.stderr
    assert bundle.decode((d / "b1.zkp").read_bytes()).header["batch_layers"] == 1
    r = _verify(d, cache, "b1.zkp")
    assert r.returncode == 0 and "ACCEPT" in r.stdout, r.stdout + r.stderr
    r = _verify(d, cache, _edited(d, "b2.zkp", lambda h, lg, p: ({**h, "batch_layers": 2}, lg, p),
                                  src="b1.zkp"))
    assert r.returncode == 1 and "REJECT" in r.stdout, r.stdout + r.stderr


def test_verify_against_other_commitments_rejects(run):
    d, cache, _ = run
    r = _verify(d, cache, "p.zkp", "coms-other")
    assert r.returncode == 1 and "REJECT" in r.stdout and "model" in r.stdout


@pytest.mark.slow  # a second whole-model prove (1–1.5 min)
def test_plain_proof_is_rejected_unless_expected(run):
    """`prove --plain` makes a plain proof: verify rejects it by default (zero knowledge is
    expected) and accepts it with --expect plain; a zero-knowledge proof relabelled plain in its
    header does not verify as plain either (the transcript's mode and the masks differ)."""
    d, cache, _ = run
    r = _zkllm("prove", "--model", "tiny.safetensors", "--commitments", "coms-tiny", "--prompt",
               PROMPT, "--max-new-tokens", "2", "--plain", "--out", "plain.zkp", cwd=d,
               cache=cache)
    assert r.returncode == 0 and "zero-knowledge: no" in r.stdout, r.stdout + r.stderr
    assert bundle.decode((d / "plain.zkp").read_bytes()).header["zero_knowledge"] is False
    r = _verify(d, cache, "plain.zkp")
    assert r.returncode == 1 and "REJECT: the proof is plain" in r.stdout, r.stdout
    r = _verify(d, cache, "plain.zkp", "coms-tiny", "--expect", "plain")
    assert r.returncode == 0 and "zero-knowledge: no" in r.stdout, r.stdout + r.stderr
    r = _verify(d, cache, "p.zkp", "coms-tiny", "--expect", "plain")
    assert r.returncode == 1 and "REJECT: the proof is zero-knowledge" in r.stdout, r.stdout
    relabelled = _edited(d, "relabelled.zkp", lambda h, lg, p: ({**h, "zero_knowledge": False},
                                                                lg, p))
    r = _verify(d, cache, relabelled, "coms-tiny", "--expect", "plain")
    assert r.returncode == 1 and "REJECT" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("args", [
    ("verify", "--commitments", "nowhere", "--proof", "p.zkp"),
    ("verify", "--commitments", "coms-tiny", "--proof", "missing.zkp"),
    ("prove", "--model", "other.safetensors", "--commitments", "coms-tiny", "--prompt", "w1",
     "--out", "x.zkp"),
    ("prove", "--model", "tiny.safetensors", "--commitments", "coms-tiny", "--prompt", "w1",
     "--out", "x.zkp", "--stream", "--devices", "2", "--jit", "on"),
])
def test_bad_inputs_give_clear_errors(run, args):
    d, cache, _ = run
    r = _zkllm(*args, cwd=d, cache=cache)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_compilation_cache_dir(monkeypatch, tmp_path):
    """The CLI's persistent compilation cache: $ZKLLM_JAX_CACHE, "off" disables it, else under
    $XDG_CACHE_HOME."""
    from zkllm_jax import cli

    monkeypatch.setenv("ZKLLM_JAX_CACHE", str(tmp_path / "c"))
    assert cli.compilation_cache_dir() == str(tmp_path / "c")
    for off in ("off", "0", ""):
        monkeypatch.setenv("ZKLLM_JAX_CACHE", off)
        assert cli.compilation_cache_dir() is None
    monkeypatch.delenv("ZKLLM_JAX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cli.compilation_cache_dir() == str(tmp_path / "zkllm-jax" / "xla")


def test_template_cache(monkeypatch, tmp_path):
    """Proof templates are kept beside the compilation cache, keyed by the code and the public
    parameters: built once, then read back; a broken file is rebuilt; none with the cache off."""
    import jax
    import jax.numpy as jnp

    from zkllm_jax import cli

    built = []

    def build(n):
        built.append(n)
        return {"x": jax.ShapeDtypeStruct((n, 8), jnp.uint32)}

    monkeypatch.setenv("ZKLLM_JAX_CACHE", str(tmp_path / "xla"))
    a = cli._cached_template(["t", 3], lambda: build(3))
    b = cli._cached_template(["t", 3], lambda: build(3))
    assert built == [3] and a == b and b["x"].shape == (3, 8)
    files = list((tmp_path / "templates").glob("*.pkl"))
    assert len(files) == 1
    cli._cached_template(["t", 4], lambda: build(4))
    assert built == [3, 4] and len(list((tmp_path / "templates").glob("*.pkl"))) == 2
    files[0].write_bytes(b"not a pickle")
    assert cli._cached_template(["t", 3], lambda: build(3)) == a and built == [3, 4, 3]
    assert cli._cached_template(["t", 3], lambda: build(3)) == a and built == [3, 4, 3]
    monkeypatch.setenv("ZKLLM_JAX_CACHE", "off")
    cli._cached_template(["t", 3], lambda: build(3))
    assert built == [3, 4, 3, 3]
