"""LLaMa decoder described once over a params pytree, run in float32 or exact fixed point.

Design: instead of two Flax module trees, the network is one set of pure functions over a params
pytree with `transformers`' names; the arithmetic is a backend (`ops.FloatOps` / `ops.FixedOps`)
chosen by a static `mode`. So the float and integer models cannot drift apart structurally, the
integer forward is `jax.jit`-able end to end, and `jax.lax.scan` over the stacked layers keeps
compile time independent of depth.

Params pytree (float32 for "float", int32 at scale 2^f for "fixed"); layers are stacked on a
leading axis of size num_hidden_layers:

    {"model": {"embed_tokens": {"weight": (V, D)},
               "layers": {"input_layernorm": {"weight": (L, D)},
                          "self_attn": {"q_proj": {"weight": (L, H·hd, D)}, "k_proj": ...,
                                        "v_proj": ..., "o_proj": {"weight": (L, D, H·hd)}},
                          "post_attention_layernorm": {"weight": (L, D)},
                          "mlp": {"gate_proj": {"weight": (L, I, D)}, "up_proj": ...,
                                  "down_proj": {"weight": (L, D, I)}}},
               "norm": {"weight": (D,)}},
     "lm_head": {"weight": (V, D)}}          # absent when tie_word_embeddings

The forward also takes a key/value cache so greedy decoding reuses past keys; because every op is
row-wise (attention row i only reads keys <= i), incremental decoding gives bit-identical integers
to one forward over the whole sequence, which is what the prover certifies.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .config import FixedPointConfig, FixedPointRangeError, LlamaConfig
from .ops import make_ops


class KVCache(NamedTuple):
    """Rotated keys and values of every layer: (L, KVH, max_len, head_dim) each."""

    k: jax.Array
    v: jax.Array


def init_cache(cfg: LlamaConfig, max_len: int, mode: str) -> KVCache:
    """An empty cache of capacity max_len."""
    dt = jnp.int32 if mode == "fixed" else jnp.float32
    shape = (cfg.num_hidden_layers, cfg.num_key_value_heads, max_len, cfg.head_dim)
    return KVCache(jnp.zeros(shape, dt), jnp.zeros(shape, dt))


def _attention(ops, cfg: LlamaConfig, sa, x, pos, kc, vc, start):
    """Self-attention of one layer on the normed input x (T, D): q/k/v, RoPE, scores, softmax,
    context and o_proj. Returns (o, witness, kc, vc); kc/vc (KVH, max_len, hd) get the new keys
    and values at `start`."""
    t = x.shape[0]
    nh, nkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    ws = {}
    q, ws["q_proj"] = ops.linear("self_attn.q_proj", x, sa["q_proj"]["weight"])
    k, ws["k_proj"] = ops.linear("self_attn.k_proj", x, sa["k_proj"]["weight"])
    v, ws["v_proj"] = ops.linear("self_attn.v_proj", x, sa["v_proj"]["weight"])
    q = q.reshape(t, nh, hd).transpose(1, 0, 2)
    k = k.reshape(t, nkv, hd).transpose(1, 0, 2)
    v = v.reshape(t, nkv, hd).transpose(1, 0, 2)
    q, ws["q_rope"] = ops.rope("self_attn.q_rope", q, pos)
    k, ws["k_rope"] = ops.rope("self_attn.k_rope", k, pos)
    kc = jax.lax.dynamic_update_slice(kc, k.astype(kc.dtype), (0, start, 0))
    vc = jax.lax.dynamic_update_slice(vc, v.astype(vc.dtype), (0, start, 0))
    s, ws["scores"] = ops.scores(q, kc)
    mask = jnp.arange(kc.shape[1])[None, :] <= pos[:, None]  # causal, and unwritten slots
    p, ws["softmax"] = ops.softmax(s, mask)
    ctx, ws["context"] = ops.context(p, vc)
    o, ws["o_proj"] = ops.linear("self_attn.o_proj", ctx, sa["o_proj"]["weight"])
    return o, ws, kc, vc


def _ffn(ops, mp, x):
    """The MLP of one layer on the normed input x (T, D): gate/up, SwiGLU, down.
    Returns (out, witness)."""
    wm = {}
    g, wm["gate_proj"] = ops.linear("mlp.gate_proj", x, mp["gate_proj"]["weight"])
    u, wm["up_proj"] = ops.linear("mlp.up_proj", x, mp["up_proj"]["weight"])
    a, wm["swiglu"] = ops.swiglu(g, u)
    d, wm["down_proj"] = ops.linear("mlp.down_proj", a, mp["down_proj"]["weight"])
    return d, wm


def _layer(ops, cfg: LlamaConfig, lp, h, pos, kc, vc, start):
    wit = {"input": h}
    x, wit["input_layernorm"] = ops.rmsnorm("input_layernorm", h, lp["input_layernorm"]["weight"])
    o, wit["self_attn"], kc, vc = _attention(ops, cfg, lp["self_attn"], x, pos, kc, vc, start)
    h = ops.add("residual_attn", h, o)
    wit["residual_attn"] = h
    x, wit["post_attention_layernorm"] = ops.rmsnorm(
        "post_attention_layernorm", h, lp["post_attention_layernorm"]["weight"]
    )
    d, wit["mlp"] = _ffn(ops, lp["mlp"], x)
    h = ops.add("residual_mlp", h, d)
    wit["out"] = h
    return h, kc, vc, wit


def _head_weight(params):
    """lm_head's weight: its own, or the embedding table when tied."""
    return (params["lm_head"]["weight"] if "lm_head" in params
            else params["model"]["embed_tokens"]["weight"])


