"""Transcript absorbs of long payloads: a 7B model's public logits at 2048 tokens.

Times `Transcript.absorb_field` of int32 logits (T, V) encoded as field elements (what
`model.prove` and `model.verify` absorb first), with the chunk-digest encoding of long payloads
(`transcript.CHUNK_BYTES`), next to the first --one-row-rows rows hashed as one SHA-256 row (the
encoding before it; one GPU thread's work, so its time grows with the bytes), on the default
device.

    python benchmarks/bench_absorb.py [--rows 2048] [--vocab 32000] [--one-row-rows 64]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--one-row-rows", type=int, default=64)
    a = ap.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from zkllm_jax import field, hashing
    from zkllm_jax.transcript import Transcript, field_bytes

    dev = jax.devices()[0]
    out: dict = {"device": str(dev), "rows": a.rows, "vocab": a.vocab}
    logits = np.random.default_rng(0).integers(-2**20, 2**20, (a.rows, a.vocab), dtype=np.int32)
    x = field.encode(jnp.asarray(logits))
    t = Transcript.new(b"bench/absorb")
    one_row = jax.jit(lambda s, v: hashing.sha256(jnp.concatenate([s, field_bytes(v).reshape(-1)])))

    def timed(fn) -> float:
        jax.block_until_ready(fn())  # compile
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        return round(time.perf_counter() - t0, 3)

    out["payload_bytes"] = 32 * logits.size
    out["chunked_s"] = timed(lambda: t.absorb_field(b"logits", x).state)
    head = x[:a.one_row_rows]
    out["one_row_bytes"] = 32 * a.one_row_rows * a.vocab
    out["one_row_s"] = timed(lambda: one_row(t.state, head))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
