"""Prove and verify a whole model with random weights: commit, prove (per step), verify.

    python benchmarks/bench_model.py --shape smollm2 --seq 8                  # CPU
    python benchmarks/bench_model.py --device gpu --shape smollm2 --seq 8 --verify-on cpu

Shapes: "smollm2" (SmolLM2-135M's config: 30 layers, hidden 576, GQA 9 on 3, vocab 49152, tied
embeddings), "7b" (LLaMA-2-7B's: 32 layers, hidden 4096, 32 heads, vocab 32000) and "13b"
(LLaMA-2-13B's: 40 layers, hidden 5120, 40 heads, FFN 13824, vocab 32000), each with
random weights (`--layers N` keeps the first N layers). The weights are committed with
`weights.commit_all`, the sequence is proven with `model.prove` (`--batch-layers` as in the CLI)
and checked with `model.verify`; the proof bytes are the tree format `zkllm prove` writes.
Prints one JSON line when the prove is done, and with the verifier a second, complete one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SHAPES = {
    "smollm2": {"vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
                "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
                "tie_word_embeddings": True},
    "7b": {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
           "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
           "tie_word_embeddings": False},
    "13b": {"vocab_size": 32000, "hidden_size": 5120, "intermediate_size": 13824,
            "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 40,
            "tie_word_embeddings": False},
}


def _qparams(cfg, fx, seed: int) -> dict:
    """Quantized random weights made on JAX's default device: round(2^f·N(0, 1)/sqrt(fan-in))
    for every matrix (the embedding's times sqrt(hidden)), 2^f for the norms, stacked per layer
    as `quantize_params` returns them. Made as float64 on the host and quantized there, a
    7B-shaped model's weights cost about 6 s per layer on the 2-core CPU (3 layers: 31.4 s, now
    12.5 s on that CPU's JAX); a whole 7B model's forward took 223 s on an H200's host."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from zkllm_jax.models.convert import LAYER_TENSORS, _set, expected_shapes

    shapes = expected_shapes(cfg)
    names = ["model.embed_tokens.weight", "model.norm.weight"] + (
        [] if cfg.tie_word_embeddings else ["lm_head.weight"])
    names += [f"model.layers.{n}" for n in LAYER_TENSORS]
    key = jax.random.PRNGKey(seed)
    tree: dict = {}
    for j, name in enumerate(names):
        shp = shapes[name.removeprefix("model.layers.")]
        full = (cfg.num_hidden_layers, *shp) if name.startswith("model.layers.") else shp
        if "norm" in name:
            q = np.full(full, fx.scale, np.int32)
        else:
            sd = fx.scale / np.sqrt(shp[-1]) * (np.sqrt(cfg.hidden_size) if "embed" in name
                                                else 1.0)
            z = jax.random.normal(jax.random.fold_in(key, j), full, jnp.float32)
            q = np.asarray(jnp.round(z * sd).astype(jnp.int32))
        _set(tree, name, q)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="smollm2")
    ap.add_argument("--layers", type=int, default=0, help="keep the first N layers (0: all)")
    ap.add_argument("--seq", type=int, default=8)
    ap.add_argument("--batch-layers", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--verify-on", choices=("cpu", "same"), default="same")
    ap.add_argument("--jit", action="store_true", help="one compiled layer prover")
    ap.add_argument("--devices", type=int, default=1,
                    help="split the layers over N devices (a layer mesh)")
    ap.add_argument("--mesh", action="store_true",
                    help="use a layer mesh even for one device (the sharded code path, so one "
                    "device's run compares with N devices' like for like)")
    ap.add_argument("--stream", action="store_true",
                    help="remake each layer's witness when it is proven (models.run(stream=True)) "
                    "instead of holding every layer's: whole 7B-shaped models at 2048 tokens")
    ap.add_argument("--steps", action="store_true",
                    help="also time each layer's steps (the prover waits for the device after "
                    "each; per-step times are muddled when several devices report at once)")
    ap.add_argument("--no-verify", action="store_true", help="skip the verifier (timing runs)")
    ap.add_argument("--baseline", action="store_true",
                    help="with --devices N: also prove on the first device alone (mesh none) "
                    "in the same process, first (and again after the mesh's with --warm), and "
                    "compare times and bytes")
    ap.add_argument("--warm", action="store_true",
                    help="prove twice and also report the second (compiled) prove's time")
    args = ap.parse_args()

    import jax
    import numpy as np
    from bench_layer import log_cache_clears
    from zkllm_jax.models import FixedPointConfig, LlamaConfig, build_tables, run

    from zkllm_jax import model, shard, weights
    from zkllm_jax.transcript import Transcript

    log_cache_clears()
    dev = jax.devices(args.device)[0]
    jax.config.update("jax_default_device", dev)
    kw = dict(SHAPES[args.shape])
    if args.layers:
        kw["num_hidden_layers"] = args.layers
    cfg = LlamaConfig(**kw, rms_norm_eps=1e-5, max_position_embeddings=4096)
    fx = FixedPointConfig()
    mesh = (shard.layer_mesh(jax.devices(args.device)[:args.devices])
            if args.devices > 1 or args.mesh else None)
    if mesh is not None and not args.batch_layers:
        args.batch_layers = cfg.num_hidden_layers // args.devices  # one finish per device
    out: dict = {"shape": args.shape, "layers": cfg.num_hidden_layers, "seq": args.seq,
                 "device": str(dev), "devices": args.devices, "jit": args.jit,
                 "stream": args.stream}
    t0 = time.perf_counter()
    params = _qparams(cfg, fx, 0)
    out["params_s"] = round(time.perf_counter() - t0, 2)
    toks = np.random.default_rng(1).integers(0, cfg.vocab_size, args.seq).astype(np.int32)
    tables = build_tables(cfg, fx, args.seq)
    logits, wit = run(params, tables, toks, cfg=cfg, fx=fx, mode="fixed", stream=args.stream)
    wit = jax.tree_util.tree_map(np.asarray, wit)
    logits = np.asarray(logits)
    out["forward_s"] = round(time.perf_counter() - t0, 2)
    print(f"  forward {out['forward_s']} s", file=sys.stderr, flush=True)
    ts = weights.tensors(params, cfg)
    seed = b"\x09" * 32
    t0 = time.perf_counter()
    coms = weights.commit_all(ts, seed)
    jax.block_until_ready(coms)
    out["commit_s"] = round(time.perf_counter() - t0, 2)
    print(f"  commit {out['commit_s']} s", file=sys.stderr, flush=True)
    wgens = weights.generators(weights.max_cols(ts))
    lazy = weights.LazyWitnesses(ts, seed)
    sp = model.spec(cfg, fx, args.seq, batch=args.batch_layers)
    cur: list[dict[str, float]] = [{}]  # the current prove's seconds per step
    last = [time.perf_counter()]

    def say(s: str) -> None:
        now = time.perf_counter()
        cur[0][s] = round(now - last[0], 2)
        last[0] = now
        print(f"  {time.strftime('%H:%M:%S')} {s} {cur[0][s]} s", file=sys.stderr, flush=True)

    t_start = Transcript.new(b"bench/model")

    def timed(m):
        """One prove on mesh m: the proof, the final transcript, seconds, seconds per step."""
        cur[0] = {}
        t0 = last[0] = time.perf_counter()
        p, t = model.prove(sp, ts, coms, lazy, wgens, tables, toks, logits, wit, t_start,
                           jax.random.PRNGKey(3), jit=args.jit, mesh=m, progress=say,
                           step_progress=say if args.steps else None)
        jax.block_until_ready(t.state)
        return p, t, round(time.perf_counter() - t0, 2), cur[0]

    def run(key: str, m) -> tuple:
        p, t, out[key], out[key.replace("prove_s", "steps_s")] = timed(m)
        print(f"  {key} {out[key]} s", file=sys.stderr, flush=True)
        return p, t

    one = None
    if args.baseline and mesh is not None:
        # The one-device prove first: on a fresh machine it pays the compilation, and the other
        # devices then load those executables from JAX's persistent cache (keys without device
        # ids on GPUs) instead of each compiling its own copy at the same time.
        one, _ = run("one_device_prove_s", None)
    prf, t_end = run("prove_s", mesh)
    if one is not None:
        out["same_bytes_as_one_device"] = model.to_bytes(one) == model.to_bytes(prf)
        del one
    if args.warm:
        run("warm_prove_s", mesh)
        if args.baseline and mesh is not None:
            run("one_device_warm_prove_s", None)
            out["scaling_efficiency"] = round(
                out["one_device_warm_prove_s"] / (args.devices * out["warm_prove_s"]), 3)
    data = model.to_bytes(prf)
    out["proof_bytes"] = len(data)
    if dev.platform == "gpu":
        used = mesh.devices.flat if mesh is not None else [dev]
        out["peak_device_mib"] = [round(d.memory_stats().get("peak_bytes_in_use", 0) / 2**20)
                                  for d in used]
    print(json.dumps(out), flush=True)  # the prover's numbers, before a (long) verification
    if args.no_verify:
        return
    vdev = jax.devices("cpu")[0] if args.verify_on == "cpu" else dev
    with jax.default_device(vdev):
        like = model.template(sp, cfg, fx, tables, wgens)
        back = model.from_bytes(data, like)
        t0 = time.perf_counter()
        tv = model.verify(sp, coms, wgens, tables, toks, logits, back, t_start)
        out["verify_s"] = round(time.perf_counter() - t0, 2)
    out["verified"] = bool(np.array_equal(np.asarray(tv.state), np.asarray(t_end.state)))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