def _final(ops, params, h):
    """The final norm and lm_head on the last layer's output: (logits, norm witness, lm_head
    witness)."""
    x, w_norm = ops.rmsnorm("norm", h, params["model"]["norm"]["weight"])
    logits, w_head = ops.linear("lm_head", x, _head_weight(params))
    return logits, w_norm, w_head


@partial(jax.jit, static_argnames=("cfg", "fx", "mode", "with_witness", "last_only"))
def forward(
    params,
    tables,
    tokens: jax.Array,
    start: jax.Array,
    cache: KVCache,
    *,
    cfg: LlamaConfig,
    fx: FixedPointConfig,
    mode: str,
    with_witness: bool = True,
    last_only: bool = False,
):
    """Run tokens (T,) at positions start..start+T−1 through the model.

    Returns (logits, new_cache, witness, checks). logits are float32 (float mode) or int32 at
    scale 2^f (fixed mode), shape (T, V) or (1, V) with last_only. witness is {} in float mode or
    when with_witness is False; checks map names to (max |value|, bound) per layer.
    """
    ops = make_ops(mode, cfg, fx, tables)
    m = params["model"]
    t = tokens.shape[0]
    pos = start + jnp.arange(t, dtype=jnp.int32)
    h, w_embed = ops.embed(m["embed_tokens"]["weight"], tokens)

    def body(h, xs):
        lp, kc, vc = xs
        ops.checks = {}
        h, kc, vc, wit = _layer(ops, cfg, lp, h, pos, kc, vc, start)
        return h, (kc, vc, wit if (with_witness and ops.fixed) else {}, ops.checks)

    h, (kc, vc, wl, chk_layers) = jax.lax.scan(body, h, (m["layers"], cache.k, cache.v))
    ops.checks = {}
    if last_only:
        h = h[-1:]
    logits, w_norm, w_head = _final(ops, params, h)
    checks = {"layers": chk_layers, "final": ops.checks}
    wit = {}
    if with_witness and ops.fixed:
        wit = {"embed": w_embed, "layers": wl, "norm": w_norm, "lm_head": w_head}
    return logits, KVCache(kc, vc), wit, checks


def presplit(params, fx: FixedPointConfig):
    """Fixed-point params with every matmul weight stored as its int8 limbs (limb axis first).

    Same integers, same results; the forward just skips re-splitting ~all weights on every call,
    which dominates the cost of one-token decoding steps. The tied lm_head gets its own copy.
    """
    import jax.tree_util as tu

    from .intmath import split_limbs

    def split(a):
        return np.asarray(split_limbs(jnp.asarray(a), fx.weight_limbs)).astype(np.int8)

    def per_layer(path, a):
        name = ".".join(str(getattr(p, "key", p)) for p in path)
        return np.moveaxis(split(a), 0, 1) if "proj" in name else a  # keep L first for scan

    out = {"model": dict(params["model"])}
    out["model"]["layers"] = tu.tree_map_with_path(per_layer, params["model"]["layers"])
    out["lm_head"] = {"weight": split(_head_weight(params))}
    return out


def check_ranges(checks) -> None:
    """Raise FixedPointRangeError naming the tensor, layer and value of the first violation.

    "First" is in program order: earliest layer, then earliest op within it, then the final norm
    and lm_head (later violations are usually consequences of the first).
    """
    bad = []
    for name, arr in checks.get("layers", {}).items():
        arr = np.asarray(arr)
        for i in np.nonzero(arr[:, 0] > arr[:, 1])[0]:
            bad.append((int(i), arr[i, 2], f"model.layers.{int(i)}.{name}", arr[i]))
    for name, arr in checks.get("final", {}).items():
        arr = np.asarray(arr)
        if arr[0] > arr[1]:
            bad.append((1 << 30, arr[2], name, arr))
    if bad:
        _, _, name, arr = min(bad, key=lambda b: (b[0], b[1]))
        raise FixedPointRangeError(f"{name}: |value| reached {arr[0]:.6g}, bound is {arr[1]:.6g}")


