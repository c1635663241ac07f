"""Commitments to a model's fixed-point weights: computed once, stored on disk, reused.

What is committed. Every int32 tensor of a quantized params pytree (`models/llama.py`), under its
Hugging Face name: `model.embed_tokens.weight`, per layer i `model.layers.{i}.input_layernorm
.weight`, `...self_attn.{q,k,v,o}_proj.weight`, `...post_attention_layernorm.weight`,
`...mlp.{gate,up,down}_proj.weight`, then `model.norm.weight` and, only when the embeddings are not
tied, `lm_head.weight` (`resolve` maps a tied lm_head to the embedding's commitment). Each is a
hiding Hyrax commitment (`commit.py`) in the default square-root layout.

Generators. One set for all weights: `commit.setup(cols, GENERATOR_TAG)`. Because
`curve.generators(n, tag)[i]` does not depend on n and `commit.commit` uses the first 2^c, the set
of the largest column count (`max_cols`) serves every tensor, and so does any larger set.

Blinds. Deterministic from a secret 32-byte seed: the blinds of tensor `name` are
`commit.blinds(blind_key(seed, name), rows)`, where `blind_key` is the 256-bit `prng` key
SHA-256(BLIND_DST || seed || name). So the prover recomputes its opening witnesses (`witness`,
`witnesses`) from the weights and the seed with no MSM and nothing else stored. `prng` expands
keys with SHA-256, whose bits are the same on every backend, so commitments made on a CPU open
with witnesses rebuilt on a GPU. (Version 1 used a 64-bit threefry key here; its commitments are
refused by `load`: commit again with `zkllm commit --force`.)

On disk (`save`/`load`), a directory holding
  manifest.json     public: format name and version, model digest, LlamaConfig and
                    FixedPointConfig fields, generator tag and count, tied-name aliases, the
                    SHA-256 of the seed check and of the commitments file, and per tensor its
                    name, shape, num_vars, col_vars, rows, byte offset and the SHA-256 of its
                    commitment bytes;
  commitments.bin   public: every tensor's row commitments as 48-byte compressed G1 points
                    (ZCash encoding, `curve.to_compressed`), concatenated in manifest order;
  private/seed      PROVER ONLY (mode 0600, directory 0700): the 32-byte blinding seed. The
                    verifier needs manifest.json and commitments.bin alone; publishing the seed
                    reveals the blinds and so removes hiding.
The manifest is written last, so a directory with a manifest is complete.

Model digest: SHA-256 over a domain tag, the canonical JSON of the LlamaConfig and of the
FixedPointConfig and, for every committed tensor in manifest order, its name, shape and
little-endian int32 bytes — i.e. over the quantized weights and the integer computation they
run in, not the source file: the same model read from GGUF or from a converted safetensors file
has one digest, and any change of weights, quantization or fixed-point parameters (e.g. the
softmax's digits, which change the public tables and the outputs) changes it.
`commit_model` reuses a directory whose manifest has the same digest, fixed-point config and
format version (and whose seed matches the manifest's seed check) instead of recommitting; it
recommits for another model, and refuses (CommitmentFormatError, `force` overrides) to replace a
corrupt or incomplete one, since published commitments must not change silently.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import commit, curve, prng
from .models.config import FixedPointConfig, LlamaConfig, ModelFormatError
from .models.convert import LAYER_TENSORS, expected_shapes

FORMAT = "zkllm-jax/weight-commitments"
VERSION = 2
GENERATOR_TAG = b"zkllm-jax/weights"
BLIND_DST = b"zkllm-jax/weights/blind-key/v1"
DIGEST_DST = b"zkllm-jax/model-digest/v2"
SEED_CHECK_DST = b"zkllm-jax/weights/seed-check/v1"
SEED_BYTES = 32
MANIFEST = "manifest.json"
COMMITMENTS = "commitments.bin"
SEED_FILE = Path("private") / "seed"
POINT_BYTES = curve.COMPRESSED_BYTES
EMBED, LM_HEAD = "model.embed_tokens.weight", "lm_head.weight"

Progress = Callable[[int, int, str, tuple[int, ...], float], None]


class CommitmentFormatError(ValueError):
    """A commitment directory is missing a file or holds malformed or inconsistent data."""

    def __init__(self, path: str | Path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class TensorEntry:
    """One committed tensor in the manifest; `sha256` is over its compressed row commitments."""

    name: str
    shape: tuple[int, ...]
    num_vars: int
    col_vars: int
    sha256: str

    @property
    def rows(self) -> int:
        """Number of row commitments (G1 points)."""
        return 1 << (self.num_vars - self.col_vars)


@dataclass(frozen=True)
class Manifest:
    """The public description of a committed model (manifest.json)."""

    model_digest: str
    config: LlamaConfig
    fx: FixedPointConfig
    tensors: tuple[TensorEntry, ...]
    seed_check: str
    commitments_sha256: str
    generator_tag: bytes = GENERATOR_TAG
    source: str = ""
    version: int = VERSION

    @property
    def num_points(self) -> int:
        """Total G1 points in commitments.bin."""
        return sum(t.rows for t in self.tensors)

    @property
    def commitment_bytes(self) -> int:
        """Size of commitments.bin."""
        return POINT_BYTES * self.num_points

    @property
    def generator_count(self) -> int:
        """Generators a verifier needs: the largest column count."""
        return max(1 << t.col_vars for t in self.tensors)

    def entry(self, name: str) -> TensorEntry:
        """The entry of `name` (a tied lm_head resolves to the embedding)."""
        name = resolve(name, self.config)
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)


# --- names and tensors --------------------------------------------------------------------------


def names(cfg: LlamaConfig) -> list[str]:
    """The committed tensor names in canonical (manifest) order."""
    out = [EMBED]
    for i in range(cfg.num_hidden_layers):
        out += [f"model.layers.{i}.{n}" for n in LAYER_TENSORS]
    out.append("model.norm.weight")
    if not cfg.tie_word_embeddings:
        out.append(LM_HEAD)
    return out


def shapes(cfg: LlamaConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every committed tensor, in canonical order."""
    per = expected_shapes(cfg)
    return {n: per[n] if n in per else per[n.split(".", 3)[3]] for n in names(cfg)}


