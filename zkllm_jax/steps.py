"""Step proofs: one step of one decoder layer, proven on its own (the per-layer workflow).

A decoder layer is five kinds of step (`KINDS`, as `models.run_step` computes them):
rmsnorm_input (x1 = input_layernorm(h)), self_attn (a = attention(x1)), skip (h_mid = h + a),
rmsnorm_post (x2 = post_attention_layernorm(h_mid)), ffn (f = mlp(x2)), skip (h_out = h_mid + f).

Statement of a step proof. For public shapes (`layer.Spec`), the step's kind and layer index
and the public tables, the committed output Y is the fixed-point step applied to the committed
input(s) with the committed model's weights of that layer. Inputs and output are committed as
their two 16-bit pieces (h = lo + 2^16·hi, Hyrax with the advice generators), like a layer's
input and output, so steps chain by equal commitments: the output commitment of one step is the
input commitment of the next.

Deterministic blinds. A chain only links if the commitment of Y that step k writes equals the
one step k + 1 reads, although they are made by separate processes. So the blinds of an
activation are derived from the commit directory's private seed and the tensor itself:
`weights.blind_key(seed, "activation/" + sha256(shape, dtype, bytes) + "/lo")` (and "/hi").
Consequence, by design: equal tensors get equal commitments, so a verifier learns when two
activations (of any steps, proofs or runs with that seed) are equal, and nothing else from the
commitments (they stay hiding: the blinds are secret). The advice tensors use fresh random
blinds.

Prover, in transcript order (the gadget chain is `layer.prove_norm` / `prove_attention` /
`prove_ffn`, the very code the whole-layer prover runs):
1. bind: label, [kind index, layer index, *spec ints], the step's weight commitments, the
   input commitments ("in", and "res" for skip: the residual stream), the output commitment
   and the step's advice commitments, before any challenge;
2. a random point r of Y: the output pieces' values at r (`layer.prove_output`);
3. the segment's reduction of the claim on Y to claims on the input(s): RMSNorm; attention
   from o_proj's rescaled output to x1; FFN from down_proj's rescaled output to x2; skip splits
   the claim on h + a into claims on h and a;
4. the input pieces' values at each claim on an input (`layer.prove_input_pieces`);
5. `pending.prove_finish`: one range check over the step's range-checked advice, the input
   pieces AND the output pieces (a step file may be the last one a user checks, so its output
   is shown to be int32 here rather than by its consumer), then the batched openings.
The verifier mirrors it from commitments, public tables and the proof, and returns the input
and output commitments for the chain check (`chain`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import commit, layer, pending, prng
from .claims import Claim, ClaimSet, GadgetError
from .gadgets import skip
from .gadgets.rangecheck import Range
from .layer import LayerError, Public, SegmentProver, SegmentVerifier, Spec
from .pending import Pending
from .transcript import Transcript

Array = jax.Array
STEP = b"zkllm-jax/layer-step"
STATEMENT = b"zkllm-jax/layer-step-file/v1"
ACTIVATION_DST = b"zkllm-jax/activation/v1"
KINDS = ("rmsnorm_input", "self_attn", "rmsnorm_post", "ffn", "skip")
SEGMENT = {"rmsnorm_input": "attn_norm", "self_attn": "attn", "rmsnorm_post": "mlp_norm",
           "ffn": "ffn", "skip": None}
WEIGHTS = {"rmsnorm_input": ("input_layernorm",),
           "self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"),
           "rmsnorm_post": ("post_attention_layernorm",),
           "ffn": ("gate_proj", "up_proj", "down_proj"), "skip": ()}


def inputs_of(kind: str) -> tuple[str, ...]:
    """The step's committed inputs: "in" (the step's input; for skip the branch output a or f)
    and, for skip, "res" (the residual stream h or h_mid)."""
    _check_kind(kind)
    return ("in", "res") if kind == "skip" else ("in",)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"steps: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")


@struct.dataclass
class StepProof:
    """inputs: name -> the input's piece commitments {"lo", "hi"}; output: Y's {"lo", "hi"};
    commitments: the step's advice; out_values: Fr[2, 8], Y's pieces at the output point;
    steps: gadget proofs by step name; in_values: name -> Fr[k, 2, 8], the input's pieces at
    each claim on it; ranges, lookups, openings: the step's finish."""

    inputs: dict[str, dict[str, commit.Commitment]]
    output: dict[str, commit.Commitment]
    commitments: dict[str, commit.Commitment]
    out_values: Array
    steps: dict[str, Any]
    in_values: dict[str, Array]
    ranges: dict[str, Any]
    lookups: dict[str, Any]
    openings: dict[str, Any]


