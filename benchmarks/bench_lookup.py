"""Benchmark of the LogUp-GKR lookup (issue 6): a range lookup of 2^n values into a 2^k table.

    python benchmarks/bench_lookup.py                    # CPU: 2^20 values into [-2^15, 2^15)
    python benchmarks/bench_lookup.py --device gpu       # the same on the GPU
    python benchmarks/bench_lookup.py --log-n 16 --log-table 12
    python benchmarks/bench_lookup.py --device gpu --modes plain zk --eager   # zk overhead
    python benchmarks/bench_lookup.py --device gpu --log-n 27 --eager --trace /tmp/tr  # profile

`--modes plain zk` proves the same lookup with a plain and a zero-knowledge transcript (masked
layer sumchecks, each with its committed mask and opening) side by side; `--eager` runs the
prover op by op as the layer's finish does (each layer's sumcheck is its own jitted program)
instead of as one jitted program.

Times are wall-clock medians after a warm-up (compilation excluded), with block_until_ready;
the prover runs under jax.jit, the verifier eagerly (as a verifier process would). Prints one
JSON object per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np


def _timeit(fn, reps: int) -> tuple[float, float]:
    t = time.perf_counter()
    jax.block_until_ready(fn())  # compile + warm up
    first = time.perf_counter() - t
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times), first


def _peak_bytes() -> int | None:
    """XLA's peak bytes in use on the default device so far (None where it keeps no stats)."""
    stats = jax.devices()[0].memory_stats() if jax.default_backend() != "cpu" else None
    return stats.get("peak_bytes_in_use") if stats else None


def bench_range_lookup(log_n: int, log_table: int, reps: int, device: str, mode: str,
                       eager: bool, trace: str | None = None) -> None:
    from zkllm_jax import lookup, proof
    from zkllm_jax.transcript import Transcript

    lo = -(1 << (log_table - 1))
    table = lookup.range_table(lo, log_table)
    gens = lookup.setup(table)
    x = jax.random.randint(jax.random.PRNGKey(0), (1 << log_n,), lo, lo + (1 << log_table),
                           dtype=jnp.int32)
    t0 = Transcript.new(b"bench", zk=mode == "zk")
    key = jax.random.PRNGKey(1)
    lookup.check_witness(table, x)

    def prove(v, t, k):
        return lookup.prove(table, v, t, gens, k)[1]

    if not eager:
        prove = jax.jit(prove)
    sec_prove, first_prove = _timeit(lambda: prove(x, t0, key), reps)
    prf = prove(x, t0, key)
    sec_verify, first_verify = _timeit(
        lambda: lookup.verify(table, [x.shape], prf, t0, gens)[1].state, reps)
    data = proof.tree_to_bytes(prf) if mode == "zk" else proof.to_bytes(prf)
    lay = lookup.layout(table, [x.shape])
    # the multiplicities: the native histogram next to the XLA scatter it replaced
    native = jax.jit(lambda v: lookup.multiplicities(table, v))
    scatter = jax.jit(lambda v: jnp.zeros((table.size,), jnp.int32).at[v - lo].add(1))
    if not np.array_equal(np.asarray(native(x)), np.asarray(scatter(x))):
        raise AssertionError("the native histogram differs from the XLA scatter")
    sec_hist, _ = _timeit(lambda: native(x), reps)
    sec_scatter, _ = _timeit(lambda: scatter(x), reps)
    print(json.dumps({
        "bench": "range_lookup", "device": device, "mode": mode, "eager": eager,
        "log_n": log_n, "log_table": log_table,
        "prove_s": sec_prove, "verify_s": sec_verify, "first_prove_s": first_prove,
        "first_verify_s": first_verify, "proof_bytes": len(data), "leaf_vars": lay.h,
        "commitment_rows": int(prf.multiplicity_commitment.shape[0]),
        "peak_device_bytes": _peak_bytes(), "multiplicities_s": sec_hist,
        "scatter_multiplicities_s": sec_scatter}), flush=True)
    if trace:
        from bench_sumcheck_parts import _summarize_trace

        with jax.profiler.trace(trace, create_perfetto_trace=True):
            jax.block_until_ready(prove(x, t0, key))
        _summarize_trace(trace)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--log-n", type=int, default=20, help="log2 of the number of looked-up values")
    ap.add_argument("--log-table", type=int, default=16, help="log2 of the range table's size")
    ap.add_argument("--modes", nargs="+", choices=("zk", "plain"), default=["zk"])
    ap.add_argument("--eager", action="store_true", help="op by op, as the finish proves")
    ap.add_argument("--trace", metavar="DIR", help="also profile one prove of the last mode and "
                    "print the costliest events")
    args = ap.parse_args()
    if args.device == "gpu":
        if not any(d.platform == "gpu" for d in jax.devices()):
            raise SystemExit("bench_lookup: --device gpu but JAX sees no GPU")
        dev = next(d for d in jax.devices() if d.platform == "gpu")
    else:
        dev = jax.devices("cpu")[0]
    with jax.default_device(dev):
        for i, mode in enumerate(args.modes):
            last = i == len(args.modes) - 1
            bench_range_lookup(args.log_n, args.log_table, args.reps, args.device, mode,
                               args.eager, args.trace if last else None)


if __name__ == "__main__":
    main()
