"""GPU primitives: Fr arithmetic, reductions, batch inversion and MSM on one CUDA device.

    python benchmarks/bench_gpu_primitives.py [--out bench_gpu_primitives.json] [--repeat 5]
                                              [--quick] [--platform gpu] [--only TEXT]

Each case is jitted, run once to compile and warm up, then timed as the median of `--repeat`
runs with block_until_ready. A failing case is reported and the others still run. Prints a table
and writes every number (and any error) to the JSON file. MSM results at 2^16 are checked
against the CPU handlers; `--quick` shrinks every size for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from zkllm_jax import curve, ffi, field


def timed(fn: Callable[..., Any], *args: Any, repeat: int) -> float:
    jax.block_until_ready(fn(*args))
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def random_fr(key: jax.Array, n: int) -> jax.Array:
    """n canonical field elements (uniform below 2^254 < r), made on the device."""
    bits = jax.random.bits(key, (n, field.LIMBS), dtype=jnp.uint32)
    return bits.at[:, 7].set(bits[:, 7] & 0x3FFFFFFF)


def random_points(key: jax.Array, n: int) -> jax.Array:
    """n random points k_i·G (Jacobian, Z != 1), computed on the device."""
    k = random_fr(key, n)
    return jax.jit(lambda k: curve.scalar_mul(curve.generator((n,)), k))(k)


class Runner:
    def __init__(self, repeat: int, only: str | None = None):
        self.repeat = repeat
        self.only = only
        self.rows: list[dict[str, Any]] = []

    def case(self, name: str, body: Callable[[], dict[str, Any]]) -> None:
        if self.only and self.only not in name:
            return
        t0 = time.perf_counter()
        try:
            res = body()
            res = {"case": name, **res}
        except Exception as err:  # noqa: BLE001 - one failing case must not stop the others
            res = {"case": name, "error": f"{type(err).__name__}: {err}",
                   "traceback": traceback.format_exc(limit=4)}
        res["wall_s"] = round(time.perf_counter() - t0, 2)
        self.rows.append(res)
        if "error" in res:
            print(f"{name:44s} FAILED: {res['error']}", flush=True)
        else:
            extra = "  ".join(f"{k}={v}" for k, v in res.items()
                              if k not in ("case", "ms", "wall_s"))
            print(f"{name:44s} {res['ms']:10.3f} ms  {extra}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_gpu_primitives.json")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--only", help="run only the cases whose name contains this text")
    ap.add_argument("--platform", default="gpu", help="cpu: dry run of this script")
    args = ap.parse_args()
    try:
        gpu = jax.devices(args.platform)[0]
    except RuntimeError:
        sys.exit(f"no {args.platform} device visible to JAX")
    if args.platform == "gpu" and not ffi.HAS_CUDA_MODULE:
        sys.exit("the zkllm CUDA module is not built")
    cpu = jax.devices("cpu")[0]
    q = 6 if args.quick else 0  # shift every size down by q bits
    info = {"device": gpu.device_kind, "jax": jax.__version__, "host": platform.node(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "repeat": args.repeat}
    print(f"# {info['device']}, jax {info['jax']}, {info['date']}, median of {args.repeat}")
    run = Runner(args.repeat, args.only)
    key = jax.random.PRNGKey(0)
    keys = list(jax.random.split(key, 16))

    with jax.default_device(gpu):
        def fr_mul() -> dict[str, Any]:
            n = 1 << (26 - q)
            a, b = random_fr(keys[0], n), random_fr(keys[1], n)
            t = timed(jax.jit(field.mul), a, b, repeat=args.repeat)
            return {"ms": t * 1e3, "n": n, "TB/s": round(3 * 32 * n / t / 1e12, 3)}

        def fr_chain() -> dict[str, Any]:
            # x^e with one 256-bit exponent: 256 dependent squarings + popcount(e) products per
            # element, all in registers; counts Fr multiplications per second.
            n = 1 << (21 - q)
            e = int(np.random.default_rng(1).integers(0, 2**63)) | (1 << 255) | (
                int(np.random.default_rng(2).integers(0, 2**63)) << 128)
            muls = 256 + e.bit_count()
            a = random_fr(keys[2], n)
            t = timed(jax.jit(lambda x: field.pow(x, e)), a, repeat=args.repeat)
            return {"ms": t * 1e3, "n": n, "mul_per_elem": muls,
                    "G_mul/s": round(n * muls / t / 1e9, 2)}

        def batch_inv() -> dict[str, Any]:
            n = 1 << (24 - q)
            a = random_fr(keys[3], n)
            t = timed(jax.jit(field.inv), a, repeat=args.repeat)
            return {"ms": t * 1e3, "n": n}

        def fr_sum() -> dict[str, Any]:
            n = 1 << (24 - q)
            a = random_fr(keys[4], n)
            t = timed(jax.jit(field.sum), a[None], repeat=args.repeat)
            return {"ms": t * 1e3, "n": n, "TB/s": round(32 * n / t / 1e12, 3)}

        def fr_inner() -> dict[str, Any]:
            n = 1 << (24 - q)
            a, b = random_fr(keys[5], n), random_fr(keys[6], n)
            t = timed(jax.jit(field.inner_product), a[None], b[None], repeat=args.repeat)
            return {"ms": t * 1e3, "n": n, "TB/s": round(64 * n / t / 1e12, 3)}

        run.case(f"Fr mul, 2^{26 - q} elements", fr_mul)
        run.case(f"Fr pow (chained mul), 2^{21 - q} elements", fr_chain)
        run.case(f"Fr batch inverse, 2^{24 - q}", batch_inv)
        run.case(f"Fr sum, 2^{24 - q}", fr_sum)
        run.case(f"Fr inner product, 2^{24 - q}", fr_inner)

        base_log = 20 - q
        base: dict[str, jax.Array] = {}

        def points(log_n: int) -> jax.Array:
            # 2^20 distinct points, tiled for larger sizes (repeats do not change the work).
            if "p" not in base:
                base["p"] = jax.block_until_ready(random_points(keys[7], 1 << base_log))
            p = base["p"]
            reps = max(1, (1 << log_n) // p.shape[0])
            return jnp.tile(p, (reps, 1, 1))[: 1 << log_n] if reps > 1 else p[: 1 << log_n]

        msm = jax.jit(curve.msm)

        def check(pts: jax.Array, sc: jax.Array, got: jax.Array) -> bool:
            want = msm(jax.device_put(pts, cpu), jax.device_put(sc, cpu))
            return bool(curve.eq(jax.device_put(got, cpu), want))

        def msm_fr(log_n: int) -> Callable[[], dict[str, Any]]:
            def body() -> dict[str, Any]:
                pts = points(log_n)
                sc = random_fr(keys[8], 1 << log_n)
                sc_m = jax.jit(field.from_canonical_limbs)(sc)
                t = timed(msm, pts, sc_m, repeat=args.repeat)
                res = {"ms": t * 1e3, "n": 1 << log_n}
                if log_n <= 16 - q // 2:
                    res["matches_cpu"] = check(pts, sc_m, msm(pts, sc_m))
                return res
            return body

        def msm_i32(log_n: int, rows: int = 0, lo: int = -(2**31), hi: int = 2**31 - 1):
            def body() -> dict[str, Any]:
                pts = points(log_n)
                shape = (rows, 1 << log_n) if rows else (1 << log_n,)
                sc = jax.random.randint(keys[9], shape, lo, hi, dtype=jnp.int32)
                t = timed(msm, pts, sc, repeat=args.repeat)
                res = {"ms": t * 1e3, "n": 1 << log_n, "rows": rows or 1}
                if log_n <= 16 - q // 2 and not rows:
                    res["matches_cpu"] = check(pts, sc, msm(pts, sc))
                return res
            return body

        # small MSMs (masks, inner-product rounds) are latency-bound: their time is the floor
        for lg in (5, 10):
            run.case(f"MSM 2^{lg} random Fr scalars (latency)", msm_fr(lg))
        for lg in (16, 18, 20):
            run.case(f"MSM 2^{lg - q} random Fr scalars", msm_fr(lg - q))
        for lg in (16, 18, 20, 24):
            run.case(f"MSM 2^{lg - q} int32 scalars", msm_i32(lg - q))
        run.case(f"MSM 128 rows x 2^{17 - q}, shared points, int32", msm_i32(17 - q, 128))
        run.case(f"MSM 128 rows x 2^{17 - q}, shared, |k| < 2^15",
                 msm_i32(17 - q, 128, -(2**15), 2**15))

        # Per-step times of the CUDA MSM (the handler synchronises and prints to stderr).
        def profiled() -> dict[str, Any]:
            os.environ["ZKLLM_CUDA_PROFILE"] = "1"
            try:
                sc = jax.jit(field.from_canonical_limbs)(random_fr(keys[11], 32))
                jax.block_until_ready(msm(points(5), sc))
                for lg in (20 - q, 24 - q):
                    sc = jax.random.randint(keys[10], (1 << lg,), -(2**31), 2**31 - 1,
                                            dtype=jnp.int32)
                    jax.block_until_ready(msm(points(lg), sc))
                sc = jax.jit(field.from_canonical_limbs)(random_fr(keys[11], 1 << (20 - q)))
                jax.block_until_ready(msm(points(20 - q), sc))
                sc = jax.random.randint(keys[12], (128, 1 << (17 - q)), -(2**15), 2**15,
                                        dtype=jnp.int32)
                jax.block_until_ready(msm(points(17 - q), sc))
            finally:
                del os.environ["ZKLLM_CUDA_PROFILE"]
            return {"ms": 0.0}

        if args.platform == "gpu":
            run.case("MSM step profile (see stderr)", profiled)

    with open(args.out, "w") as f:
        json.dump({"info": info, "results": run.rows}, f, indent=1)
    print(f"# wrote {args.out}")


if __name__ == "__main__":
    main()