def resolve(name: str, cfg: LlamaConfig) -> str:
    """The name whose commitment stands for `name`: a tied lm_head uses the embedding's."""
    if name == LM_HEAD and cfg.tie_word_embeddings:
        return EMBED
    return name


def _get(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def tensors(params: Any, cfg: LlamaConfig) -> dict[str, np.ndarray]:
    """Every int32 weight tensor of a fixed-point params pytree under its HF name.

    Stacked layer tensors are split per layer. Raises ValueError if a tensor is missing, has the
    wrong shape or is not int32 (float params must be quantized first).
    """
    want = shapes(cfg)
    out: dict[str, np.ndarray] = {}
    stacked: dict[str, np.ndarray] = {}
    for name, shape in want.items():
        try:
            if name.startswith("model.layers."):
                _, _, i, rest = name.split(".", 3)
                if rest not in stacked:
                    stacked[rest] = np.asarray(_get(params, f"model.layers.{rest}"))
                arr = stacked[rest][int(i)]
            else:
                arr = np.asarray(_get(params, name))
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"params: tensor {name!r} missing ({e!r})") from e
        if arr.dtype != np.int32:
            raise ValueError(f"params: tensor {name!r} is {arr.dtype}, expected int32 "
                             "(quantize to fixed point first)")
        if tuple(arr.shape) != shape:
            raise ValueError(f"params: tensor {name!r} has shape {tuple(arr.shape)}, "
                             f"expected {shape}")
        out[name] = np.ascontiguousarray(arr)
    return out


def model_digest(ts: Mapping[str, np.ndarray], cfg: LlamaConfig, fx: FixedPointConfig) -> str:
    """SHA-256 (hex) over the configs and the quantized tensors (see the module docstring)."""
    h = hashlib.sha256(DIGEST_DST)
    h.update(json.dumps(cfg.to_dict(), sort_keys=True).encode() + b"\n")
    h.update(json.dumps(fx.to_dict(), sort_keys=True).encode() + b"\n")
    for name in names(cfg):
        a = np.asarray(ts[name])
        h.update(json.dumps({"name": name, "shape": list(a.shape), "dtype": "<i4"}).encode())
        h.update(b"\n")
        h.update(np.ascontiguousarray(a, dtype="<i4").tobytes())
    return h.hexdigest()


