"""Whole-model proof: embedding, every decoder layer, final norm and lm_head over one sequence.

Statement. For public tokens (T,) and public logits (T, V) (int32 at scale 2^f), the logits are
exactly the fixed-point forward (`models.run`) of the committed weights on the tokens. After
`begin` (the spec, the tokens, the logits: state T0) every step runs on its own branch of T0
(`Transcript.fork`), so the steps' proofs are independent and can be made in any order or on
different devices (`shard.py`) with the same bytes:

1. embed (branch "embed" 0): h_0 is committed as its two 16-bit pieces; at a random point r the
   prover sends the pieces' values, and the embedding gadget reduces h_0(r) to a claim on the
   committed table (the public tokens select its rows); it opens its claims at once (a finish
   of its own). h_0's range is checked by layer 0 (its input check);
2. layers (branch "layer" i): `layer.prove_steps` for i = 0..L−1; the output commitments of
   layer i are the input commitments of layer i + 1 (every layer proof also checks its input's
   range), which the verifier reads from the proof;
3. head (branch "head" 0): a claim on the public logits at a random point (the verifier
   evaluates it itself) is reduced through lm_head's rescale (remainder committed and
   range-checked; the rescaled value is the public logits, bounded by being int32) and matmul
   to the final RMSNorm and to h_L's pieces, which this step range-checks;
4. finishes (branch "finish" g): the layers are split into groups of `ModelSpec.batch`
   consecutive layers (the head joins the last); group g's finish first absorbs the final
   states of its members' branches (`Transcript.join`), then one `pending.prove_finish` runs
   every range check of the group (one LogUp argument per range table, one SiLU lookup) and
   opens every claim (one batched Hyrax opening per generator set and row width: the weights
   of all layers with rows of one width share one).
The proof's final state is T0 joined with the embedding's branch and every finish. Each branch
absorbs every commitment its claims are about before its first challenge, so each is a sound
argument on its own; the layers are tied together by commitment equality and each finish by
the join. Names are global in a finish: weights by their checkpoint name
("w/model.layers.3.mlp.up_proj.weight", so tied embeddings are one tensor), advice "L3/...",
"embed/...", "head/...", and layer i reads its input as "L{i−1}/out/lo" (or "embed/lo"). The
verifier sees commitments, tokens, logits and the proof; the public tables (RoPE, exp, SiLU)
are functions of the config.

Proof bytes: `to_bytes` / `from_bytes` (the tree format of `proof.py`); the expected structure
comes from `template`, i.e. `jax.eval_shape` of the provers on the public shapes (the model's
witness shapes come from `jax.eval_shape` of the fixed-point forward: shapes only, no weights).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import claims, codecache, commit, field, layer, pending, prng, proof, shard
from .claims import Claim, ClaimSet, GadgetError
from .gadgets import embedding, matmul, rangecheck, rescale, rmsnorm
from .gadgets.embedding import EmbeddingProof
from .layer import LayerError, LayerProof
from .models import LayerWitnesses
from .pending import Finish, Pending
from .transcript import Transcript

Array = jax.Array
MODEL = b"zkllm-jax/model"
EMBED = b"zkllm-jax/model/embed"
HEAD = b"zkllm-jax/model/head"
EMBED_NAME = "model.embed_tokens.weight"
NORM_NAME = "model.norm.weight"
HEAD_NAME = "lm_head.weight"


class ModelSpec(NamedTuple):
    """Static shapes of a whole-model proof over T tokens (hashable)."""

    layer: layer.Spec
    num_layers: int
    vocab: int
    tied: bool
    final_norm: rmsnorm.Params
    batch: int  # layers per finish (range checks and openings), 1..num_layers

    def ints(self) -> list[int]:
        return [self.num_layers, self.vocab, int(self.tied), *self.layer.ints(),
                *self.final_norm.ints(), self.batch]

    def groups(self) -> list[range]:
        """The layers of each finish group (the embedding joins the first, the head the last)."""
        return [range(i, min(i + self.batch, self.num_layers))
                for i in range(0, self.num_layers, self.batch)]

    def layer_weights(self, i: int) -> dict[str, str]:
        """Local layer weight name -> global HF name."""
        out = {}
        for n in layer.WEIGHTS:
            group = "self_attn" if n.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else (
                "mlp" if n.endswith("_proj") else "")
            out[n] = f"model.layers.{i}." + (f"{group}.{n}" if group else n) + ".weight"
        return out

    @property
    def head_name(self) -> str:
        return EMBED_NAME if self.tied else HEAD_NAME


def spec(cfg: Any, fx: Any, rows: int, batch: int = 0) -> ModelSpec:
    """The model spec of a `LlamaConfig` / `FixedPointConfig` over `rows` tokens; `batch`
    layers share one finish (0: all of them, the smallest proof; fewer keep less of the
    prover's witnesses in memory at once)."""
    ls = layer.spec(cfg, fx, rows)
    nl = int(cfg.num_hidden_layers)
    if int(batch) < 0:
        raise ValueError(f"model: batch must be >= 0 layers, got {batch}")
    b = nl if int(batch) == 0 else min(int(batch), nl)
    return ModelSpec(layer=ls, num_layers=nl, vocab=int(cfg.vocab_size),
                     tied=bool(cfg.tie_word_embeddings), final_norm=ls.attn_norm, batch=b)


@struct.dataclass
class EmbedProof:
    """commitments: h_0's pieces {"lo", "hi"}; values: Fr[2, 8] at the point; embedding: the
    gadget's sumcheck; openings: h_0's pieces and the table, opened at once."""

    commitments: dict[str, commit.Commitment]
    values: Array
    embedding: EmbeddingProof
    openings: dict[str, Any]


@struct.dataclass
class HeadProof:
    """commitments: the final norm's and lm_head's advice; steps: gadget proofs; in_values:
    Fr[k, 2, 8] h_L's pieces at each claim."""

    commitments: dict[str, commit.Commitment]
    steps: dict[str, Any]
    in_values: Array


@struct.dataclass
class ModelProof:
    """layers: the layers' proofs (their ranges/openings empty); finish: one per group."""

    embed: EmbedProof
    layers: tuple
    head: HeadProof
    finish: tuple


# --- shared pieces -------------------------------------------------------------------------------


def _begin(sp: ModelSpec, tokens: Array, logits: Array, transcript: Transcript) -> Transcript:
    t = transcript.begin(MODEL, sp.ints())
    t = t.absorb_ints(b"tokens", [int(v) for v in np.asarray(tokens).reshape(-1)])
    return t.absorb_field(b"logits", field.encode(jnp.asarray(logits, jnp.int32)))


def _head_advice(sp: ModelSpec, norm_wit: Mapping[str, Any], head_wit: Mapping[str, Any]
                 ) -> dict[str, Array]:
    f = sp.layer.scale_bits
    out = {f"norm/{k}": v for k, v in rmsnorm.advice(norm_wit, sp.final_norm).items()}
    out.update({f"lm_head/{k}": v for k, v in rescale.advice(
        head_wit["out"], head_wit["rem"], f, bound_out=False).items()})
    return {k: jnp.asarray(v, jnp.int32) for k, v in out.items()}


def _head_ranges(sp: ModelSpec) -> dict[str, rangecheck.Range]:
    out = {n: rng for n, (_, rng) in zip(("in/lo", "in/hi"), layer.PIECES)}
    out.update({f"norm/{k}": v for k, v in rmsnorm.ranges(sp.final_norm).items()})
    out.update({f"lm_head/{k}": v for k, v in rescale.ranges(sp.layer.scale_bits, False).items()})
    return out


def _head_shapes(sp: ModelSpec) -> dict[str, tuple[int, ...]]:
    t_len, d = sp.layer.rows, sp.layer.dim
    out = {f"norm/{k}": v for k, v in rmsnorm.shapes(sp.final_norm).items()}
    out.update({f"lm_head/{k}": (t_len, sp.vocab)
                for k in rescale.ranges(sp.layer.scale_bits, False)})
    out.update({"in/lo": (t_len, d), "in/hi": (t_len, d)})
    return out


def _head_generators(sp: ModelSpec) -> commit.Generators:
    """The advice generators (same tag as the layers') wide enough for the head's tensors too."""
    cols = max(1 << commit.layout(s)[1] for s in _head_shapes(sp).values())
    return layer.advice_generators(sp.layer, min_cols=cols)


def _checked(step: str, fn: Callable, *args, **kw):
    try:
        return fn(*args, **kw)
    except LayerError:
        raise
    except GadgetError as e:
        raise LayerError(step, e) from e


# --- embed ---------------------------------------------------------------------------------------


def prove_embed(sp: ModelSpec, table: Any, table_com: commit.Commitment,
                table_wit: commit.Witness | None, tokens: Any, h0: Any, transcript: Transcript,
                key: Array) -> tuple[EmbedProof, Pending, dict[str, commit.Witness], Transcript]:
    """Commit h_0 = table[tokens] as pieces and prove it; returns (proof, pending claims on
    "lo", "hi", "w/embed", h_0's witnesses, t)."""
    agens = layer.advice_generators(sp.layer)
    pcs = layer.pieces(h0)
    coms, wits = layer.commit_tensors(pcs, agens, key)
    t = layer.bind(transcript.with_rng(key), EMBED, [1, 0, len(coms)], {"w/embed": table_com}, {}, coms)
    r, t = t.challenges(b"point", claims.num_vars((sp.layer.rows, sp.layer.dim)))
    vals = jnp.stack([claims.evaluate(pcs["lo"], r), claims.evaluate(pcs["hi"], r)])
    t = t.absorb_field(b"pieces", vals)
    cs, prf, t = embedding.prove(jnp.asarray(table, jnp.int32), tokens,
                                 Claim(r, layer.piece_value(vals)), t)
    cl = {"lo": [Claim(r, vals[0])], "hi": [Claim(r, vals[1])], "w/embed": cs["table"]}
    pend = Pending(claims=cl, ranges={}, shapes={}, commitments={**coms, "w/embed": table_com},
                   columns={}, witnesses={**wits, "w/embed": table_wit})
    return EmbedProof(commitments=coms, values=vals, embedding=prf, openings={}), pend, wits, t


def verify_embed(sp: ModelSpec, table_com: commit.Commitment, tokens: Any, prf: EmbedProof,
                 transcript: Transcript
                 ) -> tuple[dict[str, commit.Commitment], Pending, Transcript]:
    """Check `prove_embed`; returns h_0's commitments and the pending claims."""
    if not isinstance(prf, EmbedProof) or set(prf.commitments) != {"lo", "hi"}:
        raise LayerError("embed", GadgetError("embedding", "shape", "not an EmbedProof"))
    shp = (sp.layer.rows, sp.layer.dim)
    for c in prf.commitments.values():
        if (c.num_vars, c.col_vars) != commit.layout(shp):
            raise LayerError("embed", GadgetError("embedding", "shape", "bad h_0 commitment"))
    coms = prf.commitments
    t = layer.bind(transcript, EMBED, [1, 0, len(coms)], {"w/embed": table_com}, {}, coms)
    r, t = t.challenges(b"point", claims.num_vars(shp))
    if tuple(getattr(prf.values, "shape", ())) != (2, field.LIMBS):
        raise LayerError("embed", GadgetError("embedding", "shape", "values must be Fr[2, 8]"))
    t = t.absorb_field(b"pieces", prf.values)
    cs, t = _checked("embed", embedding.verify, (sp.vocab, sp.layer.dim), tokens,
                     Claim(r, layer.piece_value(prf.values)), prf.embedding, t)
    cl = {"lo": [Claim(r, prf.values[0])], "hi": [Claim(r, prf.values[1])],
          "w/embed": cs["table"]}
    pend = Pending(claims=cl, ranges={}, shapes={}, commitments={**coms, "w/embed": table_com})
    return dict(coms), pend, t


# --- head ----------------------------------------------------------------------------------------


def prove_head(sp: ModelSpec, norm_w: Any, head_w: Any, wcoms: Mapping[str, commit.Commitment],
               wwits: Mapping[str, commit.Witness], h_last: Any, norm_wit: Mapping[str, Any],
               head_wit: Mapping[str, Any], logits: Any, in_com: Mapping[str, commit.Commitment],
               in_wit: Mapping[str, commit.Witness], transcript: Transcript, key: Array,
               *, check_witness: bool = True) -> tuple[HeadProof, Pending, Transcript]:
    """Prove logits = lm_head(final_norm(h_L)); wcoms/wwits: {"norm", "head"}. Returns the
    proof, the pending claims and range checks ("w/norm", "w/head", "in/...", advice names)
    and the transcript."""
    f = sp.layer.scale_bits
    agens = _head_generators(sp)
    adv = _head_advice(sp, norm_wit, head_wit)
    coms, wits = layer.commit_tensors(adv, agens, key)
    wc = {"w/norm": wcoms["norm"], "w/head": wcoms["head"]}
    t = layer.bind(transcript.with_rng(key), HEAD, [len(wc), len(in_com), len(coms)], wc, in_com, coms)
    logits = jnp.asarray(logits, jnp.int32)
    r, t = t.challenges(b"logits_point", claims.num_vars(logits.shape))
    c_logits = Claim(r, claims.evaluate(logits, r))
    cl: ClaimSet = {}
    steps: dict[str, Any] = {}
    cs, steps["lm_head.rescale"], t = rescale.prove_advice(
        layer.sub(adv, "lm_head"), c_logits, t, bits=f, bound_out=False, range_check=False,
        check_witness=check_witness)
    cl["lm_head/rem"] = list(cs["rem"])
    x = jnp.asarray(norm_wit["out"], jnp.int32)
    cs, steps["lm_head"], t = matmul.prove(x, jnp.asarray(head_w, jnp.int32), cs["raw"][0], t)
    cl["w/head"] = list(cs["w"])
    h_last = jnp.asarray(h_last, jnp.int32)
    cs, steps["norm"], t = rmsnorm.prove(
        h_last, jnp.asarray(norm_w, jnp.int32), norm_wit, cs["x"][0], t, params=sp.final_norm,
        adv=layer.sub(adv, "norm"), range_check=False, check_witness=check_witness)
    for k, v in rmsnorm.committed(cs).items():
        cl[f"norm/{k}"] = list(v)
    cl["w/norm"] = list(cs["weight"])
    pcs = layer.pieces(h_last)
    in_vals, pc, t = layer.prove_input_pieces(pcs, cs["x"], t)
    cl.update(pc)
    rng = _head_ranges(sp)
    shapes = _head_shapes(sp)
    pend = Pending(
        claims=cl, ranges=rng, shapes={n: shapes[n] for n in rng},
        commitments={**wc, "in/lo": in_com["lo"], "in/hi": in_com["hi"], **coms},
        columns={n: (pcs[n[3:]] if n.startswith("in/") else adv[n]) for n in rng},
        witnesses={"w/norm": wwits["norm"], "w/head": wwits["head"], "in/lo": in_wit["lo"],
                   "in/hi": in_wit["hi"], **wits})
    return HeadProof(commitments=coms, steps=steps, in_values=in_vals), pend, t


def verify_head(sp: ModelSpec, wcoms: Mapping[str, commit.Commitment], logits: Any,
                in_com: Mapping[str, commit.Commitment], prf: HeadProof,
                transcript: Transcript) -> tuple[Pending, Transcript]:
    """Check `prove_head` against the public logits; returns the pending claims."""
    ls, f = sp.layer, sp.layer.scale_bits
    if not isinstance(prf, HeadProof):
        raise LayerError("head", GadgetError("head", "shape", "not a HeadProof"))
    shapes = _head_shapes(sp)
    want = {n for n in shapes if not n.startswith("in/")}
    if set(prf.commitments) != want or any(
            (c.num_vars, c.col_vars) != commit.layout(shapes[n])
            for n, c in prf.commitments.items()):
        raise LayerError("head", GadgetError("head", "shape", "advice commitments do not match"))
    coms = prf.commitments
    wc = {"w/norm": wcoms["norm"], "w/head": wcoms["head"]}
    t = layer.bind(transcript, HEAD, [len(wc), len(in_com), len(coms)], wc, in_com, coms)
    logits = jnp.asarray(np.asarray(logits), jnp.int32)
    if logits.shape != (ls.rows, sp.vocab):
        raise ValueError(f"head: logits must be ({ls.rows}, {sp.vocab}), got {logits.shape}")
    r, t = t.challenges(b"logits_point", claims.num_vars(logits.shape))
    c_logits = Claim(r, claims.evaluate(logits, r))
    steps = prf.steps
    for n in ("lm_head.rescale", "lm_head", "norm"):
        if n not in steps:
            raise LayerError("head", GadgetError("head", "shape", f"missing step {n!r}"))
    cl: ClaimSet = {}
    cs, t = _checked("lm_head.rescale", rescale.verify, (ls.rows, sp.vocab), c_logits,
                     steps["lm_head.rescale"], t, bits=f, bound_out=False, range_check=False)
    cl["lm_head/rem"] = list(cs["rem"])
    cs, t = _checked("lm_head", matmul.verify, (ls.rows, ls.dim), (sp.vocab, ls.dim),
                     cs["raw"][0], steps["lm_head"], t)
    cl["w/head"] = list(cs["w"])
    cs, t = _checked("norm", rmsnorm.verify, cs["x"][0], steps["norm"], t, params=sp.final_norm,
                     range_check=False)
    for k, v in rmsnorm.committed(cs).items():
        cl[f"norm/{k}"] = list(v)
    cl["w/norm"] = list(cs["weight"])
    pc, t = layer.verify_input_pieces("head", "head", cs["x"], prf.in_values, t)
    cl.update(pc)
    rng = _head_ranges(sp)
    pend = Pending(claims=cl, ranges=rng, shapes={n: shapes[n] for n in rng},
                   commitments={**wc, "in/lo": in_com["lo"], "in/hi": in_com["hi"], **coms})
    return pend, t


# --- whole model ---------------------------------------------------------------------------------


def _layer_slice(tree: Any, i: int) -> Any:
    """Layer i's witness from witness["layers"]: stacked, or a `models.LayerWitnesses`."""
    if isinstance(tree, LayerWitnesses):
        return tree.layer(i)
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def _final_hidden(layers: Any) -> Any:
    """The last layer's output from witness["layers"] (the final norm's input)."""
    return layers.output if isinstance(layers, LayerWitnesses) else layers["out"][-1]


def _input_name(i: int) -> str:
    """The global name of layer i's input pieces (the previous step's output)."""
    return "embed" if i == 0 else f"L{i - 1}/out"


def _layer_names(sp: ModelSpec, i: int) -> Callable[[str], str]:
    names = sp.layer_weights(i)

    def fn(n: str) -> str:
        if n.startswith("w/"):
            return "w/" + names[n[2:]]
        if n.startswith("in/"):
            return f"{_input_name(i)}/{n[3:]}"
        return f"L{i}/{n}"
    return fn


def _embed_names(n: str) -> str:
    return "w/" + EMBED_NAME if n == "w/embed" else f"embed/{n}"


def _head_names(sp: ModelSpec) -> Callable[[str], str]:
    full = {"w/norm": "w/" + NORM_NAME, "w/head": "w/" + sp.head_name}

    def fn(n: str) -> str:
        if n in full:
            return full[n]
        if n.startswith("in/"):
            return f"{_input_name(sp.num_layers)}/{n[3:]}"
        return f"head/{n}"
    return fn


@functools.lru_cache(maxsize=4)
def _jitted_steps(check_witness: bool) -> Callable:
    return jax.jit(functools.partial(layer.prove_steps_arrays, check_witness=check_witness),
                   static_argnums=(0,))


class _Keys(NamedTuple):
    """The prover's keys: embed, layer i, head, the embedding's finish, finish group g."""

    embed: Any
    layers: Any
    head: Any
    embed_finish: Any
    finish: Any

    @staticmethod
    def split(sp: ModelSpec, key: Array) -> _Keys:
        nl = sp.num_layers
        k = np.asarray(prng.split(key, nl + 3 + len(sp.groups())))
        return _Keys(k[0], k[1:nl + 1], k[nl + 1], k[nl + 2], k[nl + 3:])

    def inputs(self, sp: ModelSpec) -> np.ndarray:
        """uint32[L, 2, 8]: the blinding keys [lo, hi] of each layer's input pieces (h_0's
        from the embedding's key, h_i's from layer i−1's)."""
        emb = [prng.fold_in(self.embed, _EMBED_PIECES.index(n)) for n in ("lo", "hi")]
        out = [np.asarray(jnp.stack(emb))]
        out += [np.asarray(layer.output_keys(sp.layer, k)) for k in self.layers[:-1]]
        return np.stack(out)


_EMBED_PIECES = ("hi", "lo")  # `layer.commit_tensors` order of h_0's pieces in `prove_embed`


def _host(t: Transcript) -> Transcript:
    """t with its state on the host (branches made on different devices are joined there)."""
    return t.replace(state=np.asarray(t.state), rng=None)


def _finish_transcript(t0: Transcript, g: int, ends: list[Transcript]) -> Transcript:
    """Finish group g's transcript: its own branch, bound to the ends of its members' branches
    (the layers', and the head's for the last group)."""
    return t0.fork(b"finish", g).join(b"members", [_host(e) for e in ends])


def _end(t0: Transcript, embed_end: Transcript, finish_ends: list[Transcript]) -> Transcript:
    return t0.join(b"model", [_host(embed_end), *(_host(e) for e in finish_ends)])


def _embed_branch(sp, weights, weight_coms, weight_wits, weight_gens, tokens, wit, t0, keys,
                  check_witness):
    emb, pend, in_wit, t = prove_embed(sp, weights[EMBED_NAME], weight_coms[EMBED_NAME], None,
                                       tokens, wit["embed"]["out"], t0.fork(b"embed", 0),
                                       keys.embed)
    fin, t = pending.prove_finish(pending.rename(pend, _embed_names), weight_gens, t,
                                  keys.embed_finish, check_witness=check_witness,
                                  weights=weight_wits)
    return emb.replace(openings=fin.openings), in_wit, t


def _head_branch(sp, weights, weight_coms, wit, logits, in_com, in_wit, t0, keys, device=None):
    def put(x):
        return x if device is None else jax.device_put(x, device)

    head, hp, t = prove_head(
        sp, put(weights[NORM_NAME]), put(weights[sp.head_name]),
        put({"norm": weight_coms[NORM_NAME], "head": weight_coms[sp.head_name]}),
        {"norm": None, "head": None}, put(_final_hidden(wit["layers"])), put(wit["norm"]),
        put(wit["lm_head"]), put(logits), in_com, in_wit, t0.fork(b"head", 0), keys.head)
    return head, pending.rename(hp, _head_names(sp)), t


def _step_say(step_progress: Callable[[str], None] | None, i: int
              ) -> Callable[[str], None] | None:
    """Layer i's per-step progress ("layer i: <step>"), or None (the steps then run without
    waiting for the device between them)."""
    return None if step_progress is None else (lambda s: step_progress(f"layer {i}: {s}"))


def _layer_pending(sp: ModelSpec, i: int, parts: tuple, pub: layer.Public) -> Pending:
    return pending.rename(layer.with_static(sp.layer, parts, pub), _layer_names(sp, i))


def _finish(g, pend, ends, weight_gens, weight_wits, t0, keys, check_witness, say):
    tg = _finish_transcript(t0, g, ends)
    codecache.relieve(tg.state)
    return pending.prove_finish(pend, weight_gens, tg, keys.finish[g],
                                check_witness=check_witness, weights=weight_wits,
                                progress=lambda part: say(f"finish {g}: {part}"))


def prove(
    sp: ModelSpec,
    weights: Mapping[str, Any],
    weight_coms: Mapping[str, commit.Commitment],
    weight_wits: Mapping[str, commit.Witness],
    weight_gens: commit.Generators,
    tables: Mapping[str, Any],
    tokens: Any,
    logits: Any,
    wit: Mapping[str, Any],
    transcript: Transcript,
    key: Array,
    *,
    jit: bool = False,
    mesh: Any = None,
    progress: Callable[[str], None] | None = None,
    step_progress: Callable[[str], None] | None = None,
) -> tuple[ModelProof, Transcript]:
    """Prove the whole forward; weights and their commitments/witnesses by global HF name.

    progress(step) is called after each step ("embed", "layer i", "head", and "finish g:
    range_check|lookups|openings"); step_progress(step), if given, without jit after each group
    of a layer's steps ("layer i: commit", "layer i: softmax", ..., `layer.prove`'s names),
    waiting for the device each time (for per-step timings).

    wit: `models.run(...)`'s witness; tables: `models.build_tables(...)`; jit: run every layer
    through one compiled prover (all layers share a spec, so it compiles once).

    mesh: a `shard.layer_mesh(...)`; the layers are split over its devices (with jit, one SPMD
    program for every layer's steps; without, each device proves its layers eagerly and each
    group's finish as soon as its layers are proven), and each device proves its own finishes.
    The proof's bytes do not depend on the mesh or on jit: any mesh, or none (layer by layer on
    the default device), gives the same proof.

    Zero knowledge is the transcript's mode (`Transcript.new(..., zk=True)`, the default): the
    proof masks every sumcheck from `key`; `zk=False` makes a plain proof (for benchmarks). The
    verifier must start from a transcript of the same mode, else the proof is rejected.
    """
    # field.trusted(): witnesses, the only field-valued inputs, are checked as they are read
    # (pending._Resolved)
    with field.trusted():
        return _prove(sp, weights, weight_coms, weight_wits, weight_gens, tables, tokens, logits,
                      wit, transcript, key, jit, mesh, progress, step_progress)


def _prove(sp, weights, weight_coms, weight_wits, weight_gens, tables, tokens, logits, wit,
           transcript, key, jit, mesh, progress, step_progress):
    say = progress or (lambda s: None)
    pub = layer.public(sp.layer, tables)
    t0 = _host(_begin(sp, tokens, logits, transcript))
    keys = _Keys.split(sp, key)
    if mesh is not None:
        return _prove_sharded(sp, weights, weight_coms, weight_wits, weight_gens, tokens, logits,
                              wit, pub, t0, keys, mesh, jit, say, step_progress)
    emb, in_wit, t_emb = _embed_branch(sp, weights, weight_coms, weight_wits, weight_gens, tokens,
                                       wit, t0, keys, not jit)
    say("embed")
    in_com = emb.commitments
    layer_proofs, fin_proofs, fin_ends = [], [], []
    steps = _jitted_steps(False) if jit else functools.partial(layer.prove_steps_arrays,
                                                               check_witness=True)
    groups = sp.groups()
    for g, members in enumerate(groups):
        pend, ends = pending.EMPTY, []
        for i in members:
            codecache.relieve(t0.state)
            names = sp.layer_weights(i)
            prf, parts, out_wit, t = steps(
                sp.layer, {n: weights[g_] for n, g_ in names.items()},
                {n: weight_coms[g_] for n, g_ in names.items()}, dict.fromkeys(names),
                _layer_slice(wit["layers"], i), in_com, in_wit, pub, t0.fork(b"layer", i),
                keys.layers[i], progress=_step_say(None if jit else step_progress, i))
            pend = pending.merge(pend, _layer_pending(sp, i, parts, pub))
            layer_proofs.append(prf)
            ends.append(t)
            in_com = {"lo": prf.commitments["out/lo"], "hi": prf.commitments["out/hi"]}
            in_wit = out_wit
            say(f"layer {i}")
        if g == len(groups) - 1:
            head, hp, t = _head_branch(sp, weights, weight_coms, wit, logits, in_com, in_wit, t0,
                                       keys)
            pend = pending.merge(pend, hp)
            ends.append(t)
            say("head")
        fin, t = _finish(g, pend, ends, weight_gens, weight_wits, t0, keys, not jit, say)
        fin_proofs.append(fin)
        fin_ends.append(t)
    return ModelProof(embed=emb, layers=tuple(layer_proofs), head=head,
                      finish=tuple(fin_proofs)), _end(t0, t_emb, fin_ends)


class _OnDevice(Mapping):
    """A read-only view of a mapping whose values are put on `device` when read."""

    def __init__(self, inner: Mapping[str, Any], device: Any):
        self._inner, self._device = inner, device

    def __getitem__(self, k: str) -> Any:
        return jax.device_put(self._inner[k], self._device)

    def __iter__(self):
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)