# --- statement and activation commitments ----------------------------------------------------


def statement(model_digest: str, *, zk: bool = True) -> Transcript:
    """The transcript every step file's proof starts from (binds the mode and the committed
    model)."""
    t = Transcript.new(STATEMENT, zk=zk)
    return t.absorb_bytes(b"model_digest", bytes.fromhex(model_digest))


def activation_digest(h: Any) -> str:
    """sha256 over (shape, dtype, little-endian bytes) of an int32 activation (hex)."""
    a = np.ascontiguousarray(np.asarray(h), dtype="<i4")
    head = f"{ACTIVATION_DST.decode()}|{list(a.shape)}|int32|".encode()
    return hashlib.sha256(head + a.tobytes()).hexdigest()


def commit_activation(h: Any, seed: bytes, gens: commit.Generators
                      ) -> tuple[dict[str, commit.Commitment], dict[str, commit.Witness]]:
    """h's piece commitments {"lo", "hi"} and witnesses, with blinds derived from the seed and
    h itself (equal tensors, equal commitments: see the module docstring)."""
    from . import weights  # weights imports models; keep this module's import light

    name = "activation/" + activation_digest(h)
    coms, wits = {}, {}
    for n, piece in layer.pieces(jnp.asarray(np.asarray(h), jnp.int32)).items():
        coms[n], wits[n] = commit.commit(piece, gens, weights.blind_key(seed, f"{name}/{n}"))
    return coms, wits


def commitment_digest(com: Mapping[str, commit.Commitment]) -> str:
    """The public fingerprint of an activation commitment {"lo", "hi"} (hex sha256 over the
    compressed points), as the step file's header and the chain check name it."""
    from .weights import compressed

    h = hashlib.sha256(ACTIVATION_DST + b"/commitment")
    for n in ("lo", "hi"):
        h.update(compressed(com[n]))
    return h.hexdigest()


# --- shapes ----------------------------------------------------------------------------------


def _piece_names(kind: str) -> list[str]:
    return [f"{i}/{p}" for i in (*inputs_of(kind), "out") for p in ("lo", "hi")]


def step_ranges(sp: Spec, kind: str) -> dict[str, Range]:
    """Every range-checked tensor of a step: the input and output pieces and the advice."""
    out = {f"{i}/{n}": rng for i in (*inputs_of(kind), "out")
           for n, (_, rng) in zip(("lo", "hi"), layer.PIECES)}
    seg = SEGMENT[kind]
    if seg is not None:
        out.update(layer.segment_ranges(sp, seg))
    return out


def advice_shapes(sp: Spec, kind: str) -> dict[str, tuple[int, ...]]:
    """The shape of each of the step's advice tensors (its proof's `commitments`)."""
    seg = SEGMENT[kind]
    return {} if seg is None else layer.segment_shapes(sp, seg)


def _pending(sp: Spec, kind: str, pub: Public, cl: ClaimSet,
             coms: Mapping[str, commit.Commitment], columns: Mapping[str, Any] | None = None,
             witnesses: Mapping[str, commit.Witness] | None = None) -> Pending:
    """The step's finish work: its range checks, the FFN's SiLU lookup, its openings."""
    rng = step_ranges(sp, kind)
    lk = layer.segment_lookups(sp, SEGMENT[kind]) if SEGMENT[kind] is not None else {}
    names = {*rng, *(n for v in lk.values() for xy in v for n in xy)}
    shapes = {**advice_shapes(sp, kind), **{n: (sp.rows, sp.dim) for n in _piece_names(kind)}}
    return Pending(claims=cl, ranges=rng, shapes={n: shapes[n] for n in names},
                   commitments=dict(coms),
                   columns={} if columns is None else {n: columns[n] for n in names},
                   witnesses={} if witnesses is None else dict(witnesses), lookups=lk,
                   tables={k: (pub.silu, layer.swiglu.generators(pub.silu)) for k in lk})


