"""The `zkllm` command.

Each subcommand is a module-level `_add_<name>(subparsers)` that registers its arguments and sets
`func`; `commit`, `prove`, `verify` and `layer` plug in the same way. Heavy imports happen inside
the handlers so `zkllm --help` is instant and `run` needs only `zkllm_jax.models`.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Sequence
from typing import Any

CHATML = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def _prompt_ids(mdl, args: argparse.Namespace) -> list[int]:
    """The prompt's token ids (ChatML with --chat, BOS with --bos); ValueError if the model has
    no tokenizer or the prompt no tokens."""
    if mdl.tokenizer is None:
        raise ValueError(f"{mdl.source}: no tokenizer found (tokenizer.json)")
    text = CHATML.format(prompt=args.prompt) if args.chat else args.prompt
    ids = mdl.tokenizer.encode(text).ids
    if mdl.cfg.bos_token_id is not None and args.bos:
        ids = [mdl.cfg.bos_token_id] + ids
    if not ids:
        raise ValueError("the prompt has no tokens")
    return ids


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
        extra = {}
        if args.softmax_digits:
            extra["softmax_digit_bits"] = _digit_widths(args.softmax_digits)
        # validated even if the file has one
        fx = FixedPointConfig(scale_bits=args.scale_bits, **extra)
        model = load_model(args.model)
        if extra and model.fx is not None and model.fx.softmax_digit_bits != fx.softmax_digit_bits:
            raise ValueError(f"--softmax-digits {args.softmax_digits}: {args.model} is quantized "
                             f"already, with digits {list(model.fx.softmax_digit_bits)}")
        model = model.to_fixed(model.fx or fx)
        t1 = time.perf_counter()
        m, _, cached = weights.commit_model(
            model, args.out, force=args.force, progress=None if args.quiet else progress
        )
        if model.tokenizer is not None:  # public; lets `zkllm verify` print the text
            model.tokenizer.save(str(Path(args.out) / "tokenizer.json"))
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


def _digit_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(b) for b in text.split(","))
    except ValueError:
        raise ValueError(f"--softmax-digits: comma-separated bit widths, got {text!r}") from None


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
    p.add_argument("--softmax-digits", metavar="B[,B...]",
                   help="the softmax's exp digit widths (default 11,11); 22 (one table of 2^22 "
                   "entries, no product chain) proves long prompts on large models faster and "
                   "short ones slower (docs/models.md); part of the model, so fixed here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_commit)


# --- prove / verify ------------------------------------------------------------------------------


class _Progress:
    """One stderr line per finished step with its time (the CLI's progress display)."""

    def __init__(self, quiet: bool, total: int):
        self.quiet, self.total, self.n = quiet, total, 0
        self.t0 = self.last = time.perf_counter()
        self.times: dict[str, float] = {}

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.n += 1
        self.times[step] = round(now - self.last, 3)
        if not self.quiet:
            print(f"[{self.n}/{self.total}] {step}: {now - self.last:.1f} s "
                  f"({now - self.t0:.1f} s total)", file=sys.stderr, flush=True)
        self.last = now


def _statement(digest: str, prompt_tokens: int, zk: bool):
    """The transcript every .zkp proof starts from: binds the mode (zero-knowledge or plain),
    the model digest and the prompt split."""
    from zkllm_jax.transcript import Transcript

    t = Transcript.new(b"zkllm-jax/proof-file/v1", zk=zk)
    t = t.absorb_bytes(b"model_digest", bytes.fromhex(digest))
    return t.absorb_ints(b"prompt_tokens", [prompt_tokens])


def _mode_line(zk: bool) -> str:
    """What a proof's mode hides, in one phrase (docs/protocol.md, "Zero knowledge")."""
    if zk:
        return ("zero-knowledge: yes (masked sumchecks; final evaluations not yet hidden, see "
                "docs/protocol.md)")
    return "zero-knowledge: no (plain proof)"


def _expected_mode(expect: str, zk: bool) -> str | None:
    """A REJECT reason when the proof's mode is not the one asked for, else None."""
    if zk == (expect == "zk"):
        return None
    return (f"the proof is {'zero-knowledge' if zk else 'plain'}, "
            f"{'zero-knowledge' if expect == 'zk' else 'plain'} was expected (--expect)")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CACHE_ENV = "ZKLLM_JAX_CACHE"


def compilation_cache_dir() -> str | None:
    """Where the CLI keeps JAX's persistent compilation cache: $ZKLLM_JAX_CACHE, else
    $XDG_CACHE_HOME/zkllm-jax/xla (~/.cache/zkllm-jax/xla); None when ZKLLM_JAX_CACHE is "off"
    (or "0", or empty)."""
    import os

    path = os.environ.get(CACHE_ENV)
    if path is not None:
        return None if path.strip().lower() in ("", "0", "off", "no", "false") else path
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "zkllm-jax", "xla")


