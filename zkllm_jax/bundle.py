"""The `.zkp` file: a proof with its public statement (header, public logits, proof bytes).

Layout (integers big-endian):

    magic     4 bytes  b"ZKLP"
    version   u16      4 (3 before the transcript absorbed long payloads by chunk digests, 2
                       before the lookups' two-tree layout: older proofs do not verify)
    header    u32 length + UTF-8 JSON: format version, model digest, zero_knowledge flag,
              tokens (the proven sequence), prompt_tokens (how many of them are the prompt),
              generated (the generated token ids), logits shape, batch_layers (layers per
              finish, `model.ModelSpec.batch`)
    logits    u32 length + int32 little-endian, shape (T, V): the public output
    proof     u32 length + the proof's tree-format bytes (`model.to_bytes`)
    nothing after the proof.

Everything in the header and the logits is bound by the proof's transcript (the model digest
through the commitments it names; tokens and logits are absorbed first), except `generated`,
which the verifier recomputes from the logits (greedy: argmax of each row from the last prompt
position on) and compares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = b"ZKLP"
VERSION = 4  # 4: long transcript payloads by chunk digests; 3: the lookups' two trees
_MAX_HEADER = 1 << 24


class BundleFormatError(ValueError):
    """A malformed .zkp file; names the part and what is wrong."""

    def __init__(self, part: str, detail: str):
        self.part = part
        super().__init__(f"proof file: {part}: {detail}")


@dataclass(frozen=True)
class Bundle:
    """A parsed .zkp file."""

    header: dict[str, Any]
    logits: np.ndarray
    proof: bytes

    @property
    def tokens(self) -> np.ndarray:
        return np.asarray(self.header["tokens"], np.int32)


def encode(header: dict[str, Any], logits: Any, proof: bytes) -> bytes:
    """The file's bytes."""
    lg = np.ascontiguousarray(np.asarray(logits, dtype="<i4"))
    h = dict(header, version=VERSION, logits_shape=list(lg.shape))
    return encode_parts(MAGIC, VERSION, h, [lg.tobytes(), proof])


def encode_parts(magic: bytes, version: int, header: dict[str, Any], parts: list[bytes]
                 ) -> bytes:
    """magic, u16 version, u32 length + JSON header (sorted keys), then each part as u32
    length + bytes (the layout shared by .zkp and .zks files)."""
    hb = json.dumps(header, sort_keys=True).encode()
    out = [magic, version.to_bytes(2, "big"), len(hb).to_bytes(4, "big"), hb]
    for p in parts:
        out += [len(p).to_bytes(4, "big"), p]
    return b"".join(out)


def _take(data: bytes, pos: int, n: int, part: str) -> tuple[bytes, int]:
    if pos + n > len(data):
        raise BundleFormatError(part, f"truncated (needs {n} bytes at offset {pos}, "
                                f"{max(0, len(data) - pos)} left)")
    return data[pos:pos + n], pos + n


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # JSON true/false are not numbers


def decode_header(data: bytes, magic: bytes, version: int, what: str
                  ) -> tuple[dict[str, Any], int]:
    """Parse magic, version and the JSON header object (BundleFormatError on any deviation);
    returns (header, offset of the first part)."""
    if not data:
        raise BundleFormatError("magic", "the file is empty")
    got, pos = _take(data, 0, 4, "magic")
    if got != magic:
        raise BundleFormatError("magic", f"not {what}")
    ver, pos = _take(data, pos, 2, "version")
    if int.from_bytes(ver, "big") != version:
        raise BundleFormatError("version", f"unsupported version {int.from_bytes(ver, 'big')}")
    n, pos = _take(data, pos, 4, "header")
    n = int.from_bytes(n, "big")
    if n > _MAX_HEADER:
        raise BundleFormatError("header", f"{n} bytes is too large")
    hb, pos = _take(data, pos, n, "header")
    try:
        header = json.loads(hb.decode())
    # ValueError: also JSON integers of more than 4300 digits; RecursionError: deep nesting
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BundleFormatError("header", f"not valid JSON ({str(e)[:200]})") from e
    if not isinstance(header, dict):
        raise BundleFormatError("header", "not a JSON object")
    return header, pos


def require(header: Mapping[str, Any], fields: Any) -> None:
    """Each (key, type) must be present with that type (JSON true/false are not ints)."""
    for key, typ in fields:
        v = header.get(key)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise BundleFormatError("header", f"field {key!r} missing or not a {typ.__name__}")


def take_part(data: bytes, pos: int, part: str) -> tuple[bytes, int]:
    """A u32-length-prefixed part."""
    n, pos = _take(data, pos, 4, part)
    return _take(data, pos, int.from_bytes(n, "big"), part)


def decode(data: bytes) -> Bundle:
    """Parse a .zkp file strictly (BundleFormatError on any deviation)."""
    header, pos = decode_header(data, MAGIC, VERSION, "a zkllm-jax proof file")
    require(header, (("tokens", list), ("prompt_tokens", int), ("generated", list),
                     ("logits_shape", list), ("model_digest", str), ("zero_knowledge", bool),
                     ("version", int), ("batch_layers", int)))
    if header["version"] != VERSION:
        raise BundleFormatError("header", f"version {header['version']}, expected {VERSION}")
    toks = header["tokens"]
    if not toks or not all(_is_int(v) and 0 <= v < 1 << 31 for v in toks):
        raise BundleFormatError("header", "tokens must be a non-empty list of token ids")
    if not all(_is_int(v) and 0 <= v < 1 << 31 for v in header["generated"]):
        raise BundleFormatError("header", "generated must be a list of token ids")
    shape = header["logits_shape"]
    if (len(shape) != 2 or not all(_is_int(d) and d > 0 for d in shape)
            or shape[0] != len(toks)):
        raise BundleFormatError("header", f"logits_shape {shape} must be (len(tokens), vocab)")
    if not 1 <= header["prompt_tokens"] <= len(toks):
        raise BundleFormatError("header", "prompt_tokens out of range")
    if not 1 <= header["batch_layers"] < 1 << 16:
        raise BundleFormatError("header", "batch_layers out of range")
    n, pos = _take(data, pos, 4, "logits")
    n = int.from_bytes(n, "big")
    if n != 4 * shape[0] * shape[1]:
        raise BundleFormatError("logits", f"{n} bytes, the shape {shape} needs "
                                f"{4 * shape[0] * shape[1]}")
    lb, pos = _take(data, pos, n, "logits")
    logits = np.frombuffer(lb, "<i4").reshape(shape).astype(np.int32)
    pb, pos = take_part(data, pos, "proof")
    if pos != len(data):
        raise BundleFormatError("end", f"{len(data) - pos} trailing bytes")
    return Bundle(header=header, logits=logits, proof=pb)


def greedy_tokens(logits: np.ndarray, prompt_tokens: int) -> list[int]:
    """The greedy continuation the logits determine: argmax of rows prompt_tokens−1 .. T−1
    (first maximum, as `models.generate`)."""
    rows = np.asarray(logits)[prompt_tokens - 1:]
    return [int(v) for v in np.argmax(rows, axis=-1)]


__all__ = ["MAGIC", "VERSION", "Bundle", "BundleFormatError", "decode", "decode_header", "encode",
           "encode_parts", "greedy_tokens", "require", "take_part"]
