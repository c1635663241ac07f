"""SwiGLU: hidden = rescale(SiLU_table[rescale(gate, 2^(f−s))] ⊙ up, 2^f) (docs/models.md).

With f = scale bits and s = the SiLU table's step bits (act_in's scale is 2^s):
    act_in = rescale(gate, 2^(f−s)) ∈ [−2^(b−1), 2^(b−1))   (b = table bits)
    act    = SiLU_table[act_in]                              (a LogUp-GKR mapping lookup)
    hidden = rescale(act ⊙ up, 2^f)

Committed advice (`advice`; the caller commits and absorbs it before `prove`):
- `hidden/<piece>`: the output rescale's pieces (output bounded as int32);
- `act_in/<piece>`: the input rescale's remainder (the rescaled value is NOT split: the lookup
  bounds it);
- `act_in`, `act`: the lookup's input and output columns.
The rescale pieces are range-checked (one `rangecheck` call); act_in and act are bounded by
the mapping lookup into the public table {(i − 2^(b−1), SiLU_table[i])}.

Reduction of a claim on hidden(u), in transcript order:
1. rescale(hidden) → a claim on act ⊙ up at u; hadamard → claims act(r1), up(r1);
2. the prover sends act_in(r1) (a claim on the committed act_in);
3. rescale(act_in) (bits f − s, `bound_out=False`) turns act_in(r1) into a claim gate(r1);
4. the mapping lookup of (act_in, act) → claims act_in(rL), act(rL) (the verifier evaluates the
   public table's MLE itself, O(2^b)); with `silu_lookup=False` the caller proves it instead,
   batched with other layers' pairs into one lookup (`lookups(params)` names the pair);
5. the range checks of the rescale pieces.
Returned claims: "gate" and "up" (the caller's, e.g. for the gate/up matmul siblings), and the
advice tensors' claims ("act" twice, "act_in", pieces) for the openings.

Soundness. The lookup proves every (act_in, act) pair is a table row, so act_in lies in the
table's domain and act = SiLU_table[act_in]; with act_in ∈ [−2^(b−1), 2^(b−1)) and the
remainder in [−2^(f−s−1), 2^(f−s−1)), gate = 2^(f−s)·act_in + rem determines both (they span
fewer than 2^(b+f−s) < p consecutive integers), so act_in is the model's round-half-up value.
The Hadamard and the output rescale are sound as in their modules; the lookup's soundness
precondition holds because act_in and act are committed before any challenge.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from .. import commit, lookup, prng
from ..claims import Claim, ClaimSet, GadgetError, absorb_claim, check_claim, evaluate
from ..claims import num_vars as nvars
from ..lookup import LookupProof
from ..transcript import Transcript
from . import hadamard, rangecheck, rescale
from .hadamard import HadamardProof
from .rangecheck import Range
from .rescale import RescaleProof

Array = jax.Array
SWIGLU = b"gadget/swiglu"
TABLE_TAG = b"zkllm-jax/swiglu/multiplicities"


class Params(NamedTuple):
    """Static sizes: gate/up/hidden are (rows, cols); the table has 2^table_bits entries."""

    rows: int
    cols: int
    scale_bits: int
    step_bits: int
    table_bits: int

    @property
    def in_bits(self) -> int:
        """The input rescale's shift f − s."""
        return self.scale_bits - self.step_bits

    def ints(self) -> list[int]:
        return [self.rows, self.cols, self.scale_bits, self.step_bits, self.table_bits]


def params(rows: int, cols: int, *, scale_bits: int, step_bits: int, table_bits: int) -> Params:
    """Parameters for gate/up of shape (rows, cols)."""
    if not 1 <= step_bits < scale_bits <= 30:
        raise ValueError(f"swiglu: need 1 <= step_bits < scale_bits <= 30, got {step_bits}, "
                         f"{scale_bits}")
    if not 1 <= table_bits <= 24:
        raise ValueError(f"swiglu: table_bits must be in [1, 24], got {table_bits}")
    return Params(int(rows), int(cols), int(scale_bits), int(step_bits), int(table_bits))


def table(silu: Any) -> lookup.Table:
    """The public mapping table {(i − 2^(b−1), silu[i])} from the model's SiLU table."""
    silu = np.asarray(silu)
    n = silu.shape[0]
    if silu.ndim != 1 or n & (n - 1):
        raise ValueError(f"swiglu: the SiLU table must have 2^b entries, got {silu.shape}")
    return _table(silu.astype(np.int32).tobytes(), n)


