"""The finish (pending.prove_finish) of one small committed tensor: it proves and verifies in
the prover's trusted scope, and a witness given with a non-canonical blind is named, not
proven over."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zkllm_jax import commit, field, mle, pending
from zkllm_jax.claims import Claim
from zkllm_jax.transcript import Transcript

GENS = pending.advice_generators(4)


def _pending(wit: commit.Witness, com: commit.Commitment, x: np.ndarray) -> pending.Pending:
    point = field.encode(np.arange(3, 3 + mle.num_vars(x.size)))
    value = mle.evaluate(field.encode(jnp.asarray(x.reshape(-1))), point)
    return pending.Pending(claims={"x": [Claim(point=point, value=value)]}, ranges={},
                           shapes={}, commitments={"x": com}, witnesses={"x": wit})


def test_finish_checks_the_witnesses_it_reads():
    x = np.arange(-8, 8, dtype=np.int32).reshape(4, 4)
    com, wit = commit.commit(jnp.asarray(x), GENS, jax.random.PRNGKey(0))
    t0 = Transcript.new(b"test/pending")
    fin, t = pending.prove_finish(_pending(wit, com, x), GENS, t0, jax.random.PRNGKey(1))
    vt = pending.verify_finish(_pending(wit, com, x)._replace(witnesses={}), GENS, fin, t0)
    assert bytes(np.asarray(vt.state)) == bytes(np.asarray(t.state))

    r_limbs = jnp.asarray([(field.R >> (32 * i)) & 0xFFFFFFFF for i in range(8)], jnp.uint32)
    bad = commit.Witness(matrix=wit.data, blinds=wit.blinds.at[1].set(r_limbs),
                         layout=wit.layout)
    with pytest.raises(ValueError, match=r"witnesses\[x\]\.blinds: non-canonical.*\(1,\)"):
        pending.prove_finish(_pending(bad, com, x), GENS, t0, jax.random.PRNGKey(1))
