"""What one decoder layer's proof commits and range-checks, counted from the shapes alone.

    python benchmarks/layer_volume.py --shape 7b --seq 2048 [--softmax-digits 22]

The prover's two volume-bound costs at long prompts are the advice commitments (MSM work per
committed entry) and the range checks (LogUp-GKR work per checked entry); this prints both per
tensor group and per range table, from `layer.advice_shapes` and `layer.ranges`, without
building a model. No timing: it says where protocol changes would pay.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from zkllm_jax.models import FixedPointConfig, LlamaConfig

from zkllm_jax import layer
from zkllm_jax.gadgets.rangecheck import Range

SHAPES = {
    "7b": {"hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32,
           "num_key_value_heads": 32},
    "13b": {"hidden_size": 5120, "intermediate_size": 13824, "num_attention_heads": 40,
            "num_key_value_heads": 40},
    "smollm2": {"hidden_size": 576, "intermediate_size": 1536, "num_attention_heads": 9,
                "num_key_value_heads": 3},
}


def volume(shape: str, seq: int, digits: tuple[int, ...] | None = None) -> dict:
    """{"advice": {group: entries}, "ranges": {range key: entries}, totals} for one layer."""
    cfg = LlamaConfig(vocab_size=256, num_hidden_layers=1, rms_norm_eps=1e-5,
                      max_position_embeddings=max(4096, seq), **SHAPES[shape])
    fx = FixedPointConfig(**({"softmax_digit_bits": digits} if digits else {}))
    sp = layer.spec(cfg, fx, seq)
    shapes = dict(layer.advice_shapes(sp))
    shapes.update({n: (seq, cfg.hidden_size) for n in ("in/lo", "in/hi")})
    size = {n: int(np.prod(s)) for n, s in shapes.items()}
    advice: dict[str, int] = defaultdict(int)
    for n in layer.advice_shapes(sp):
        advice[n.split("/", 1)[0]] += size[n]
    ranged: dict[Range, int] = defaultdict(int)
    for n, rng in layer.ranges(sp).items():
        ranged[rng] += size[n]
    return {"advice": dict(advice), "ranges": {r.key: v for r, v in sorted(ranged.items())},
            "advice_total": sum(advice.values()), "ranged_total": sum(ranged.values())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="7b")
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--softmax-digits", metavar="B[,B]", help="e.g. 22 (default: the config's)")
    a = p.parse_args()
    digits = tuple(int(b) for b in a.softmax_digits.split(",")) if a.softmax_digits else None
    v = volume(a.shape, a.seq, digits)
    mega = 1 << 20
    print(f"{a.shape} layer at {a.seq} tokens, softmax digits "
          f"{digits or FixedPointConfig().softmax_digit_bits}")
    print(f"committed advice: {v['advice_total'] / mega:,.0f} Mi entries")
    for g, n in sorted(v["advice"].items(), key=lambda kv: -kv[1]):
        print(f"  {g:12s} {n / mega:9,.1f} Mi")
    print(f"range-checked: {v['ranged_total'] / mega:,.0f} Mi entries")
    for k, n in v["ranges"].items():
        print(f"  {k:16s} {n / mega:9,.1f} Mi")


if __name__ == "__main__":
    main()