def _cache_dir(name: str) -> str | None:
    """The CLI's other caches live beside the compilation cache (`name`/ next to its folder):
    proof templates ("templates") and decoded commitments ("points"); none when it is off."""
    import os

    path = compilation_cache_dir()
    return None if path is None else os.path.join(os.path.dirname(os.path.abspath(path)), name)


def _load_commitments(directory: str):
    """`weights.load` with the decoded points kept in the "points" cache."""
    from zkllm_jax import weights

    return weights.load(directory, point_cache=_cache_dir("points"))


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """SHA-256 over jax's version and this package's sources: a template is only reused by
    the code that built it."""
    import hashlib
    from pathlib import Path

    import jax

    root = Path(__file__).resolve().parent
    h = hashlib.sha256(jax.__version__.encode())
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _cached_template(params: Sequence[Any], build: Any) -> Any:
    """`build()`, the proof parser's expected structure (tracing the prover on the public
    shapes: about 10 s for SmolLM2's whole-model proof on 2 cores), read back from the template
    cache when this code built it for the same public parameters (`params`, JSON-able). Like
    JAX's executables, a cached template is trusted as the user's own file; a stale or broken
    one can only make a valid proof fail to parse, and an unreadable one is rebuilt."""
    import hashlib
    import json
    import pickle
    from pathlib import Path

    from zkllm_jax import weights

    d = _cache_dir("templates")
    if d is None:
        return build()
    key = json.dumps([_code_fingerprint(), *params], sort_keys=True, default=str)
    path = Path(d) / f"{hashlib.sha256(key.encode()).hexdigest()}.pkl"
    try:
        cached = pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 (absent, truncated or from elsewhere: rebuild it)
        cached = None
    if cached is not None:
        return cached
    like = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        weights.write_atomic(path, pickle.dumps(like))
    except OSError:
        pass
    return like


def _enable_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache for every executable, however quick to compile.

    The eager prover and verifier compile a few thousand small executables (one per op and
    shape), each ~0.1 s on a 2-core CPU: most of a fresh process's time. Cached on disk, later
    processes load them instead: `zkllm verify` after `zkllm prove`, any second prove. Results
    do not depend on it (custom calls are resolved by name when an executable is loaded). A
    cache directory set through JAX's own options wins over ours."""
    import jax

    path = compilation_cache_dir()
    if path is None or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _select_device(name: str) -> None:
    import jax

    if name == "auto":
        return
    try:
        jax.config.update("jax_default_device", jax.devices(name)[0])
    except RuntimeError as e:
        raise ValueError(f"--device {name}: no such JAX device ({e})") from e


def _mesh(args: argparse.Namespace, num_layers: int):
    """The layer mesh of `--devices N` (None for one device); with N > 1 and no
    --batch-layers, each device's layers share one finish."""
    if args.devices == 1:
        return None
    import jax

    from zkllm_jax import shard

    plat = jax.devices()[0].platform
    if args.devices < 1 or args.devices > len(jax.devices(plat)):
        raise ValueError(f"--devices {args.devices}: JAX sees {len(jax.devices(plat))} "
                         f"{plat} device(s)")
    mesh = shard.layer_mesh(jax.devices(plat)[:args.devices])
    if args.batch_layers == 0 and num_layers % args.devices == 0:
        args.batch_layers = num_layers // args.devices
    shard.check_split(num_layers, mesh, args.batch_layers or num_layers)
    return mesh