def _layer_inputs(sp: ModelSpec, weights: Mapping[str, Any],
                  weight_coms: Mapping[str, commit.Commitment], wit: Mapping[str, Any],
                  t0: Transcript, keys: _Keys, in_keys: np.ndarray, i: int) -> tuple:
    """Layer i's inputs for `_layer_from_inputs`: weights and commitments by local name, its
    witness slice, its input pieces' blinding keys (`_Keys.inputs`), its branch's state, its
    key."""
    names = sp.layer_weights(i)
    return ({n: weights[g] for n, g in names.items()},
            {n: weight_coms[g] for n, g in names.items()},
            _layer_slice(wit["layers"], i), in_keys[i],
            np.asarray(t0.fork(b"layer", i).state), keys.layers[i])


def _layer_from_inputs(ls: layer.Spec, x: tuple, pub: layer.Public, zk: bool,
                       check_witness: bool, progress: Callable[[str], None] | None = None
                       ) -> tuple:
    """One layer's steps from `_layer_inputs`: its input's pieces are recommitted with the
    previous layer's keys (so a device needs nothing from the device holding that layer).
    progress: called after each group of steps (eager use only)."""
    w, wc, lw, in_keys, state, k = x
    in_com, in_wit = layer.commit_pieces(lw["input"], layer.advice_generators(ls), in_keys)
    if progress is not None:
        jax.block_until_ready(in_com)
        progress("input pieces")
    prf, parts, _, t = layer.prove_steps_arrays(
        ls, w, wc, dict.fromkeys(layer.WEIGHTS), lw, in_com, in_wit, pub,
        Transcript(state=state, zk=zk), k, check_witness=check_witness, progress=progress)
    return prf, parts, t.state


