"""CPU MSM: ours vs py-arkworks-bls12381's multiexp, side by side in one run.

    python benchmarks/bench_cpu_msm.py [--sizes 12,16,18] [--int32-log 20] [--repeat 3]

Prints a table (median seconds of `--repeat` runs) and checks that both give the same point.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import py_arkworks_bls12381 as ark

from zkllm_jax import curve, field


def ark_point_array(n: int, rng: random.Random) -> tuple[list, jax.Array]:
    """n distinct points (cheap to make: sums of 64 random points), in both representations."""
    g = ark.G1Point()
    seeds = [g * ark.Scalar(rng.randrange(field.R)) for _ in range(64)]
    pts, acc = [], ark.G1Point.identity()
    for i in range(n):
        acc = acc + seeds[i % 64]
        pts.append(acc)
    xs, ys = [], []
    for q in pts:
        b = q.to_xy_bytes_be()
        xs.append(int.from_bytes(b[:48], "big"))
        ys.append(int.from_bytes(b[48:], "big"))
    ours = curve.from_affine(np.array(xs, dtype=object), np.array(ys, dtype=object),
                             validate_points=False)
    return pts, ours


def timed(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="12,16,18")
    ap.add_argument("--int32-log", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(1)
    print(f"# CPU MSM, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"jax {jax.__version__}")
    print(f"{'case':28s} {'ours (s)':>10s} {'arkworks (s)':>13s} {'ratio':>7s}")
    msm = jax.jit(curve.msm)
    for lg in [int(s) for s in args.sizes.split(",")]:
        n = 1 << lg
        apts, pts = ark_point_array(n, rng)
        ks = [rng.randrange(field.R) for _ in range(n)]
        sc = field.encode(np.array(ks, dtype=object))
        aks = [ark.Scalar(k) for k in ks]
        msm(pts, sc).block_until_ready()
        t_ours = timed(lambda pts=pts, sc=sc: msm(pts, sc).block_until_ready(), args.repeat)
        t_ark = timed(lambda apts=apts, aks=aks: ark.G1Point.multiexp_unchecked(apts, aks),
                      args.repeat)
        got = bytes(np.asarray(curve.to_compressed(msm(pts, sc))))
        want = bytes(ark.G1Point.multiexp_unchecked(apts, aks).to_compressed_bytes())
        assert got == want, "MSM results differ"
        print(f"{f'2^{lg} random Fr scalars':28s} {t_ours:10.3f} {t_ark:13.3f} "
              f"{t_ark / t_ours:6.2f}x")
    lg = args.int32_log
    n = 1 << lg
    _, pts = ark_point_array(n, rng)
    k32 = jnp.asarray(np.array([rng.randrange(-(2**31), 2**31) for _ in range(n)], np.int32))
    msm(pts, k32).block_until_ready()
    t = timed(lambda: msm(pts, k32).block_until_ready(), args.repeat)
    print(f"{f'2^{lg} int32 scalars':28s} {t:10.3f} {'-':>13s}")


if __name__ == "__main__":
    main()