def _cmd_prove(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import jax
    import numpy as np

    from zkllm_jax import bundle, model, prng, weights
    from zkllm_jax.models import build_tables, greedy, load_model, run

    if args.stream and args.devices > 1 and args.jit == "on":
        # the SPMD program takes every layer's witness at once, which is what --stream avoids
        raise ValueError("--stream with --devices N needs --jit off (or auto): one SPMD "
                         "program over the mesh would hold every layer's witness at once")
    _select_device(args.device)
    t0 = time.perf_counter()
    m, coms = _load_commitments(args.commitments)
    seed = weights.load_seed(args.commitments, m)
    mdl = load_model(args.model)
    mdl = mdl.to_fixed(mdl.fx or m.fx)
    ts = weights.tensors(mdl.params, mdl.cfg)
    if weights.model_digest(ts, mdl.cfg, mdl.fx) != m.model_digest:
        raise ValueError(f"{args.model}: the model differs from the one committed in "
                         f"{args.commitments} (digest mismatch); run `zkllm commit` for it")
    mesh = _mesh(args, mdl.cfg.num_hidden_layers)
    ids = _prompt_ids(mdl, args)
    gen: list[int] = []
    if args.max_new_tokens > 0:
        gen, _ = greedy(mdl.params, mdl.cfg, ids, args.max_new_tokens, mode="fixed", fx=mdl.fx)
    seq = np.asarray(ids + gen[:-1], np.int32)
    t1 = time.perf_counter()
    tables = build_tables(mdl.cfg, mdl.fx, len(seq))
    logits, wit = run(mdl.params, tables, seq, cfg=mdl.cfg, fx=mdl.fx, mode="fixed",
                      stream=args.stream)
    logits = np.asarray(logits)
    if gen and bundle.greedy_tokens(logits, len(ids)) != gen:
        raise RuntimeError("internal error: the full forward disagrees with cached decoding")
    wit = jax.tree_util.tree_map(np.asarray, wit)
    sp = model.spec(mdl.cfg, mdl.fx, len(seq), batch=args.batch_layers)
    wgens = weights.generators(m.generator_count)
    lazy = weights.LazyWitnesses(ts, seed)
    prog = _Progress(args.quiet, sp.num_layers + 2 + 3 * len(sp.groups()))
    use_jit = args.jit == "on" or (args.jit == "auto" and jax.devices()[0].platform == "gpu"
                                   and not (args.stream and mesh is not None))
    t2 = time.perf_counter()
    key = prng.fresh()
    prf, _ = model.prove(sp, ts, coms, lazy, wgens, tables, seq, logits, wit,
                         _statement(m.model_digest, len(ids), not args.plain), key,
                         jit=use_jit, mesh=mesh, progress=prog)
    data = model.to_bytes(prf)
    t3 = time.perf_counter()
    header = {"model_digest": m.model_digest, "zero_knowledge": not args.plain,
              "tokens": [int(v) for v in seq], "prompt_tokens": len(ids),
              "generated": [int(v) for v in gen], "batch_layers": sp.batch}
    blob = bundle.encode(header, logits, data)
    Path(args.out).write_bytes(blob)
    report = {"model": mdl.source, "prompt_tokens": len(ids), "generated_tokens": len(gen),
              "proven_tokens": len(seq), "layers": sp.num_layers,
              "inference_seconds": round(t1 - t0, 3), "witness_seconds": round(t2 - t1, 3),
              "prove_seconds": round(t3 - t2, 3), "proof_bytes": len(data),
              "file_bytes": len(blob), "peak_memory_mb": round(_peak_mb(), 1),
              "zero_knowledge": not args.plain, "device": str(jax.devices()[0]), "jit": use_jit,
              "stream": args.stream,
              "step_seconds": prog.times}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    eos = mdl.cfg.eos_token_id
    shown = gen[:-1] if gen and eos is not None and gen[-1] == eos else gen
    print(f"output: {mdl.tokenizer.decode(shown, skip_special_tokens=True)!r}")
    print(f"proved {len(seq)} tokens ({len(ids)} prompt + {len(gen)} generated) through "
          f"{sp.num_layers} layers in {t3 - t2:.1f} s (inference {t1 - t0:.1f} s); proof "
          f"{len(data):,} bytes, file {args.out} {len(blob):,} bytes; peak memory "
          f"{_peak_mb():,.0f} MB; {_mode_line(not args.plain)}")
    return 0


def _add_prove(sub) -> None:
    p = sub.add_parser("prove", help="generate greedily and prove the whole forward pass",
                       description="Run the fixed-point model on a prompt (plus greedy new "
                       "tokens) and write one proof covering embedding, every decoder layer, "
                       "final norm and lm_head for the whole sequence (the generated tokens "
                       "are the argmax of the proven logits).")
    p.add_argument("--model", default="smollm2",
                   help="'smollm2' (embedded), a HF checkpoint dir, a .gguf or converted file")
    p.add_argument("--commitments", required=True, metavar="DIR",
                   help="the directory written by `zkllm commit` for this model")
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=int, default=0)
    p.add_argument("--out", required=True, metavar="FILE", help="the .zkp proof file to write")
    p.add_argument("--json", metavar="REPORT", help="also write a JSON report to this file")
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the ChatML template")
    p.add_argument("--bos", action="store_true", help="prepend the BOS token")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="where JAX runs (auto: a GPU when JAX sees one)")
    p.add_argument("--batch-layers", type=int, default=0, metavar="N",
                   help="layers whose range checks and openings are proven together (default "
                   "0: all, the smallest proof; fewer hold less in memory)")
    p.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                   help="compile the layer prover into one program (compiled once, reused by "
                   "every layer; compiling takes minutes on a CPU). auto: on for GPUs only")
    p.add_argument("--plain", action="store_true",
                   help="a plain proof (sumchecks not masked; for benchmarks): by default the "
                   "proof is zero-knowledge")
    p.add_argument("--devices", type=int, default=1, metavar="N",
                   help="split the layers over the first N devices (a layer mesh; the layers "
                   "must split evenly; with --jit, one SPMD program proves every layer). The proof is the same "
                   "for any N")
    p.add_argument("--stream", action="store_true",
                   help="keep only each layer's input and remake that layer's witness when it "
                   "is proven (one more forward per layer), instead of holding every layer's "
                   "witness: for large models and long prompts. The proof is the same")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_prove)