# --- generators, keys, commitments and witnesses ------------------------------------------------


@functools.lru_cache(maxsize=4)
def generators(cols: int) -> commit.Generators:
    """The weights' generators for matrices of up to `cols` columns (a power of two)."""
    return commit.setup(cols, GENERATOR_TAG)


def max_cols(shapes: Sequence[Sequence[int]] | Mapping[str, Any]) -> int:
    """The largest column count 2^c among tensors of these shapes (or a name -> tensor map)."""
    if isinstance(shapes, Mapping):
        shapes = [tuple(np.shape(a)) for a in shapes.values()]
    if not shapes:
        raise ValueError("max_cols: no tensors")
    return max(1 << commit.layout(tuple(s))[1] for s in shapes)


def _check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
        raise ValueError(f"seed: expected {SEED_BYTES} bytes, got "
                         f"{len(seed) if isinstance(seed, (bytes, bytearray)) else type(seed)}")
    return bytes(seed)


def new_seed() -> bytes:
    """A fresh secret blinding seed (32 bytes from the OS CSPRNG)."""
    return secrets.token_bytes(SEED_BYTES)


def blind_key(seed: bytes, name: str) -> jax.Array:
    """The `prng` key uint32[8] that draws the blinds of tensor `name` (see the module docstring)."""
    d = hashlib.sha256(BLIND_DST + _check_seed(seed) + name.encode()).digest()
    return prng.from_bytes(d)


def seed_check(seed: bytes) -> str:
    """A public fingerprint of the seed (hex), so a stale private/seed is detected early."""
    return hashlib.sha256(SEED_CHECK_DST + _check_seed(seed)).hexdigest()


def commit_all(
    ts: Mapping[str, np.ndarray], seed: bytes, progress: Progress | None = None
) -> dict[str, commit.Commitment]:
    """Commit every tensor with the shared generators and the seed's blinds.

    Equals `commit.commit(t, generators(max_cols(ts)), blind_key(seed, name))[0]` per tensor
    (each MSM covering the bits its tensor needs: `commit.int_bits`).
    `progress(i, total, name, shape, seconds)` is called after each tensor (i from 1).
    """
    seed = _check_seed(seed)
    gens = generators(max_cols(ts))
    out: dict[str, commit.Commitment] = {}
    total = len(ts)
    for i, (name, t) in enumerate(ts.items(), 1):
        t0 = time.perf_counter()
        x = jnp.asarray(t, jnp.int32)
        cm = commit.commitment(x, gens, blind_key(seed, name),
                               bits=commit.int_bits({name: x})[name])
        out[name] = jax.block_until_ready(cm)
        if progress is not None:
            progress(i, total, name, tuple(np.shape(t)), time.perf_counter() - t0)
    return out


def witness(name: str, tensor: np.ndarray, seed: bytes) -> commit.Witness:
    """The prover's opening witness (matrix, blinds) of one committed tensor; no MSM."""
    return commit.witness(jnp.asarray(tensor, jnp.int32), blind_key(_check_seed(seed), name))


def witnesses(
    ts: Mapping[str, np.ndarray], seed: bytes, only: Sequence[str] | None = None
) -> dict[str, commit.Witness]:
    """Witnesses of every tensor, or of the names in `only` (pass `resolve`d names).

    A witness holds 32 bytes per padded weight (SmolLM2-135M: ~10 GB for all), so a prover
    should ask for the tensors it opens next rather than for all at once.
    """
    sel = list(ts) if only is None else list(only)
    missing = [n for n in sel if n not in ts]
    if missing:
        raise KeyError(f"witnesses: no tensor(s) {missing}")
    return {n: witness(n, ts[n], seed) for n in sel}


class LazyWitnesses(Mapping):
    """name -> witness, rebuilt on each access (no MSM) so a prover holds one layer's at a time.

    Names resolve like the manifest's (a tied lm_head is the embedding).
    """

    def __init__(self, ts: Mapping[str, np.ndarray], seed: bytes):
        self._ts, self._seed = ts, _check_seed(seed)

    def __getitem__(self, name: str) -> commit.Witness:
        if name not in self._ts:
            raise KeyError(name)
        return witness(name, self._ts[name], self._seed)

    def __iter__(self):
        return iter(self._ts)

    def __len__(self) -> int:
        return len(self._ts)