@functools.lru_cache(maxsize=4)
def _sharded_steps(ls: layer.Spec, mesh: Any, zk: bool) -> Callable:
    return shard.map_layers(
        functools.partial(_layer_from_inputs, ls, zk=zk, check_witness=False), mesh)


def _prove_sharded(sp, weights, weight_coms, weight_wits, weight_gens, tokens, logits, wit, pub,
                   t0, keys, mesh, jit, say, step_progress):
    """`prove` with the layers split over `mesh`. jit: every layer's steps in one SPMD program
    (`shard.map_layers`), then each device proves its groups' finishes; otherwise each device
    proves its layers eagerly and each group's finish as soon as that group's layers are done,
    so it holds one group's advice at a time. The embedding goes on the first device, the head
    with the last group's finish."""
    nl, groups = sp.num_layers, sp.groups()
    per = shard.check_split(nl, mesh, sp.batch)
    inputs = functools.partial(_layer_inputs, sp, weights, weight_coms, wit, t0, keys,
                               keys.inputs(sp))

    per_layer: list = [None] * nl
    if jit:
        # trace one layer outside shard_map first: the provers cache their generators, and
        # arrays first made inside shard_map would carry its mesh into every later use
        jax.eval_shape(functools.partial(_layer_from_inputs, sp.layer, zk=t0.zk,
                                         check_witness=False), inputs(0), pub)
        out = _sharded_steps(sp.layer, mesh, t0.zk)(shard.stack_layers(mesh, nl, inputs), pub)
        per_layer[:] = shard.unstack_layers(out, mesh, nl)
        del out
        for i in range(nl):
            say(f"layer {i}")

    last_of = {members[-1]: g for g, members in enumerate(groups)}  # group by its last layer

    def finish(g, dev, wwits, res):
        """Group g's finish (and the head's, with the last group), then its layers' advice
        dropped: a device holds one group's advice at a time, not all its layers'."""
        members = groups[g]
        pend, ends = pending.EMPTY, []
        for i in members:
            _, parts, state = per_layer[i]
            pend = pending.merge(pend, _layer_pending(sp, i, parts, pub))
            ends.append(Transcript(state=state, zk=t0.zk))
        if g == len(groups) - 1:
            last_prf, last_parts = per_layer[nl - 1][0], per_layer[nl - 1][1]
            in_com = {n: last_prf.commitments[f"out/{n}"] for n in ("lo", "hi")}
            in_wit = {n: last_parts[3][f"out/{n}"] for n in ("lo", "hi")}
            res["head"], hp, t = _head_branch(sp, weights, weight_coms, wit, logits, in_com,
                                              in_wit, t0, keys, dev)
            pend = pending.merge(pend, hp)
            ends.append(t)
            say("head")
        res[g] = _finish(g, pend, ends, weight_gens, wwits, t0, keys, False, say)
        for i in members:
            per_layer[i] = (per_layer[i][0], None, per_layer[i][2])

    def work(d, dev):
        res = {}
        wwits = _OnDevice(weight_wits, dev)
        if dev.platform == "cpu":  # the previous device's executables go before this one's
            codecache.relieve(t0.state, threshold=0.25)
        if d == 0:
            res["embed"] = _embed_branch(sp, weights, weight_coms, wwits, weight_gens, tokens,
                                         wit, t0, keys, False)
            say("embed")
        if jit:  # every layer's steps are done: the finishes of this device's groups
            for g, members in enumerate(groups):
                if members[0] // per == d:
                    finish(g, dev, wwits, res)
            return res
        pub_d = jax.device_put(pub, dev)
        for i in range(d * per, (d + 1) * per):
            codecache.relieve(t0.state)
            x = jax.device_put(inputs(i), dev)
            step_say = _step_say(step_progress, i)
            if step_say is not None:
                jax.block_until_ready(x)
                step_say("inputs")
            per_layer[i] = _layer_from_inputs(sp.layer, x, pub_d, t0.zk, True, step_say)
            del x
            say(f"layer {i}")
            if i in last_of:  # groups never straddle devices (shard.check_split)
                finish(last_of[i], dev, wwits, res)
        return res

    done: dict = {}
    for r in shard.per_device(mesh, work):
        done.update(r)
    emb, _, t_emb = done["embed"]
    prf = ModelProof(embed=emb, layers=tuple(p[0] for p in per_layer), head=done["head"],
                     finish=tuple(done[g][0] for g in range(len(groups))))
    return prf, _end(t0, t_emb, [done[g][1] for g in range(len(groups))])


