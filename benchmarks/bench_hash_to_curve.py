"""Hash to curve, generators, SHA-256 and point (de)compression on one device.

    python benchmarks/bench_hash_to_curve.py [--device cpu|gpu] [--gen-log 17] [--repeat 3]

Prints median wall seconds of `--repeat` runs (after one warm-up run that also compiles) and
checks a sample of every result against py-arkworks-bls12381 or hashlib.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import time

import jax
import numpy as np
import py_arkworks_bls12381 as ark

from zkllm_jax import curve, hashing

TAG = b"zkllm-jax benchmark generators"


def timed(fn, repeat: int) -> float:
    jax.block_until_ready(fn())  # warm-up: compilation and first-touch allocation
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--gen-log", type=int, default=17)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    dev = jax.devices(args.device)[0]
    print(f"# {dev.device_kind} ({args.device}), host {platform.machine()} with {os.cpu_count()} "
          f"cores, jax {jax.__version__}")
    rows = []

    with jax.default_device(dev):
        n = 1 << args.gen_log
        t = timed(lambda: curve.generators(n, TAG), args.repeat)
        g = curve.generators(n, TAG)
        for i in (0, n - 1):
            b = ark.G1Point.hash_to_curve(i.to_bytes(8, "big"), TAG).to_compressed_bytes()
            assert bytes(np.asarray(curve.to_compressed(g[i]))) == bytes(b)
        rows.append((f"generators(2^{args.gen_log})", t, f"{n / t:,.0f} points/s"))

        enc = curve.to_compressed(g)
        rows.append((f"to_compressed 2^{args.gen_log}", timed(lambda: curve.to_compressed(g),
                                                              args.repeat), ""))
        dec = jax.jit(curve.from_compressed_with_status)
        t = timed(lambda: dec(enc), args.repeat)
        _, st = dec(enc)
        assert not np.any(np.asarray(st))
        rows.append((f"from_compressed 2^{args.gen_log}", t, f"{n / t:,.0f} points/s"))

        msgs = np.random.default_rng(0).integers(0, 256, (1 << 16, 64), dtype=np.uint8)
        msgs_dev = jax.device_put(msgs, dev)
        h = jax.jit(hashing.sha256)
        t = timed(lambda: h(msgs_dev), args.repeat)
        assert bytes(np.asarray(h(msgs_dev))[7]) == hashlib.sha256(msgs[7].tobytes()).digest()
        rows.append(("sha256 2^16 x 64 B", t, f"{msgs.size / t / 1e6:,.1f} MB/s"))

        one = jax.device_put(msgs[:1, :48], dev)
        rows.append(("sha256 1 x 48 B (jit call)", timed(lambda: h(one), max(args.repeat, 100)),
                     "latency"))

    for name, sec, note in rows:
        print(f"{name:32s} {sec * 1e3:10.2f} ms  {note}")


if __name__ == "__main__":
    main()
