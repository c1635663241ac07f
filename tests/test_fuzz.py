"""Bounded-time fuzzing of the untrusted-input parsers and of `zkllm verify`'s arguments.

Every target starts from valid input and applies hypothesis-driven mutations (byte flips,
insertions, deletions, truncations, random bytes, edits of the length/shape fields, JSON values of
the wrong type or size). The property is always "no crash, no accept":

- `proof.from_bytes` / `proof.tree_from_bytes`: an object or `ProofFormatError`, nothing else;
  a successful parse re-serializes to exactly the bytes given (a parse never "fixes" data), and a
  parsed proof that differs from the honest one fails its verifier.
- `bundle.decode`: a `Bundle` or `BundleFormatError`; header fuzzing also checks that decode
  accepts exactly the headers an independent validity oracle accepts.
- `weights.load` / `weights.load_manifest`: a manifest or `CommitmentFormatError`; a changed
  commitments.bin never loads, and a loaded manifest is well typed and describes the same
  commitments.
- `cli.main(["verify", ...])` in process: returns 1 or 2, or argparse exits with 2; never another
  exception and never 0 (no input here reaches a full verification); an over-long --proof path
  (OSError from the file system) is a plain regression test.

Inputs the fuzzer broke are kept as plain regression tests (`test_*_regressions`,
`test_huge_dims_are_format_errors`, `test_over_long_commitment_path_is_a_format_error`).

The default example counts keep the file under about a minute on two CPU cores. For a longer
campaign set ZKLLM_FUZZ_EXAMPLES (every test then runs at least that many examples), e.g.

    ZKLLM_FUZZ_EXAMPLES=5000 pytest -q tests/test_fuzz.py

Hypothesis' example database is off (nothing is written into the repository); a failure prints
the falsifying example and a `@reproduce_failure` line to replay it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from zkllm_jax.models import FixedPointConfig, LlamaConfig

from zkllm_jax import bundle, cli, commit, curve, field, lookup, proof, sumcheck, weights
from zkllm_jax.bundle import BundleFormatError
from zkllm_jax.commit import OpeningError
from zkllm_jax.lookup import LookupError as LookupRejected
from zkllm_jax.proof import ProofFormatError
from zkllm_jax.sumcheck import SumcheckError
from zkllm_jax.transcript import Transcript
from zkllm_jax.weights import CommitmentFormatError

T0 = Transcript.new(b"zkllm-test/fuzz", zk=False)  # flat-format proofs are plain
_EXTRA = int(os.environ.get("ZKLLM_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(n: int):
    """Bounded runs: `n` examples (or ZKLLM_FUZZ_EXAMPLES if larger), no deadline, no database."""
    return settings(max_examples=max(n, _EXTRA), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --- byte mutations --------------------------------------------------------------------------------


def _edit_values(old: int, width: int) -> st.SearchStrategy[int]:
    top = (1 << (8 * width)) - 1
    near = [v for v in (old - 1, old + 1, 2 * old, old // 2) if 0 <= v <= top]
    return st.sampled_from([0, 1, 2, top, top >> 1, (top >> 1) + 1] + near) | st.integers(0, top)


# where to aim: (offset, width) of the integer fields, (start, end) of the payloads (scalars,
# points, logits), both found by walking the valid data
Layout = tuple[list[tuple[int, int]], list[tuple[int, int]]]


@st.composite
def mutated(draw, data: bytes, layout: Layout) -> bytes:
    """`data` after 1-4 random edits, a third of them aimed at its fields or payloads."""
    fields, spans = layout
    buf = bytearray(data)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, 4]))):
        # hypothesis often draws the first choice: make that a payload flip (often parses)
        op = draw(st.sampled_from(["payload", "flip", "field", "payload", "flip", "set", "field",
                                   "field", "insert", "delete", "truncate", "extend", "splice",
                                   "random"]))
        n = len(buf)
        pos = st.sampled_from(range(n)) if n else st.just(0)  # uniform (integers() favours 0)
        if op in ("flip", "set") and n:
            i = draw(pos)
            buf[i] = buf[i] ^ draw(st.integers(1, 255)) if op == "flip" else draw(
                st.integers(0, 255))
        elif op == "payload" and spans:
            a, b = draw(st.sampled_from(spans))
            i = draw(st.sampled_from(range(a, b)))
            if i < n:
                buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "field" and fields:
            off, width = draw(st.sampled_from(fields))
            if off + width <= n:
                old = int.from_bytes(buf[off:off + width], "big")
                buf[off:off + width] = draw(_edit_values(old, width)).to_bytes(width, "big")
        elif op == "insert":
            i = draw(pos)
            buf[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            i = draw(pos)
            del buf[i:i + draw(st.integers(1, 16))]
        elif op == "truncate":
            del buf[draw(pos):]
        elif op == "extend":
            buf += draw(st.binary(min_size=1, max_size=16))
        elif op == "splice" and n:
            i, j = draw(pos), draw(pos)
            buf[j:j] = buf[i:i + draw(st.integers(1, 64))]
        elif op == "random":
            keep = draw(st.integers(0, min(n, 16)))  # often keep the magic and version
            buf = buf[:keep] + bytearray(draw(st.binary(max_size=128)))
    return bytes(buf)


def _proof_layout(data: bytes) -> Layout:
    """The layout of (valid) registered-type proof bytes."""
    out, spans, pos = [(4, 2), (6, 2), (8, 2)], [], 10
    _, schema = proof.TYPES[int.from_bytes(data[6:8], "big")]
    for _, kind, _ in schema:
        out.append((pos, 1))
        pos += 1 + data[pos]
        out += [(pos, 1), (pos + 1, 1)]
        ndim = data[pos + 1]
        pos += 2
        dims = [int.from_bytes(data[pos + 4 * i:pos + 4 * i + 4], "big") for i in range(ndim)]
        out += [(pos + 4 * i, 4) for i in range(ndim)]
        pos += 4 * ndim
        spans.append((pos, pos + proof._WIDTH[kind] * math.prod(dims)))
        pos = spans[-1][1]
    assert pos == len(data)
    return out, [sp for sp in spans if sp[1] > sp[0]]


def _tree_layout(data: bytes) -> Layout:
    """The layout of (valid) tree-format bytes."""
    out, spans, pos = [(4, 2), (6, 2), (8, 4)], [], 12
    for _ in range(int.from_bytes(data[8:12], "big")):
        out.append((pos, 2))
        pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
        out += [(pos, 1), (pos + 1, 1)]
        kind, ndim = data[pos], data[pos + 1]
        pos += 2
        dims = [int.from_bytes(data[pos + 4 * i:pos + 4 * i + 4], "big") for i in range(ndim)]
        out += [(pos + 4 * i, 4) for i in range(ndim)]
        pos += 4 * ndim
        spans.append((pos, pos + proof._WIDTH[kind] * math.prod(dims)))
        pos = spans[-1][1]
    assert pos == len(data)
    return out, [sp for sp in spans if sp[1] > sp[0]]


# --- valid inputs ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sc():
    tabs = field.random(jax.random.PRNGKey(1), (2, 4))
    u = field.random(jax.random.PRNGKey(2), (2,))
    fc, prf, _ = sumcheck.prove(tabs, T0, eq_point=u)
    data = proof.to_bytes(prf)
    return data, _proof_layout(data), (fc.claim, u)


@pytest.fixture(scope="module")
def op():
    gens = commit.setup(4, b"zkllm-test/fuzz")
    x = jax.random.randint(jax.random.PRNGKey(3), (2, 4), -100, 100)
    cm, w = commit.commit(x, gens, jax.random.PRNGKey(4))
    pt = field.random(jax.random.PRNGKey(5), (cm.num_vars,))
    vals, prf, _ = commit.prove_opening([cm], [w], pt, gens, T0, jax.random.PRNGKey(6))
    data = proof.to_bytes(prf)
    return data, _proof_layout(data), (gens, cm, pt, vals)


@pytest.fixture(scope="module")
def lk():
    table = lookup.range_table(0, 3)
    gens = lookup.setup(table)
    col = jnp.asarray([0, 1, 2, 7], jnp.int32)
    _, prf, _ = lookup.prove(table, col, T0, gens, jax.random.PRNGKey(7))
    data = proof.to_bytes(prf)
    return data, _proof_layout(data), (table, gens)


@pytest.fixture(scope="module")
def tree(sc, op):
    """A composite proof: nested dicts of Fr/G1 arrays (batched, scalar, empty) and proofs."""
    g = curve.generator((2,))
    t = {"fr": field.random(jax.random.PRNGKey(8), (2, 3)),
         "one": field.random(jax.random.PRNGKey(9), ()),
         "empty": jnp.zeros((0, field.LIMBS), jnp.uint32),
         "pts": {"g": g, "p": curve.generator(())},
         "sc": proof.from_bytes(sc[0]), "op": proof.from_bytes(op[0])}
    data = proof.tree_to_bytes(t)
    return data, _tree_layout(data), jax.eval_shape(lambda: t)


# --- proof bytes -----------------------------------------------------------------------------------


def _parse(data: bytes, expected: type):
    """from_bytes, allowing only ProofFormatError; a parse must re-serialize to the same bytes."""
    try:
        prf = proof.from_bytes(data, expected)
    except ProofFormatError as e:
        event(f"rejected: {e.field}")
        return None
    event("parsed")
    assert type(prf) is expected
    assert proof.to_bytes(prf) == data
    return prf


def test_fuzz_walkers_and_round_trips(sc, op, lk, tree):
    for data, _, _ in (sc, op, lk):
        assert proof.to_bytes(proof.from_bytes(data)) == data
    assert proof.tree_to_bytes(proof.tree_from_bytes(tree[0], tree[2])) == tree[0]


@pytest.mark.parametrize("dims", [(0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0x80000001),
                                  (0x80000000, 0x80000000), (0, 0xFFFFFFFF), (0xFFFFFFFF, 1)])
def test_huge_dims_are_format_errors(sc, dims):
    """Regression: the element count was an int64 product that wrapped negative for two large
    u32 dims, which passed the overrun check and crashed in numpy/field (ValueError)."""
    data, (fields, _), _ = sc
    buf = bytearray(data)
    (o1, _), (o2, _) = [f for f in fields if f[1] == 4][:2]
    buf[o1:o1 + 4], buf[o2:o2 + 4] = (d.to_bytes(4, "big") for d in dims)
    with pytest.raises(ProofFormatError):
        proof.from_bytes(bytes(buf), sumcheck.SumcheckProof)


@fuzz_settings(300)
@given(data=st.data())
def test_fuzz_sumcheck_proof(sc, data):
    valid, layout, (claim, u) = sc
    raw = data.draw(mutated(valid, layout))
    prf = _parse(raw, sumcheck.SumcheckProof)
    if prf is not None and raw != valid:
        with pytest.raises(SumcheckError):
            sumcheck.verify(claim, prf, T0, num_vars=2, num_tables=2, eq_point=u)


@fuzz_settings(200)
@given(data=st.data())
def test_fuzz_opening_proof(op, data):
    valid, layout, (gens, cm, pt, vals) = op
    raw = data.draw(mutated(valid, layout))
    prf = _parse(raw, commit.OpeningProof)
    if prf is not None and raw != valid:
        with pytest.raises(OpeningError):
            commit.verify_opening([cm], pt, vals, prf, gens, T0)


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_lookup_proof(lk, data):
    valid, layout, (table, gens) = lk
    raw = data.draw(mutated(valid, layout))
    prf = _parse(raw, lookup.LookupProof)
    if prf is not None and raw != valid:
        with pytest.raises(LookupRejected):
            lookup.verify(table, [(4,)], prf, T0, gens)


@fuzz_settings(100)
@given(raw=st.binary(max_size=64), tid=st.integers(0, 6), expected=st.sampled_from(
    [None, sumcheck.SumcheckProof, commit.OpeningProof, lookup.LookupProof]))
def test_fuzz_proof_random_bytes_after_header(raw, tid, expected):
    data = proof.MAGIC + (1).to_bytes(2, "big") + tid.to_bytes(2, "big") + raw
    try:
        prf = proof.from_bytes(data, expected)
    except ProofFormatError:
        return
    assert proof.to_bytes(prf) == data


@fuzz_settings(300)
@given(data=st.data())
def test_fuzz_tree_proof(tree, data):
    valid, layout, like = tree
    raw = data.draw(mutated(valid, layout))
    try:
        back = proof.tree_from_bytes(raw, like)
    except ProofFormatError as e:
        event(f"rejected: {e.field}")
        return
    event("parsed")
    assert proof.tree_to_bytes(back) == raw
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(like)


# --- the .zkp bundle -------------------------------------------------------------------------------

T_TOK, VOCAB = 3, 5
HEADER = {"model_digest": "ab" * 32, "zero_knowledge": False, "tokens": [1, 4, 2],
          "prompt_tokens": 2, "generated": [2, 3], "batch_layers": 1}
LOGITS = np.arange(T_TOK * VOCAB, dtype=np.int32).reshape(T_TOK, VOCAB) * -7 + 3


@pytest.fixture(scope="module")
def zkp(tree):
    data = bundle.encode(HEADER, LOGITS, tree[0])
    hn = int.from_bytes(data[6:10], "big")
    lpos = 10 + hn
    ppos = lpos + 4 + int.from_bytes(data[lpos:lpos + 4], "big")
    (pf, ps), shift = tree[1], ppos + 4
    fields = [(4, 2), (6, 4), (lpos, 4), (ppos, 4)] + [(shift + o, w) for o, w in pf]
    return data, (fields, [(lpos + 4, ppos)] + [(shift + a, shift + b) for a, b in ps])


def _check_bundle(b: bundle.Bundle) -> None:
    """What a decoded bundle promises its users."""
    h = b.header
    assert _header_ok(h, b.logits.size * 4)
    assert b.logits.dtype == np.int32 and list(b.logits.shape) == h["logits_shape"]
    assert b.tokens.tolist() == h["tokens"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _header_ok(h, logits_bytes: int) -> bool:
    """An independent statement of which headers a bundle may carry (for `logits_bytes`)."""
    if not isinstance(h, dict):
        return False
    toks, gen, shape, pt = (h.get(k) for k in ("tokens", "generated", "logits_shape",
                                               "prompt_tokens"))

    def ids(v) -> bool:
        return isinstance(v, list) and all(_is_int(x) and 0 <= x < 1 << 31 for x in v)

    return (h.get("version") == bundle.VERSION and _is_int(h.get("version"))
            and isinstance(h.get("model_digest"), str)
            and isinstance(h.get("zero_knowledge"), bool)
            and ids(toks) and len(toks) > 0 and ids(gen)
            and _is_int(pt) and 1 <= pt <= len(toks)
            and _is_int(h.get("batch_layers")) and 1 <= h["batch_layers"] < 1 << 16
            and isinstance(shape, list) and len(shape) == 2
            and all(_is_int(d) and d > 0 for d in shape) and shape[0] == len(toks)
            and 4 * shape[0] * shape[1] == logits_bytes)


def _decode(data: bytes):
    try:
        b = bundle.decode(data)
    except BundleFormatError as e:
        event(f"rejected: {e.part}")
        return None
    event("decoded")
    _check_bundle(b)
    return b


@fuzz_settings(300)
@given(data=st.data())
def test_fuzz_bundle_bytes(zkp, data):
    valid, layout = zkp
    raw = data.draw(mutated(valid, layout))
    b = _decode(raw)
    if b is not None:  # what was accepted re-encodes to a file that decodes to the same bundle
        again = bundle.decode(bundle.encode(b.header, b.logits, b.proof))
        assert again.header == b.header and again.proof == b.proof
        assert np.array_equal(again.logits, b.logits)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(1 << 80), 1 << 80)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=8)


def _like(v) -> st.SearchStrategy:
    """A replacement for the JSON value `v`: a near miss (same number as a float or a string,
    off by one, negated, a bool, huge, wrapped) or any JSON value."""
    near = [None, True, False, str(v), [v], {"v": v}, "", [], {}]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        near += [float(v), -v, v + 1, v - 1, 0, 1 << 31, 1 << 63, 10 ** 30, math.inf, math.nan]
    elif isinstance(v, str):
        near += [v.upper(), v + "0", v[:-1]]
    elif isinstance(v, list):
        near += [v + v, v[:-1], v[::-1]]
    return st.sampled_from(near) | _json


# raw JSON snippets json.dumps cannot produce (huge literals, deep nesting, odd numbers)
_RAW = ["1" * 5000, "-" + "9" * 4400, "1e999", "-1e999", "NaN", "Infinity", "1E400",
        "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000, "0.0", "-0", "1.0",
        "2147483648", "-1", "true", '"\\ud800"', '"\\u0000"']
_KEYS = ["tokens", "prompt_tokens", "generated", "logits_shape", "model_digest",
         "zero_knowledge", "version", "batch_layers", "extra"]


@st.composite
def headers(draw):
    """(JSON text of a header, Python value or None when the text is a raw snippet)."""
    h = dict(HEADER, version=bundle.VERSION, logits_shape=[T_TOK, VOCAB])
    raw_key, raw = None, None
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "set", "elem", "delete", "raw", "whole"]))
        key = draw(st.sampled_from(_KEYS))
        if op == "set":
            h[key] = draw(_like(h.get(key)))
        elif op == "elem" and isinstance(h.get(key), list) and h[key]:
            h[key] = list(h[key])
            i = draw(st.integers(0, len(h[key]) - 1))
            h[key][i] = draw(_like(h[key][i]))
        elif op == "delete":
            h.pop(key, None)
        elif op == "raw":
            raw_key, raw = key, draw(st.sampled_from(_RAW))
        elif op == "whole":
            h = draw(_json)
            break
    if raw_key is not None and isinstance(h, dict):
        h[raw_key] = "\x00RAW\x00"
        text = json.dumps(h).replace(json.dumps("\x00RAW\x00"), raw)
        return text, None
    return json.dumps(h), h


def _bundle_with(text: str | bytes, logits: np.ndarray, prf: bytes) -> bytes:
    hb = text.encode() if isinstance(text, str) else text
    lb = np.ascontiguousarray(logits, "<i4").tobytes()
    return b"".join([bundle.MAGIC, bundle.VERSION.to_bytes(2, "big"), len(hb).to_bytes(4, "big"),
                     hb, len(lb).to_bytes(4, "big"), lb, len(prf).to_bytes(4, "big"), prf])


@fuzz_settings(400)
@given(hdr=headers())
def test_fuzz_bundle_header_json(hdr):
    text, h = hdr
    raw = _bundle_with(text, LOGITS, b"proof")
    b = _decode(raw)
    if h is not None:  # the oracle decides exactly what is accepted
        assert (b is not None) == _header_ok(h, LOGITS.size * 4), (text, b)


@fuzz_settings(60)
@given(raw=st.binary(max_size=64))
def test_fuzz_bundle_header_bytes(raw):
    _decode(_bundle_with(raw, LOGITS, b""))


_HDR = json.dumps(dict(HEADER, version=bundle.VERSION, logits_shape=[T_TOK, VOCAB]))


@pytest.mark.parametrize("text", [
    _HDR.replace('"prompt_tokens": 2', '"prompt_tokens": ' + "1" * 5000),  # ValueError
    _HDR.replace('"generated": [2, 3]', '"generated": ' + "[" * 5000 + "]" * 5000),  # recursion
    _HDR.replace('"tokens": [1, 4, 2]', '"tokens": [1, true, 2]'),  # accepted as token 1
    _HDR.replace('"logits_shape": [3, 5]', '"logits_shape": [3, 5.0]'),
    _HDR.replace(f'"version": {bundle.VERSION}', f'"version": {bundle.VERSION + 1}'),
    _HDR.replace(f', "version": {bundle.VERSION}', ""),
    _HDR.replace('"batch_layers": 1', '"batch_layers": 0'),
    _HDR.replace(', "batch_layers": 1', ""),
])
def test_bundle_header_regressions(text):
    """Found by the fuzzer: crashes (huge integers, deep nesting) and silent acceptance."""
    assert text != _HDR
    with pytest.raises(BundleFormatError, match="header"):
        bundle.decode(_bundle_with(text, LOGITS, b""))
    assert bundle.decode(_bundle_with(_HDR, LOGITS, b"")).header["tokens"] == HEADER["tokens"]


# --- weight commitments ----------------------------------------------------------------------------

TINY = LlamaConfig(vocab_size=8, hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                   num_attention_heads=2, num_key_value_heads=1, head_dim=4,
                   max_position_embeddings=8)


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """A valid commitment directory of a random tiny model (manifest.json + commitments.bin)."""
    rng = np.random.default_rng(0)
    ts = {n: rng.integers(-100, 100, size=s).astype(np.int32)
          for n, s in weights.shapes(TINY).items()}
    seed = bytes(range(32))
    cms = weights.commit_all(ts, seed)
    m = weights.build_manifest(ts, TINY, FixedPointConfig(), cms, seed)
    d = tmp_path_factory.mktemp("fuzz-com") / "c"
    weights.save(d, m, cms)
    m2, cms2 = weights.load(d)
    assert m2 == m
    return d, m, {n: np.asarray(c.rows) for n, c in cms2.items()}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """One scratch directory reused by every example (hypothesis forbids per-example fixtures)."""
    return tmp_path_factory.mktemp("fuzz-scratch")


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def _check_manifest(m: weights.Manifest, orig: weights.Manifest, same: bool = True) -> None:
    """A loaded manifest is well typed and (with `same`) commits to what the original commits to."""
    cfg, fx = m.config, m.fx
    for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "head_dim",
              "max_position_embeddings"):
        assert _is_int(getattr(cfg, k)) and getattr(cfg, k) > 0, k
    for k in ("rms_norm_eps", "rope_theta"):
        v = getattr(cfg, k)
        assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), k
    assert isinstance(cfg.tie_word_embeddings, bool)
    for k in ("bos_token_id", "eos_token_id"):
        assert getattr(cfg, k) is None or _is_int(getattr(cfg, k)), k
    for k, v in fx.to_dict().items():
        if k == "softmax_digit_bits":
            assert isinstance(v, list) and v and all(_is_int(x) for x in v), k
        else:
            assert _is_int(v) or (v is None and k == "rsqrt_bits"), k
    if same:
        assert m.tensors == orig.tensors
        assert m.commitments_sha256 == orig.commitments_sha256
    hash(m)  # frozen config values stay hashable (jit static arguments)


def _load(d: Path, orig: weights.Manifest, rows: dict) -> weights.Manifest | None:
    try:
        m, cms = weights.load(d)
    except CommitmentFormatError as e:
        event(f"rejected: {Path(e.path).name}")
        # the manifest alone may still parse (a changed digest is only caught against the
        # files it describes): it must be well typed, not equal to the original
        with contextlib.suppress(CommitmentFormatError):
            _check_manifest(weights.load_manifest(d), orig, same=False)
        return None
    event("loaded")
    _check_manifest(m, orig)
    assert all(np.array_equal(np.asarray(cms[n].rows), r) for n, r in rows.items())
    return m


def _paths(d, prefix=()):
    """Every (key path) inside a JSON value, for targeted edits."""
    yield prefix
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _paths(v, prefix + (i,))


@fuzz_settings(300)
@given(data=st.data())
def test_fuzz_manifest_json(committed, scratch, data):
    src, orig, rows = committed
    d = _copy(src, scratch / "m")
    doc = json.loads((src / weights.MANIFEST).read_text())
    paths = list(_paths(doc))
    raw = None
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        op = data.draw(st.sampled_from(["set", "set", "delete", "raw"]))
        if not path:
            doc = data.draw(_json)
            paths = [()]
            continue
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if op == "set":
            parent[path[-1]] = data.draw(_like(parent[path[-1]]))
        elif op == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]], raw = "\x00RAW\x00", data.draw(st.sampled_from(_RAW))
        paths = list(_paths(doc))
    text = json.dumps(doc)
    if raw is not None:
        text = text.replace(json.dumps("\x00RAW\x00"), raw)
    (d / weights.MANIFEST).write_text(text)
    _load(d, orig, rows)


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_manifest_bytes(committed, scratch, data):
    src, orig, rows = committed
    d = _copy(src, scratch / "b")
    valid = (src / weights.MANIFEST).read_bytes()
    (d / weights.MANIFEST).write_bytes(data.draw(mutated(valid, ([], []))))
    _load(d, orig, rows)


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_commitments_bin(committed, scratch, data):
    src, orig, rows = committed
    d = _copy(src, scratch / "p")
    valid = (src / weights.COMMITMENTS).read_bytes()
    flags = [(48 * i, 1) for i in range(len(valid) // 48)]  # the compression flag bits
    raw = data.draw(mutated(valid, (flags, [(0, len(valid))])))
    (d / weights.COMMITMENTS).write_bytes(raw)
    m = _load(d, orig, rows)
    assert (m is not None) == (raw == valid)


def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for k in parents:
        doc = doc[k]
    doc[last] = value


@pytest.mark.parametrize("edits", [
    {"config.num_attention_heads": 0, "config.num_key_value_heads": 0},  # ZeroDivisionError
    {"config.head_dim": None, "config.num_attention_heads": 0},  # ZeroDivisionError
    {"config.eos_token_id": []},  # IndexError in LlamaConfig.from_dict
    {"config.num_hidden_layers": 10 ** 9},  # a hang: `shapes` looped over the layers
    {"config.rms_norm_eps": "1e-6"},  # accepted (as the others below), a verifier crashed later
    {"config.hidden_size": 8.0},
    {"config.tie_word_embeddings": 0},
    {"fixed_point.scale_bits": 16.0},
    {"fixed_point.weight_limbs": True},
    {"fixed_point.silu_table_bits": []},
    {"fixed_point.softmax_digit_bits": []},  # (rejected before too)
    {"version": "1" * 5000},  # ValueError (int digits limit) from json.loads
    {"tensors": "[" * 5000 + "]" * 5000},  # RecursionError from json.loads
])
def test_manifest_regressions(committed, tmp_path, edits):
    """Found by the fuzzer: crashes, a hang and wrongly typed values accepted."""
    d = _copy(committed[0], tmp_path / "c")
    doc = json.loads((d / weights.MANIFEST).read_text())
    raws = {}
    for i, (path, value) in enumerate(edits.items()):
        if isinstance(value, str) and len(value) > 100:  # raw JSON text
            raws[json.dumps(f"\x00RAW{i}\x00")] = value
            value = f"\x00RAW{i}\x00"
        _set(doc, path, value)
    text = json.dumps(doc)
    for k, v in raws.items():
        text = text.replace(k, v)
    (d / weights.MANIFEST).write_text(text)
    with pytest.raises(CommitmentFormatError):
        weights.load(d)


def test_over_long_commitment_path_is_a_format_error(tmp_path):
    """Regression: Path.is_dir raised OSError (ENAMETOOLONG) out of load_manifest."""
    with pytest.raises(CommitmentFormatError):
        weights.load(tmp_path / ("c" * 300))


# --- zkllm verify arguments ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_files(committed, zkp, tmp_path_factory):
    """Commitment dirs and proof files for `zkllm verify`, none of which gets to a proof check."""
    src, m, _ = committed
    root = tmp_path_factory.mktemp("fuzz-cli")
    (root / "empty").mkdir()
    (root / "garbage").mkdir()
    (root / "garbage" / weights.MANIFEST).write_bytes(b"\xff{not json")
    (root / "mdir" / weights.MANIFEST).mkdir(parents=True)
    (root / "file").write_bytes(b"ZKLP\x00\x01")
    bad = _copy(src, root / "badbin")
    blob = bytearray((bad / weights.COMMITMENTS).read_bytes())
    blob[5] ^= 1
    (bad / weights.COMMITMENTS).write_bytes(bytes(blob))
    coms = ["missing", "empty", "garbage", "mdir", "file", str(src), "badbin", "", ".",
            "c" * 300, "bad\x00nul"]
    (root / "empty.zkp").write_bytes(b"")
    (root / "junk.zkp").write_bytes(np.random.default_rng(1).bytes(200))
    (root / "trunc.zkp").write_bytes(zkp[0][:-3])
    (root / "other.zkp").write_bytes(zkp[0])  # another model's digest
    mine = dict(HEADER, model_digest=m.model_digest)
    (root / "vocab.zkp").write_bytes(bundle.encode(mine, LOGITS, b""))  # V=5, the model has 8
    (root / "zk.zkp").write_bytes(bundle.encode(dict(mine, zero_knowledge=True), LOGITS, b""))
    lg = np.zeros((T_TOK, TINY.vocab_size), np.int32)
    (root / "greedy.zkp").write_bytes(bundle.encode(mine, lg, b""))  # argmax 0, not [2, 3]
    proofs = ["missing.zkp", "empty", "empty.zkp", "junk.zkp", "trunc.zkp", "other.zkp",
              "vocab.zkp", "zk.zkp", "greedy.zkp", "", "bad\x00nul"]
    return root, coms, proofs


_NAMES = {"run", "commit", "prove"}
_FLAGS = ["--commitments", "--proof", "--expect", "-q", "--quiet", "--commit", "--pro",
          "--zero", "--bogus", "-x", "--", "-", "--proof=", "--commitments="]


@fuzz_settings(300)
@given(data=st.data())
def test_fuzz_cli_verify(cli_files, data):
    root, coms, proofs = cli_files
    text = st.text(max_size=12).filter(
        lambda s: not s.startswith("-") and not any(n.startswith(s) for n in _NAMES if s))
    argv = []
    if data.draw(st.integers(0, 9)):
        argv.append("verify")
    if data.draw(st.integers(0, 5)):  # a valid directory a third of the time
        argv += ["--commitments", data.draw(st.just(coms[5]) | st.sampled_from(coms) | text)]
    if data.draw(st.integers(0, 5)):
        argv += ["--proof", data.draw(st.sampled_from(proofs) | text)]
    if data.draw(st.booleans()):
        argv.append(data.draw(st.sampled_from(["--expect", "--expect=plain", "-q"])))
    short = [p for p in coms + proofs if len(p) < 100]
    extra = data.draw(st.lists(st.sampled_from(_FLAGS) | st.sampled_from(short) | text,
                               max_size=3)) if data.draw(st.integers(0, 2)) == 0 else []
    for tok in extra:
        argv.insert(data.draw(st.integers(0, len(argv))), tok)
    out = io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(out):
        try:
            rc = cli.main(argv)
        except SystemExit as e:
            assert e.code == 2, (argv, out.getvalue())
            event("argparse exit 2")
            return
    event(f"exit {rc}: {out.getvalue()[:20]}")
    assert rc in (1, 2), (argv, rc, out.getvalue())
    assert "ACCEPT" not in out.getvalue()


def test_cli_over_long_proof_path(committed, cli_files):
    root, src = cli_files[0], str(committed[0])
    out = io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(out):
        assert cli.main(["verify", "--commitments", src, "--proof", "p" * 300]) in (1, 2)