def _cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zkllm_jax import bundle, model, proof, weights
    from zkllm_jax.claims import GadgetError
    from zkllm_jax.models import build_tables
    from zkllm_jax.models.tokenizer import tokenizer_from_json

    t0 = time.perf_counter()
    m, coms = _load_commitments(args.commitments)
    path = Path(args.proof)
    if not path.is_file():
        raise ValueError(f"{path}: no such proof file")
    try:
        b = bundle.decode(path.read_bytes())
    except bundle.BundleFormatError as e:
        print(f"REJECT: {e}")
        return 1
    h = b.header
    if h["model_digest"] != m.model_digest:
        print(f"REJECT: the proof is for model sha256:{h['model_digest']}, the commitments in "
              f"{args.commitments} are for sha256:{m.model_digest}")
        return 1
    mismatch = _expected_mode(args.expect, h["zero_knowledge"])
    if mismatch:
        print(f"REJECT: {mismatch}")
        return 1
    cfg, fx = m.config, m.fx
    toks = b.tokens
    if b.logits.shape[1] != cfg.vocab_size or int(toks.max()) >= cfg.vocab_size:
        print("REJECT: tokens or logits do not match the committed model's vocabulary")
        return 1
    gen = bundle.greedy_tokens(b.logits, h["prompt_tokens"])
    if gen != h["generated"]:
        print("REJECT: the generated tokens are not the greedy continuation of the proven logits")
        return 1
    if list(toks[h["prompt_tokens"]:]) != gen[:-1]:
        print("REJECT: the proven sequence does not continue with the generated tokens")
        return 1
    tables = build_tables(cfg, fx, len(toks))
    if not 1 <= h["batch_layers"] <= cfg.num_hidden_layers:
        print(f"REJECT: batch_layers {h['batch_layers']} does not fit the model's "
              f"{cfg.num_hidden_layers} layers")
        return 1
    sp = model.spec(cfg, fx, len(toks), batch=h["batch_layers"])
    wgens = weights.generators(m.generator_count)
    prog = _Progress(args.quiet, sp.num_layers + 2 + len(sp.groups()))
    try:
        like = _cached_template(
            ["model", cfg.to_dict(), fx.to_dict(), len(toks), h["batch_layers"],
             m.generator_count, h["zero_knowledge"]],
            lambda: model.template(sp, cfg, fx, tables, wgens, zk=h["zero_knowledge"]))
        prf = model.from_bytes(b.proof, like)
        model.verify(sp, coms, wgens, tables, toks, b.logits, prf,
                     _statement(m.model_digest, h["prompt_tokens"], h["zero_knowledge"]),
                     progress=prog)
    except proof.ProofFormatError as e:
        print(f"REJECT: {e}")
        return 1
    except GadgetError as e:
        print(f"REJECT: {e}")
        return 1
    t1 = time.perf_counter()
    tok_path = Path(args.commitments) / "tokenizer.json"
    p_ids, g_ids = [int(v) for v in toks[: h["prompt_tokens"]]], gen
    if tok_path.is_file():
        tok = tokenizer_from_json(tok_path)
        print(f"prompt: {tok.decode(p_ids, skip_special_tokens=False)!r}")
        print(f"output: {tok.decode(g_ids, skip_special_tokens=True)!r}")
    else:
        print(f"prompt tokens: {p_ids}")
        print(f"output tokens: {g_ids}")
    print(f"ACCEPT ({len(toks)} tokens, {sp.num_layers} layers, proof {len(b.proof):,} bytes, "
          f"verified in {t1 - t0:.1f} s; {_mode_line(h['zero_knowledge'])})")
    return 0