def run(params, tables, tokens, *, cfg, fx, mode, with_witness=True, check=True, stream=False):
    """One forward over the whole sequence (no cache reuse); the prover's entry point.

    Returns (logits, witness). Raises FixedPointRangeError if any value left its range.

    stream (fixed mode, with the witness): witness["layers"] is a `LayerWitnesses` that remakes
    layer i's witness from its input when the prover asks for it, instead of every layer's
    stacked (a 7B layer's is 10.3 GiB at 2048 tokens). The same integers either way.
    """
    tokens = jnp.asarray(np.asarray(tokens, np.int32))
    validate_tokens(tokens, cfg)
    if stream:
        if mode != "fixed" or not with_witness:
            raise ValueError("run: stream=True needs mode='fixed' and with_witness=True")
        return _run_streamed(params, tables, tokens, cfg=cfg, fx=fx, check=check)
    cache = init_cache(cfg, tokens.shape[0], mode)
    logits, _, wit, chk = forward(
        params,
        tables,
        tokens,
        jnp.int32(0),
        cache,
        cfg=cfg,
        fx=fx,
        mode=mode,
        with_witness=with_witness,
    )
    if check and mode == "fixed":
        check_ranges(chk)
    return logits, wit


@partial(jax.jit, static_argnames=("cfg", "fx"))
def _embed_fixed(params, tables, tokens, *, cfg, fx):
    return make_ops("fixed", cfg, fx, tables).embed(params["model"]["embed_tokens"]["weight"],
                                                    tokens)


def _layer_params(params, i: int):
    """Layer i's params, sliced where they are, so that a call on another device moves one
    layer's weights, not the model's."""
    return jax.tree_util.tree_map(lambda a: a[i], params["model"]["layers"])


@partial(jax.jit, static_argnames=("cfg", "fx", "with_witness"))
def _layer_fixed(lp, tables, h, *, cfg, fx, with_witness):
    """A decoder layer (its params lp) on its input h (T, D), as `forward` runs it from
    position 0: (output, witness or {}, checks)."""
    ops = make_ops("fixed", cfg, fx, tables)
    t = h.shape[0]
    kc = vc = jnp.zeros((cfg.num_key_value_heads, t, cfg.head_dim), jnp.int32)
    h, _, _, wit = _layer(ops, cfg, lp, h, jnp.arange(t, dtype=jnp.int32), kc, vc, jnp.int32(0))
    return h, wit if with_witness else {}, ops.checks


@partial(jax.jit, static_argnames=("cfg", "fx"))
def _head_fixed(params, tables, h, *, cfg, fx):
    ops = make_ops("fixed", cfg, fx, tables)
    return (*_final(ops, params, h), ops.checks)


class LayerWitnesses:
    """The layers' part of a fixed-point witness, made one layer at a time: `layer(i)` remakes
    layer i's witness (what `run`'s stacked witness["layers"] holds at index i) from its input,
    kept on the host (T·D int32 per layer), so a prover holds one layer's witness at a time.

    A pytree without leaves: `jax.tree_util.tree_map` over a witness passes it through whole.
    """

    def __init__(self, params, tables, inputs: list, output, *, cfg: LlamaConfig,
                 fx: FixedPointConfig):
        self._params, self._tables, self._inputs = params, tables, inputs
        self.output = output  # the last layer's output (T, D): the final norm's input
        self._cfg, self._fx = cfg, fx

    def __len__(self) -> int:
        return len(self._inputs)

    def layer(self, i: int) -> dict:
        """Layer i's witness (on the default device)."""
        if not 0 <= i < len(self._inputs):
            raise IndexError(f"LayerWitnesses: layer {i} of {len(self._inputs)}")
        return _layer_fixed(_layer_params(self._params, i), self._tables,
                            jnp.asarray(self._inputs[i]), cfg=self._cfg, fx=self._fx,
                            with_witness=True)[1]


jax.tree_util.register_pytree_node(LayerWitnesses, lambda s: ((), s), lambda s, _: s)


