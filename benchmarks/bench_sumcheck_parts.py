"""Where a sumcheck prove spends its time: the whole prove by size, one native round by size, and
the transcript steps of one round.

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


def main() -> None:
    from zkllm_jax import field, sumcheck
    from zkllm_jax.transcript import Transcript

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--chain", type=int, default=16)
    args = ap.parse_args()
    rows = []

    def report(**kw):
        print(json.dumps(kw), flush=True)
        rows.append(kw)

    t0 = Transcript.new(b"bench")
    key = jax.random.PRNGKey(0)
    big = field.random(key, (2, 1 << 24))
    prove = jax.jit(lambda a, t: sumcheck.prove(a, t)[1])
    for log_n in (24, 20, 16, 12, 8, 4):
        tabs = big[:, : 1 << log_n]
        sec = _timeit(lambda tabs=tabs: prove(tabs, t0), args.reps)
        report(part="prove_k2_deg2", log_n=log_n, ms=sec * 1e3, ms_per_round=sec * 1e3 / log_n)

    # one fused fold-round pass (K = 2, degree 2) per size, chained through its p(0)
    def chained_rounds(tabs, r):
        for _ in range(args.chain):
            _, ev = sumcheck.fold_round(tabs, r)
            r = ev[0]
        return r

    chained = jax.jit(chained_rounds)
    r0 = field.random(jax.random.PRNGKey(1), ())
    for log_n in (24, 22, 20, 18, 16, 12, 8, 4, 2):
        tabs = big[:, : 1 << log_n]
        sec = _timeit(lambda tabs=tabs: chained(tabs, r0), args.reps) / args.chain
        moved = 2 * (1 << log_n) * 32 * 1.5
        report(part="fold_round_k2", log_n=log_n, us=sec * 1e6, TBps=moved / sec / 1e12)

    # round 0's pass (no fold) at 2^24
    first = jax.jit(lambda tabs: sumcheck.round_evals(tabs))
    sec = _timeit(lambda: first(big), args.reps)
    report(part="round_evals_k2", log_n=24, us=sec * 1e6, TBps=2 * (1 << 24) * 32 / sec / 1e12)

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
            t, rate = f"{row['us']:.1f} us", f"{row.get('TBps', 0):.2f} TB/s"
        print(f"{row['part']:<18}{row.get('log_n', ''):>6}{t:>14}{rate:>12}")


if __name__ == "__main__":
    with jax.default_device(jax.devices()[0]):
        main()
