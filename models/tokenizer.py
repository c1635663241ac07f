"""Tokenizers without torch: from a GGUF file's vocabulary, or a HF `tokenizer.json`.

`transformers.AutoTokenizer.from_pretrained(dir, gguf_file=...)` imports torch for GGUF files
(checked with transformers 5.24 in a torch-free environment), so the GGUF tokenizer is rebuilt
here directly with the `tokenizers` library: byte-level BPE from `tokenizer.ggml.tokens/merges`,
control tokens as special tokens, and the pre-tokenizer llama.cpp uses for the file's
`tokenizer.ggml.pre` (for "smollm": digits split one by one, then the GPT-2 regex, matching
SmolLM2's own tokenizer.json).
"""

from __future__ import annotations

from pathlib import Path

from .config import ModelFormatError

_CONTROL = 3
_USER_DEFINED = 4


def tokenizer_from_gguf(reader, source: str = "gguf"):
    """A `tokenizers.Tokenizer` built from GGUF metadata (byte-level BPE only)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    def field(k):
        f = reader.fields.get(k)
        return None if f is None else f.contents()

    kind = field("tokenizer.ggml.model")
    if kind != "gpt2":
        raise ModelFormatError(f"{source}: unsupported GGUF tokenizer model {kind!r} (only gpt2)")
    tokens = field("tokenizer.ggml.tokens")
    merges = field("tokenizer.ggml.merges")
    if not tokens or merges is None:
        raise ModelFormatError(f"{source}: GGUF tokenizer vocabulary or merges missing")
    types = field("tokenizer.ggml.token_type") or [1] * len(tokens)
    vocab = {t: i for i, t in enumerate(tokens)}
    bpe = models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges], fuse_unk=False)
    tok = Tokenizer(bpe)
    steps = []
    if field("tokenizer.ggml.pre") in ("smollm", "starcoder", "refact"):
        steps.append(pre_tokenizers.Digits(individual_digits=True))
    steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, ty in zip(tokens, types)
            if ty == _CONTROL
        ]
    )
    tok.add_tokens(
        [
            AddedToken(t, special=False, normalized=False)
            for t, ty in zip(tokens, types)
            if ty == _USER_DEFINED
        ]
    )
    return tok


def tokenizer_from_json(text_or_path: str | Path):
    """A `tokenizers.Tokenizer` from a tokenizer.json path or its JSON text."""
    from tokenizers import Tokenizer

    text = str(text_or_path)
    if text.lstrip().startswith("{"):
        return Tokenizer.from_str(text)
    p = Path(text)
    if not p.is_file():
        raise ModelFormatError(f"{p}: no such tokenizer file")
    return Tokenizer.from_file(str(p))
