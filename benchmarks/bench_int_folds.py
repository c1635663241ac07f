"""Int32 operands folded natively against the field path they replaced (CPU or GPU).

    python benchmarks/bench_int_folds.py [--device gpu]

For the attention context gadget, the gate/up siblings and `claims.evaluate`, each jitted twice:
the field path (the int32 operands encoded first, as the gadgets did before) and the int32 path
(`mle.partial_evaluate` / `mle.evaluate_i32` fold them with `field.fold_rows_i32`). Prints the
compiled programs' temp bytes (`memory_analysis`), the median of 3 steady calls and whether
both give the same output. Shapes are a fraction of a 7B layer's at 2048 tokens.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np


def _compare(name, old, new, args) -> None:
    res = {"case": name}
    outs = []
    for tag, f in (("field", old), ("int32", new)):
        comp = jax.jit(f).lower(*args).compile()
        ma = comp.memory_analysis()
        outs.append(jax.block_until_ready(comp(*args)))
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(comp(*args))
            ts.append(time.perf_counter() - t0)
        res[f"{tag}_temp_mib"] = round(ma.temp_size_in_bytes / 2**20, 1) if ma else None
        res[f"{tag}_s"] = round(sorted(ts)[1], 4)
    res["same_output"] = all(np.array_equal(np.asarray(a), np.asarray(b))
                             for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(outs[1])))
    print(json.dumps(res), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    a = ap.parse_args()
    jax.config.update("jax_default_device", jax.devices(a.device)[0])
    from zkllm_jax import claims, field, mle
    from zkllm_jax.claims import Claim
    from zkllm_jax.gadgets import matmul
    from zkllm_jax.transcript import Transcript

    rng = np.random.default_rng(0)
    t0 = Transcript.new(b"bench-int-folds", zk=False)

    def ints(lo, hi, shape):
        return jnp.asarray(rng.integers(lo, hi, shape), jnp.int32)

    def claim(n, s=0):
        return Claim(point=field.encode(list(range(s + 3, s + 3 + n))), value=field.encode(5 + s))

    # attention context: probs (8, 512, 512) · v (8, 512, 64)
    p, v = ints(0, 1 << 16, (8, 512, 512)), ints(-(1 << 15), 1 << 15, (8, 512, 64))
    c = claim(mle.num_vars(8) + mle.num_vars(512) + mle.num_vars(64))
    _compare("prove_context 8x512x512",
             lambda p, v, c, t: matmul.prove_context(field.encode(p), field.encode(v), c, t)[1],
             lambda p, v, c, t: matmul.prove_context(p, v, c, t)[1], (p, v, c, t0))
    # gate/up siblings: x (256, 1024), two weights (2752, 1024)
    x = ints(-(1 << 15), 1 << 15, (256, 1024))
    ws = [ints(-(1 << 15), 1 << 15, (2752, 1024)) for _ in range(2)]
    cs = [claim(mle.num_vars(256) + mle.num_vars(2752), s) for s in range(2)]
    _compare("prove_siblings 256x1024x2752",
             lambda x, ws, c, t: matmul.prove_siblings(x, [field.encode(w) for w in ws], c, t)[1],
             lambda x, ws, c, t: matmul.prove_siblings(x, ws, c, t)[1], (x, ws, cs, t0))
    # one advice tensor's MLE value
    shape = (16, 512, 512)
    y = ints(-(1 << 15), 1 << 15, shape)
    pt = claim(sum(mle.num_vars(d) for d in shape)).point
    _compare("claims.evaluate 16x512x512",
             lambda y, pt: mle.evaluate_tensor(field.encode(y), mle.split_point(pt, shape)),
             claims.evaluate, (y, pt))


if __name__ == "__main__":
    main()