def _add_verify(sub) -> None:
    p = sub.add_parser("verify", help="check a .zkp proof against published commitments",
                       description="Check a proof from the public commitments, the proof file's "
                       "public tokens and logits, and the proof bytes alone. Prints the text and "
                       "ACCEPT, or REJECT with the failed check (exit 1).")
    p.add_argument("--commitments", required=True, metavar="DIR")
    p.add_argument("--proof", required=True, metavar="FILE")
    _add_expect(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_verify)


def _add_expect(p) -> None:
    p.add_argument("--expect", choices=("zk", "plain"), default="zk",
                   help="the mode the proof must have (default zk: a plain proof is rejected)")


# --- the per-layer workflow ----------------------------------------------------------------------

_STEP_KIND = {"self-attn": "self_attn", "ffn": "ffn", "skip": "skip"}


def _read_activation(path: str, cfg, rows: int | None = None):
    """An int32 (T, hidden) fixed-point activation from a .npy file (ValueError naming it)."""
    import numpy as np

    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise ValueError(f"{path}: no such file") from e
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a .npy array ({e})") from e
    if not isinstance(a, np.ndarray) or a.dtype != np.int32:
        raise ValueError(f"{path}: dtype {getattr(a, 'dtype', type(a).__name__)}, expected int32 "
                         f"fixed point (scale 2^scale_bits)")
    if a.ndim != 2 or a.shape[1] != cfg.hidden_size or a.shape[0] < 1:
        raise ValueError(f"{path}: shape {a.shape}, expected (T, {cfg.hidden_size})")
    if a.shape[0] > cfg.max_position_embeddings:
        raise ValueError(f"{path}: {a.shape[0]} rows exceed the model's "
                         f"{cfg.max_position_embeddings} positions")
    if rows is not None and a.shape[0] != rows:
        raise ValueError(f"{path}: {a.shape[0]} rows, the other input has {rows}")
    return np.ascontiguousarray(a)


def _load_committed(model_arg: str, coms_dir: str):
    """(manifest, weight commitments, seed, model, tensors) with the model checked against the
    committed digest."""
    from zkllm_jax import weights
    from zkllm_jax.models import load_model

    m, coms = _load_commitments(coms_dir)
    seed = weights.load_seed(coms_dir, m)
    mdl = load_model(model_arg)
    mdl = mdl.to_fixed(mdl.fx or m.fx)
    ts = weights.tensors(mdl.params, mdl.cfg)
    if weights.model_digest(ts, mdl.cfg, mdl.fx) != m.model_digest:
        raise ValueError(f"{model_arg}: the model differs from the one committed in "
                         f"{coms_dir} (digest mismatch); run `zkllm commit` for it")
    return m, coms, seed, mdl, ts