def verify(
    sp: ModelSpec,
    weight_coms: Mapping[str, commit.Commitment],
    weight_gens: commit.Generators,
    tables: Mapping[str, Any],
    tokens: Any,
    logits: Any,
    prf: ModelProof,
    transcript: Transcript,
    *,
    progress: Callable[[str], None] | None = None,
) -> Transcript:
    """Check a whole-model proof from commitments, public tokens/logits and the proof.

    Raises LayerError naming the step ("embed", "layer 3: softmax", "head", "finish 0:
    openings", ...) that failed.
    """
    say = progress or (lambda s: None)
    groups = sp.groups()
    if (not isinstance(prf, ModelProof) or len(prf.layers) != sp.num_layers
            or not isinstance(prf.finish, tuple) or len(prf.finish) != len(groups)):
        raise LayerError("model", GadgetError("model", "shape", "not a ModelProof of this "
                                              "model's depth and grouping"))
    tokens = np.asarray(tokens)
    if tokens.shape != (sp.layer.rows,):
        raise ValueError(f"model: tokens must be ({sp.layer.rows},), got {tokens.shape}")
    pub = layer.public(sp.layer, tables)
    t0 = _host(_begin(sp, tokens, logits, transcript))
    in_com, pend, t = verify_embed(sp, weight_coms[EMBED_NAME], tokens, prf.embed,
                                   t0.fork(b"embed", 0))
    t_emb = layer.verify_finish("embed: ", pending.rename(pend, _embed_names), weight_gens,
                                Finish(ranges={}, lookups={}, openings=prf.embed.openings), t)
    say("embed")
    fin_ends = []
    for g, members in enumerate(groups):
        pend, ends = pending.EMPTY, []
        for i in members:
            codecache.relieve(t0.state)
            names = sp.layer_weights(i)
            try:
                in_com, lp, t = layer.verify_steps(
                    sp.layer, {n: weight_coms[g_] for n, g_ in names.items()}, in_com,
                    prf.layers[i], pub, t0.fork(b"layer", i))
            except LayerError as e:
                raise LayerError(f"layer {i}: {e.step}", e.inner) from e
            except GadgetError as e:
                raise LayerError(f"layer {i}", e) from e
            pend = pending.merge(pend, pending.rename(lp, _layer_names(sp, i)))
            ends.append(t)
            say(f"layer {i}")
        if g == len(groups) - 1:
            hp, t = verify_head(sp, {"norm": weight_coms[NORM_NAME],
                                     "head": weight_coms[sp.head_name]},
                                logits, in_com, prf.head, t0.fork(b"head", 0))
            pend = pending.merge(pend, pending.rename(hp, _head_names(sp)))
            ends.append(t)
            say("head")
        tg = _finish_transcript(t0, g, ends)
        codecache.relieve(tg.state)
        fin_ends.append(layer.verify_finish(f"finish {g}: ", pend, weight_gens, prf.finish[g],
                                            tg))
        say(f"finish {g}")
    return _end(t0, t_emb, fin_ends)


