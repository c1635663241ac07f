"""Where a sumcheck prove spends its time: the whole prove by size (plain and zero-knowledge), one
native round by size, the transcript steps of one round and the pieces of a zero-knowledge mask.

    python benchmarks/bench_sumcheck_parts.py            # on the default device (GPU if present)

Every part is one jitted function timed by wall clock after a warm-up (median of --reps), with
block_until_ready. The native-round and transcript parts run `--chain` dependent steps inside one
jit (each step's challenge is the previous step's output), so per-step numbers include the launch
gaps a real prove pays and exclude the per-jit dispatch. Prints one JSON object per line, then a
short table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax


def _timeit(fn, reps: int) -> float:
    jax.block_until_ready(fn())
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _summarize_trace(folder: str, top: int = 30) -> None:
    """Total duration and count per event name of the newest perfetto trace under `folder`."""
    import collections
    import glob
    import gzip
    import os
    import re

    path = max(glob.glob(os.path.join(folder, "**", "perfetto_trace.json.gz"), recursive=True),
               key=os.path.getmtime)
    with gzip.open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            name = re.sub(r"\.\d+$", "", e["name"])  # ffi_call.937 -> ffi_call
            total[name] += e["dur"]
            count[name] += 1
    print(f"trace {path}: the {top} costliest event names (sum of durations, us)")
    for name, dur in total.most_common(top):
        print(f"  {dur:12.1f} us  x{count[name]:<5} {name[:110]}")


def main() -> None:
    from zkllm_jax import commit, curve, field, prng, sumcheck
    from zkllm_jax.transcript import Transcript

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--chain", type=int, default=16)
    ap.add_argument("--max-log-n", type=int, default=24, help="largest table size (log2)")
    ap.add_argument("--trace", metavar="DIR", help="also profile one zero-knowledge prove at "
                    "2^12 with jax.profiler into DIR and print its costliest events")
    args = ap.parse_args()
    rows = []

    def report(**kw):
        print(json.dumps(kw), flush=True)
        rows.append(kw)

    t0 = Transcript.new(b"bench", zk=False)
    tz = Transcript.new(b"bench").with_rng(prng.fresh())
    key = jax.random.PRNGKey(0)
    big = field.random(key, (2, 1 << args.max_log_n))
    prove = jax.jit(lambda a, t: sumcheck.prove(a, t)[1])
    for log_n in (24, 20, 16, 12, 8, 4):
        if log_n > args.max_log_n:
            continue
        tabs = big[:, : 1 << log_n]
        for mode, t in (("plain", t0), ("zk", tz)):
            sec = _timeit(lambda tabs=tabs, t=t: prove(tabs, t), args.reps)
            report(part=f"prove_k2_deg2_{mode}", log_n=log_n, ms=sec * 1e3,
                   ms_per_round=sec * 1e3 / log_n)

    # the pieces of one mask of 2^6 coefficients (m = 20 rounds of degree 3)
    n = sumcheck.mask_len(20, 3)
    gens = sumcheck.mask_generators(n)
    vec, blind = field.random(key, (n,)), field.random(jax.random.PRNGKey(3), ())
    a = field.random(jax.random.PRNGKey(4), (n,))
    com = jax.jit(commit.commit_vector)(vec, blind, gens)
    pieces = {
        "mask_commit": (jax.jit(commit.commit_vector), (vec, blind, gens)),
        "mask_opening": (jax.jit(lambda v, b, c, a, g, t, k: commit.prove_vector_opening(
            v, b, c, a, g, t, k)[1]), (vec, blind, com, a, gens, tz, prng.fresh())),
        "msm_half": (jax.jit(curve.msm), (gens.g[: n // 2], vec[: n // 2])),
        "scalar_mul_half": (jax.jit(curve.scalar_mul), (gens.g[: n // 2], vec[: n // 2])),
        "field_inv": (jax.jit(field.inv), (vec[0],)),
        "challenge": (jax.jit(lambda t: t.challenge(b"x")[0]), (tz,)),
    }
    for name, (fn, xs) in pieces.items():
        sec = _timeit(lambda fn=fn, xs=xs: fn(*xs), args.reps)
        report(part=name, log_n=n.bit_length() - 1, us=sec * 1e6)

    if args.trace:
        tabs = big[:, : 1 << 12]
        jax.block_until_ready(prove(tabs, tz))
        with jax.profiler.trace(args.trace, create_perfetto_trace=True):
            jax.block_until_ready(prove(tabs, tz))
        _summarize_trace(args.trace)

    # one fused fold-round pass (K = 2, degree 2) per size, chained through its p(0)
    def chained_rounds(tabs, r):
        for _ in range(args.chain):
            _, ev = sumcheck.fold_round(tabs, r)
            r = ev[0]
        return r

    chained = jax.jit(chained_rounds)
    r0 = field.random(jax.random.PRNGKey(1), ())
    for log_n in (24, 22, 20, 18, 16, 12, 8, 4, 2):
        if log_n > args.max_log_n:
            continue
        tabs = big[:, : 1 << log_n]
        sec = _timeit(lambda tabs=tabs: chained(tabs, r0), args.reps) / args.chain
        moved = 2 * (1 << log_n) * 32 * 1.5
        report(part="fold_round_k2", log_n=log_n, us=sec * 1e6, TBps=moved / sec / 1e12)

    # round 0's pass (no fold) at 2^24
    first = jax.jit(lambda tabs: sumcheck.round_evals(tabs))
    sec = _timeit(lambda: first(big), args.reps)
    report(part="round_evals_k2", log_n=args.max_log_n, us=sec * 1e6,
           TBps=2 * (1 << args.max_log_n) * 32 / sec / 1e12)

    # the transcript work of one round: absorb Fr[3] then squeeze one challenge
    def chained_transcript(t, ev):
        for _ in range(args.chain):
            t = t.absorb_field(b"round", ev)
            r, t = t.challenge(b"r")
            ev = ev.at[0].set(r)
        return t.state

    ct = jax.jit(chained_transcript)
    ev3 = field.random(jax.random.PRNGKey(2), (3,))
    sec = _timeit(lambda: ct(t0, ev3), args.reps) / args.chain
    report(part="transcript_round", us=sec * 1e6)

    print(f"\n{'part':<18}{'log_n':>6}{'time':>14}{'rate':>12}")
    for row in rows:
        if "ms" in row:
            t, rate = f"{row['ms']:.3f} ms", f"{row['ms_per_round']:.3f}/rd"
        else:
            t = f"{row['us']:.1f} us"
            rate = f"{row['TBps']:.2f} TB/s" if "TBps" in row else ""
        print(f"{row['part']:<18}{row.get('log_n', ''):>6}{t:>14}{rate:>12}")


if __name__ == "__main__":
    with jax.default_device(jax.devices()[0]):
        main()
