"""Checkpoint conversion: HF safetensors directories and GGUF files to a params pytree + config.

Nothing here touches the network or torch. Errors name the file and tensor at fault.
Also: quantization of float params to fixed point, and save/load of converted params as a
single safetensors file (HF tensor names, one tensor per layer, config in the metadata) so users
convert once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .config import FixedPointConfig, FixedPointRangeError, LlamaConfig, ModelFormatError
from .intmath import limb_bound

LAYER_TENSORS = (
    "input_layernorm.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
)
LINEAR = {n for n in LAYER_TENSORS if "proj" in n}


def expected_shapes(cfg: LlamaConfig) -> dict[str, tuple[int, ...]]:
    """Shape of every HF tensor name (per layer names use index {i})."""
    d, i, hd = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim
    qd, kd = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd
    s = {
        "model.embed_tokens.weight": (cfg.vocab_size, d),
        "model.norm.weight": (d,),
        "input_layernorm.weight": (d,),
        "post_attention_layernorm.weight": (d,),
        "self_attn.q_proj.weight": (qd, d),
        "self_attn.k_proj.weight": (kd, d),
        "self_attn.v_proj.weight": (kd, d),
        "self_attn.o_proj.weight": (d, qd),
        "mlp.gate_proj.weight": (i, d),
        "mlp.up_proj.weight": (i, d),
        "mlp.down_proj.weight": (d, i),
    }
    if not cfg.tie_word_embeddings:
        s["lm_head.weight"] = (cfg.vocab_size, d)
    return s


def _set(tree: dict, dotted: str, value) -> None:
    *path, leaf = dotted.split(".")
    for p in path:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


def from_flat(flat: dict[str, np.ndarray], cfg: LlamaConfig, source: str) -> dict:
    """Assemble the stacked params pytree from HF-named tensors, checking names and shapes."""
    shapes = expected_shapes(cfg)

    def get(name: str, shape_key: str) -> np.ndarray:
        if name not in flat:
            raise ModelFormatError(f"{source}: missing tensor {name!r}")
        a = flat[name]
        if tuple(a.shape) != shapes[shape_key]:
            raise ModelFormatError(
                f"{source}: tensor {name!r} has shape {tuple(a.shape)}, "
                f"expected {shapes[shape_key]}"
            )
        return a

    tree: dict = {}
    for top in ("model.embed_tokens.weight", "model.norm.weight"):
        _set(tree, top, get(top, top))
    if not cfg.tie_word_embeddings:
        _set(tree, "lm_head.weight", get("lm_head.weight", "lm_head.weight"))
    for n in LAYER_TENSORS:
        stacked = np.stack([get(f"model.layers.{i}.{n}", n) for i in range(cfg.num_hidden_layers)])
        _set(tree, f"model.layers.{n}", stacked)
    return tree


def to_flat(params: dict, cfg: LlamaConfig) -> dict[str, np.ndarray]:
    """Inverse of `from_flat` (HF names, one tensor per layer)."""
    m = params["model"]
    out = {
        "model.embed_tokens.weight": np.asarray(m["embed_tokens"]["weight"]),
        "model.norm.weight": np.asarray(m["norm"]["weight"]),
    }
    if not cfg.tie_word_embeddings:
        out["lm_head.weight"] = np.asarray(params["lm_head"]["weight"])
    for n in LAYER_TENSORS:
        node = m["layers"]
        for part in n.split("."):
            node = node[part]
        arr = np.asarray(node)
        for i in range(cfg.num_hidden_layers):
            out[f"model.layers.{i}.{n}"] = np.ascontiguousarray(arr[i])
    return out


# -- HF safetensors directories ----------------------------------------------------------------


def _read_safetensors(path: Path, names: set[str] | None) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise ModelFormatError(f"{path}: safetensors file not found")
    out = {}
    try:
        # "flax" reads bfloat16 too (numpy cannot); we convert to float32 numpy right away.
        with safe_open(str(path), framework="flax") as f:
            for k in f.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                if names is None or k in names:
                    out[k] = np.asarray(f.get_tensor(k), dtype=np.float32)
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFormatError(f"{path}: malformed safetensors file: {e}") from e
    return out


def load_hf(path: str | Path) -> tuple[dict, LlamaConfig]:
    """Load a HF checkpoint directory (config.json + model.safetensors, sharded or not)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFormatError(f"{path}: not a directory")
    cfg = LlamaConfig.from_json(path / "config.json")
    index = path / "model.safetensors.index.json"
    flat: dict[str, np.ndarray] = {}
    if index.is_file():
        try:
            wmap = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ModelFormatError(f"{index}: malformed index: {e}") from e
        by_file: dict[str, set[str]] = {}
        for k, fn in wmap.items():
            by_file.setdefault(fn, set()).add(k)
        for fn, names in sorted(by_file.items()):
            flat.update(_read_safetensors(path / fn, names))
    else:
        single = path / "model.safetensors"
        if not single.is_file():
            raise ModelFormatError(
                f"{path}: no model.safetensors or model.safetensors.index.json "
                "(only safetensors checkpoints are supported)"
            )
        flat = _read_safetensors(single, None)
    return from_flat(flat, cfg, str(path)), cfg


# -- GGUF --------------------------------------------------------------------------------------