# --- bytes ---------------------------------------------------------------------------------------


def _params_like(cfg: Any) -> dict:
    d, i, hd, nl = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim, cfg.num_hidden_layers
    qd, kd, v = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd, cfg.vocab_size

    def s(*shape):
        return jax.ShapeDtypeStruct(shape, jnp.int32)

    p = {"model": {"embed_tokens": {"weight": s(v, d)},
                   "layers": {"input_layernorm": {"weight": s(nl, d)},
                              "self_attn": {"q_proj": {"weight": s(nl, qd, d)},
                                            "k_proj": {"weight": s(nl, kd, d)},
                                            "v_proj": {"weight": s(nl, kd, d)},
                                            "o_proj": {"weight": s(nl, d, qd)}},
                              "post_attention_layernorm": {"weight": s(nl, d)},
                              "mlp": {"gate_proj": {"weight": s(nl, i, d)},
                                      "up_proj": {"weight": s(nl, i, d)},
                                      "down_proj": {"weight": s(nl, d, i)}}},
                   "norm": {"weight": s(d)}}}
    if not cfg.tie_word_embeddings:
        p["lm_head"] = {"weight": s(v, d)}
    return p


def witness_like(cfg: Any, fx: Any, rows: int) -> Any:
    """The witness pytree's shapes (jax.ShapeDtypeStruct leaves) of `models.run` on `rows`
    tokens: shape inference of the fixed-point forward, no weights involved."""
    from .models import build_tables, forward, init_cache

    tables = build_tables(cfg, fx, rows)
    out = jax.eval_shape(
        lambda p, tok: forward(p, tables, tok, jnp.int32(0), init_cache(cfg, rows, "fixed"),
                               cfg=cfg, fx=fx, mode="fixed"),
        _params_like(cfg), jax.ShapeDtypeStruct((rows,), jnp.int32))
    return out[2]


