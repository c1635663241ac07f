"""The `zkllm` command.

Each subcommand is a module-level `_add_<name>(subparsers)` that registers its arguments and sets
`func`; `commit`, `prove`, `verify` and `layer` plug in the same way. Heavy imports happen inside
the handlers so `zkllm --help` is instant and `run` needs only `zkllm_jax.models`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

CHATML = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def _cmd_run(args: argparse.Namespace) -> int:
    from zkllm_jax.models import FixedPointConfig, greedy, load_model

    t0 = time.perf_counter()
    model = load_model(args.model)
    if model.tokenizer is None:
        print(f"error: {model.source}: no tokenizer found (tokenizer.json)", file=sys.stderr)
        return 2
    mode = "float" if args.float else "fixed"
    if mode == "fixed":
        model = model.to_fixed(model.fx or FixedPointConfig(scale_bits=args.scale_bits))
    elif model.mode == "fixed":
        print(f"error: {model.source} holds fixed-point params; use --fixed-point", file=sys.stderr)
        return 2
    text = CHATML.format(prompt=args.prompt) if args.chat else args.prompt
    ids = model.tokenizer.encode(text).ids
    if model.cfg.bos_token_id is not None and args.bos:
        ids = [model.cfg.bos_token_id] + ids
    t1 = time.perf_counter()
    out, _ = greedy(model.params, model.cfg, ids, args.max_new_tokens, mode=mode, fx=model.fx)
    t2 = time.perf_counter()
    eos = model.cfg.eos_token_id
    shown = out[:-1] if out and eos is not None and out[-1] == eos else out
    print(model.tokenizer.decode(shown, skip_special_tokens=True))
    if not args.quiet:
        print(
            f"[{mode}] {len(ids)} prompt + {len(out)} new tokens; load {t1 - t0:.1f} s, "
            f"generate {t2 - t1:.1f} s",
            file=sys.stderr,
        )
    return 0


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="generate text greedily (the inference the prover certifies)")
    p.add_argument(
        "--model",
        default="smollm2",
        help="'smollm2' (embedded), a HF checkpoint dir, a .gguf or converted file",
    )
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=int, default=16)
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--fixed-point", dest="float", action="store_false", help="exact integer forward (default)"
    )
    g.add_argument("--float", dest="float", action="store_true", help="float32 reference")
    p.add_argument("--scale-bits", type=int, default=16, help="fixed-point scale 2^k")
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the ChatML template")
    p.add_argument("--bos", action="store_true", help="prepend the BOS token")
    p.add_argument("-q", "--quiet", action="store_true", help="no timing line on stderr")
    p.set_defaults(func=_cmd_run, float=False)


def _cmd_commit(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from zkllm_jax import weights
    from zkllm_jax.models import FixedPointConfig, load_model

    def progress(i: int, total: int, name: str, shape: tuple[int, ...], secs: float) -> None:
        dims = "x".join(str(d) for d in shape)
        print(f"[{i}/{total}] {name} ({dims}) {secs:.1f} s", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        fx = FixedPointConfig(scale_bits=args.scale_bits)  # validated even if the file has one
        model = load_model(args.model)
        model = model.to_fixed(model.fx or fx)
        t1 = time.perf_counter()
        m, _, cached = weights.commit_model(
            model, args.out, force=args.force, progress=None if args.quiet else progress
        )
        t2 = time.perf_counter()
        info = weights.summary(m)
        report = {
            "model": model.source,
            "out": str(Path(args.out).resolve()),
            "cached": cached,
            **info,
            "load_seconds": round(t1 - t0, 3),
            "commit_seconds": round(t2 - t1, 3),
            "seconds": round(t2 - t0, 3),
        }
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    verb = "reused cached commitments" if cached else "committed"
    print(f"{verb}: {info['tensors']} tensors, {info['weights']:,} weights of {model.source}")
    print(f"commitments: {args.out}/{weights.COMMITMENTS}, {info['commitment_bytes']:,} bytes "
          f"({info['points']:,} G1 points, {info['generators']} generators)")
    print(f"model digest: sha256:{info['model_digest']}")
    print(f"time: {t2 - t0:.1f} s (load and quantize {t1 - t0:.1f} s, "
          f"{'check cache' if cached else 'commit'} {t2 - t1:.1f} s)")
    if not cached:
        print(f"secret blinding seed (prover only, keep private): {args.out}/{weights.SEED_FILE}")
    return 0


def _add_commit(sub) -> None:
    p = sub.add_parser(
        "commit",
        help="quantize a model and commit to every weight tensor (cached on disk)",
        description="Quantize a model to fixed point and write hiding Hyrax commitments to every "
        "weight tensor into DIR: manifest.json and commitments.bin are public (what a verifier "
        "reads), DIR/private/seed is the prover's secret. A DIR already holding commitments to "
        "the same quantized model is reused.",
    )
    p.add_argument(
        "--model",
        default="smollm2",
        help="'smollm2' (embedded), a HF checkpoint dir, a .gguf or converted file",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="commitment directory")
    p.add_argument("--force", action="store_true", help="recommit even if DIR is up to date, or replace a corrupt DIR")
    p.add_argument("--json", metavar="REPORT", help="also write a JSON report to this file")
    p.add_argument("--scale-bits", type=int, default=16,
                   help="fixed-point scale 2^k (a file quantized already keeps its own)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_commit)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="zkllm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_commit):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status (2 on bad input, naming the cause)."""
    args = build_parser().parse_args(argv)
    from zkllm_jax.models import FixedPointRangeError, ModelFormatError

    try:
        return args.func(args)
    except (ModelFormatError, FixedPointRangeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