def compressed(cm: commit.Commitment) -> bytes:
    """A commitment's rows as concatenated 48-byte compressed points."""
    return bytes(np.asarray(curve.to_compressed(cm.rows)).reshape(-1))


def build_manifest(
    ts: Mapping[str, np.ndarray],
    cfg: LlamaConfig,
    fx: FixedPointConfig,
    commitments: Mapping[str, commit.Commitment],
    seed: bytes,
    source: str = "",
    digest: str | None = None,
) -> Manifest:
    """The manifest describing `commitments` of the tensors `ts`."""
    entries = []
    whole = hashlib.sha256()
    for name in names(cfg):
        if name not in commitments:
            raise ValueError(f"build_manifest: no commitment for {name!r}")
        cm = commitments[name]
        b = compressed(cm)
        whole.update(b)
        entries.append(TensorEntry(name, tuple(int(d) for d in np.shape(ts[name])), cm.num_vars,
                                   cm.col_vars, hashlib.sha256(b).hexdigest()))
    return Manifest(
        model_digest=digest or model_digest(ts, cfg, fx), config=cfg, fx=fx,
        tensors=tuple(entries), seed_check=seed_check(seed),
        commitments_sha256=whole.hexdigest(), source=source,
    )


# --- files ---------------------------------------------------------------------------------------


def _manifest_json(m: Manifest) -> dict[str, Any]:
    offset = 0
    ts = []
    for t in m.tensors:
        ts.append({"name": t.name, "shape": list(t.shape), "num_vars": t.num_vars,
                   "col_vars": t.col_vars, "rows": t.rows, "offset": offset,
                   "sha256": t.sha256})
        offset += t.rows * POINT_BYTES
    aliases = {LM_HEAD: EMBED} if m.config.tie_word_embeddings else {}
    return {
        "format": FORMAT,
        "version": m.version,
        "model_digest": m.model_digest,
        "model_digest_scheme": "sha256(config json, fixed_point json, then per tensor: name, "
                               "shape, int32 LE bytes)",
        "source": m.source,
        "config": m.config.to_dict(),
        "fixed_point": m.fx.to_dict(),
        "generators": {
            "tag": m.generator_tag.decode(),
            "count": m.generator_count,
            "hash_to_curve": curve.SUITE,
            "definition": "G_i = hash_to_curve(I2OSP(i, 8), tag); H, U under tag + '/blind', "
                          "tag + '/ipa-u'",
        },
        "aliases": aliases,
        "seed_check": m.seed_check,
        "commitments_file": COMMITMENTS,
        "commitments_sha256": m.commitments_sha256,
        "point_encoding": "48-byte compressed BLS12-381 G1 (ZCash)",
        "tensors": ts,
    }


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temporary file of this process and a rename, so readers
    (and other processes writing the same file) see either the old or the whole new file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def save_seed(directory: str | Path, seed: bytes) -> Path:
    """Write the prover's secret seed to directory/private/seed (0600, folder 0700)."""
    seed = _check_seed(seed)
    priv = Path(directory) / SEED_FILE.parent
    priv.mkdir(parents=True, exist_ok=True)
    os.chmod(priv, 0o700)
    path = Path(directory) / SEED_FILE
    write_atomic(path, seed, 0o600)
    return path


def load_seed(directory: str | Path, manifest: Manifest | None = None) -> bytes:
    """Read directory/private/seed (prover only); with a manifest, check it is that seed."""
    path = Path(directory) / SEED_FILE
    if not path.is_file():
        raise CommitmentFormatError(path, "missing (the prover's blinding seed; commit again)")
    seed = path.read_bytes()
    if len(seed) != SEED_BYTES:
        raise CommitmentFormatError(path, f"expected {SEED_BYTES} bytes, got {len(seed)}")
    if manifest is not None and seed_check(seed) != manifest.seed_check:
        raise CommitmentFormatError(path, "does not match the manifest's seed_check (this seed "
                                          "did not make these commitments)")
    return seed


