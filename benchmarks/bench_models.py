"""Time the model forward: fixed point (with the full witness) vs float.

    python benchmarks/bench_models.py                          # SmolLM2, 64 tokens, CPU
    python benchmarks/bench_models.py --device gpu --shape 7b-layer --seq 2048

Each (shape, mode) runs in a fresh subprocess so peak memory is attributable to it. Reported:
compile+first-call time, steady-state time (median of --repeat runs), peak host RSS (CPU) or peak
device memory (GPU, from `memory_stats`), and RSS before the forward (weights etc.).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _load(shape: str, seq: int, mode: str, fx=None):
    """The model of `shape`, its fixed-point config (`fx`, default FixedPointConfig()), params
    (presplit in fixed mode), tables and `seq` token ids."""
    import jax
    import numpy as np
    from zkllm_jax.models import FixedPointConfig, LlamaConfig, build_tables, load_model
    from zkllm_jax.models.loader import Model

    fx = fx or FixedPointConfig()
    if shape == "smollm2":
        m = load_model("smollm2")
        ids = m.tokenizer.encode(_text()).ids
        ids = (ids * (seq // len(ids) + 1))[:seq]
    elif shape in ("7b-layer", "smollm2-layer"):
        # one LLaMA-2-7B decoder layer, random weights; tiny vocab so embed/lm_head are negligible
        big = shape == "7b-layer"  # else SmolLM2-135M's layer shapes (GQA 9 on 3)
        cfg = LlamaConfig(
            vocab_size=256,
            hidden_size=4096 if big else 576,
            intermediate_size=11008 if big else 1536,
            num_hidden_layers=1,
            num_attention_heads=32 if big else 9,
            num_key_value_heads=32 if big else 3,
            rms_norm_eps=1e-5,
            max_position_embeddings=4096,
        )
        rng = np.random.default_rng(0)
        from zkllm_jax.models.convert import expected_shapes, from_flat

        flat = {}
        for name, shp in expected_shapes(cfg).items():
            names = [name] if name.startswith(("model.", "lm_head")) else [f"model.layers.0.{name}"]
            for n in names:
                if "norm" in n:
                    flat[n] = np.ones(shp, np.float32)
                else:
                    flat[n] = (rng.standard_normal(shp, np.float32) / np.sqrt(shp[-1])).astype(
                        np.float32
                    )
        flat["model.embed_tokens.weight"] *= np.sqrt(cfg.hidden_size)
        m = Model(from_flat(flat, cfg, "random"), cfg, None, f"random {shape}")
        ids = rng.integers(0, 256, seq).tolist()
    else:
        raise SystemExit(f"unknown --shape {shape!r}")
    params = m.params
    if mode == "fixed":
        from zkllm_jax.models import presplit

        m = m.to_fixed(fx)
        params = presplit(m.params, fx)  # weights split into limbs once, as a prover would
    tables = build_tables(m.cfg, fx, seq) if mode == "fixed" else {}
    params = jax.device_put(params)
    return m, fx, params, tables, np.asarray(ids, np.int32)


def _text() -> str:
    import codecs
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


def single(shape: str, mode: str, seq: int, repeat: int, device: str) -> dict:
    import jax
    import jax.numpy as jnp

    if device == "gpu":
        try:
            dev = jax.devices("gpu")[0]
        except RuntimeError as e:
            raise SystemExit(f"--device gpu: no GPU visible to JAX ({e})") from e
    else:
        dev = jax.devices("cpu")[0]
    with jax.default_device(dev):
        from zkllm_jax.models import check_ranges, forward, init_cache

        m, fx, params, tables, ids = _load(shape, seq, mode)
        tables = jax.device_put(tables)
        rss0 = _rss_mb()
        cache = init_cache(m.cfg, len(ids), mode)
        toks = jnp.asarray(ids)

        def call():
            out = forward(
                params,
                tables,
                toks,
                jnp.int32(0),
                cache,
                cfg=m.cfg,
                fx=fx,
                mode=mode,
                with_witness=True,
            )
            jax.block_until_ready(out)
            return out

        t = time.perf_counter()
        out = call()
        first = time.perf_counter() - t
        if mode == "fixed":
            check_ranges(out[3])
        wit_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(out[2]))
        del out
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
    res = {
        "shape": shape,
        "mode": mode,
        "seq": seq,
        "device": str(dev),
        "first_call_s": round(first, 2),
        "time_s": round(statistics.median(times), 3),
        "witness_mb": round(wit_bytes / 2**20, 1),
        "rss_before_mb": round(rss0),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if device == "gpu":
        stats = dev.memory_stats() or {}
        res["peak_device_mb"] = round(stats.get("peak_bytes_in_use", 0) / 2**20)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="smollm2", choices=["smollm2", "7b-layer"])
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--seq", type=int, default=None, help="tokens (default 64; 2048 for 7b-layer)")
    p.add_argument("--modes", default="float,fixed")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", help="also write results to this file")
    p.add_argument("--single", help=argparse.SUPPRESS)
    a = p.parse_args()
    seq = a.seq or (2048 if a.shape == "7b-layer" else 64)
    if a.single:
        print(json.dumps(single(a.shape, a.single, seq, a.repeat, a.device)))
        return
    results = []
    for mode in a.modes.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--shape",
            a.shape,
            "--device",
            a.device,
            "--seq",
            str(seq),
            "--repeat",
            str(a.repeat),
            "--single",
            mode,
        ]
        env = {**os.environ}
        if a.device == "cpu":
            env.setdefault("JAX_PLATFORMS", "cpu")
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if out.returncode:
            sys.stderr.write(out.stderr)
            raise SystemExit(f"{mode} run failed")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        mem = (
            f"peak device {r['peak_device_mb']} MB"
            if "peak_device_mb" in r
            else f"peak RSS {r['peak_rss_mb']} MB (before forward {r['rss_before_mb']} MB)"
        )
        print(
            f"{r['shape']} {r['mode']:5s} seq={r['seq']} on {r['device']}: "
            f"{r['time_s']:.3f} s/forward (first call incl. compile {r['first_call_s']:.1f} s), "
            f"{mem}, witness {r['witness_mb']} MB",
            flush=True,
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