def _cmd_layer_step(args: argparse.Namespace) -> int:
    from pathlib import Path

    import jax
    import numpy as np

    from zkllm_jax import layer, model, prng, proof, steps, weights
    from zkllm_jax.models import FixedPointRangeError, build_tables, run_step

    kind = _STEP_KIND.get(args.step) or ("rmsnorm_input" if args.which == "input"
                                         else "rmsnorm_post")
    t0 = time.perf_counter()
    m, coms, seed, mdl, ts = _load_committed(args.model, args.commitments)
    cfg, fx = mdl.cfg, mdl.fx
    if not 0 <= args.layer < cfg.num_hidden_layers:
        raise ValueError(f"--layer {args.layer}: the model has layers "
                         f"0..{cfg.num_hidden_layers - 1}")
    x = _read_activation(args.input, cfg)
    xs = [x]
    if kind == "skip":
        if args.residual is None:
            raise ValueError("skip needs --residual R.npy (the residual stream h)")
        xs.append(_read_activation(args.residual, cfg, rows=x.shape[0]))
    elif args.residual is not None:
        raise ValueError(f"--residual is for skip only, not {args.step}")
    rows = x.shape[0]
    tables = build_tables(cfg, fx, rows)
    try:
        y, wit = run_step(mdl.params, tables, kind, args.layer, xs, cfg=cfg, fx=fx)
    except FixedPointRangeError as e:
        names = " and ".join([args.input] + ([args.residual] if kind == "skip" else []))
        raise ValueError(f"{names}: the step leaves the fixed-point range: {e}") from e
    y = np.asarray(y, np.int32)
    wit = jax.tree_util.tree_map(np.asarray, wit)
    t1 = time.perf_counter()
    sp = layer.spec(cfg, fx, rows)
    pub = layer.public(sp, tables)
    agens = layer.advice_generators(sp)
    names = model.spec(cfg, fx, rows).layer_weights(args.layer)
    local = steps.WEIGHTS[kind]
    lazy = weights.LazyWitnesses(ts, seed)
    in_coms, in_wits = {}, {}
    for n, a in zip(steps.inputs_of(kind), xs):
        in_coms[n], in_wits[n] = steps.commit_activation(a, seed, agens)
    out_com, out_wit = steps.commit_activation(y, seed, agens)
    key = prng.fresh()
    prf, _ = steps.prove_step(
        sp, kind, args.layer, {n: ts[names[n]] for n in local},
        {n: coms[names[n]] for n in local}, {n: lazy[names[n]] for n in local},
        weights.generators(m.generator_count), xs, y, wit, in_coms, in_wits, out_com, out_wit,
        pub, steps.statement(m.model_digest, zk=not args.plain), key)
    data = proof.tree_to_bytes(prf)
    blob = steps.encode_file(steps.header_of(kind, args.layer, m.model_digest, sp, prf,
                                             zk=not args.plain), data)
    np.save(args.output, y)
    Path(args.proof).write_bytes(blob)
    t2 = time.perf_counter()
    if not args.quiet:
        print(f"{kind} layer {args.layer}: {rows} tokens; output {args.output} "
              f"(commitment sha256:{steps.commitment_digest(out_com)[:16]}…); proof "
              f"{args.proof} {len(blob):,} bytes; run {t1 - t0:.1f} s, prove {t2 - t1:.1f} s")
    return 0


def _cmd_layer_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from zkllm_jax import weights
    from zkllm_jax.models import FixedPointConfig, load_model

    mdl = load_model(args.model)
    fx = mdl.fx or (weights.load_manifest(args.commitments).fx if args.commitments
                    else FixedPointConfig())
    mdl = mdl.to_fixed(fx)
    ids = _prompt_ids(mdl, args)
    if len(ids) > mdl.cfg.max_position_embeddings:
        raise ValueError(f"the prompt has {len(ids)} tokens, the model takes at most "
                         f"{mdl.cfg.max_position_embeddings}")
    table = np.asarray(mdl.params["model"]["embed_tokens"]["weight"], np.int32)
    h0 = table[np.asarray(ids, np.int64)]
    np.save(args.output, h0)
    if not args.quiet:
        print(f"h_0 of {len(ids)} tokens {ids} -> {args.output} ({h0.shape[0]}x{h0.shape[1]} "
              "int32; not proven: the embedding rows of the public tokens)")
    return 0


class _Reject(Exception):
    pass


