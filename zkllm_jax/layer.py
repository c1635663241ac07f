"""One LLaMa decoder layer, proven and verified step by step from the fixed-point witness.

Statement. For public shapes (`Spec`) and public tables (RoPE rows, exp and SiLU tables), the
committed layer output h_out is the fixed-point decoder layer (`models/llama.py`) applied to the
committed layer input h_in with the committed weights. h_in and h_out are committed as their
two 16-bit pieces (`in/lo`, `in/hi`, `out/lo`, `out/hi`: h = lo + 2^16·hi, Hyrax, advice
generators), so the output commitment of layer i is the input commitment of layer i + 1.

Prover, in transcript order (docs/protocol.md, "Decoder layer", has the soundness notes):
1. every advice tensor (rescale pieces, RMSNorm gaps, softmax digits, SwiGLU columns, ...) is
   committed and absorbed together with the weights' and the input's commitments, BEFORE any
   challenge, so every later lookup and sumcheck is bound to them;
2. a random point r of h_out: the prover sends lo(r), hi(r); the claim h_out(r) follows;
3. backwards through the layer, each gadget turns the claim on its output into claims on its
   inputs: residual → down_proj (rescale, matmul) → SwiGLU → gate/up (rescales, one sibling
   matmul) → post-attention RMSNorm → fold the three claims on h_mid → residual → o_proj →
   context (rescale, probs·v) → softmax → scores (rescale, q·kᵀ with GQA) → RoPE of q and k
   (rescale, rotate_half) → q/k/v (rescales, one sibling matmul) → input RMSNorm → h_in;
4. one range check over every range-checked advice tensor of the layer (one LogUp argument per
   range table) and over h_in's pieces (so RMSNorm's integer identities hold: |h_in| < 2^31,
   |h_mid| < 2^32);
5. every claim left is on a committed tensor: claims on the same tensor are folded, tensors of
   one layout share one batched Hyrax opening (weights with the weight generators, advice with
   the advice generators).
The verifier replays the transcript from commitments, public tables and the proof; it never
sees weights or activations. The chain of step 3 is written once as segments (`prove_norm`,
`prove_attention`, `prove_ffn`, `prove_output` and their `verify_*` mirrors over a
`SegmentProver`/`SegmentVerifier` that collect gadget proofs and claims), which the step proofs
of the per-layer workflow (`steps.py`) reuse. Heads are stacked on a leading axis (the attention gadgets treat
them as a batch dimension), never a Python loop over heads.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import claims, commit, field, lookup, pending, prng
from .claims import Claim, ClaimSet, GadgetError, GroupOpening
from .gadgets import matmul, rangecheck, rescale, rmsnorm, rope, skip, softmax, swiglu
from .gadgets.rangecheck import Range
from .lookup import LookupProof
from .pending import ADVICE_TAG, Pending
from .transcript import Transcript

Array = jax.Array
R = field.R
LAYER = b"zkllm-jax/layer"
WEIGHTS = ("input_layernorm", "q_proj", "k_proj", "v_proj", "o_proj",
           "post_attention_layernorm", "gate_proj", "up_proj", "down_proj")
RESCALES = ("q_proj", "k_proj", "v_proj", "q_rope", "k_rope", "scores", "context", "o_proj",
            "gate_proj", "up_proj", "down_proj")
PIECES = rangecheck.signed_pieces(32)  # h = lo + 2^16·hi
# Rescales whose output is committed whole and bounded by its consumer, not by two range-checked
# pieces: the softmax pins every attended score to its row's shift (an int32 by its pieces)
# minus a bounded xv, and masked scores never reach its output (`softmax`, "Soundness").
UNBOUNDED = ("scores",)


def _bounded(name: str) -> bool:
    """Whether rescale `name`'s output is committed as range-checked pieces (else whole)."""
    return name not in UNBOUNDED


def _rescale_names(sp: Spec, name: str) -> list[str]:
    """The committed tensors of rescale `name` (its pieces; "out" when unbounded)."""
    bound = _bounded(name)
    return [*rescale.ranges(sp.scale_bits, bound), *(() if bound else ("out",))]


class LayerError(GadgetError):
    """A layer proof was rejected; `step` names the layer step, `gadget`/`check` the check."""

    def __init__(self, step: str, inner: GadgetError):
        self.step = step
        self.inner = inner
        ValueError.__init__(self, f"layer step {step!r}: {inner}")
        self.gadget = f"{step}/{inner.gadget}"
        self.check = inner.check
        self.round = inner.round


class Spec(NamedTuple):
    """Static shapes and gadget parameters of one layer over a T-token sequence (hashable)."""

    rows: int
    dim: int
    heads: int
    kv_heads: int
    head_dim: int
    inter: int
    scale_bits: int
    attn_norm: rmsnorm.Params
    mlp_norm: rmsnorm.Params
    swiglu: swiglu.Params
    softmax: softmax.Params

    def ints(self) -> list[int]:
        head = [self.rows, self.dim, self.heads, self.kv_heads, self.head_dim, self.inter,
                self.scale_bits]
        return (head + self.attn_norm.ints() + self.mlp_norm.ints() + self.swiglu.ints()
                + self.softmax.ints())

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        d, hd = self.dim, self.head_dim
        return {"input_layernorm": (d,), "q_proj": (self.heads * hd, d),
                "k_proj": (self.kv_heads * hd, d), "v_proj": (self.kv_heads * hd, d),
                "o_proj": (d, self.heads * hd), "post_attention_layernorm": (d,),
                "gate_proj": (self.inter, d), "up_proj": (self.inter, d),
                "down_proj": (d, self.inter)}


class Public(NamedTuple):
    """The public tables a layer proof is checked against (functions of the config only)."""

    cos: Array  # int32 (T, head_dim), RoPE rows of positions 0..T−1
    sin: Array
    exp: tuple  # softmax lookup tables
    silu: lookup.Table


