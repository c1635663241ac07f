"""Benchmarks of the proof core (issue 4): sumcheck rounds, MLE folds, Hyrax commit/open/verify.

    python benchmarks/bench_core.py                  # CPU: sumcheck 2^20, Hyrax 2^20
    python benchmarks/bench_core.py --device gpu     # GPU: sumcheck 2^24 (deg 2), fold 2^27
    python benchmarks/bench_core.py --device gpu --parts hyrax --log-n 16 24   # openings

Times are wall-clock medians after a warm-up (compilation excluded), with block_until_ready.
Prints one JSON object per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp


def _timeit(fn, reps: int) -> float:
    jax.block_until_ready(fn())  # compile + warm up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _report(**kw) -> None:
    print(json.dumps(kw), flush=True)


def bench_sumcheck(log_n: int, reps: int, device: str) -> None:
    from zkllm_jax import field, sumcheck
    from zkllm_jax.transcript import Transcript

    tabs = field.random(jax.random.PRNGKey(0), (2, 1 << log_n))
    t0 = Transcript.new(b"bench")
    prove = jax.jit(lambda a, t: sumcheck.prove(a, t)[1])
    sec = _timeit(lambda: prove(tabs, t0), reps)
    _report(bench="sumcheck_deg2", device=device, log_n=log_n, seconds=sec,
            proof_bytes=32 * (3 * log_n + 2))


def bench_fold(log_n: int, reps: int, device: str) -> None:
    from zkllm_jax import field, mle

    tab = jax.random.bits(jax.random.PRNGKey(1), (1 << log_n, 8), dtype=jnp.uint32) >> 2
    r = field.encode(12345)
    fold = jax.jit(mle.fold_unchecked)
    sec = _timeit(lambda: fold(tab, r), reps)
    moved = (1 << log_n) * 32 * 1.5  # read n elements, write n/2
    _report(bench="mle_fold", device=device, log_n=log_n, seconds=sec,
            effective_TBps=moved / sec / 1e12)


def bench_hyrax(log_n: int, reps: int, device: str) -> None:
    from zkllm_jax import commit, field, proof
    from zkllm_jax.transcript import Transcript

    side = 1 << (log_n // 2)
    x = jax.random.randint(jax.random.PRNGKey(2), (1 << (log_n - log_n // 2), side),
                           -(2**16), 2**16, dtype=jnp.int32)
    gens = commit.setup(1 << ((log_n + 1) // 2), b"zkllm-bench/hyrax")
    t0 = Transcript.new(b"bench")
    key = jax.random.PRNGKey(3)
    com_fn = jax.jit(commit.commit, static_argnums=(3,))
    sec_commit = _timeit(lambda: com_fn(x, gens, key, None), reps)
    cm, w = com_fn(x, gens, key, None)
    pt = field.random(jax.random.PRNGKey(4), (cm.num_vars,))
    open_fn = jax.jit(lambda c, w, p, t, k: commit.prove_opening([c], [w], p, gens, t, k))
    sec_open = _timeit(lambda: open_fn(cm, w, pt, t0, key), reps)
    vals, prf, _ = open_fn(cm, w, pt, t0, key)
    sec_verify = _timeit(lambda: commit.verify_opening([cm], pt, vals, prf, gens, t0), reps)
    _report(bench="hyrax_int32", device=device, log_n=log_n, rows=int(cm.rows.shape[0]),
            cols=1 << cm.col_vars, commit_s=sec_commit, open_s=sec_open, verify_s=sec_verify,
            opening_proof_bytes=len(proof.to_bytes(prf)),
            commitment_bytes=48 * int(cm.rows.shape[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--log-n", type=int, nargs="+", default=None,
                    help="override the size (log2); several sizes run one after another")
    ap.add_argument("--parts", nargs="+", choices=("sumcheck", "fold", "hyrax"), default=None,
                    help="what to run (default: sumcheck and fold on the GPU, sumcheck and "
                    "hyrax on the CPU)")
    args = ap.parse_args()
    gpu = args.device == "gpu"
    if gpu and not any(d.platform == "gpu" for d in jax.devices()):
        raise SystemExit("bench_core: --device gpu but JAX sees no GPU")
    dev = next(d for d in jax.devices() if d.platform == "gpu") if gpu else jax.devices("cpu")[0]
    parts = args.parts or (["sumcheck", "fold"] if gpu else ["sumcheck", "hyrax"])
    reps = max(args.reps, 5) if gpu else args.reps
    with jax.default_device(dev):
        for log_n in args.log_n or [None]:
            if "sumcheck" in parts:
                bench_sumcheck(log_n or (24 if gpu else 20), reps, args.device)
            if "fold" in parts:
                bench_fold(log_n + 3 if log_n else (27 if gpu else 23), reps, args.device)
            if "hyrax" in parts:
                bench_hyrax(log_n or 20, reps, args.device)

if __name__ == "__main__":
    main()