@functools.lru_cache(maxsize=4)
def _table(raw: bytes, n: int) -> lookup.Table:
    vals = np.frombuffer(raw, np.int32)
    return lookup.mapping_table(np.arange(n, dtype=np.int64) - n // 2, vals)


@functools.lru_cache(maxsize=4)
def _gens(size: int) -> commit.Generators:
    _, cm = commit.layout((size,))
    return commit.setup(1 << cm, TABLE_TAG)


def generators(tab: lookup.Table) -> commit.Generators:
    """Generators of the SiLU lookup's multiplicity commitment (cached)."""
    return _gens(1 << tab.num_vars)


@struct.dataclass
class SwiGLUProof:
    """The steps in transcript order."""

    hidden_rescale: RescaleProof
    product: HadamardProof
    act_in_value: Array  # Fr[8], act_in at the product's point
    act_in_rescale: RescaleProof
    silu: LookupProof | None  # None when the caller proves the lookup (silu_lookup=False)
    ranges: dict[str, LookupProof]


def advice(wit: Mapping[str, Any], p: Params) -> dict[str, Array]:
    """The int32 tensors to commit, from the model's swiglu witness (`act_in, act_in_rem, act,
    hidden, hidden_rem`)."""
    out = {f"hidden/{k}": v for k, v in rescale.advice(
        wit["hidden"], wit["hidden_rem"], p.scale_bits).items()}
    out.update({f"act_in/{k}": v for k, v in rescale.advice(
        wit["act_in"], wit["act_in_rem"], p.in_bits, bound_out=False).items()})
    out["act_in"] = jnp.asarray(wit["act_in"], jnp.int32)
    out["act"] = jnp.asarray(wit["act"], jnp.int32)
    return out


def ranges(p: Params) -> dict[str, Range]:
    """The range-checked advice (the lookup columns act_in, act are bounded by the table)."""
    out = {f"hidden/{k}": v for k, v in rescale.ranges(p.scale_bits).items()}
    out.update({f"act_in/{k}": v for k, v in rescale.ranges(p.in_bits, False).items()})
    return out


def lookups(p: Params) -> dict[str, list[tuple[str, str]]]:
    """The (input, output) advice pair to look up in the SiLU table (`table`)."""
    return {"silu": [("act_in", "act")]}


def _sub(adv: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in adv.items() if k.startswith(prefix)}


def _merge(out: ClaimSet, cs: ClaimSet, prefix: str) -> None:
    for k, cl in cs.items():
        if k not in ("raw", "out"):
            out.setdefault(prefix + k, []).extend(cl)


def _begin(t: Transcript, p: Params, tab: lookup.Table, claim: Claim) -> Transcript:
    t = t.begin(SWIGLU, p.ints()).absorb_bytes(b"table", tab.digest)
    return absorb_claim(t, b"hidden", claim)


def prove(
    up: Any,
    wit: Mapping[str, Any],
    out_claim: Claim,
    transcript: Transcript,
    *,
    params: Params,
    table: lookup.Table,
    key: Array,
    adv: Mapping[str, Any] | None = None,
    range_check: bool = True,
    silu_lookup: bool = True,
    check_witness: bool = True,
) -> tuple[ClaimSet, SwiGLUProof, Transcript]:
    """Reduce a claim on `hidden` to claims on gate, up and the committed advice.

    up: int32 (rows, cols) (up_proj's out); wit: the model's swiglu witness; table: `table(...)`
    of the model's SiLU table; adv: the committed advice (default `advice(wit, params)`).
    range_check=False leaves the range checks of `ranges(params)` to the caller (batched over a
    layer), silu_lookup=False the lookup of `lookups(params)` (batched over layers). Returns
    ({"gate", "up", "act", "act_in", pieces...}, proof, transcript).
    """
    p = params
    shape = (p.rows, p.cols)
    if tuple(jnp.shape(up)) != shape:
        raise ValueError(f"swiglu: up {tuple(jnp.shape(up))}, expected {shape}")
    if table.size != 1 << p.table_bits:
        raise ValueError(f"swiglu: the table has {table.size} entries, params say "
                         f"2^{p.table_bits}")
    adv = dict(advice(wit, p) if adv is None else adv)
    want = sorted([*ranges(p), "act", "act_in"])
    if sorted(adv) != want:
        raise ValueError(f"swiglu: advice {sorted(adv)}, expected {want}")
    check_claim(out_claim, nvars(shape), "output claim", "swiglu")
    k_lookup, k_range = prng.split(key)
    t = _begin(transcript, p, table, out_claim)
    claims: ClaimSet = {}
    cs1, pr1, t = rescale.prove_advice(_sub(adv, "hidden/"), out_claim, t, bits=p.scale_bits,
                                       range_check=False)
    _merge(claims, cs1, "hidden/")
    act, act_in = jnp.asarray(adv["act"], jnp.int32), jnp.asarray(adv["act_in"], jnp.int32)
    cs2, pr2, t = hadamard.prove(act, jnp.asarray(up, jnp.int32), cs1["raw"][0], t)
    claims["up"] = cs2["b"]
    r1 = cs2["a"][0].point
    v_in = evaluate(act_in, r1)
    t = t.absorb_field(b"act_in", v_in)
    claims["act"] = [cs2["a"][0]]
    claims["act_in"] = [Claim(point=r1, value=v_in)]
    cs4, pr4, t = rescale.prove_advice(_sub(adv, "act_in/"), claims["act_in"][0], t,
                                       bits=p.in_bits, bound_out=False, range_check=False)
    _merge(claims, cs4, "act_in/")
    claims["gate"] = cs4["raw"]
    pr3 = None
    if silu_lookup:
        if check_witness:
            lc, pr3, t = lookup.prove(table, [(act_in, act)], t, generators(table), k_lookup,
                                      names=["(act_in, act)"])
        else:
            m = lookup.multiplicities(table, [(act_in, act)])
            lc, pr3, t = lookup.prove_with_multiplicities(table, [(act_in, act)], m, t,
                                                          generators(table), k_lookup)
        pt = lc.column_point(0)
        claims["act"].append(Claim(point=pt, value=lc.values[0, 1]))
        claims["act_in"].append(Claim(point=pt, value=lc.values[0, 0]))
    prs: dict[str, LookupProof] = {}
    if range_check:
        rc, prs, t = rangecheck.prove({n: jnp.asarray(adv[n], jnp.int32) for n in ranges(p)},
                                      ranges(p), t, k_range, check_witness=check_witness)
        for n, cl in rc.items():
            claims[n] = claims[n] + cl
    return claims, SwiGLUProof(hidden_rescale=pr1, product=pr2, act_in_value=v_in,
                               act_in_rescale=pr4, silu=pr3, ranges=prs), t


def verify(
    out_claim: Claim,
    proof: SwiGLUProof,
    transcript: Transcript,
    *,
    params: Params,
    table: lookup.Table,
    range_check: bool = True,
    silu_lookup: bool = True,
) -> tuple[ClaimSet, Transcript]:
    """Check `prove`; returns the claims on gate, up and the advice.

    Raises GadgetError: ("swiglu", "shape" | "silu_lookup:<check>") or the sub-gadget's
    ("rescale", "hadamard", "range_check").
    """
    p = params
    shape = (p.rows, p.cols)
    if not isinstance(proof, SwiGLUProof):
        raise GadgetError("swiglu", "shape", "not a SwiGLUProof")
    if table.size != 1 << p.table_bits:
        raise GadgetError("swiglu", "shape", "the table does not match the parameters")
    check_claim(out_claim, nvars(shape), "output claim", "swiglu")
    t = _begin(transcript, p, table, out_claim)
    claims: ClaimSet = {}
    cs1, t = rescale.verify(shape, out_claim, proof.hidden_rescale, t, bits=p.scale_bits,
                            range_check=False)
    _merge(claims, cs1, "hidden/")
    cs2, t = hadamard.verify(shape, shape, cs1["raw"][0], proof.product, t)
    claims["up"] = cs2["b"]
    r1 = cs2["a"][0].point
    c_in = check_claim(Claim(point=r1, value=proof.act_in_value), nvars(shape), "act_in value",
                       "swiglu")
    t = t.absorb_field(b"act_in", c_in.value)
    claims["act"] = [cs2["a"][0]]
    claims["act_in"] = [c_in]
    cs4, t = rescale.verify(shape, c_in, proof.act_in_rescale, t, bits=p.in_bits,
                            bound_out=False, range_check=False)
    _merge(claims, cs4, "act_in/")
    claims["gate"] = cs4["raw"]
    if silu_lookup != (proof.silu is not None):
        raise GadgetError("swiglu", "shape", "the SiLU lookup proof must be present exactly "
                          "when the gadget proves the lookup")
    if silu_lookup:
        try:
            lc, t = lookup.verify(table, [shape], proof.silu, t, generators(table))
        except lookup.LookupError as e:
            raise GadgetError("swiglu", f"silu_lookup:{e.check}", str(e), e.round) from e
        pt = lc.column_point(0)
        claims["act"].append(Claim(point=pt, value=lc.values[0, 1]))
        claims["act_in"].append(Claim(point=pt, value=lc.values[0, 0]))
    if range_check:
        rc, t = rangecheck.verify({n: shape for n in ranges(p)}, ranges(p), proof.ranges, t)
        for n, cl in rc.items():
            claims[n] = claims[n] + cl
    elif proof.ranges:
        raise GadgetError("swiglu", "shape", "range proofs present but range_check is off")
    return claims, t


def committed(claims: Mapping[str, Sequence[Claim]]) -> dict[str, list[Claim]]:
    """The claims on this gadget's own committed advice (for `claims.prove_openings`)."""
    return {k: list(v) for k, v in claims.items() if k not in ("gate", "up")}


__all__ = [
    "SWIGLU",
    "Params",
    "SwiGLUProof",
    "advice",
    "committed",
    "generators",
    "lookups",
    "params",
    "prove",
    "ranges",
    "table",
    "verify",
]
