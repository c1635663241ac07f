"""Prove and verify one decoder layer: time per step, proof bytes, peak memory.

    python benchmarks/bench_layer.py --shape smollm2 --seq 16 64          # CPU, real SmolLM2 layer 0
    python benchmarks/bench_layer.py --device gpu --shape 7b-layer --seq 256 2048

Per sequence length, in a fresh subprocess: the fixed-point forward with its witness, layer 0's
weights committed (weights.commit_all), then `layer.prove` twice (the first call includes JAX's
compilation of every op; the second is the steady state reported as "prove"), then
`layer.verify`. With --jit the prover is one `jax.jit` program (compile time reported apart).
Per-step times come from `layer.prove(progress=...)` on the steady-state run (eager only), with
the device's running peak memory after each step (GPU). `--verify-on cpu` verifies on the host's
CPU (the intended use: the verifier works on Python integers and small steps) after moving the
proof there; `same` verifies on the proving device. If a run fails (e.g. out of device memory),
the device's memory statistics and its largest live arrays go to stderr. `--cache DIR` shares
JAX's persistent compilation cache between the per-length processes (every eager op compiles
once per shape; on a GPU that dominates the first call).

`--modes plain zk` proves the same layer in both modes (same weights, commitments, inputs and
keys; a fresh process per mode, as per length: one process compiling both modes' provers and a
verifier ran out of XLA code mappings on the 2-core machine) and prints the zero-knowledge
overhead side by side: prove time, proof bytes, verify time. The default is the
zero-knowledge mode alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _peak(dev) -> float:
    if dev.platform == "gpu":
        return dev.memory_stats().get("peak_bytes_in_use", 0) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _diagnose(dev) -> None:
    """Memory statistics and the largest live arrays, to stderr (after a failure)."""
    import jax

    try:
        stats = dev.memory_stats() or {}
        print("memory_stats (MiB): " + json.dumps({k: round(v / 2**20, 1) for k, v in
                                                   stats.items() if "bytes" in k}),
              file=sys.stderr)
        arrs = sorted(jax.live_arrays(), key=lambda a: -a.nbytes)
        total = sum(a.nbytes for a in arrs)
        print(f"live arrays: {len(arrs)}, {total / 2**20:.1f} MiB; largest:", file=sys.stderr)
        for a in arrs[:15]:
            print(f"  {a.dtype}{tuple(a.shape)} {a.nbytes / 2**20:.1f} MiB", file=sys.stderr)
    except Exception as e:  # noqa: BLE001  (diagnostics must not hide the original error)
        print(f"(diagnostics failed: {e})", file=sys.stderr)


def log_cache_clears() -> None:
    """Print codecache's notes (when it drops every compiled executable, so that the next steps
    recompile) to stderr with the time."""
    import logging

    logging.basicConfig(format="  %(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("zkllm_jax.codecache").setLevel(logging.INFO)


def single(shape: str, seq: int, device: str, jit: bool, verify_on: str = "same",
           once: bool = False, modes: tuple[str, ...] = ("zk",), digits: str | None = None,
           trace: str | None = None) -> dict:
    import jax

    log_cache_clears()
    dev = jax.devices(device)[0]
    try:
        return _single(shape, seq, device, jit, verify_on, once, modes, digits, trace)
    except Exception:
        _diagnose(dev)
        raise


def _stage(msg: str, t0: list, dev=None) -> None:
    """Progress (and the device's running peak memory) to stderr, so a run stopped by --timeout
    shows how far it got."""
    peak = ""
    if dev is not None:
        peak = f" (peak {_peak(dev):.0f} MiB"
        if dev.platform == "gpu":
            peak += f", in use {dev.memory_stats().get('bytes_in_use', 0) / 2**20:.0f} MiB"
        peak += ")"
    print(f"[{time.perf_counter() - t0[0]:7.1f} s] {msg}{peak}", file=sys.stderr, flush=True)


def _single(shape: str, seq: int, device: str, jit: bool, verify_on: str, once: bool,
            modes: tuple[str, ...], digits: str | None = None, trace: str | None = None
            ) -> dict:
    import jax
    from bench_models import _load
    from zkllm_jax.models import FixedPointConfig, run

    from zkllm_jax import layer, model, weights
    from zkllm_jax.transcript import Transcript

    dev = jax.devices(device)[0]
    jax.config.update("jax_default_device", dev)
    clock = [time.perf_counter()]
    fx = (FixedPointConfig(softmax_digit_bits=tuple(int(b) for b in digits.split(",")))
          if digits else None)
    m, fx, _, tables, ids = _load(shape, seq, "fixed", fx)
    _stage("model loaded", clock, dev)
    t0 = time.perf_counter()
    _, wit = run(m.params, tables, ids, cfg=m.cfg, fx=fx, mode="fixed")
    jax.block_until_ready(wit)
    t_fwd = time.perf_counter() - t0
    _stage(f"forward {t_fwd:.1f} s", clock, dev)
    lw = jax.tree_util.tree_map(lambda a: a[0], wit["layers"])
    del wit  # the slice is a copy: at 2048 tokens the model's witness is another 10 GiB
    sp = model.spec(m.cfg, fx, seq)
    names = sp.layer_weights(0)
    ts = weights.tensors(m.params, m.cfg)
    lts = {n: ts[g] for n, g in names.items()}
    seed = b"\x07" * 32
    wgens = weights.generators(weights.max_cols(ts))
    t0 = time.perf_counter()
    wcoms = weights.commit_all(lts, seed)
    jax.block_until_ready(wcoms)
    t_wcommit = time.perf_counter() - t0
    _stage(f"forward {t_fwd:.1f} s, weights committed {t_wcommit:.1f} s", clock, dev)
    wwits = weights.witnesses(lts, seed)
    pub = layer.public(sp.layer, tables)
    in_coms, in_wits = layer.commit_tensors(layer.pieces(lw["input"]),
                                            layer.advice_generators(sp.layer),
                                            jax.random.PRNGKey(2))
    out: dict = {"shape": shape, "seq": seq, "device": str(dev), "jit": jit,
                 "softmax_digit_bits": list(fx.softmax_digit_bits),
                 "forward_s": round(t_fwd, 3), "weight_commit_s": round(t_wcommit, 3)}
    for mode in modes:
        t_start = Transcript.new(b"bench/layer", zk=mode == "zk")
        args = (sp.layer, lts, wcoms, wwits, wgens, lw, in_coms, in_wits, pub, t_start,
                jax.random.PRNGKey(3))
        res = _prove_verify(args, jit, dev, verify_on, clock, once, trace)
        if len(modes) == 1:
            out.update(res, mode=mode)
        else:
            out[mode] = res
    return out


def _prove_verify(args: tuple, jit: bool, dev, verify_on: str, clock: list,
                  once: bool = False, trace: str | None = None) -> dict:
    """Prove twice (first call, then the timed steady state) and verify, in the transcript's
    mode; with `trace`, a third (eager) prove under JAX's profiler, summarised per step, instead
    of the verification."""
    import jax
    import numpy as np

    from zkllm_jax import layer, proof

    out: dict = {}
    if jit:
        fn = jax.jit(lambda *a: layer.prove(*a, check_witness=False)[0:3:2],
                     static_argnums=(0,))
        t0 = time.perf_counter()
        prf, t_end = fn(*args)
        jax.block_until_ready(prf)
        out["first_prove_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        prf, t_end = fn(*args)
        jax.block_until_ready(prf)
        out["prove_s"] = round(time.perf_counter() - t0, 3)
    else:
        last0 = [time.perf_counter()]
        steps0: dict[str, float] = {}
        peaks0: dict[str, float] = {}

        def progress0(name: str) -> None:  # the first prove's steps, to stderr (as it goes)
            steps0[name] = round(time.perf_counter() - last0[0], 3)
            peaks0[name] = round(_peak(dev), 1)
            _stage(f"first prove: {name} {steps0[name]:.1f} s", clock, dev)
            last0[0] = time.perf_counter()

        t0 = time.perf_counter()
        prf, _, t_end = layer.prove(*args, progress=progress0)
        jax.block_until_ready(prf)
        out["first_prove_s"] = round(time.perf_counter() - t0, 3)
        _stage(f"first prove {out['first_prove_s']} s", clock, dev)
    if not jit and once:
        out["prove_s"] = out["first_prove_s"]
        out["steps_s"], out["peak_after_step_mb"] = steps0, peaks0
    elif not jit:
        steps: dict[str, float] = {}
        peaks: dict[str, float] = {}
        last = [time.perf_counter()]

        def progress(name: str) -> None:
            now = time.perf_counter()
            steps[name] = round(now - last[0], 3)
            peaks[name] = round(_peak(dev), 1)
            last[0] = now
            _stage(f"prove: {name} {steps[name]:.1f} s", clock, dev)

        t0 = last[0] = time.perf_counter()
        prf, _, t_end = layer.prove(*args, progress=progress)
        jax.block_until_ready(prf)
        out["prove_s"] = round(time.perf_counter() - t0, 3)
        out["steps_s"] = steps
        out["peak_after_step_mb"] = peaks
    out["peak_prove_mb"] = round(_peak(dev), 1)
    _stage(f"prove {out['prove_s']} s, peak {out['peak_prove_mb']} MiB", clock)
    if trace and not jit:
        from trace_summary import MARK, summarize

        def mark(name: str) -> None:
            with jax.profiler.TraceAnnotation(MARK + name):
                pass

        with jax.profiler.trace(trace):
            mark("start")
            jax.block_until_ready(layer.prove(*args, progress=mark)[0])
        # "[" lines reach the parent's log even when the run is stopped by --timeout
        out["trace"] = summarize(trace, prefix="[trace] ")
        _stage("traced prove summarised; no verification after a trace", clock)
        return out
    sp_layer, _, wcoms, _, wgens, _, in_coms, _, pub, t_start, _ = args
    # drop the provers' executables before the verifier compiles its own: after two proves,
    # XLA's CPU compiler ran out of memory for code ("LLVM compilation error: Cannot allocate
    # memory") on the 2-core machine
    jax.clear_caches()
    vargs = (wcoms, wgens, in_coms, prf, pub, t_start)
    vdev = dev
    if verify_on == "cpu" and dev.platform != "cpu":
        vdev = jax.devices("cpu")[0]
        jax.config.update("jax_default_device", vdev)
        vargs = jax.device_put(vargs, vdev)
    out["verify_device"] = str(vdev)
    t0 = time.perf_counter()
    _, tv = layer.verify(sp_layer, *vargs)
    out["verify_s"] = round(time.perf_counter() - t0, 3)
    out["transcripts_agree"] = bool(np.array_equal(np.asarray(tv.state), np.asarray(t_end.state)))
    out["proof_bytes"] = len(proof.tree_to_bytes(prf))
    out["peak_mb"] = round(_peak(dev), 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="smollm2", choices=("smollm2", "smollm2-layer", "7b-layer"),
                   help="smollm2: the embedded model's layer 0; smollm2-layer / 7b-layer: one "
                   "layer of those shapes with random weights")
    p.add_argument("--seq", type=int, nargs="+", default=[16, 64])
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--jit", action="store_true")
    p.add_argument("--verify-on", default="same", choices=("same", "cpu"),
                   help="verify on the proving device (same) or on the host CPU")
    p.add_argument("--cache", help="JAX persistent compilation cache directory, shared by the "
                   "per-length processes")
    p.add_argument("--timeout", type=float, help="seconds allowed per sequence length")
    p.add_argument("--once", action="store_true", help="prove once (eager; the first prove, "
                   "compilation included, is the one reported)")
    p.add_argument("--modes", nargs="+", choices=("zk", "plain"), default=["zk"],
                   help="proof modes to run on the same layer in one process (e.g. plain zk)")
    p.add_argument("--softmax-digits", metavar="B,B[,B]",
                   help="the softmax's exp digit widths (FixedPointConfig.softmax_digit_bits; "
                   "default: the config's), to compare digit layouts on one layer")
    p.add_argument("--max-lookup-log", type=int, metavar="N",
                   help="rangecheck.MAX_LOOKUP_LOG for this run (a protocol constant: prover "
                   "and verifier both use N), to compare lookup sizes on one layer")
    p.add_argument("--trace", metavar="DIR", help="also profile a third (steady, eager) prove "
                   "with JAX's profiler into DIR and print, per step, the device's busy time "
                   "and its costliest kernels (benchmarks/trace_summary.py)")
    p.add_argument("--single", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.single is not None:
        if a.max_lookup_log is not None:  # in the child only: the parent never touches a device
            from zkllm_jax.gadgets import rangecheck

            rangecheck.MAX_LOOKUP_LOG = a.max_lookup_log
        print("RESULT " + json.dumps(single(a.shape, a.single, a.device, a.jit, a.verify_on,
                                                  a.once, tuple(a.modes), a.softmax_digits,
                                                  a.trace)),
              flush=True)
        return
    env = dict(os.environ)
    if a.cache:
        env.update(JAX_COMPILATION_CACHE_DIR=a.cache,
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    for seq in a.seq:
        by_mode = {}
        for mode in a.modes:
            res = _run_single(a, seq, mode, env)
            if res is not None:
                print(json.dumps(res), flush=True)
                by_mode[mode] = res
        if len(by_mode) == 2:
            print(_overhead(by_mode["plain"], by_mode["zk"]), flush=True)


def _run_single(a: argparse.Namespace, seq: int, mode: str, env: dict) -> dict | None:
    """One length in one mode, in a fresh process; None (and the reason printed) on failure."""
    cmd = [sys.executable, __file__, "--shape", a.shape, "--device", a.device,
           "--verify-on", a.verify_on, "--single", str(seq), "--modes", mode] + (
               ["--jit"] if a.jit else []) + (["--once"] if a.once else []) + (
               ["--softmax-digits", a.softmax_digits] if a.softmax_digits else []) + (
               ["--max-lookup-log", str(a.max_lookup_log)] if a.max_lookup_log else []) + (
               ["--trace", a.trace] if a.trace else [])
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env,
                           timeout=a.timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        keep = [x for x in err.splitlines() if x.startswith("[")]
        print(f"{a.shape} seq {seq} {mode}: TIMEOUT after {a.timeout} s\n"
              + "\n".join(keep[-60:]), flush=True)
        return None
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
    if r.returncode or not line:
        # the progress lines, the memory diagnostics, then the end of the traceback
        keep = [x for x in r.stderr.splitlines()
                if x.startswith(("[", "memory_stats", "live arrays"))]
        print(f"{a.shape} seq {seq} {mode}: FAILED (exit {r.returncode})\n" + "\n".join(keep)
              + f"\n{r.stderr[-2500:]}", flush=True)
        return None
    return json.loads(line[0][7:])


def _overhead(p: dict, z: dict) -> str:
    """The zero-knowledge mode's result against the plain one's, side by side."""
    rows = [f"{z['shape']} seq {z['seq']} on {z['device']}: plain vs zero-knowledge"]
    for key, unit in (("prove_s", "s"), ("verify_s", "s"), ("proof_bytes", "B")):
        rows.append(f"  {key:12s} {p[key]:>12,} {unit} {z[key]:>12,} {unit}  "
                    f"x{z[key] / p[key]:.3f}")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