@struct.dataclass
class LayerProof:
    """commitments: every advice tensor's commitment (incl. the output's pieces) by name;
    out_values: Fr[2, 8], the output pieces at the output point; steps: the gadget proofs by
    step name; in_values: Fr[k, 2, 8], the input pieces at each claim on h_in; ranges: the
    layer's range lookups; openings: the batched Hyrax openings by group."""

    commitments: dict[str, commit.Commitment]
    out_values: Array
    steps: dict[str, Any]
    in_values: Array
    ranges: dict[str, LookupProof]
    lookups: dict[str, LookupProof]
    openings: dict[str, GroupOpening]


# --- parameters --------------------------------------------------------------------------------


def spec(cfg: Any, fx: Any, rows: int) -> Spec:
    """The layer spec of a `models.LlamaConfig` / `FixedPointConfig` over `rows` tokens."""
    t_len, d, f = int(rows), int(cfg.hidden_size), int(fx.scale_bits)
    h, kvh, hd = int(cfg.num_attention_heads), int(cfg.num_key_value_heads), int(cfg.head_dim)
    if t_len < 1:
        raise ValueError(f"layer: the sequence needs at least one token, got {t_len}")
    if hd & (hd - 1) or h % kvh:
        raise ValueError(f"layer: head_dim {hd} must be a power of two and heads {h} a multiple "
                         f"of kv heads {kvh}")
    rb = fx.rsqrt_bits_for(cfg.rms_norm_eps)
    eps = round(cfg.rms_norm_eps * (1 << (2 * f)))
    norm = functools.partial(rmsnorm.params, t_len, d, scale_bits=f, rsqrt_bits=rb,
                             eps_fixed=eps)
    return Spec(
        rows=t_len, dim=d, heads=h, kv_heads=kvh, head_dim=hd,
        inter=int(cfg.intermediate_size), scale_bits=f,
        attn_norm=norm(x_bits=31), mlp_norm=norm(x_bits=32),
        swiglu=swiglu.params(t_len, int(cfg.intermediate_size), scale_bits=f,
                             step_bits=fx.silu_step_bits, table_bits=fx.silu_table_bits),
        softmax=softmax.params(h, t_len, t_len, scale_bits=f,
                               round_bits=fx.softmax_round_bits,
                               digit_bits=tuple(fx.softmax_digit_bits),
                               recip_bits=fx.softmax_recip_bits),
    )


def public(sp: Spec, tables: Mapping[str, Any]) -> Public:
    """Public tables from the model's `build_tables(...)` output (no weights involved)."""
    cos = jnp.asarray(np.asarray(tables["rope_cos"])[: sp.rows], jnp.int32)
    sin = jnp.asarray(np.asarray(tables["rope_sin"])[: sp.rows], jnp.int32)
    if cos.shape != (sp.rows, sp.head_dim):
        raise ValueError(f"layer: RoPE tables cover {cos.shape}, need ({sp.rows}, "
                         f"{sp.head_dim})")
    return Public(cos=cos, sin=sin, exp=tuple(softmax.tables(tables["exp"])),
                  silu=swiglu.table(tables["silu"]))


def _prefixed(prefix: str, d: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}/{k}": v for k, v in d.items()}