def _cmd_layer_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zkllm_jax import bundle, layer, proof, steps, weights
    from zkllm_jax.claims import GadgetError
    from zkllm_jax.model import spec as model_spec
    from zkllm_jax.models import build_tables

    t0 = time.perf_counter()
    m, coms = _load_commitments(args.commitments)
    cfg, fx = m.config, m.fx
    wgens = weights.generators(m.generator_count)
    files = []
    for p in args.proof:
        path = Path(p)
        if not path.is_file():
            raise ValueError(f"{path}: no such proof file")
        files.append((p, path.read_bytes()))
    cache: dict = {}
    known: dict[str, str] = {}  # commitment digest -> where it came from
    start: list[str] = []
    last = ""
    recs: list = []
    for k, (p, data) in enumerate(files):
        where = p
        try:
            try:
                header, pb = steps.decode_file(data)
            except bundle.BundleFormatError as e:
                raise _Reject(str(e)) from e
            kind, index, rows = header["kind"], header["layer"], header["rows"]
            where = f"{p}: {kind} layer {index}"
            if header["model_digest"] != m.model_digest:
                raise _Reject(f"the step is for model sha256:{header['model_digest']}, the "
                              f"commitments in {args.commitments} are for "
                              f"sha256:{m.model_digest}")
            if header["hidden"] != cfg.hidden_size:
                raise _Reject(f"hidden size {header['hidden']}, the model's is "
                              f"{cfg.hidden_size}")
            if not index < cfg.num_hidden_layers:
                raise _Reject(f"layer {index} outside the model's {cfg.num_hidden_layers}")
            if not rows <= cfg.max_position_embeddings:
                raise _Reject(f"{rows} rows exceed the model's positions")
            if rows not in cache:
                sp = layer.spec(cfg, fx, rows)
                cache[rows] = (sp, layer.public(sp, build_tables(cfg, fx, rows)), {})
            sp, pub, likes = cache[rows]
            mismatch = _expected_mode(args.expect, header["zero_knowledge"])
            if mismatch:
                raise _Reject(mismatch)
            zk = header["zero_knowledge"]
            if (kind, zk) not in likes:
                likes[kind, zk] = _cached_template(
                    ["step", kind, cfg.to_dict(), fx.to_dict(), rows, m.generator_count, zk],
                    functools.partial(steps.template, sp, kind, cfg, fx, pub, wgens, zk=zk))
            names = model_spec(cfg, fx, rows).layer_weights(index)
            try:
                prf = proof.tree_from_bytes(pb, likes[kind, zk])
                ins, out, _ = steps.verify_step(
                    sp, kind, index, {n: coms[names[n]] for n in steps.WEIGHTS[kind]}, wgens,
                    prf, pub, steps.statement(m.model_digest, zk=zk))
            except (proof.ProofFormatError, GadgetError) as e:
                raise _Reject(str(e)) from e
            got_ins = {n: steps.commitment_digest(c) for n, c in ins.items()}
            for n in steps.inputs_of(kind):
                if got_ins[n] != header["inputs"][n]:
                    raise _Reject(f"the header's commitment digest of input {n!r} differs "
                                  "from the proof's")
            out_digest = steps.commitment_digest(out)
            if out_digest != header["output"]:
                raise _Reject("the header's output commitment digest differs from the proof's")
            if k == 0:
                start = [got_ins[n] for n in steps.inputs_of(kind)]
            else:
                for n in steps.inputs_of(kind):
                    if got_ins[n] not in known and got_ins[n] not in start:
                        raise _Reject(f"chain: input {n!r} (sha256:{got_ins[n][:16]}…) is not "
                                      "the output of an earlier step in the list")
            known.setdefault(out_digest, where)
            last = out_digest
            recs.append((where, kind, index, got_ins, out_digest))
        except _Reject as e:
            print(f"REJECT: {where}: {e}")
            return 1
        if not args.quiet:
            print(f"{p}: {kind} layer {index}: ACCEPT")
    try:
        layers = _layer_structure(recs)
    except _Reject as e:
        print(f"REJECT: {e}")
        return 1
    t1 = time.perf_counter()
    what = f"{len(files)} steps chained, not whole decoder layers in order"
    if layers:
        what = f"decoder layers {layers[0]}..{layers[1]} in order, {len(files)} steps"
        if len(files) % 6:
            what += f"; layer {layers[1]} unfinished, up to its {recs[-1][1]}"
    print(f"ACCEPT ({what}; verified in {t1 - t0:.1f} s; "
          f"{_mode_line(args.expect == 'zk')}) from input "
          f"{' '.join('sha256:' + d for d in start)} to output sha256:{last}")
    return 0


LAYER_PATTERN = ("rmsnorm_input", "self_attn", "skip", "rmsnorm_post", "ffn", "skip")