def _run_streamed(params, tables, tokens, *, cfg, fx, check):
    """`run` in fixed mode with witness["layers"] a `LayerWitnesses`: one pass keeps each
    layer's input; the prover's pass remakes each layer's witness from it."""
    h, w_embed = _embed_fixed(params, tables, tokens, cfg=cfg, fx=fx)
    inputs, checks = [], []
    for i in range(cfg.num_hidden_layers):
        inputs.append(np.asarray(h))
        h, _, chk = _layer_fixed(_layer_params(params, i), tables, h, cfg=cfg, fx=fx,
                                 with_witness=False)
        checks.append(chk)
    logits, w_norm, w_head, fchk = _head_fixed(params, tables, h, cfg=cfg, fx=fx)
    if check:
        check_ranges({"layers": jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *checks),
                      "final": fchk})
    layers = LayerWitnesses(params, tables, inputs, h, cfg=cfg, fx=fx)
    return logits, {"embed": w_embed, "layers": layers, "norm": w_norm, "lm_head": w_head}


STEPS = ("rmsnorm_input", "self_attn", "rmsnorm_post", "ffn", "skip")


@partial(jax.jit, static_argnames=("kind", "cfg", "fx"))
def _run_step(params, tables, kind, layer, inputs, *, cfg, fx):
    ops = make_ops("fixed", cfg, fx, tables)
    lp = jax.tree_util.tree_map(lambda a: a[layer], params["model"]["layers"])
    x = inputs[0]
    if kind in ("rmsnorm_input", "rmsnorm_post"):
        name = "input_layernorm" if kind == "rmsnorm_input" else "post_attention_layernorm"
        y, w = ops.rmsnorm(name, x, lp[name]["weight"])
        wit = {name: w}
    elif kind == "self_attn":
        t = x.shape[0]
        pos = jnp.arange(t, dtype=jnp.int32)
        shape = (cfg.num_key_value_heads, t, cfg.head_dim)
        kc = vc = jnp.zeros(shape, jnp.int32)
        y, w, _, _ = _attention(ops, cfg, lp["self_attn"], x, pos, kc, vc, jnp.int32(0))
        wit = {"self_attn": w}
    elif kind == "ffn":
        y, w = _ffn(ops, lp["mlp"], x)
        wit = {"mlp": w}
    else:  # skip: the residual stream inputs[1] plus the branch's output inputs[0]
        y = ops.add("residual", inputs[1], x)
        wit = {}
    return y, wit, ops.checks


def run_step(params, tables, kind: str, layer: int, inputs, *, cfg: LlamaConfig,
             fx: FixedPointConfig):
    """One step of decoder layer `layer` in fixed point, as `_layer` computes it inside `run`.

    kind: "rmsnorm_input" (x1 = input_layernorm(h)), "self_attn" (a = attention(x1) over
    positions 0..T−1), "rmsnorm_post" (x2 = post_attention_layernorm(h_mid)), "ffn"
    (f = mlp(x2)) or "skip" (inputs (branch, residual): residual + branch); inputs: a sequence of
    int32 (T, D) arrays (one; two for skip). Returns (output int32 (T, D), the witness fragment
    as `_layer` records it: {"input_layernorm": ...}, {"self_attn": ...},
    {"post_attention_layernorm": ...}, {"mlp": ...} or {} for skip). Raises
    FixedPointRangeError (naming model.layers.{layer}.<tensor>) if a value left its range.
    """
    if kind not in STEPS:
        raise ValueError(f"unknown step {kind!r} (expected one of {', '.join(STEPS)})")
    n_layers = cfg.num_hidden_layers
    if not 0 <= int(layer) < n_layers:
        raise ValueError(f"layer {layer} outside the model's {n_layers} layers")
    want = 2 if kind == "skip" else 1
    xs = tuple(jnp.asarray(np.asarray(a), jnp.int32) for a in inputs)
    if len(xs) != want:
        raise ValueError(f"{kind}: expected {want} input(s), got {len(xs)}")
    for a in xs:
        if a.ndim != 2 or a.shape[1] != cfg.hidden_size or a.shape != xs[0].shape:
            raise ValueError(f"{kind}: inputs must be (T, {cfg.hidden_size}), got "
                             f"{[tuple(b.shape) for b in xs]}")
    y, wit, chk = _run_step(params, tables, kind, jnp.int32(layer), xs, cfg=cfg, fx=fx)
    check_ranges({"final": {f"model.layers.{int(layer)}.{k}": v for k, v in chk.items()}})
    return y, wit


def validate_tokens(tokens, cfg: LlamaConfig) -> None:
    """Token ids must index the embedding table."""
    t = np.asarray(tokens)
    if t.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {t.shape}")
    bad = (t < 0) | (t >= cfg.vocab_size)
    if bad.any():
        raise FixedPointRangeError(
            f"token id {int(t[bad][0])} outside the vocabulary [0, {cfg.vocab_size})"
        )