def sub(d: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The entries under `prefix/`, with the prefix removed."""
    p = prefix + "/"
    return {k[len(p):]: v for k, v in d.items() if k.startswith(p)}


def _rescale_shapes(sp: Spec) -> dict[str, tuple[int, ...]]:
    t, h, kvh, hd = sp.rows, sp.heads, sp.kv_heads, sp.head_dim
    return {"q_proj": (t, h * hd), "k_proj": (t, kvh * hd), "v_proj": (t, kvh * hd),
            "q_rope": (h, t, hd), "k_rope": (kvh, t, hd), "scores": (h, t, t),
            "context": (h, t, hd), "o_proj": (t, sp.dim), "gate_proj": (t, sp.inter),
            "up_proj": (t, sp.inter), "down_proj": (t, sp.dim)}


def ranges(sp: Spec) -> dict[str, Range]:
    """Every range-checked tensor of the layer proof (advice and the input's pieces)."""
    out = {n: rng for n, (_, rng) in zip(("in/lo", "in/hi"), PIECES)}
    for n in RESCALES:
        out.update(_prefixed(n, rescale.ranges(sp.scale_bits, _bounded(n))))
    out.update(_prefixed("attn_norm", rmsnorm.ranges(sp.attn_norm)))
    out.update(_prefixed("mlp_norm", rmsnorm.ranges(sp.mlp_norm)))
    out.update(_prefixed("softmax", softmax.ranges(sp.softmax)))
    out.update(_prefixed("swiglu", swiglu.ranges(sp.swiglu)))
    return out


def advice_shapes(sp: Spec) -> dict[str, tuple[int, ...]]:
    """The shape of every committed advice tensor (incl. the output's pieces)."""
    out = {"out/lo": (sp.rows, sp.dim), "out/hi": (sp.rows, sp.dim)}
    for n, shp in _rescale_shapes(sp).items():
        out.update({f"{n}/{k}": shp for k in _rescale_names(sp, n)})
    out.update(_prefixed("attn_norm", rmsnorm.shapes(sp.attn_norm)))
    out.update(_prefixed("mlp_norm", rmsnorm.shapes(sp.mlp_norm)))
    out.update(_prefixed("softmax", softmax.shapes(sp.softmax)))
    sw = (sp.rows, sp.inter)
    out.update({f"swiglu/{k}": sw for k in [*swiglu.ranges(sp.swiglu), "act", "act_in"]})
    return out


def advice_generators(sp: Spec, min_cols: int = 1) -> commit.Generators:
    """The advice generator set (hash-to-curve under ADVICE_TAG), wide enough for the layer
    (and for `min_cols` columns: sets of one tag differ only in length, a prefix of each other)."""
    cols = max(1 << commit.layout(s)[1] for s in advice_shapes(sp).values())
    return pending.advice_generators(max(cols, int(min_cols)))


def pieces(h: Any) -> dict[str, Array]:
    """h (int32) as its committed pieces {"lo": [0, 2^16), "hi": [−2^15, 2^15)}."""
    lo, hi = rangecheck.split_signed(jnp.asarray(h, jnp.int32), 32)
    return {"lo": lo, "hi": hi}


# the advice tensors of each segment, by their first name component
SEGMENTS = {
    "attn_norm": ("attn_norm",),
    "attn": ("q_proj", "k_proj", "v_proj", "q_rope", "k_rope", "scores", "context", "o_proj",
             "softmax"),
    "mlp_norm": ("mlp_norm",),
    "ffn": ("gate_proj", "up_proj", "down_proj", "swiglu"),
}


def segment_advice(sp: Spec, seg: str, wit: Mapping[str, Any]) -> dict[str, Array]:
    """The advice tensors (int32, by name) of one segment from its part of the layer witness:
    "attn_norm" reads wit["input_layernorm"], "mlp_norm" wit["post_attention_layernorm"],
    "attn" wit["self_attn"], "ffn" wit["mlp"]."""
    f = sp.scale_bits
    out: dict[str, Any] = {}
    if seg == "attn_norm":
        out = _prefixed("attn_norm", rmsnorm.advice(wit["input_layernorm"], sp.attn_norm))
    elif seg == "mlp_norm":
        out = _prefixed("mlp_norm", rmsnorm.advice(wit["post_attention_layernorm"],
                                                   sp.mlp_norm))
    elif seg in ("attn", "ffn"):
        w = wit["self_attn" if seg == "attn" else "mlp"]
        for n in SEGMENTS[seg][:-1]:
            bound = _bounded(n)
            out.update(_prefixed(n, rescale.advice(w[n]["out"], w[n]["rem"], f, bound)))
            if not bound:
                out[f"{n}/out"] = w[n]["out"]
        if seg == "attn":
            out.update(_prefixed("softmax", softmax.advice(w["softmax"], sp.softmax)))
        else:
            out.update(_prefixed("swiglu", swiglu.advice(w["swiglu"], sp.swiglu)))
    else:
        raise ValueError(f"layer: unknown segment {seg!r}")
    return {k: jnp.asarray(v, jnp.int32) for k, v in out.items()}


def segment_ranges(sp: Spec, seg: str) -> dict[str, Range]:
    """The range-checked advice of one segment (in `ranges`' order)."""
    return {n: r for n, r in ranges(sp).items() if n.split("/", 1)[0] in SEGMENTS[seg]}


def segment_shapes(sp: Spec, seg: str) -> dict[str, tuple[int, ...]]:
    """The shape of every advice tensor of one segment."""
    return {n: s for n, s in advice_shapes(sp).items() if n.split("/", 1)[0] in SEGMENTS[seg]}


def segment_lookups(sp: Spec, seg: str) -> dict[str, list[tuple[str, str]]]:
    """The (input, output) advice pairs one segment leaves to the finish's table lookups (the
    FFN's SiLU pair), by table key."""
    if seg != "ffn":
        return {}
    return {k: [(f"swiglu/{x}", f"swiglu/{y}") for x, y in v]
            for k, v in swiglu.lookups(sp.swiglu).items()}


def advice(sp: Spec, wit: Mapping[str, Any]) -> dict[str, Array]:
    """Every advice tensor to commit (int32, by name) from one layer's model witness."""
    out = {k: jnp.asarray(v, jnp.int32) for k, v in _prefixed("out", pieces(wit["out"])).items()}
    for seg in SEGMENTS:
        out.update(segment_advice(sp, seg, wit))
    return out


def commit_tensors(tensors: Mapping[str, Any], gens: commit.Generators, key: Array
                   ) -> tuple[dict[str, commit.Commitment], dict[str, commit.Witness]]:
    """Commit int32 tensors (sorted by name, one blinding key each). Each MSM covers the bits
    its tensor needs, measured first in one pass (`commit.int_bits`; full width under jit)."""
    ts = {n: jnp.asarray(v, jnp.int32) for n, v in tensors.items()}
    bits = commit.int_bits(ts)
    coms, wits = {}, {}
    for i, n in enumerate(sorted(ts)):
        coms[n], wits[n] = commit.commit(ts[n], gens, prng.fold_in(key, i), bits=bits.get(n))
    return coms, wits


def output_keys(sp: Spec, key: Array) -> Array:
    """The blinding keys [lo, hi] (uint32[2, 8]) `prove_steps` under `key` commits the output's
    pieces with: the next layer's input, committable ahead of this layer's proof."""
    k_com = prng.split(key, 3)[0]
    names = sorted(advice_shapes(sp))
    return jnp.stack([prng.fold_in(k_com, names.index(f"out/{n}")) for n in ("lo", "hi")])


def commit_pieces(h: Any, gens: commit.Generators, keys: Array
                  ) -> tuple[dict[str, commit.Commitment], dict[str, commit.Witness]]:
    """Commit h's pieces {"lo", "hi"} with the blinding keys [lo, hi] (see `output_keys`)."""
    pcs = pieces(h)
    bits = commit.int_bits(pcs)
    coms, wits = {}, {}
    for j, n in enumerate(("lo", "hi")):
        coms[n], wits[n] = commit.commit(pcs[n], gens, keys[j], bits=bits.get(n))
    return coms, wits


def bind(t: Transcript, label: bytes, ints: Sequence[int],
         wcoms: Mapping[str, commit.Commitment], in_com: Mapping[str, commit.Commitment],
         coms: Mapping[str, commit.Commitment]) -> Transcript:
    """Begin a step and absorb every commitment it uses, before any challenge."""
    t = t.begin(label, list(ints))
    for group, cs in ((b"weights", wcoms), (b"input", in_com), (b"advice", coms)):
        for n in sorted(cs):
            t = t.absorb_points(group + b"/" + n.encode(), cs[n].rows)
    return t


# --- small claim helpers -------------------------------------------------------------------------


def _heads_to_rows(c: Claim, heads: int, sp: Spec) -> Claim:
    """A claim on x (heads, T, hd) -> the same claim on x.transpose(1, 0, 2).reshape(T, heads·hd)."""
    t3 = claims.transpose(c, (heads, sp.rows, sp.head_dim), (1, 0, 2))
    return claims.reshape(t3, (sp.rows, heads, sp.head_dim), (sp.rows, heads * sp.head_dim))


def _rows_to_heads(c: Claim, heads: int, sp: Spec) -> Claim:
    """A claim on y (T, heads·hd) -> the same claim on y.reshape(T, heads, hd).transpose(1, 0, 2)."""
    r3 = claims.reshape(c, (sp.rows, heads * sp.head_dim), (sp.rows, heads, sp.head_dim))
    return claims.transpose(r3, (sp.rows, heads, sp.head_dim), (1, 0, 2))


def piece_value(vals: Array) -> Array:
    """lo + 2^16·hi from the two pieces' values Fr[2, 8]."""
    return field.add(vals[0], field.mul(vals[1], field.encode(1 << 16)))


def prove_input_pieces(pcs: Mapping[str, Array], cs: Sequence[Claim], t: Transcript
                       ) -> tuple[Array, ClaimSet, Transcript]:
    """Prover: the input's pieces at each claim on it (sent, Fr[k, 2, 8]) and the claims on
    `in/lo`, `in/hi` they leave."""
    vals = [jnp.stack([claims.evaluate(pcs["lo"], c.point), claims.evaluate(pcs["hi"], c.point)])
            for c in cs]
    out: ClaimSet = {"in/lo": [], "in/hi": []}
    for c, v in zip(cs, vals):
        t = t.absorb_field(b"in_pieces", v)
        out["in/lo"].append(Claim(c.point, v[0]))
        out["in/hi"].append(Claim(c.point, v[1]))
    return jnp.stack(vals), out, t


def verify_input_pieces(step: str, gadget: str, cs: Sequence[Claim], iv: Any, t: Transcript
                        ) -> tuple[ClaimSet, Transcript]:
    """Verifier of `prove_input_pieces`: each claim must equal lo + 2^16·hi (LayerError(step))."""
    if tuple(getattr(iv, "shape", ())) != (len(cs), 2, field.LIMBS):
        raise LayerError(step, GadgetError(gadget, "shape", f"in_values must be "
                                           f"Fr[{len(cs)}, 2, 8]"))
    out: ClaimSet = {"in/lo": [], "in/hi": []}
    for i, c in enumerate(cs):
        if claims.ints(piece_value(iv[i])) != claims.ints(c.value):
            raise LayerError(step, GadgetError(gadget, "input_pieces", f"claim {i} on the "
                                               "input differs from lo + 2^16·hi"))
        t = t.absorb_field(b"in_pieces", iv[i])
        out["in/lo"].append(Claim(c.point, iv[i][0]))
        out["in/hi"].append(Claim(c.point, iv[i][1]))
    return out, t


@contextlib.contextmanager
def _step(name: str) -> Iterator[None]:
    try:
        yield
    except LayerError:
        raise
    except GadgetError as e:
        raise LayerError(name, e) from e


# --- prover --------------------------------------------------------------------------------------


def prove(
    sp: Spec,
    weights: Mapping[str, Any],
    weight_coms: Mapping[str, commit.Commitment],
    weight_wits: Mapping[str, commit.Witness],
    weight_gens: commit.Generators,
    wit: Mapping[str, Any],
    in_com: Mapping[str, commit.Commitment],
    in_wit: Mapping[str, commit.Witness],
    pub: Public,
    transcript: Transcript,
    key: Array,
    *,
    check_witness: bool = True,
    progress: Any = None,
) -> tuple[LayerProof, dict[str, commit.Witness], Transcript]:
    """Prove one layer on its own (its range checks and openings included); returns (proof, the
    output pieces' witnesses, transcript).

    weights: int32 by local name (`WEIGHTS`); weight_coms/weight_wits: their commitments and
    the prover's opening witnesses; wit: the layer's model witness (one layer of
    `models.run(...)`'s `witness["layers"]`); in_com/in_wit: {"lo", "hi"} of h_in (the previous
    layer's output pieces, or the embedding's). check_witness=False skips the eager checks of
    lookup inputs (needed under jit). progress(step), if given (eager use only), is called
    after each group of steps once its work is done (for per-step timings). Pure: jit it with
    `sp` static.

    Zero knowledge is the transcript's mode (`Transcript.new(label, zk=True)` by default;
    zk=False for a plain proof): every sumcheck is then masked with randomness from `key`.
    """
    k_steps, k_fin = prng.split(key)
    prf, pend, out_wit, t = prove_steps(sp, weights, weight_coms, weight_wits, wit, in_com,
                                        in_wit, pub, transcript, k_steps,
                                        check_witness=check_witness, progress=progress)
    fin, t = pending.prove_finish(pend, weight_gens, t, k_fin, check_witness=check_witness,
                                  progress=progress)
    return prf.replace(ranges=fin.ranges, lookups=fin.lookups, openings=fin.openings), out_wit, t


class SegmentProver:
    """The prover's bookkeeping of one step: its advice, the gadget proofs by step name and the
    claims left on committed tensors (names as in `ranges`/`advice_shapes`)."""

    def __init__(self, sp: Spec, adv: Mapping[str, Array], check_witness: bool,
                 progress: Any = None):
        self.sp, self.adv, self.check_witness, self.progress = sp, adv, check_witness, progress
        self.cl: ClaimSet = {}
        self.steps: dict[str, Any] = {}
        self.out_values: Any = None

    def keep(self, prefix: str, cs: Mapping[str, Sequence[Claim]]) -> None:
        for k, v in cs.items():
            self.cl.setdefault(f"{prefix}/{k}" if prefix else k, []).extend(v)

    def mark(self, name: str, tr: Transcript) -> None:
        if self.progress is not None:
            jax.block_until_ready(tr.state)
            self.progress(name)

    def resc(self, name: str, c: Claim, tr: Transcript) -> tuple[Claim, Transcript]:
        bound = _bounded(name)
        pieces = {k: v for k, v in sub(self.adv, name).items() if bound or k != "out"}
        cs, self.steps[f"{name}.rescale"], tr = rescale.prove_advice(
            pieces, c, tr, bits=self.sp.scale_bits, bound_out=bound, range_check=False,
            check_witness=self.check_witness)
        self.keep(name, {k: v for k, v in cs.items() if k != "raw"})
        return cs["raw"][0], tr


def _i32(x: Any) -> Array:
    return jnp.asarray(x, jnp.int32)


def prove_output(pr: SegmentProver, out_pieces: Mapping[str, Array], t: Transcript
                 ) -> tuple[Claim, Transcript]:
    """A random point r of the output (T, D): the prover sends its pieces' values there
    (claims on `out/lo`, `out/hi`); returns the claim on the output at r."""
    sp = pr.sp
    r, t = t.challenges(b"out_point", claims.num_vars((sp.rows, sp.dim)))
    out_vals = jnp.stack([claims.evaluate(out_pieces["lo"], r),
                          claims.evaluate(out_pieces["hi"], r)])
    t = t.absorb_field(b"out_pieces", out_vals)
    pr.keep("", {"out/lo": [Claim(r, out_vals[0])], "out/hi": [Claim(r, out_vals[1])]})
    pr.out_values = out_vals
    return Claim(point=r, value=piece_value(out_vals)), t


def prove_norm(pr: SegmentProver, which: str, h: Any, weight: Any, norm_wit: Mapping[str, Any],
               c: Claim, t: Transcript) -> tuple[list[Claim], Transcript]:
    """RMSNorm segment ("attn_norm": input_layernorm, "mlp_norm": post_attention_layernorm):
    the claim on its output -> claims on its input h (returned) and on its weight (kept)."""
    params = pr.sp.attn_norm if which == "attn_norm" else pr.sp.mlp_norm
    wname = "input_layernorm" if which == "attn_norm" else "post_attention_layernorm"
    cs, pr.steps[which], t = rmsnorm.prove(
        _i32(h), _i32(weight), norm_wit, c, t, params=params, adv=sub(pr.adv, which),
        range_check=False, check_witness=pr.check_witness)
    pr.keep(which, rmsnorm.committed(cs))
    pr.keep("", {f"w/{wname}": cs["weight"]})
    return list(cs["x"]), t


def prove_ffn(pr: SegmentProver, weights: Mapping[str, Any], mlp: Mapping[str, Any], x2: Any,
              c: Claim, pub: Public, key: Array, t: Transcript) -> tuple[Claim, Transcript]:
    """FFN segment: the claim on down_proj's rescaled output -> a claim on its input x2."""
    sp = pr.sp
    c, t = pr.resc("down_proj", c, t)
    hidden = _i32(mlp["swiglu"]["hidden"])
    cs, pr.steps["down_proj"], t = matmul.prove(hidden, _i32(weights["down_proj"]), c, t)
    pr.keep("", {"w/down_proj": cs["w"]})
    pr.mark("down_proj", t)
    up = _i32(mlp["up_proj"]["out"])
    cs, pr.steps["swiglu"], t = swiglu.prove(
        up, mlp["swiglu"], cs["x"][0], t, params=sp.swiglu, table=pub.silu, key=key,
        adv=sub(pr.adv, "swiglu"), range_check=False, silu_lookup=False,
        check_witness=pr.check_witness)
    pr.keep("swiglu", swiglu.committed(cs))
    pr.mark("swiglu", t)
    c_gate, t = pr.resc("gate_proj", cs["gate"][0], t)
    c_up, t = pr.resc("up_proj", cs["up"][0], t)
    cs, pr.steps["gate_up"], t = matmul.prove_siblings(
        _i32(x2), [_i32(weights["gate_proj"]), _i32(weights["up_proj"])], [c_gate, c_up], t)
    pr.keep("", {"w/gate_proj": cs["w0"], "w/up_proj": cs["w1"]})
    pr.mark("gate_up", t)
    return cs["x"][0], t


def prove_attention(pr: SegmentProver, weights: Mapping[str, Any], sa: Mapping[str, Any], x1: Any,
                    c: Claim, pub: Public, key: Array, t: Transcript
                    ) -> tuple[Claim, Transcript]:
    """Attention segment: the claim on o_proj's rescaled output -> a claim on its input x1
    (o_proj, context, softmax, scores, RoPE, q/k/v)."""
    sp = pr.sp
    c, t = pr.resc("o_proj", c, t)
    ctx = _i32(sa["context"]["out"])
    ctx_flat = ctx.transpose(1, 0, 2).reshape(sp.rows, -1)
    cs, pr.steps["o_proj"], t = matmul.prove(ctx_flat, _i32(weights["o_proj"]), c, t)
    pr.keep("", {"w/o_proj": cs["w"]})
    pr.mark("o_proj", t)
    c, t = pr.resc("context", _rows_to_heads(cs["x"][0], sp.heads, sp), t)
    probs, v_heads = _i32(sa["softmax"]["probs"]), _heads(sa["v_proj"]["out"], sp.kv_heads, sp)
    cs, pr.steps["context"], t = matmul.prove_context(probs, v_heads, c, t)
    c_v = cs["v"][0]
    pr.mark("context", t)
    scores = _i32(sa["scores"]["out"])
    cs, pr.steps["softmax"], t = softmax.prove(
        scores, sa["softmax"], cs["probs"][0], t, params=sp.softmax, tables=pub.exp, key=key,
        adv=sub(pr.adv, "softmax"), range_check=False, check_witness=pr.check_witness)
    pr.keep("softmax", softmax.committed(cs))
    pr.mark("softmax", t)
    c, t = pr.resc("scores", cs["scores"][0], t)
    q_rot, k_rot = _i32(sa["q_rope"]["out"]), _i32(sa["k_rope"]["out"])
    cs, pr.steps["scores"], t = matmul.prove_scores(q_rot, k_rot, c, t)
    c_q, c_k = cs["q"][0], cs["k"][0]
    pr.mark("scores", t)
    proj_claims = {}
    for name, cq, heads in (("q", c_q, sp.heads), ("k", c_k, sp.kv_heads)):
        c, t = pr.resc(f"{name}_rope", cq, t)
        pre = _heads(sa[f"{name}_proj"]["out"], heads, sp)
        cs, pr.steps[f"{name}_rope"], t = rope.prove(pre, pub.cos, pub.sin, c, t)
        proj_claims[name] = _heads_to_rows(cs["x"][0], heads, sp)
    proj_claims["v"] = _heads_to_rows(c_v, sp.kv_heads, sp)
    pr.mark("rope", t)
    raws = []
    for name in ("q", "k", "v"):
        c, t = pr.resc(f"{name}_proj", proj_claims[name], t)
        raws.append(c)
    cs, pr.steps["qkv"], t = matmul.prove_siblings(
        _i32(x1), [_i32(weights[n]) for n in ("q_proj", "k_proj", "v_proj")], raws, t)
    pr.keep("", {"w/q_proj": cs["w0"], "w/k_proj": cs["w1"], "w/v_proj": cs["w2"]})
    pr.mark("qkv", t)
    return cs["x"][0], t


def prove_steps(
    sp: Spec,
    weights: Mapping[str, Any],
    weight_coms: Mapping[str, commit.Commitment],
    weight_wits: Mapping[str, commit.Witness],
    wit: Mapping[str, Any],
    in_com: Mapping[str, commit.Commitment],
    in_wit: Mapping[str, commit.Witness],
    pub: Public,
    transcript: Transcript,
    key: Array,
    *,
    check_witness: bool = True,
    progress: Any = None,
) -> tuple[LayerProof, Pending, dict[str, commit.Witness], Transcript]:
    """`prove` up to its range checks and openings, which are handed back as `Pending` (local
    names: "w/<weight>", "in/lo", "in/hi", advice names) for a batched `pending.prove_finish`.
    The proof's `ranges` and `openings` are empty."""
    # field.trusted(): the inputs are int32 tensors, points, public tables and witnesses, which
    # are only stored here (the finish checks each as it reads it: pending._Resolved)
    with field.trusted():
        return _prove_steps(sp, weights, weight_coms, weight_wits, wit, in_com, in_wit, pub,
                            transcript, key, check_witness, progress)


def _prove_steps(sp, weights, weight_coms, weight_wits, wit, in_com, in_wit, pub, transcript,
                 key, check_witness, progress):
    adv = advice(sp, wit)
    if progress is not None:
        jax.block_until_ready(adv)
        progress("advice")
    agens = advice_generators(sp)
    k_com, k_sm, k_sw = prng.split(key, 3)
    coms, wits = commit_tensors(adv, agens, k_com)
    # the key also masks this step's sumchecks (zero-knowledge transcripts; see transcript)
    t = bind(transcript.with_rng(key), LAYER, sp.ints(), weight_coms, in_com, coms)
    pr = SegmentProver(sp, adv, check_witness, progress)
    pr.mark("commit", t)
    sa, mlp = wit["self_attn"], wit["mlp"]

    # 2. the output point
    c_out, t = prove_output(pr, sub(adv, "out"), t)

    # 3. MLP half
    h_mid, d_out = _i32(wit["residual_attn"]), _i32(mlp["down_proj"]["out"])
    cs, pr.steps["residual_mlp"], t = skip.prove(h_mid, d_out, c_out, t)
    c_mid = list(cs["a"])
    c, t = prove_ffn(pr, weights, mlp, wit["post_attention_layernorm"]["out"], cs["b"][0], pub,
                     k_sw, t)
    cs, t = prove_norm(pr, "mlp_norm", h_mid, weights["post_attention_layernorm"],
                       wit["post_attention_layernorm"], c, t)
    c_mid += cs
    c_mid1, pr.steps["mid_combine"], t = claims.prove_combine(h_mid, c_mid, t)
    pr.mark("mlp_norm", t)

    # 3. attention half
    h_in, o_out = _i32(wit["input"]), _i32(sa["o_proj"]["out"])
    cs, pr.steps["residual_attn"], t = skip.prove(h_in, o_out, c_mid1, t)
    c_in = list(cs["a"])
    c, t = prove_attention(pr, weights, sa, wit["input_layernorm"]["out"], cs["b"][0], pub,
                           k_sm, t)
    cs, t = prove_norm(pr, "attn_norm", h_in, weights["input_layernorm"],
                       wit["input_layernorm"], c, t)
    c_in += cs

    # the input's pieces at each claim on h_in
    in_pieces = pieces(h_in)
    in_vals, cs, t = prove_input_pieces(in_pieces, c_in, t)
    pr.keep("", cs)

    pr.mark("attn_norm", t)

    # 4.–5. what is left: the range checks, the SiLU lookup and the openings
    pend = _pending(
        sp, pub, pr.cl, {**{f"w/{n}": weight_coms[n] for n in WEIGHTS},
                         **{f"in/{n}": in_com[n] for n in ("lo", "hi")}, **coms},
        {n: (in_pieces[n[3:]] if n.startswith("in/") else adv[n]) for n in _columns(sp)},
        {**{f"w/{n}": weight_wits[n] for n in WEIGHTS},
         **{f"in/{n}": in_wit[n] for n in ("lo", "hi")}, **wits})
    proof = LayerProof(commitments=coms, out_values=pr.out_values, steps=pr.steps,
                       in_values=in_vals, ranges={}, lookups={}, openings={})
    out_wit = {"lo": wits["out/lo"], "hi": wits["out/hi"]}
    return proof, pend, out_wit, t


def _lookups(sp: Spec) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for seg in SEGMENTS:
        for k, v in segment_lookups(sp, seg).items():
            out.setdefault(k, []).extend(v)
    return out


def _columns(sp: Spec) -> list[str]:
    """The tensors the finish reads: range-checked and looked-up ones."""
    return sorted({*ranges(sp), *(n for v in _lookups(sp).values() for xy in v for n in xy)})


def _pending(sp: Spec, pub: Public, cl: ClaimSet, coms: Mapping[str, commit.Commitment],
             columns: Mapping[str, Array] = MappingProxyType({}),
             witnesses: Mapping[str, commit.Witness] = MappingProxyType({})) -> Pending:
    shapes = {**advice_shapes(sp), "in/lo": (sp.rows, sp.dim), "in/hi": (sp.rows, sp.dim)}
    lk = _lookups(sp)
    return Pending(claims=cl, ranges=ranges(sp), shapes={n: shapes[n] for n in _columns(sp)},
                   commitments=dict(coms), columns=columns, witnesses=witnesses, lookups=lk,
                   tables={k: (pub.silu, swiglu.generators(pub.silu)) for k in lk})


def prove_steps_arrays(sp: Spec, *args: Any, check_witness: bool = True,
                       progress: Any = None) -> tuple:
    """`prove_steps` with the pending work's array parts only (claims, commitments, columns,
    witnesses), for `jax.jit` / `jax.eval_shape`; `with_static` rebuilds the `Pending`.
    progress: as `prove_steps`' (eager use only)."""
    prf, p, out_wit, t = prove_steps(sp, *args, check_witness=check_witness, progress=progress)
    return prf, (p.claims, p.commitments, p.columns, p.witnesses), out_wit, t


def with_static(sp: Spec, parts: tuple, pub: Public) -> Pending:
    """The layer's `Pending` from `prove_steps_arrays`'s array parts."""
    return _pending(sp, pub, *parts)


def _heads(y: Any, heads: int, sp: Spec) -> Array:
    """(T, heads·hd) -> (heads, T, hd) like the model's q/k/v split."""
    return jnp.asarray(y, jnp.int32).reshape(sp.rows, heads, sp.head_dim).transpose(1, 0, 2)


# --- verifier ------------------------------------------------------------------------------------


def _check_commitments(sp: Spec, proof: LayerProof) -> None:
    want = advice_shapes(sp)
    got = getattr(proof, "commitments", None)
    if not isinstance(got, Mapping) or set(got) != set(want):
        raise GadgetError("layer", "shape", "the proof's advice commitments do not match the "
                          "layer's advice tensors")
    for n, shp in want.items():
        nv, cv = commit.layout(shp)
        c = got[n]
        if (c.num_vars, c.col_vars) != (nv, cv) or tuple(c.rows.shape[:1]) != (1 << (nv - cv),):
            raise GadgetError("layer", "shape", f"commitment {n!r} has the wrong layout")


def verify(
    sp: Spec,
    weight_coms: Mapping[str, commit.Commitment],
    weight_gens: commit.Generators,
    in_com: Mapping[str, commit.Commitment],
    proof: LayerProof,
    pub: Public,
    transcript: Transcript,
) -> tuple[dict[str, commit.Commitment], Transcript]:
    """Check a layer proof from commitments, public tables and the proof only.

    Returns the output's commitments {"lo", "hi"} (the next layer's input) and the transcript.
    Raises LayerError naming the step (and the gadget's check) that failed.
    """
    out, pend, t = verify_steps(sp, weight_coms, in_com, proof, pub, transcript)
    fin = pending.Finish(ranges=proof.ranges, lookups=proof.lookups, openings=proof.openings)
    return out, verify_finish("", pend, weight_gens, fin, t)


class SegmentVerifier:
    """The verifier's bookkeeping of one step (mirrors `SegmentProver`): the gadget proofs by step
    name and the claims left on committed tensors."""

    def __init__(self, sp: Spec, steps: Any):
        self.sp, self.steps = sp, steps
        self.cl: ClaimSet = {}
        self.shapes = _rescale_shapes(sp)

    def keep(self, prefix: str, cs: Mapping[str, Sequence[Claim]]) -> None:
        for k, v in cs.items():
            self.cl.setdefault(f"{prefix}/{k}" if prefix else k, []).extend(v)

    def step(self, name: str) -> Any:
        if not isinstance(self.steps, Mapping) or name not in self.steps:
            raise LayerError(name, GadgetError("layer", "shape", f"missing step {name!r}"))
        return self.steps[name]

    def resc(self, name: str, c: Claim, tr: Transcript) -> tuple[Claim, Transcript]:
        with _step(f"{name}.rescale"):
            cs, tr = rescale.verify(self.shapes[name], c, self.step(f"{name}.rescale"), tr,
                                    bits=self.sp.scale_bits, bound_out=_bounded(name),
                                    range_check=False)
        self.keep(name, {k: v for k, v in cs.items() if k != "raw"})
        return cs["raw"][0], tr


def verify_output(vr: SegmentVerifier, out_values: Any, t: Transcript) -> tuple[Claim, Transcript]:
    """Verifier of `prove_output`."""
    sp = vr.sp
    r, t = t.challenges(b"out_point", claims.num_vars((sp.rows, sp.dim)))
    if tuple(getattr(out_values, "shape", ())) != (2, field.LIMBS):
        raise LayerError("output", GadgetError("layer", "shape", "out_values must be Fr[2, 8]"))
    t = t.absorb_field(b"out_pieces", out_values)
    vr.keep("", {"out/lo": [Claim(r, out_values[0])], "out/hi": [Claim(r, out_values[1])]})
    return Claim(point=r, value=piece_value(out_values)), t


def verify_norm(vr: SegmentVerifier, which: str, c: Claim, t: Transcript
                ) -> tuple[list[Claim], Transcript]:
    """Verifier of `prove_norm`."""
    params = vr.sp.attn_norm if which == "attn_norm" else vr.sp.mlp_norm
    wname = "input_layernorm" if which == "attn_norm" else "post_attention_layernorm"
    with _step(which):
        cs, t = rmsnorm.verify(c, vr.step(which), t, params=params, range_check=False)
    vr.keep(which, rmsnorm.committed(cs))
    vr.keep("", {f"w/{wname}": cs["weight"]})
    return list(cs["x"]), t


def verify_ffn(vr: SegmentVerifier, c: Claim, pub: Public, t: Transcript) -> tuple[Claim, Transcript]:
    """Verifier of `prove_ffn`."""
    sp = vr.sp
    t_len, d = sp.rows, sp.dim
    c, t = vr.resc("down_proj", c, t)
    with _step("down_proj"):
        cs, t = matmul.verify((t_len, sp.inter), (d, sp.inter), c, vr.step("down_proj"), t)
    vr.keep("", {"w/down_proj": cs["w"]})
    with _step("swiglu"):
        cs, t = swiglu.verify(cs["x"][0], vr.step("swiglu"), t, params=sp.swiglu,
                              table=pub.silu, range_check=False, silu_lookup=False)
    vr.keep("swiglu", swiglu.committed(cs))
    c_gate, t = vr.resc("gate_proj", cs["gate"][0], t)
    c_up, t = vr.resc("up_proj", cs["up"][0], t)
    with _step("gate_up"):
        cs, t = matmul.verify_siblings((t_len, d), [(sp.inter, d)] * 2, [c_gate, c_up],
                                       vr.step("gate_up"), t)
    vr.keep("", {"w/gate_proj": cs["w0"], "w/up_proj": cs["w1"]})
    return cs["x"][0], t


def verify_attention(vr: SegmentVerifier, c: Claim, pub: Public, t: Transcript
                     ) -> tuple[Claim, Transcript]:
    """Verifier of `prove_attention`."""
    sp = vr.sp
    t_len, d, hd = sp.rows, sp.dim, sp.head_dim
    c, t = vr.resc("o_proj", c, t)
    with _step("o_proj"):
        cs, t = matmul.verify((t_len, sp.heads * hd), (d, sp.heads * hd), c, vr.step("o_proj"),
                              t)
    vr.keep("", {"w/o_proj": cs["w"]})
    c, t = vr.resc("context", _rows_to_heads(cs["x"][0], sp.heads, sp), t)
    with _step("context"):
        cs, t = matmul.verify_context((sp.heads, t_len, t_len), (sp.kv_heads, t_len, hd), c,
                                      vr.step("context"), t)
    c_v = cs["v"][0]
    with _step("softmax"):
        cs, t = softmax.verify(cs["probs"][0], vr.step("softmax"), t, params=sp.softmax,
                               tables=pub.exp, range_check=False)
    vr.keep("softmax", softmax.committed(cs))
    c, t = vr.resc("scores", cs["scores"][0], t)
    with _step("scores"):
        cs, t = matmul.verify_scores((sp.heads, t_len, hd), (sp.kv_heads, t_len, hd), c,
                                     vr.step("scores"), t)
    c_q, c_k = cs["q"][0], cs["k"][0]
    proj_claims = {}
    for name, cq, heads in (("q", c_q, sp.heads), ("k", c_k, sp.kv_heads)):
        c, t = vr.resc(f"{name}_rope", cq, t)
        with _step(f"{name}_rope"):
            cs, t = rope.verify((heads, t_len, hd), pub.cos, pub.sin, c,
                                vr.step(f"{name}_rope"), t)
        proj_claims[name] = _heads_to_rows(cs["x"][0], heads, sp)
    proj_claims["v"] = _heads_to_rows(c_v, sp.kv_heads, sp)
    raws = []
    for name in ("q", "k", "v"):
        c, t = vr.resc(f"{name}_proj", proj_claims[name], t)
        raws.append(c)
    ws = sp.weight_shapes()
    with _step("qkv"):
        cs, t = matmul.verify_siblings((t_len, d), [ws[n] for n in ("q_proj", "k_proj",
                                                                    "v_proj")], raws,
                                       vr.step("qkv"), t)
    vr.keep("", {"w/q_proj": cs["w0"], "w/k_proj": cs["w1"], "w/v_proj": cs["w2"]})
    return cs["x"][0], t


def verify_steps(
    sp: Spec,
    weight_coms: Mapping[str, commit.Commitment],
    in_com: Mapping[str, commit.Commitment],
    proof: LayerProof,
    pub: Public,
    transcript: Transcript,
) -> tuple[dict[str, commit.Commitment], Pending, Transcript]:
    """`verify` up to the range checks and openings, handed back as `Pending` (`prove_steps`'s
    names) for `pending.verify_finish`."""
    if not isinstance(proof, LayerProof):
        raise GadgetError("layer", "shape", "not a LayerProof")
    if set(weight_coms) != set(WEIGHTS):
        raise ValueError(f"layer: weight commitments {sorted(weight_coms)}, expected "
                         f"{sorted(WEIGHTS)}")
    _check_commitments(sp, proof)
    coms = proof.commitments
    t = bind(transcript, LAYER, sp.ints(), weight_coms, in_com, coms)
    vr = SegmentVerifier(sp, proof.steps)
    t_len, d = sp.rows, sp.dim
    c_out, t = verify_output(vr, proof.out_values, t)

    with _step("residual_mlp"):
        cs, t = skip.verify((t_len, d), c_out, vr.step("residual_mlp"), t)
    c_mid = list(cs["a"])
    c, t = verify_ffn(vr, cs["b"][0], pub, t)
    cs, t = verify_norm(vr, "mlp_norm", c, t)
    c_mid += cs
    with _step("mid_combine"):
        c_mid1, t = claims.verify_combine((t_len, d), c_mid, vr.step("mid_combine"), t)

    with _step("residual_attn"):
        cs, t = skip.verify((t_len, d), c_mid1, vr.step("residual_attn"), t)
    c_in = list(cs["a"])
    c, t = verify_attention(vr, cs["b"][0], pub, t)
    cs, t = verify_norm(vr, "attn_norm", c, t)
    c_in += cs

    cs, t = verify_input_pieces("input", "layer", c_in, proof.in_values, t)
    vr.keep("", cs)

    pend = _pending(sp, pub, vr.cl, {**{f"w/{n}": weight_coms[n] for n in WEIGHTS},
                                     **{f"in/{n}": in_com[n] for n in ("lo", "hi")}, **coms})
    return {"lo": coms["out/lo"], "hi": coms["out/hi"]}, pend, t


def verify_finish(step: str, p: Pending, weight_gens: commit.Generators, fin: Any,
                  t: Transcript) -> Transcript:
    """`pending.verify_finish`, its rejection as LayerError(step: "range_check"/"openings")."""
    try:
        return pending.verify_finish(p, weight_gens, fin, t)
    except GadgetError as e:
        raise LayerError(f"{step}{e.gadget}", e) from e


__all__ = ["ADVICE_TAG", "LAYER", "SEGMENTS", "WEIGHTS", "LayerError", "LayerProof", "Public",
           "SegmentProver", "SegmentVerifier", "Spec", "advice", "advice_generators",
           "advice_shapes", "commit_pieces", "commit_tensors", "output_keys", "pieces", "prove", "prove_attention", "prove_ffn",
           "prove_norm", "prove_output", "prove_steps", "prove_steps_arrays", "public",
           "ranges", "segment_advice", "segment_lookups", "segment_ranges", "segment_shapes",
           "spec", "verify",
           "verify_attention", "verify_ffn", "verify_finish", "verify_norm", "verify_output",
           "verify_steps", "with_static"]