def save(directory: str | Path, manifest: Manifest,
         commitments: Mapping[str, commit.Commitment]) -> None:
    """Write commitments.bin then manifest.json into `directory` (created if needed).

    The seed is written separately (`save_seed`). Raises ValueError if the commitments do not
    match the manifest (names, layouts or per-tensor SHA-256).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    parts = []
    for t in manifest.tensors:
        cm = commitments.get(t.name)
        if cm is None:
            raise ValueError(f"save: no commitment for {t.name!r}")
        if (cm.num_vars, cm.col_vars) != (t.num_vars, t.col_vars):
            raise ValueError(f"save: {t.name!r} has layout {(cm.num_vars, cm.col_vars)}, the "
                             f"manifest says {(t.num_vars, t.col_vars)}")
        b = compressed(cm)
        if hashlib.sha256(b).hexdigest() != t.sha256:
            raise ValueError(f"save: the commitment of {t.name!r} differs from the manifest's")
        parts.append(b)
    blob = b"".join(parts)
    if hashlib.sha256(blob).hexdigest() != manifest.commitments_sha256:
        raise ValueError("save: commitments_sha256 differs from the commitments")
    write_atomic(d / COMMITMENTS, blob)
    text = json.dumps(_manifest_json(manifest), indent=1) + "\n"
    write_atomic(d / MANIFEST, text.encode())


def _req(d: Mapping[str, Any], key: str, typ: type | tuple[type, ...], path: Path) -> Any:
    if key not in d:
        raise CommitmentFormatError(path, f"missing field {key!r}")
    v = d[key]
    if not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
        raise CommitmentFormatError(path, f"field {key!r} has the wrong type "
                                          f"({type(v).__name__})")
    return v


def _hex64(v: str, what: str, path: Path) -> str:
    if len(v) != 64 or any(ch not in "0123456789abcdef" for ch in v):
        raise CommitmentFormatError(path, f"{what} is not a lowercase hex SHA-256 digest")
    return v


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_configs(cfg: LlamaConfig, fx: FixedPointConfig, path: Path) -> None:
    """Field types and ranges that LlamaConfig/FixedPointConfig.from_dict leave unchecked."""
    for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "head_dim",
              "max_position_embeddings"):
        v = getattr(cfg, k)
        if not _is_int(v) or not 0 < v < 1 << 31:
            raise CommitmentFormatError(path, f"bad config: {k} must be a positive integer, "
                                              f"got {v!r}"[:300])
    for k in ("rms_norm_eps", "rope_theta"):
        v = getattr(cfg, k)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < math.inf:
            raise CommitmentFormatError(path, f"bad config: {k} must be a positive finite "
                                              f"number, got {v!r}"[:300])
    if not isinstance(cfg.tie_word_embeddings, bool):
        raise CommitmentFormatError(path, "bad config: tie_word_embeddings must be a boolean")
    for k in ("bos_token_id", "eos_token_id"):
        v = getattr(cfg, k)
        if v is not None and not (_is_int(v) and 0 <= v < 1 << 31):
            raise CommitmentFormatError(path, f"bad config: {k} must be a token id or null")
    for f in dataclasses.fields(fx):
        v = getattr(fx, f.name)
        if f.name == "softmax_digit_bits":
            ok = isinstance(v, tuple) and len(v) > 0 and all(_is_int(b) and 0 < b <= 32 for b in v)
        else:
            ok = (_is_int(v) and 0 <= v <= 32) or (f.name == "rsqrt_bits" and v is None)
        if not ok:
            raise CommitmentFormatError(path, f"bad fixed_point: {f.name} must be "
                                              f"integer(s) in [0, 32], got {v!r}"[:300])


def load_manifest(directory: str | Path) -> Manifest:
    """Read and validate manifest.json (not the commitments file)."""
    path = Path(directory) / MANIFEST
    try:  # OSError: e.g. a name too long for the file system
        if not Path(directory).is_dir():
            raise CommitmentFormatError(directory, "no such commitment directory")
        if not path.is_file():
            raise CommitmentFormatError(path, "missing (not a commitment directory, or "
                                              "incomplete)")
        text = path.read_text()
    except OSError as e:
        raise CommitmentFormatError(directory, f"cannot read: {e}") from e
    except UnicodeDecodeError as e:
        raise CommitmentFormatError(path, f"malformed JSON: {e}") from e
    try:
        d = json.loads(text)
    # ValueError: also JSON integers of more than 4300 digits; RecursionError: deep nesting
    except (ValueError, RecursionError) as e:
        raise CommitmentFormatError(path, f"malformed JSON: {str(e)[:200]}") from e
    if not isinstance(d, dict):
        raise CommitmentFormatError(path, "expected a JSON object")
    if d.get("format") != FORMAT:
        raise CommitmentFormatError(path, f"format is {d.get('format')!r}, expected {FORMAT!r}")
    version = _req(d, "version", int, path)
    if version != VERSION:
        raise CommitmentFormatError(path, f"unsupported version {version} (this zkllm-jax "
                                          f"reads version {VERSION})")
    digest = _hex64(_req(d, "model_digest", str, path), "model_digest", path)
    # from_dict checks little of the values' types: ZeroDivisionError (zero heads),
    # IndexError (an empty eos_token_id list) and wrong types are caught here or below
    try:
        cfg = LlamaConfig.from_dict(_req(d, "config", dict, path), source=f"{path}: config")
    except (ModelFormatError, TypeError, ValueError, ArithmeticError, LookupError) as e:
        raise CommitmentFormatError(path, f"bad config: {str(e)[:300]}") from e
    try:
        fx = FixedPointConfig.from_dict(_req(d, "fixed_point", dict, path))
    except (TypeError, ValueError, ArithmeticError, LookupError) as e:
        raise CommitmentFormatError(path, f"bad fixed_point: {str(e)[:300]}") from e
    _check_configs(cfg, fx, path)
    gens = _req(d, "generators", dict, path)
    tag = gens.get("tag")
    if tag != GENERATOR_TAG.decode():
        raise CommitmentFormatError(path, f"generator tag {tag!r}, expected "
                                          f"{GENERATOR_TAG.decode()!r}")
    if _req(d, "commitments_file", str, path) != COMMITMENTS:
        raise CommitmentFormatError(path, f"commitments_file must be {COMMITMENTS!r}")
    whole = _hex64(_req(d, "commitments_sha256", str, path), "commitments_sha256", path)
    check = _hex64(_req(d, "seed_check", str, path), "seed_check", path)
    raw = _req(d, "tensors", list, path)
    count = 2 + len(LAYER_TENSORS) * cfg.num_hidden_layers + (not cfg.tie_word_embeddings)
    if len(raw) != count:  # before `shapes`, which loops over the (untrusted) layer count
        raise CommitmentFormatError(path, f"{len(raw)} tensors listed, the config has {count}")
    want = shapes(cfg)
    entries = []
    offset = 0
    for i, ((name, shape), t) in enumerate(zip(want.items(), raw)):
        if not isinstance(t, dict):
            raise CommitmentFormatError(path, f"tensors[{i}] is not an object")
        where = f"tensors[{i}] ({t.get('name')!r})"
        if t.get("name") != name:
            raise CommitmentFormatError(path, f"{where}: expected tensor {name!r} here")
        if t.get("shape") != list(shape):
            raise CommitmentFormatError(path, f"{where}: shape {t.get('shape')}, the config "
                                              f"gives {list(shape)}")
        n, c = commit.layout(shape)
        got = (t.get("num_vars"), t.get("col_vars"), t.get("rows"))
        if got != (n, c, 1 << (n - c)):
            raise CommitmentFormatError(path, f"{where}: layout (num_vars, col_vars, rows) = "
                                              f"{got}, expected {(n, c, 1 << (n - c))}")
        if t.get("offset") != offset:
            raise CommitmentFormatError(path, f"{where}: offset {t.get('offset')}, expected "
                                              f"{offset}")
        offset += POINT_BYTES << (n - c)
        sha = t.get("sha256")
        if not isinstance(sha, str):
            raise CommitmentFormatError(path, f"{where}: missing sha256")
        entries.append(TensorEntry(name, shape, n, c, _hex64(sha, f"{where} sha256", path)))
    source = d.get("source", "")
    return Manifest(model_digest=digest, config=cfg, fx=fx, tensors=tuple(entries),
                    seed_check=check, commitments_sha256=whole,
                    source=source if isinstance(source, str) else "", version=version)


def load(directory: str | Path, point_cache: str | Path | None = None
         ) -> tuple[Manifest, dict[str, commit.Commitment]]:
    """Read and validate a commitment directory (what a verifier needs; no seed).

    Raises CommitmentFormatError naming the file and the problem: missing files, malformed JSON,
    wrong format or version, sizes or layouts that disagree with the config, SHA-256 mismatches,
    and encodings that are not valid points of the prime-order subgroup.

    point_cache: a folder keeping the decoded points by the SHA-256 of commitments.bin, checked
    against the manifest above (decoding and the subgroup checks take about 40 µs a point on
    two cores, 8 s for SmolLM2's 194,464 points; reading them back, milliseconds). Like a
    compilation cache, its files are trusted as the user's own.
    """
    m = load_manifest(directory)
    path = Path(directory) / COMMITMENTS
    try:
        if not path.is_file():
            raise CommitmentFormatError(path, "missing")
        blob = path.read_bytes()
    except OSError as e:
        raise CommitmentFormatError(path, f"cannot read: {e}") from e
    if len(blob) != m.commitment_bytes:
        raise CommitmentFormatError(path, f"{len(blob)} bytes, the manifest describes "
                                          f"{m.commitment_bytes} ({m.num_points} points)")
    off = 0
    for t in m.tensors:
        size = t.rows * POINT_BYTES
        if hashlib.sha256(blob[off:off + size]).hexdigest() != t.sha256:
            raise CommitmentFormatError(path, f"the commitment of {t.name} does not match the "
                                              "manifest's sha256")
        off += size
    if hashlib.sha256(blob).hexdigest() != m.commitments_sha256:
        raise CommitmentFormatError(path, "SHA-256 differs from the manifest's "
                                          "commitments_sha256")
    pts = _cached_points(point_cache, m) if point_cache else None
    if pts is None:
        pts = _decode_points(path, m, blob)
        if point_cache:
            _store_points(point_cache, m, pts)
    out = {}
    start = 0
    for t in m.tensors:
        out[t.name] = commit.Commitment(rows=pts[start:start + t.rows], num_vars=t.num_vars,
                                        col_vars=t.col_vars)
        start += t.rows
    return m, out


def _point_file(folder: str | Path, m: Manifest) -> Path:
    return Path(folder) / f"{m.commitments_sha256}.npy"


def _cached_points(folder: str | Path, m: Manifest) -> jax.Array | None:
    try:
        a = np.load(_point_file(folder, m), allow_pickle=False)
    except (OSError, ValueError):
        return None
    if a.dtype != np.uint32 or a.shape != (m.num_points, 3, curve.FP_LIMBS):
        return None
    return jnp.asarray(a)


def _store_points(folder: str | Path, m: Manifest, pts: jax.Array) -> None:
    dest = _point_file(folder, m)
    buf = io.BytesIO()
    np.save(buf, np.asarray(pts))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, buf.getvalue())
    except OSError:
        pass  # a cache that cannot be written only costs the next load its decoding


def _decode_points(path: Path, m: Manifest, blob: bytes) -> jax.Array:
    enc = np.frombuffer(blob, np.uint8).reshape(-1, POINT_BYTES)
    pts, status = curve.from_compressed_with_status(enc)
    st = np.asarray(status)
    if st.any():
        k = int(np.flatnonzero(st)[0])
        for t in m.tensors:
            if k < t.rows:
                break
            k -= t.rows
        reason = curve.DECOMPRESS_ERRORS.get(int(st[np.flatnonzero(st)[0]]), "invalid")
        raise CommitmentFormatError(path, f"{t.name} row {k}: invalid point ({reason})")
    return pts


# --- the cached pipeline ---------------------------------------------------------------------------


def existing(directory: str | Path) -> tuple[Manifest, dict[str, commit.Commitment]] | None:
    """The commitments in `directory` with their seed checked, or None if it has no manifest.

    Raises CommitmentFormatError if the directory holds a manifest but anything is wrong: a
    malformed manifest, a missing or corrupt commitments file, a missing seed or one that did
    not make these commitments (the prover could not open them).
    """
    if not (Path(directory) / MANIFEST).is_file():
        return None
    m, cms = load(directory)
    load_seed(directory, m)
    return m, cms


_OURS = {MANIFEST, COMMITMENTS, str(SEED_FILE.parent), MANIFEST + ".tmp", COMMITMENTS + ".tmp",
         "tokenizer.json"}


def _check_writable(out: Path) -> None:
    """Refuse to write into a file or into a non-empty folder that is not a commitment folder."""
    if out.exists() and not out.is_dir():
        raise CommitmentFormatError(out, "exists and is not a directory")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in _OURS)
        if other:
            shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
            raise CommitmentFormatError(out, f"not empty and not a commitment directory (holds "
                                             f"{shown}); choose a new or empty directory")


def commit_model(
    model_source: Any,
    out_dir: str | Path,
    *,
    fx: FixedPointConfig | None = None,
    force: bool = False,
    progress: Progress | None = None,
    seed: bytes | None = None,
) -> tuple[Manifest, dict[str, commit.Commitment], bool]:
    """Quantize a model, commit to its weights into `out_dir`, or reuse what is there.

    model_source: anything `models.load_model` takes ('smollm2', a HF directory, .gguf,
    .safetensors) or a loaded `models.Model`. fx: the fixed-point config (default: the model's
    own if it is already quantized, else `FixedPointConfig()`). Unless `force`:
      - `out_dir` valid, with the same model digest and fixed-point config (and the format
        version, which `load` checks): reused, no MSM;
      - valid but for another model or fixed-point config: recommitted;
      - holding a manifest but corrupt, of another format version or without its seed:
        CommitmentFormatError (published commitments are not silently replaced);
      - a file, or a non-empty folder that is not a commitment folder: CommitmentFormatError.
    Commits with `seed` (default: a fresh random one, so commitments of different models are
    unlinkable) and writes private/seed, commitments.bin, then manifest.json. Returns
    (manifest, commitments, cached).
    """
    from .models import Model, load_model

    model = model_source if isinstance(model_source, Model) else load_model(model_source)
    model = model.to_fixed(fx or model.fx or FixedPointConfig())
    ts = tensors(model.params, model.cfg)
    digest = model_digest(ts, model.cfg, model.fx)
    if not force:
        try:
            hit = existing(out_dir)
        except CommitmentFormatError as e:
            raise CommitmentFormatError(e.path, f"{e.problem}; recommit with --force to "
                                                "replace it") from e
        if hit is not None and hit[0].model_digest == digest and hit[0].fx == model.fx:
            return hit[0], hit[1], True
    out = Path(out_dir)
    _check_writable(out)
    seed = _check_seed(seed) if seed is not None else new_seed()
    cms = commit_all(ts, seed, progress)
    # only the file name: a public manifest need not reveal the prover's folders
    src = Path(model.source).name
    m = build_manifest(ts, model.cfg, model.fx, cms, seed, source=src, digest=digest)
    out.mkdir(parents=True, exist_ok=True)
    save_seed(out, seed)
    save(out, m, cms)
    return m, cms, False


def summary(m: Manifest) -> dict[str, Any]:
    """Counts for reports: tensors, weights, points, bytes, digest."""
    return {
        "tensors": len(m.tensors),
        "weights": int(sum(int(np.prod(t.shape)) for t in m.tensors)),
        "points": m.num_points,
        "commitment_bytes": m.commitment_bytes,
        "generators": m.generator_count,
        "model_digest": m.model_digest,
    }


__all__ = [
    "COMMITMENTS",
    "FORMAT",
    "GENERATOR_TAG",
    "MANIFEST",
    "SEED_FILE",
    "VERSION",
    "CommitmentFormatError",
    "Manifest",
    "TensorEntry",
    "blind_key",
    "build_manifest",
    "commit_all",
    "commit_model",
    "compressed",
    "existing",
    "generators",
    "load",
    "load_manifest",
    "load_seed",
    "max_cols",
    "model_digest",
    "names",
    "new_seed",
    "resolve",
    "save",
    "save_seed",
    "seed_check",
    "shapes",
    "summary",
    "tensors",
    "witness",
    "witnesses",
    "write_atomic",
]