def _ints(sp: Spec, kind: str, index: int) -> list[int]:
    return [KINDS.index(kind), int(index), *sp.ints()]


def _flat_inputs(kind: str, coms: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {f"{i}/{p}": coms[i][p] for i in inputs_of(kind) for p in ("lo", "hi")}


def _bind(sp: Spec, kind: str, index: int, wcoms: Mapping[str, commit.Commitment],
          in_coms: Mapping[str, Mapping[str, commit.Commitment]],
          out_com: Mapping[str, commit.Commitment], coms: Mapping[str, commit.Commitment],
          t: Transcript) -> Transcript:
    bound = {**coms, "out/lo": out_com["lo"], "out/hi": out_com["hi"]}
    return layer.bind(t, STEP, _ints(sp, kind, index), {n: wcoms[n] for n in WEIGHTS[kind]},
                      _flat_inputs(kind, in_coms), bound)


def _renamed(cs: ClaimSet, name: str) -> ClaimSet:
    return {f"{name}/{k[3:]}": v for k, v in cs.items()}  # "in/lo" -> f"{name}/lo"


# --- prover ----------------------------------------------------------------------------------


def prove_step(
    sp: Spec,
    kind: str,
    index: int,
    weights: Mapping[str, Any],
    weight_coms: Mapping[str, commit.Commitment],
    weight_wits: Mapping[str, commit.Witness],
    weight_gens: commit.Generators,
    inputs: Sequence[Any],
    output: Any,
    wit: Mapping[str, Any],
    in_coms: Mapping[str, Mapping[str, commit.Commitment]],
    in_wits: Mapping[str, Mapping[str, commit.Witness]],
    out_com: Mapping[str, commit.Commitment],
    out_wit: Mapping[str, commit.Witness],
    pub: Public,
    transcript: Transcript,
    key: Array,
    *,
    check_witness: bool = True,
) -> tuple[StepProof, Transcript]:
    """Prove one step of layer `index` (range checks and openings included).

    weights/weight_coms/weight_wits: by local name (`WEIGHTS[kind]`); inputs: int32 (T, D)
    tensors in `inputs_of(kind)` order (skip: (branch, residual)); output: the step's output;
    wit: `models.run_step`'s witness fragment; in_coms/in_wits: by input name, each
    {"lo", "hi"} (`commit_activation`); out_com/out_wit: the output's. Jit-able with sp, kind,
    index static.
    """
    _check_kind(kind)
    names = inputs_of(kind)
    if len(inputs) != len(names):
        raise ValueError(f"steps: {kind} takes {len(names)} input(s), got {len(inputs)}")
    seg = SEGMENT[kind]
    adv = {} if seg is None else layer.segment_advice(sp, seg, wit)
    k_com, k_gad, k_fin = prng.split(key, 3)
    coms, wits = layer.commit_tensors(adv, layer.advice_generators(sp), k_com)
    t = _bind(sp, kind, index, weight_coms, in_coms, out_com, coms, transcript.with_rng(key))
    pr = SegmentProver(sp, adv, check_witness)
    out_pieces = layer.pieces(output)
    c_out, t = layer.prove_output(pr, out_pieces, t)
    x = jnp.asarray(inputs[0], jnp.int32)
    in_claims: dict[str, list[Claim]] = {}
    if kind in ("rmsnorm_input", "rmsnorm_post"):
        wname = WEIGHTS[kind][0]
        in_claims["in"], t = layer.prove_norm(pr, seg, x, weights[wname], wit[
            "input_layernorm" if kind == "rmsnorm_input" else "post_attention_layernorm"],
            c_out, t)
    elif kind == "self_attn":
        c, t = layer.prove_attention(pr, weights, wit["self_attn"], x, c_out, pub, k_gad, t)
        in_claims["in"] = [c]
    elif kind == "ffn":
        c, t = layer.prove_ffn(pr, weights, wit["mlp"], x, c_out, pub, k_gad, t)
        in_claims["in"] = [c]
    else:
        res = jnp.asarray(inputs[1], jnp.int32)
        cs, pr.steps["skip"], t = skip.prove(res, x, c_out, t)
        in_claims = {"in": list(cs["b"]), "res": list(cs["a"])}
    in_pieces, in_values = {}, {}
    for i, n in enumerate(names):
        in_pieces[n] = layer.pieces(inputs[i])
        in_values[n], cs, t = layer.prove_input_pieces(in_pieces[n], in_claims[n], t)
        pr.keep("", _renamed(cs, n))
    cols = {**adv, **{f"out/{p}": v for p, v in out_pieces.items()},
            **{f"{n}/{p}": v for n in names for p, v in in_pieces[n].items()}}
    pend = _pending(
        sp, kind, pub, pr.cl,
        {**{f"w/{n}": weight_coms[n] for n in WEIGHTS[kind]}, **_flat_inputs(kind, in_coms),
         "out/lo": out_com["lo"], "out/hi": out_com["hi"], **coms}, cols,
        {**{f"w/{n}": weight_wits[n] for n in WEIGHTS[kind]}, **_flat_inputs(kind, in_wits),
         "out/lo": out_wit["lo"], "out/hi": out_wit["hi"], **wits})
    fin, t = pending.prove_finish(pend, weight_gens, t, k_fin, check_witness=check_witness)
    prf = StepProof(inputs={n: dict(in_coms[n]) for n in names}, output=dict(out_com),
                    commitments=coms, out_values=pr.out_values, steps=pr.steps,
                    in_values=in_values, ranges=fin.ranges, lookups=fin.lookups,
                    openings=fin.openings)
    return prf, t


# --- verifier --------------------------------------------------------------------------------


def _check_shapes(sp: Spec, kind: str, prf: StepProof) -> None:
    def bad(what: str) -> LayerError:
        return LayerError("shape", GadgetError("step", "shape", what))

    act = commit.layout((sp.rows, sp.dim))

    def check_act(com: Any, what: str) -> None:
        if not isinstance(com, Mapping) or set(com) != {"lo", "hi"}:
            raise bad(f"{what} must be piece commitments {{lo, hi}}")
        for c in com.values():
            if (not isinstance(c, commit.Commitment) or (c.num_vars, c.col_vars) != act
                    or tuple(c.rows.shape[:1]) != (1 << (act[0] - act[1]),)):
                raise bad(f"{what} has the wrong layout")

    if not isinstance(prf, StepProof):
        raise bad("not a StepProof")
    if not isinstance(prf.inputs, Mapping) or set(prf.inputs) != set(inputs_of(kind)):
        raise bad(f"inputs must be {list(inputs_of(kind))}")
    for n in inputs_of(kind):
        check_act(prf.inputs[n], f"input {n!r}")
    check_act(prf.output, "the output")
    want = advice_shapes(sp, kind)
    if not isinstance(prf.commitments, Mapping) or set(prf.commitments) != set(want):
        raise bad("the advice commitments do not match the step's advice tensors")
    for n, shp in want.items():
        nv, cv = commit.layout(shp)
        c = prf.commitments[n]
        if (c.num_vars, c.col_vars) != (nv, cv) or tuple(c.rows.shape[:1]) != (1 << (nv - cv),):
            raise bad(f"commitment {n!r} has the wrong layout")
    if not isinstance(prf.in_values, Mapping) or set(prf.in_values) != set(inputs_of(kind)):
        raise bad("in_values must be given per input")


def verify_step(
    sp: Spec,
    kind: str,
    index: int,
    weight_coms: Mapping[str, commit.Commitment],
    weight_gens: commit.Generators,
    prf: StepProof,
    pub: Public,
    transcript: Transcript,
) -> tuple[dict[str, dict[str, commit.Commitment]], dict[str, commit.Commitment], Transcript]:
    """Check a step proof of layer `index` from the weights' commitments (local names), public
    tables and the proof only. Returns (the input commitments by name, the output commitment,
    transcript). Raises LayerError naming the step (and the gadget's check) that failed."""
    _check_kind(kind)
    _check_shapes(sp, kind, prf)
    missing = [n for n in WEIGHTS[kind] if n not in weight_coms]
    if missing:
        raise ValueError(f"steps: no weight commitment for {missing}")
    coms = prf.commitments
    t = _bind(sp, kind, index, weight_coms, prf.inputs, prf.output, coms, transcript)
    vr = SegmentVerifier(sp, prf.steps)
    c_out, t = layer.verify_output(vr, prf.out_values, t)
    seg = SEGMENT[kind]
    in_claims: dict[str, list[Claim]] = {}
    if kind in ("rmsnorm_input", "rmsnorm_post"):
        in_claims["in"], t = layer.verify_norm(vr, seg, c_out, t)
    elif kind == "self_attn":
        c, t = layer.verify_attention(vr, c_out, pub, t)
        in_claims["in"] = [c]
    elif kind == "ffn":
        c, t = layer.verify_ffn(vr, c_out, pub, t)
        in_claims["in"] = [c]
    else:
        try:
            cs, t = skip.verify((sp.rows, sp.dim), c_out, vr.step("skip"), t)
        except LayerError:
            raise
        except GadgetError as e:
            raise LayerError("skip", e) from e
        in_claims = {"in": list(cs["b"]), "res": list(cs["a"])}
    for n in inputs_of(kind):
        cs, t = layer.verify_input_pieces(f"input {n}", "step", in_claims[n], prf.in_values[n],
                                          t)
        vr.keep("", _renamed(cs, n))
    pend = _pending(sp, kind, pub, vr.cl,
                    {**{f"w/{n}": weight_coms[n] for n in WEIGHTS[kind]},
                     **_flat_inputs(kind, prf.inputs), "out/lo": prf.output["lo"],
                     "out/hi": prf.output["hi"], **coms})
    fin = pending.Finish(ranges=prf.ranges, lookups=prf.lookups, openings=prf.openings)
    t = layer.verify_finish("", pend, weight_gens, fin, t)
    return {n: dict(prf.inputs[n]) for n in inputs_of(kind)}, dict(prf.output), t


# --- structure for the strict parser ---------------------------------------------------------


def _com_like(shape: Sequence[int]) -> commit.Commitment:
    n, c = commit.layout(shape)
    return commit.Commitment(rows=jnp.zeros((1 << (n - c), 3, 12), jnp.uint32), num_vars=n,
                             col_vars=c)


def _wit_like(shape: Sequence[int]) -> commit.Witness:
    n, c = commit.layout(shape)
    return commit.Witness(matrix=jnp.zeros((1 << (n - c), 1 << c, 8), jnp.uint32),
                          blinds=jnp.zeros((1 << (n - c), 8), jnp.uint32))


def template(sp: Spec, kind: str, cfg: Any, fx: Any, pub: Public,
             weight_gens: commit.Generators, *, zk: bool = True) -> StepProof:
    """The expected structure (ShapeDtypeStruct leaves) of a step proof in mode `zk`, for
    `proof.tree_from_bytes`: `jax.eval_shape` of the prover on the public shapes."""
    from .model import witness_like

    _check_kind(kind)
    wl = witness_like(cfg, fx, sp.rows)["layers"]
    frag = {k: wl[k] for k in ("input_layernorm", "self_attn", "post_attention_layernorm",
                               "mlp")}
    ws = sp.weight_shapes()
    shp = (sp.rows, sp.dim)
    names = inputs_of(kind)

    def fn(key: Array) -> StepProof:
        wn = WEIGHTS[kind]
        # zeros made inside the trace (gadgets check concrete witnesses, not traced ones)
        zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape[1:], s.dtype), frag)
        return prove_step(
            sp, kind, 0, {n: jnp.zeros(ws[n], jnp.int32) for n in wn},
            {n: _com_like(ws[n]) for n in wn}, {n: _wit_like(ws[n]) for n in wn}, weight_gens,
            [jnp.zeros(shp, jnp.int32)] * len(names), jnp.zeros(shp, jnp.int32), zeros,
            {n: {"lo": _com_like(shp), "hi": _com_like(shp)} for n in names},
            {n: {"lo": _wit_like(shp), "hi": _wit_like(shp)} for n in names},
            {"lo": _com_like(shp), "hi": _com_like(shp)},
            {"lo": _wit_like(shp), "hi": _wit_like(shp)}, pub,
            Transcript.new(b"template", zk=zk), key, check_witness=False)[0]

    return jax.eval_shape(fn, jax.ShapeDtypeStruct((prng.KEY_WORDS,), jnp.uint32))