def template(sp: ModelSpec, cfg: Any, fx: Any, tables: Mapping[str, Any],
             weight_gens: commit.Generators, *, zk: bool = True) -> ModelProof:
    """The expected proof structure (ShapeDtypeStruct leaves) for `from_bytes`, for a proof
    made in mode `zk` (a zero-knowledge proof carries each sumcheck's mask)."""
    wl = witness_like(cfg, fx, sp.layer.rows)
    pub = layer.public(sp.layer, tables)
    ls = sp.layer
    f32 = jnp.int32

    def zeros_like(tree):
        return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), tree)

    def com_like(shape):
        n, c = commit.layout(shape)
        return commit.Commitment(rows=jnp.zeros((1 << (n - c), 3, 12), jnp.uint32),
                                 num_vars=n, col_vars=c)

    def wit_like(shape):
        n, c = commit.layout(shape)
        return commit.Witness(matrix=jnp.zeros((1 << (n - c), 1 << c, 8), jnp.uint32),
                              blinds=jnp.zeros((1 << (n - c), 8), jnp.uint32))

    t0 = Transcript.new(b"template", zk=zk)
    shp = (ls.rows, ls.dim)

    def embed_fn(key):
        v = sp.vocab
        prf, p, _, _ = prove_embed(sp, jnp.zeros((v, ls.dim), f32), com_like((v, ls.dim)),
                                   wit_like((v, ls.dim)), jnp.zeros((ls.rows,), f32),
                                   jnp.zeros(shp, f32), t0, key)
        fin, _ = pending.prove_finish(pending.rename(p, _embed_names), weight_gens, t0, key,
                                      check_witness=False)
        return prf.replace(openings=fin.openings)

    def layer_fn(key):
        ws = ls.weight_shapes()
        lw = zeros_like(jax.tree_util.tree_map(
            lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), wl["layers"]))
        out = layer.prove_steps_arrays(
            ls, {n: jnp.zeros(s, f32) for n, s in ws.items()},
            {n: com_like(s) for n, s in ws.items()}, {n: wit_like(s) for n, s in ws.items()},
            lw, {"lo": com_like(shp), "hi": com_like(shp)},
            {"lo": wit_like(shp), "hi": wit_like(shp)}, pub, t0, key, check_witness=False)
        return out[0], out[1]

    def head_fn(key):
        d, v = ls.dim, sp.vocab
        prf, p, _ = prove_head(sp, jnp.zeros((d,), f32), jnp.zeros((v, d), f32),
                               {"norm": com_like((d,)), "head": com_like((v, d))},
                               {"norm": wit_like((d,)), "head": wit_like((v, d))},
                               jnp.zeros(shp, f32), zeros_like(wl["norm"]),
                               zeros_like(wl["lm_head"]), jnp.zeros((ls.rows, v), f32),
                               {"lo": com_like(shp), "hi": com_like(shp)},
                               {"lo": wit_like(shp), "hi": wit_like(shp)}, t0, key,
                               check_witness=False)
        return prf, (p.claims, p.commitments, p.columns, p.witnesses), p.ranges, p.shapes

    key = jax.ShapeDtypeStruct((prng.KEY_WORDS,), jnp.uint32)
    emb = jax.eval_shape(embed_fn, key)
    lay, l_parts = jax.eval_shape(layer_fn, key)
    # ranges and shapes are static: take them from a trace, not from eval_shape's outputs
    h_static = {}

    def head_arrays(key):
        prf, parts, rng, shapes = head_fn(key)
        h_static.update(ranges=rng, shapes=shapes)
        return prf, parts

    head, h_parts = jax.eval_shape(head_arrays, key)
    h_pend = Pending(h_parts[0], h_static["ranges"], h_static["shapes"], *h_parts[1:])
    finishes = []
    for g, members in enumerate(sp.groups()):
        pend = pending.EMPTY
        for i in members:
            pend = pending.merge(pend, pending.rename(layer.with_static(ls, l_parts, pub),
                                                      _layer_names(sp, i)))
        if g == len(sp.groups()) - 1:
            pend = pending.merge(pend, pending.rename(h_pend, _head_names(sp)))
        static = (pend.ranges, pend.shapes, pend.lookups, pend.tables)
        finishes.append(jax.eval_shape(functools.partial(_finish_shape, static, weight_gens, t0),
                                       (pend.claims, pend.commitments, pend.columns,
                                        pend.witnesses), key))
    return ModelProof(embed=emb, layers=tuple([lay] * sp.num_layers), head=head,
                      finish=tuple(finishes))


def _finish_shape(static, weight_gens, t0, parts, key):
    rng, shapes, lookups, tables = static
    p = Pending(parts[0], rng, shapes, *parts[1:], lookups=lookups, tables=tables)
    return pending.prove_finish(p, weight_gens, t0, key, check_witness=False)[0]


def to_bytes(prf: ModelProof) -> bytes:
    """The proof's bytes (tree format)."""
    return proof.tree_to_bytes(prf)


def from_bytes(data: bytes, like: ModelProof) -> ModelProof:
    """Parse proof bytes strictly against `template(...)` (ProofFormatError on any deviation)."""
    return proof.tree_from_bytes(data, like)


__all__ = ["EmbedProof", "HeadProof", "LayerProof", "ModelProof", "ModelSpec", "from_bytes",
           "prove", "prove_embed", "prove_head", "spec", "template", "to_bytes", "verify",
           "verify_embed", "verify_head", "witness_like"]
