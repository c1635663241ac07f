"""Gadgets: one module per operation, each a pure `prove` / `verify` pair over claims.

Shape of every API (claims flow backwards, from a layer's output to its input and weights):

    prove(witness tensors, output claim(s), transcript, ...) -> (input claims, proof, transcript)
    verify(shapes / public data, output claim(s), proof, transcript) -> (input claims, transcript)

Input claims are a `ClaimSet` with local names (documented per gadget, e.g. matmul returns
{"x": [...], "w": [...]}); `claims.merge` renames them into a layer's global claim set. Linear
and bilinear gadgets reduce the RAW (not yet rescaled) output; `rescale` turns a claim on a
rescaled tensor into a claim on the raw one. Verifiers raise `GadgetError(gadget, check, ...)`.

Modules: matmul (zkFC, q/k/v and gate/up siblings, attention scores and context with GQA),
rescale, hadamard, skip, rope, mask, embedding, rmsnorm (rsqrt by the gap check), swiglu (SiLU
mapping lookup); `rangecheck` batches range lookups; `limbs` commits wide non-negative values as
range-checked 16-bit limbs; `core` holds shared helpers.
"""

from ..claims import Claim, ClaimSet, GadgetError

__all__ = ["Claim", "ClaimSet", "GadgetError"]
