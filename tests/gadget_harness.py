"""Shared helpers of the gadget tests: a tiny fixed-point LLaMa witness, honest claims, and
tampering of proof pytrees (every leaf of every proof, Fr elements and G1 points alike)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from zkllm_jax.models import FixedPointConfig, LlamaConfig, build_tables, quantize_params, run
from zkllm_jax.models.convert import expected_shapes, from_flat

from zkllm_jax import claims, curve, field
from zkllm_jax.claims import Claim, GadgetError
from zkllm_jax.transcript import Transcript

R = field.R
T0 = Transcript.new(b"zkllm-test/gadgets").with_rng(jax.random.key(2024))  # zero-knowledge
FX = FixedPointConfig()
CFG = LlamaConfig(
    vocab_size=64,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    rms_norm_eps=1e-5,
    max_position_embeddings=32,
)
TOKENS = np.array([1, 5, 9, 20, 3, 5, 63, 0], np.int32)


def random_params(cfg: LlamaConfig, seed: int = 0, fx: FixedPointConfig = FX) -> dict:
    """A random fixed-point model of cfg's shapes: norm gains ≈ 1, other weights ≈ N(0, 1.5²/in)."""
    rng = np.random.default_rng(seed)
    flat = {}
    for name, shp in expected_shapes(cfg).items():
        names = ([name] if name.startswith(("model.", "lm_head"))
                 else [f"model.layers.{i}.{name}" for i in range(cfg.num_hidden_layers)])
        for n in names:
            base, scale = (1.0, 0.3) if "norm" in n else (0.0, 1.5 / np.sqrt(shp[-1]))
            flat[n] = (base + rng.standard_normal(shp) * scale).astype(np.float32)
    return quantize_params(from_flat(flat, cfg, "random"), cfg, fx)


@functools.lru_cache(maxsize=1)
def tiny():
    """(params, tables, witness) of a random tiny GQA model on TOKENS (numpy leaves)."""
    params = random_params(CFG)
    tables = build_tables(CFG, FX, len(TOKENS))
    _, wit = run(params, tables, TOKENS, cfg=CFG, fx=FX, mode="fixed")
    to_np = functools.partial(jax.tree_util.tree_map, np.asarray)
    return to_np(params), to_np(tables), to_np(wit)


def i32(x) -> jax.Array:
    return jnp.asarray(np.asarray(x), jnp.int32)


def ints_of(x) -> np.ndarray:
    """int32 numpy -> object array of Python ints (exact products)."""
    return np.asarray(x).astype(object)


def raw(out, rem, bits: int = FX.scale_bits) -> np.ndarray:
    """The raw (unrescaled) value 2^bits·out + rem as exact integers."""
    return ints_of(out) * (1 << bits) + ints_of(rem)


def fenc(x) -> jax.Array:
    """An integer tensor (int32, or object for wide values) as field elements."""
    a = np.asarray(x)
    return field.encode(a) if a.dtype == object else field.encode(i32(a))


def mle_value(x, point) -> int:
    """The MLE of an integer tensor at a flat point, as an int."""
    return int(field.decode(claims.evaluate(fenc(x), point)))


def honest_claim(x, seed: int) -> Claim:
    """A claim on x's MLE at a random point (what a downstream gadget would hand over)."""
    fx = fenc(x)
    n = claims.num_vars(fx.shape[:-1])
    pt = field.random(jax.random.PRNGKey(seed), (n,)) if n else jnp.zeros((0, 8), jnp.uint32)
    return Claim(point=pt, value=claims.evaluate(fx, pt))


def bump(c: Claim) -> Claim:
    return Claim(point=c.point, value=field.add(c.value, field.ones(())))


def assert_holds(cs: dict, tensors: dict) -> None:
    """Every claim on a named tensor matches its MLE (GadgetError from `check_public`)."""
    for name, cl in cs.items():
        claims.check_public(name, fenc(tensors[name]), cl)


def same_state(a: Transcript, b: Transcript) -> bool:
    return np.array_equal(np.asarray(a.state), np.asarray(b.state))


# --- tampering ---------------------------------------------------------------------------------


def _is_point(leaf) -> bool:
    return leaf.ndim >= 2 and tuple(leaf.shape[-2:]) == (3, curve.FP_LIMBS)


def _tamper_leaf(leaf, where: int):
    if _is_point(leaf):
        flat = leaf.reshape(-1, 3, curve.FP_LIMBS)
        idx = where % flat.shape[0]
        flat = flat.at[idx].set(curve.add(flat[idx], curve.generator()))
    else:
        flat = leaf.reshape(-1, field.LIMBS)
        idx = where % flat.shape[0]
        flat = flat.at[idx].set(field.add(flat[idx], field.ones(())))
    return flat.reshape(leaf.shape)


def leaf_cases(proof, prefix: str = "", both_ends: bool = True) -> list[tuple[str, int]]:
    """(leaf path, element) pairs: the first and the last element of every non-empty leaf."""
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(proof)[0]:
        if leaf.size == 0:
            continue
        name = prefix + jax.tree_util.keystr(path)
        n = leaf.size // (3 * curve.FP_LIMBS if _is_point(leaf) else field.LIMBS)
        out.append((name, 0))
        if both_ends and n > 1:
            out.append((name, -1))
    return out


def tampered(proof, case: tuple[str, int], prefix: str = ""):
    """The proof with one element of the named leaf changed (Fr: +1, G1: +generator)."""
    name, where = case
    leaves, tree = jax.tree_util.tree_flatten_with_path(proof)
    new = []
    hit = False
    for path, leaf in leaves:
        if prefix + jax.tree_util.keystr(path) == name:
            leaf, hit = _tamper_leaf(leaf, where), True
        new.append(leaf)
    assert hit, name
    return jax.tree_util.tree_unflatten(tree, new)


def rejects(fn: Callable[[], object]) -> None:
    """fn must raise a GadgetError (a verifier or a claim check rejected)."""
    with pytest.raises(GadgetError):
        fn()


__all__ = [
    "CFG",
    "FX",
    "MASK_FIELDS",
    "SUMCHECK_FIELDS",
    "T0",
    "TOKENS",
    "R",
    "assert_holds",
    "bump",
    "fenc",
    "honest_claim",
    "i32",
    "ints_of",
    "leaf_cases",
    "mle_value",
    "raw",
    "rejects",
    "same_state",
    "tampered",
    "tiny",
]


# a zero-knowledge sumcheck's leaves: its rounds, final values and mask (T0 is zero-knowledge)
MASK_FIELDS = [".mask.commitment", ".mask.total", ".mask.value", ".mask.opening.delta",
               ".mask.opening.t", ".mask.opening.z", ".mask.opening.z_blind"]
SUMCHECK_FIELDS = [".messages", ".final_evals"] + MASK_FIELDS
SC_LEAVES = [".sumcheck" + f for f in SUMCHECK_FIELDS]


def bumped(x, idx, by: int = 1) -> np.ndarray:
    """A copy of x with element idx increased by `by` (a tampered witness)."""
    y = np.array(x)
    y[idx] += by
    return y
