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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="zkllm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run,):
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
