"""Run by tests/test_shard.py in a fresh process with XLA_FLAGS set to four host devices
(`--xla_force_host_platform_device_count=4` must be set before JAX starts).

`main single|mesh2|stream|mesh2-stream`: proves a tiny 2-layer tied GQA model layer by layer on
the default device, or with its layers split over two of the four devices (one process each: a
process holding both runs' compiled code nears vm.max_map_count), from the stacked witness or
from a streamed one (`run(..., stream=True)`), and prints one JSON line: each run's proof hash,
final transcript state and whether the verifier accepted its bytes; a verification of the
layer proofs swapped; the errors for layer splits that cannot work. `helpers`: the mesh pieces
on a small custom-call workload over meshes of 4, 2 and 1 devices.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _tiny(stream: bool = False) -> dict:
    """A tiny 2-layer tied GQA model with random weights: its forward on 4 tokens (the layers'
    witness streamed if asked) and its weight commitments."""
    import jax
    import numpy as np
    from gadget_harness import random_params
    from zkllm_jax.models import FixedPointConfig, LlamaConfig, build_tables, run

    from zkllm_jax import weights

    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                      rms_norm_eps=1e-5, max_position_embeddings=32, tie_word_embeddings=True)
    fx = FixedPointConfig()
    params = random_params(cfg, 0)
    toks = np.array([1, 5, 9, 3], np.int32)
    tables = build_tables(cfg, fx, len(toks))
    logits, wit = run(params, tables, toks, cfg=cfg, fx=fx, mode="fixed", stream=stream)
    ts = weights.tensors(params, cfg)
    seed = b"\x09" * 32
    return {"cfg": cfg, "fx": fx, "toks": toks, "tables": tables, "logits": np.asarray(logits),
            "wit": jax.tree_util.tree_map(np.asarray, wit), "ts": ts, "seed": seed,
            "coms": weights.commit_all(ts, seed)}


def main(which: str) -> None:
    import jax
    import numpy as np

    from zkllm_jax import model, shard, weights
    from zkllm_jax.layer import LayerError
    from zkllm_jax.transcript import Transcript

    m = _tiny(which.endswith("stream"))
    cfg, fx, toks, tables, logits, wit, ts, coms = (
        m[k] for k in ("cfg", "fx", "toks", "tables", "logits", "wit", "ts", "coms"))
    wgens = weights.generators(weights.max_cols(ts))
    lazy = weights.LazyWitnesses(ts, m["seed"])
    t_start = Transcript.new(b"test/shard")
    sp = model.spec(cfg, fx, len(toks), batch=1)
    mesh = shard.layer_mesh(2) if which.startswith("mesh2") else None
    prf, t_end = model.prove(sp, ts, coms, lazy, wgens, tables, toks, logits, wit, t_start,
                             jax.random.PRNGKey(3), mesh=mesh)
    data = model.to_bytes(prf)
    back = model.from_bytes(data, model.template(sp, cfg, fx, tables, wgens))
    tv = model.verify(sp, coms, wgens, tables, toks, logits, back, t_start)
    out: dict = {"devices": len(jax.devices()),
                 which: {"proof": hashlib.sha256(data).hexdigest(),
                         "state": np.asarray(t_end.state).tobytes().hex(),
                         "verified": bool(np.array_equal(np.asarray(tv.state),
                                                         np.asarray(t_end.state)))}}
    if which != "mesh2":
        print(json.dumps(out))
        return
    # the layers' branches are bound: proofs of layers 0 and 1 swapped are rejected
    try:
        model.verify(sp, coms, wgens, tables, toks, logits,
                     back.replace(layers=tuple(back.layers[::-1])), t_start)
        out["swapped"] = "ACCEPT"
    except LayerError as e:
        out["swapped"] = e.step
    errors = []
    for n, batch, k in ((3, 1, 2), (4, 2, 4)):
        try:
            shard.check_split(n, shard.layer_mesh(k), batch)
            errors.append(None)
        except ValueError as e:
            errors.append(str(e))
    out["errors"] = errors
    print(json.dumps(out))


def helpers() -> None:
    """`shard`'s pieces on a small custom-call workload (field products through the native
    module): per layer, over meshes of 4, 2 and 1 devices; prints one JSON line."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from zkllm_jax import field, shard

    n = 8
    rng = np.random.default_rng(0)
    def fr(*shape):
        return np.asarray(field.encode(rng.integers(-2**62, 2**62, shape)))

    xs = {"a": fr(n, 5), "b": fr(n, 5)}
    shared = fr(5)

    def fn(x, s):
        return {"p": field.mul(field.mul(x["a"], x["b"]), s), "i": jnp.sum(x["a"][:, 0])}

    want = [jax.tree_util.tree_map(np.asarray, fn({k: v[i] for k, v in xs.items()}, shared))
            for i in range(n)]
    out: dict = {"devices": len(jax.devices())}
    for m in (4, 2, 1):
        mesh = shard.layer_mesh(m)
        stacked = shard.stack_layers(mesh, n, lambda i: {k: v[i] for k, v in xs.items()})
        placed = [sorted({s.device.id for s in a.addressable_shards})
                  for a in jax.tree_util.tree_leaves(stacked)]
        res = shard.unstack_layers(shard.map_layers(fn, mesh)(stacked, shared), mesh, n)
        where = [next(iter(r["p"].devices())).id for r in res]
        same = all(np.array_equal(np.asarray(r["p"]), w["p"]) and int(r["i"]) == int(w["i"])
                   for r, w in zip(res, want))
        ran = shard.per_device(mesh, lambda d, dev: (d, next(iter(
            jnp.zeros(1).devices())).id))
        out[f"mesh{m}"] = {"same": same, "where": where, "placed": placed[0], "ran": ran}
    out["lowered"] = _lower_layer_program()
    print(json.dumps(out))


def _lower_layer_program() -> dict:
    """The whole-model prover's SPMD program (every layer's steps under shard_map) traced and
    lowered for a tiny 2-layer model over meshes of 2 (a layer per device) and 1 (lax.map over
    both): compiling it takes many minutes on a CPU, so this checks the program, not its run."""
    import functools

    import jax

    from zkllm_jax import layer, model, shard
    from zkllm_jax.transcript import Transcript

    m = _tiny()
    sp = model.spec(m["cfg"], m["fx"], len(m["toks"]), batch=1)
    keys = model._Keys.split(sp, jax.random.PRNGKey(3))
    t0 = model._host(model._begin(sp, m["toks"], m["logits"], Transcript.new(b"test/shard")))
    pub = layer.public(sp.layer, m["tables"])
    inputs = functools.partial(model._layer_inputs, sp, m["ts"], m["coms"], m["wit"], t0, keys,
                               keys.inputs(sp))

    one = jax.eval_shape(functools.partial(model._layer_from_inputs, sp.layer, zk=True,
                                           check_witness=False), inputs(0), pub)
    res = {}
    for k in (2, 1):
        mesh = shard.layer_mesh(k)
        fn = model._sharded_steps(sp.layer, mesh, True)
        xs = shard.stack_layers(mesh, 2, inputs)
        out = jax.eval_shape(fn, xs, pub)
        text = fn.lower(xs, pub).as_text()
        res[f"mesh{k}"] = {
            "stacked": all(a.shape == (2, *b.shape) for a, b in
                           zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(one))),
            "custom_calls": text.count("stablehlo.custom_call"),
            "loop": "stablehlo.while" in text}
    return res


if __name__ == "__main__":
    helpers() if sys.argv[1:] == ["helpers"] else main(sys.argv[1])