_GGUF_LAYER = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GGUF_TOP = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def _gguf_field(reader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (interleaved RoPE → HF's rotate_half layout)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def gguf_config(reader, source: str) -> LlamaConfig:
    """LlamaConfig from GGUF metadata."""
    arch = _gguf_field(reader, "general.architecture")
    if arch != "llama":
        raise ModelFormatError(f"{source}: unsupported GGUF architecture {arch!r} (only 'llama')")

    def need(key):
        v = _gguf_field(reader, f"llama.{key}")
        if v is None:
            raise ModelFormatError(f"{source}: GGUF metadata key 'llama.{key}' missing")
        return v

    names = {t.name for t in reader.tensors}
    tokens = _gguf_field(reader, "tokenizer.ggml.tokens")
    vocab = _gguf_field(reader, "llama.vocab_size") or (len(tokens) if tokens else None)
    heads = int(need("attention.head_count"))
    d = {
        "vocab_size": int(vocab),
        "hidden_size": int(need("embedding_length")),
        "intermediate_size": int(need("feed_forward_length")),
        "num_hidden_layers": int(need("block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(_gguf_field(reader, "llama.attention.head_count_kv", heads)),
        "rms_norm_eps": float(need("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(_gguf_field(reader, "llama.rope.freq_base", 10000.0)),
        "max_position_embeddings": int(_gguf_field(reader, "llama.context_length", 2048)),
        "tie_word_embeddings": "output.weight" not in names,
        "bos_token_id": _gguf_field(reader, "tokenizer.ggml.bos_token_id"),
        "eos_token_id": _gguf_field(reader, "tokenizer.ggml.eos_token_id"),
    }
    kl = _gguf_field(reader, "llama.attention.key_length")
    if kl is not None:
        d["head_dim"] = int(kl)
    return LlamaConfig.from_dict(d, source=source)


def open_gguf(path: str | Path):
    """A `gguf.GGUFReader`, with unreadable files turned into ModelFormatError."""
    from gguf import GGUFReader

    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{path}: GGUF file not found")
    try:
        return GGUFReader(str(path))
    except Exception as e:  # the reader raises bare ValueError/struct errors on bad bytes
        raise ModelFormatError(f"{path}: malformed GGUF file: {e}") from e


def load_gguf(path: str | Path) -> tuple[dict, LlamaConfig]:
    """Load a llama GGUF file, dequantizing every tensor to float32."""
    from gguf.quants import dequantize

    path = Path(path)
    reader = open_gguf(path)
    cfg = gguf_config(reader, str(path))
    flat = {}
    for t in reader.tensors:
        m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight", t.name)
        if m and m.group(2) in _GGUF_LAYER:
            name = f"model.layers.{m.group(1)}.{_GGUF_LAYER[m.group(2)]}.weight"
        elif t.name in _GGUF_TOP:
            name = _GGUF_TOP[t.name]
        else:
            continue  # e.g. rope_freqs: not part of the plain llama architecture
        try:
            w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        except Exception as e:
            raise ModelFormatError(f"{path}: cannot dequantize tensor {t.name!r}: {e}") from e
        w = w.reshape(tuple(int(x) for x in reversed(t.shape)))
        if name.endswith("q_proj.weight"):
            w = _unpermute(w, cfg.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            w = _unpermute(w, cfg.num_key_value_heads)
        flat[name] = w
    return from_flat(flat, cfg, str(path)), cfg


# -- fixed point -------------------------------------------------------------------------------


def _leaf_name(path) -> str:
    return ".".join(str(getattr(p, "key", p)) for p in path)


def quantize_params(params: dict, cfg: LlamaConfig, fx: FixedPointConfig) -> dict:
    """round(w·2^f) to int32, checking every tensor against the range its op supports."""
    import jax

    wb = limb_bound(fx.weight_limbs)

    def q(path, w):
        name = _leaf_name(path)
        w = np.asarray(w, dtype=np.float64)
        qi = np.round(w * fx.scale)
        is_matmul = (
            "proj" in name
            or name.startswith("lm_head")
            or (cfg.tie_word_embeddings and "embed_tokens" in name)
        )
        bound = wb if is_matmul else (1 << 30)
        m = float(np.max(np.abs(qi))) if qi.size else 0.0
        if m > bound:
            if name.startswith("model.layers."):  # stacked: name the layer at fault
                layer = int(np.argmax(np.abs(qi).reshape(qi.shape[0], -1).max(axis=1)))
                name = name.replace("model.layers.", f"model.layers.{layer}.", 1)
            raise FixedPointRangeError(
                f"weight {name}: |w| reaches {m / fx.scale:.6g} (= {m:.0f} at scale 2^"
                f"{fx.scale_bits}), outside the fixed-point range {bound / fx.scale:.6g}"
            )
        return qi.astype(np.int32)

    return jax.tree_util.tree_map_with_path(q, params)


def save_params(
    path: str | Path,
    params: dict,
    cfg: LlamaConfig,
    *,
    mode: str,
    fx: FixedPointConfig | None = None,
    tokenizer_json: str | None = None,
) -> None:
    """Write converted (mode="float") or quantized (mode="fixed") params to one safetensors."""
    from safetensors.numpy import save_file

    meta = {"zkllm_format": mode, "config": json.dumps(cfg.to_dict())}
    if fx is not None:
        meta["fixed_point"] = json.dumps(fx.to_dict())
    if tokenizer_json is not None:
        meta["tokenizer_json"] = tokenizer_json
    save_file(to_flat(params, cfg), str(path), metadata=meta)


def load_params(path: str | Path):
    """Read `save_params` output: (params, cfg, mode, fx or None, tokenizer_json or None)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            flat = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFormatError(f"{path}: malformed safetensors file: {e}") from e
    if "zkllm_format" not in meta or "config" not in meta:
        raise ModelFormatError(f"{path}: not a zkllm converted-params file (no metadata)")
    cfg = LlamaConfig.from_dict(json.loads(meta["config"]), source=str(path))
    fx = (
        FixedPointConfig.from_dict(json.loads(meta["fixed_point"]))
        if "fixed_point" in meta
        else None
    )
    return (
        from_flat(flat, cfg, str(path)),
        cfg,
        meta["zkllm_format"],
        fx,
        meta.get("tokenizer_json"),
    )