# --- the .zks file -----------------------------------------------------------------------------
#
#     magic     4 bytes  b"ZKLS"
#     version   u16      1
#     header    u32 length + UTF-8 JSON (sorted keys): version, kind, layer, model_digest, rows,
#               hidden, inputs (input name -> its commitment's `commitment_digest`), output (the
#               output commitment's digest), zero_knowledge (the proof's mode)
#     proof     u32 length + the StepProof's tree-format bytes (`proof.tree_to_bytes`)
#     nothing after the proof.
# The header is bound by the proof: kind, layer and shapes are absorbed by the transcript, the
# model digest starts it (`statement`), and the verifier recomputes every commitment digest
# from the proof's commitments and compares.

FILE_MAGIC = b"ZKLS"
FILE_VERSION = 2  # 2: long transcript payloads by chunk digests (v1 files do not verify)
_HEX = frozenset("0123456789abcdef")


def _is_hex64(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and set(v) <= _HEX


def encode_file(header: Mapping[str, Any], proof_bytes: bytes) -> bytes:
    """A .zks file's bytes."""
    from .bundle import encode_parts

    h = dict(header, version=FILE_VERSION)
    return encode_parts(FILE_MAGIC, FILE_VERSION, h, [proof_bytes])


def decode_file(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Parse a .zks file strictly: (header, proof bytes); BundleFormatError on any deviation."""
    from .bundle import BundleFormatError, decode_header, require, take_part

    header, pos = decode_header(data, FILE_MAGIC, FILE_VERSION, "a zkllm-jax layer-step file")
    require(header, (("version", int), ("kind", str), ("layer", int), ("model_digest", str),
                     ("rows", int), ("hidden", int), ("inputs", dict), ("output", str),
                     ("zero_knowledge", bool)))
    want = {"version", "kind", "layer", "model_digest", "rows", "hidden", "inputs", "output",
            "zero_knowledge"}
    if set(header) != want:
        raise BundleFormatError("header", f"unexpected fields {sorted(set(header) - want)}")
    if header["version"] != FILE_VERSION:
        raise BundleFormatError("header", f"version {header['version']}, expected "
                                f"{FILE_VERSION}")
    if header["kind"] not in KINDS:
        raise BundleFormatError("header", f"unknown step kind {header['kind']!r}")
    if not 0 <= header["layer"] < 1 << 16:
        raise BundleFormatError("header", "layer out of range")
    if not 1 <= header["rows"] < 1 << 20 or not 1 <= header["hidden"] < 1 << 20:
        raise BundleFormatError("header", "rows/hidden out of range")
    if not _is_hex64(header["model_digest"]) or not _is_hex64(header["output"]):
        raise BundleFormatError("header", "digests must be 64 lowercase hex digits")
    ins = header["inputs"]
    if set(ins) != set(inputs_of(header["kind"])) or not all(map(_is_hex64, ins.values())):
        raise BundleFormatError("header", f"inputs must map {list(inputs_of(header['kind']))} "
                                "to commitment digests")
    pb, pos = take_part(data, pos, "proof")
    if pos != len(data):
        raise BundleFormatError("end", f"{len(data) - pos} trailing bytes")
    return header, pb


def header_of(kind: str, index: int, model_digest: str, sp: Spec, prf: StepProof, *,
              zk: bool) -> dict[str, Any]:
    """The .zks header describing a step proof made in mode `zk`."""
    return {"kind": kind, "layer": int(index), "model_digest": model_digest, "rows": sp.rows,
            "hidden": sp.dim, "inputs": {n: commitment_digest(c) for n, c in prf.inputs.items()},
            "output": commitment_digest(prf.output), "zero_knowledge": bool(zk)}


__all__ = ["FILE_MAGIC", "FILE_VERSION", "KINDS", "SEGMENT", "STEP", "WEIGHTS", "StepProof",
           "activation_digest", "advice_shapes", "commit_activation", "commitment_digest",
           "decode_file", "encode_file", "header_of", "inputs_of", "prove_step", "statement",
           "step_ranges", "template", "verify_step"]
