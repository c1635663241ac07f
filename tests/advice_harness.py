"""Commit a gadget's advice tensors, open the claims on them, and run prover/verifier pairs
end to end (the nonlinear gadgets' tests: rmsnorm, swiglu, softmax)."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from gadget_harness import T0, i32, leaf_cases, tampered

from zkllm_jax import claims, commit
from zkllm_jax.claims import GadgetError


def commit_advice(adv: dict, gens: commit.Generators, seed: int = 70):
    """Commit every tensor (sorted by name) and absorb the commitments: (coms, wits, t)."""
    coms, wits = {}, {}
    for i, n in enumerate(sorted(adv)):
        coms[n], wits[n] = commit.commit(i32(adv[n]), gens, jax.random.PRNGKey(seed + i))
    t = T0
    for n in sorted(coms):
        t = t.absorb_points(b"commitments", coms[n].rows)
    return coms, wits, t


def gens_for(adv: dict, tag: bytes) -> commit.Generators:
    cols = max(1 << commit.layout(np.shape(v))[1] for v in adv.values())
    return commit.setup(cols, tag)


def open_claims(cs: dict, names, coms, wits, gens, t, seed: int = 5):
    return claims.prove_openings({n: cs[n] for n in names}, coms, wits, gens, t,
                                 jax.random.PRNGKey(seed))


def verify_open(cs: dict, names, coms, gens, opening, t):
    return claims.verify_openings({n: cs[n] for n in names}, coms, gens, opening, t)


def lean_cases(proof):
    """The first element of every leaf; of the lookups, every leaf of the first range and one
    of the others (their message kinds are the same)."""
    cases = leaf_cases(proof, both_ends=False)
    rngs = sorted({n.split("']")[0] for n, _ in cases if n.startswith(".ranges")})
    keep = [c for c in cases if not c[0].startswith(".ranges") or c[0].startswith(rngs[0])]
    for r in rngs[1:]:  # a packed range's lookup sits one level deeper
        keep += [(n, -1) for n, _ in cases if n.startswith(r) and n.endswith("layer_messages")]
    return keep


def kind_cases(proof):
    """`lean_cases` cut to one case per kind of leaf: per part (the path's first attribute) and
    leaf name (its last attribute), the first. Every kind of message of every sub-protocol is
    still tampered once; the full `lean_cases` sweep runs in the slow target."""
    seen, out = set(), []
    for name, where in lean_cases(proof):
        attrs = re.findall(r"\.(\w+)", name)
        kind = (attrs[0], attrs[-1])
        if kind not in seen:
            seen.add(kind)
            out.append((name, where))
    return out


def sweep(proof, cases, parts, check) -> None:
    """Each part names a path among the cases, and check(proof) rejects (GadgetError) the proof
    tampered at each case."""
    for part in parts:
        assert any(n.startswith("." + part) for n, _ in cases), part
    for case in cases:
        with pytest.raises(GadgetError):
            check(tampered(proof, case))


__all__ = ["commit_advice", "gens_for", "kind_cases", "lean_cases", "open_claims", "sweep",
           "verify_open"]