def _layer_structure(recs: list) -> tuple[int, int] | None:
    """If the steps are the decoder's steps in order (layers s, s+1, ..., the last one possibly
    unfinished), check that they are wired as the layer is: each step reads the previous
    step's output, the first skip's residual is the layer's input h, the second skip's the
    first skip's output h_mid. Returns (first, last layer), or None if the kinds and layers are
    not in that order; raises _Reject naming the step whose wiring is wrong."""
    s = recs[0][2]
    if [(r[1], r[2]) for r in recs] != [(LAYER_PATTERN[k % 6], s + k // 6)
                                        for k in range(len(recs))]:
        return None
    for k, (where, _, _, ins, _) in enumerate(recs):
        pos, base = k % 6, k - k % 6
        want = {"in": recs[k - 1][4]} if k else {}
        if pos == 2:
            want["res"] = recs[base][3]["in"]
        elif pos == 5:
            want["res"] = recs[base + 2][4]
        for n, dg in want.items():
            if ins[n] != dg:
                role = {"in": "the previous step's output",
                        "res": "the layer's input h" if pos == 2 else "h_mid (the first skip's "
                        "output)"}[n]
                raise _Reject(f"{where}: layer structure: input {n!r} is not {role}")
    return s, recs[-1][2]


def _add_layer(sub) -> None:
    p = sub.add_parser(
        "layer", help="the per-layer workflow: prove or verify one step of a layer on files",
        description="Run one step of decoder layer i on .npy activations (int32 fixed point, "
        "shape (T, hidden)), writing its output and a .zks proof of that step; `layer verify` "
        "checks step files and that they chain (each input is an earlier step's output). "
        "rmsnorm → self-attn → skip → rmsnorm --which post_attention → ffn → skip per layer, "
        "from `layer embed`'s h_0, ends at the h_L that `zkllm prove` proves.")
    steps_sub = p.add_subparsers(dest="step", required=True)
    for name, help_ in (("rmsnorm", "x = RMSNorm(h) (--which input|post_attention)"),
                        ("self-attn", "a = self-attention(x1) over positions 0..T-1"),
                        ("ffn", "f = mlp(x2): gate/up, SwiGLU, down"),
                        ("skip", "h' = R + X (--input the branch output, --residual h)")):
        q = steps_sub.add_parser(name, help=help_)
        q.add_argument("--model", default="smollm2",
                       help="'smollm2' (embedded), a HF checkpoint dir, a .gguf or converted file")
        q.add_argument("--commitments", required=True, metavar="DIR",
                       help="the directory written by `zkllm commit` (with its private seed)")
        q.add_argument("--layer", type=int, required=True, metavar="I")
        q.add_argument("--input", required=True, metavar="X.npy")
        if name == "skip":
            q.add_argument("--residual", required=True, metavar="R.npy",
                           help="the residual stream (the layer's input h, or h_mid)")
        else:
            q.set_defaults(residual=None)
        if name == "rmsnorm":
            q.add_argument("--which", choices=("input", "post_attention"), default="input",
                           help="input_layernorm (default) or post_attention_layernorm")
        q.add_argument("--output", required=True, metavar="Y.npy")
        q.add_argument("--proof", required=True, metavar="P.zks")
        q.add_argument("--plain", action="store_true",
                       help="a plain step proof (not zero-knowledge; for benchmarks)")
        q.add_argument("-q", "--quiet", action="store_true", help="no summary line")
        q.set_defaults(func=_cmd_layer_step, which="input")
    q = steps_sub.add_parser("embed", help="write h_0 (the prompt's embedding rows) to .npy")
    q.add_argument("--model", default="smollm2")
    q.add_argument("--commitments", metavar="DIR",
                   help="take the fixed-point config from this commitment directory (for a "
                   "float checkpoint; default scale 2^16)")
    q.add_argument("--prompt", required=True)
    q.add_argument("--chat", action="store_true", help="wrap the prompt in the ChatML template")
    q.add_argument("--bos", action="store_true", help="prepend the BOS token")
    q.add_argument("--output", required=True, metavar="H0.npy")
    q.add_argument("-q", "--quiet", action="store_true")
    q.set_defaults(func=_cmd_layer_embed)
    q = steps_sub.add_parser("verify", help="verify step files and their chain",
                             description="Check each .zks step file against the published "
                             "commitments and that the files chain in the given order: every "
                             "input of a later file is the output of an earlier one (or one "
                             "of the first file's inputs). Files that are the decoder's steps "
                             "in order (rmsnorm, self-attn, skip, rmsnorm --which "
                             "post_attention, ffn, skip per layer) must also be wired as a "
                             "layer is (each skip's residual is the layer's input, resp. "
                             "h_mid), and the final line names the layers. ACCEPT, or REJECT "
                             "naming the file, the step and the failed check (exit 1).")
    q.add_argument("--commitments", required=True, metavar="DIR")
    q.add_argument("--proof", required=True, nargs="+", metavar="P.zks")
    _add_expect(q)
    q.add_argument("-q", "--quiet", action="store_true", help="only the final line")
    q.set_defaults(func=_cmd_layer_verify)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="zkllm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_commit, _add_prove, _add_verify, _add_layer):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status (2 on bad input, naming the cause)."""
    args = build_parser().parse_args(argv)
    from zkllm_jax.models import FixedPointRangeError, ModelFormatError

    try:
        if args.command in ("commit", "prove", "verify", "layer"):
            _enable_compilation_cache()
        return args.func(args)
    except (ModelFormatError, FixedPointRangeError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
