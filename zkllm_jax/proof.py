"""Proof objects and their versioned, self-describing byte format, with a strict parser.

Proof objects are pytrees (flax struct dataclasses) defined next to their protocol
(`sumcheck.SumcheckProof`, `commit.OpeningProof`, `lookup.LookupProof`) and registered here
with a type id and a schema: an ordered list of (field name, element kind, number of batch axes).

Byte format, version 1 (integers big-endian):

    magic    4 bytes  b"ZKLJ"
    version  u16      1
    type id  u16      which proof object (TYPES)
    nfields  u16      must equal the schema's length
    then per field, in schema order:
      name     u8 length + ASCII name (must equal the schema's)
      kind     u8       1 = Fr element, 2 = G1 point
      ndim     u8       number of batch axes (must equal the schema's)
      dims     u32 each
      payload  32 bytes per Fr element (canonical little-endian integer < r),
               48 bytes per G1 point (ZCash compressed; on the curve and in the subgroup)
    nothing after the last field.

Every deviation (truncation, trailing bytes, wrong magic/version/type/name/kind/ndim, a dim that
overruns the data, a scalar ≥ r, an invalid point) raises ProofFormatError naming the byte
offset and the field. Parameters (rounds, degree, columns) are the dims, which verifiers check
against what they expect. The flat types hold plain (not zero-knowledge) proofs only: a
zero-knowledge sumcheck's mask (and a lookup's layer masks) travel in the tree format below.

Composite proofs (a layer, a model: nested dataclasses and dicts of the objects above) use the
tree type (id 4, `tree_to_bytes` / `tree_from_bytes`): after the 8-byte header,

    nleaves  u32
    then per leaf, in pytree order:
      path     u16 length + UTF-8 (jax.tree_util.keystr of the leaf's path)
      kind, ndim, dims, payload   as above

The parser is given the expected structure (`like`: the proof's pytree with arrays or
jax.ShapeDtypeStruct leaves, e.g. from `jax.eval_shape` of the prover on the public shapes) and
requires every path, kind and shape to match it exactly, so a proof can neither add, drop nor
reshape a message.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import curve, field
from .commit import OpeningProof
from .lookup import LookupProof
from .sumcheck import SumcheckProof

MAGIC = b"ZKLJ"
VERSION = 1
FR, G1 = 1, 2
_WIDTH = {FR: 32, G1: 48}
_MAX_ELEMS = 1 << 28

# type id -> (class, [(field, kind, batch ndim)])
TYPES: dict[int, tuple[type, list[tuple[str, int, int]]]] = {
    1: (SumcheckProof, [("messages", FR, 2), ("final_evals", FR, 1)]),
    2: (OpeningProof, [("left", G1, 1), ("right", G1, 1), ("a", G1, 0), ("z1", FR, 0),
                       ("z2", FR, 0)]),
    3: (LookupProof, [("multiplicity_commitment", G1, 1), ("layer1", FR, 1),
                      ("layer_messages", FR, 2), ("layer_finals", FR, 2), ("column_values", FR, 2),
                      ("multiplicity_value", FR, 0), ("opening_left", G1, 1),
                      ("opening_right", G1, 1), ("opening_a", G1, 0), ("opening_z1", FR, 0),
                      ("opening_z2", FR, 0)]),
}
_ID_OF = {cls: tid for tid, (cls, _) in TYPES.items()}


class ProofFormatError(ValueError):
    """Malformed proof bytes; `offset` is the byte position, `field` the field being read."""

    def __init__(self, offset: int, fld: str, detail: str):
        self.offset = offset
        self.field = fld
        super().__init__(f"proof format error at byte {offset} ({fld}): {detail}")


def _fr_bytes(x: Any) -> bytes:
    limbs = np.asarray(field.to_canonical_limbs(x), dtype="<u4")
    return limbs.reshape(-1, field.LIMBS).tobytes()


def to_bytes(proof: Any) -> bytes:
    """Serialize a registered proof object."""
    tid = _ID_OF.get(type(proof))
    if tid is None:
        raise TypeError(f"to_bytes: {type(proof).__name__} is not a registered proof type")
    if getattr(proof, "mask", None) is not None or getattr(proof, "layer_masks", ()):
        raise TypeError(f"to_bytes: the flat format holds plain proofs; a zero-knowledge "
                        f"{type(proof).__name__} (with its masks) is written by tree_to_bytes")
    _, schema = TYPES[tid]
    out = [MAGIC, VERSION.to_bytes(2, "big"), tid.to_bytes(2, "big"),
           len(schema).to_bytes(2, "big")]
    for name, kind, ndim in schema:
        arr = getattr(proof, name)
        batch = arr.shape[: arr.ndim - (1 if kind == FR else 2)]
        if len(batch) != ndim:
            raise ValueError(f"to_bytes: field {name} has {len(batch)} batch axes, expected {ndim}")
        out += [bytes([len(name)]), name.encode(), bytes([kind, ndim])]
        out += [int(d).to_bytes(4, "big") for d in batch]
        if int(np.prod(batch, dtype=np.int64)) == 0:
            continue
        if kind == FR:
            out.append(_fr_bytes(arr))
        else:
            out.append(np.asarray(curve.to_compressed(arr), dtype=np.uint8).tobytes())
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, fld: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ProofFormatError(self.pos, fld, f"truncated: needs {n} bytes, "
                                   f"{len(self.data) - self.pos} left")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def uint(self, n: int, fld: str) -> int:
        return int.from_bytes(self.take(n, fld), "big")


def _parse_fr(raw: bytes, shape: tuple[int, ...], offset: int, name: str) -> Any:
    limbs = np.frombuffer(raw, dtype="<u4").reshape(-1, field.LIMBS)
    ints = [int.from_bytes(raw[32 * i : 32 * i + 32], "little") for i in range(limbs.shape[0])]
    for i, v in enumerate(ints):
        if v >= field.R:
            raise ProofFormatError(offset + 32 * i, name, f"element {i} is not a canonical "
                                   "scalar (>= r)")
    if 0 < len(ints) <= field.HOST_MAX:  # on the host: no compilation per payload shape
        return jnp.asarray(field.mont_limbs(ints)).reshape(shape + (field.LIMBS,))
    return field.from_canonical_limbs(jnp.asarray(limbs.astype(np.uint32))).reshape(
        shape + (field.LIMBS,))


def _parse_g1(raw: bytes, shape: tuple[int, ...], offset: int, name: str) -> Any:
    return _parse_g1_many([(raw, shape, offset, name)])[0]


def _parse_g1_many(items: list[tuple[bytes, tuple[int, ...], int, str]]) -> list[Any]:
    """Several G1 payloads (raw, batch shape, byte offset, field name) decoded in one call; the
    first invalid point (in payload order) raises, naming its offset and field."""
    enc = np.frombuffer(b"".join(raw for raw, *_ in items), dtype=np.uint8).reshape(-1, 48)
    pts, status = curve.from_compressed_with_status(jnp.asarray(enc))
    st = np.asarray(status)
    bad = np.flatnonzero(st)
    start, out = 0, []
    for raw, shape, offset, name in items:
        n = len(raw) // 48
        if bad.size and bad[0] < start + n:
            i = int(bad[0]) - start
            raise ProofFormatError(offset + 48 * i, name, f"point {i} is invalid: "
                                   f"{curve.DECOMPRESS_ERRORS[int(st[start + i])]}")
        out.append(pts[start:start + n].reshape(shape + (3, curve.FP_LIMBS)))
        start += n
    return out


def _open(data: Any, caller: str) -> _Reader:
    """A reader positioned after the magic and the version (both checked)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{caller}: expected bytes, got {type(data).__name__}")
    rd = _Reader(bytes(data))
    if rd.take(4, "magic") != MAGIC:
        raise ProofFormatError(0, "magic", "not a zkllm-jax proof (bad magic)")
    version = rd.uint(2, "version")
    if version != VERSION:
        raise ProofFormatError(4, "version", f"unsupported version {version} (expected "
                               f"{VERSION})")
    return rd


def from_bytes(data: bytes, expected: type | None = None) -> Any:
    """Parse proof bytes strictly; `expected` (a proof class) also pins the type id."""
    rd = _open(data, "from_bytes")
    tid = rd.uint(2, "type")
    if tid not in TYPES:
        raise ProofFormatError(6, "type", f"unknown proof type id {tid}")
    cls, schema = TYPES[tid]
    if expected is not None and cls is not expected:
        raise ProofFormatError(6, "type", f"expected a {expected.__name__}, got {cls.__name__}")
    nfields = rd.uint(2, "nfields")
    if nfields != len(schema):
        raise ProofFormatError(8, "nfields", f"{nfields} fields, {cls.__name__} has "
                               f"{len(schema)}")
    values: dict[str, Any] = {}
    for name, kind, ndim in schema:
        at = rd.pos
        nlen = rd.uint(1, name)
        got = rd.take(nlen, name)
        if got != name.encode():
            raise ProofFormatError(at, name, f"expected field {name!r}, found {got!r}")
        at = rd.pos
        if rd.uint(1, name) != kind:
            raise ProofFormatError(at, name, "wrong element kind")
        at = rd.pos
        if rd.uint(1, name) != ndim:
            raise ProofFormatError(at, name, f"wrong number of axes (expected {ndim})")
        shape = tuple(rd.uint(4, name) for _ in range(ndim))
        count = math.prod(shape)  # exact: an int64 product of u32 dims can wrap negative
        width = _WIDTH[kind]
        if count > _MAX_ELEMS or count * width > len(rd.data) - rd.pos:
            raise ProofFormatError(rd.pos, name, f"shape {shape} overruns the data "
                                   f"({len(rd.data) - rd.pos} bytes left)")
        at = rd.pos
        raw = rd.take(count * width, name)
        if count == 0:
            tail = (field.LIMBS,) if kind == FR else (3, curve.FP_LIMBS)
            values[name] = jnp.zeros(shape + tail, jnp.uint32)
        elif kind == FR:
            values[name] = _parse_fr(raw, shape, at, name)
        else:
            values[name] = _parse_g1(raw, shape, at, name)
    if rd.pos != len(rd.data):
        raise ProofFormatError(rd.pos, "end", f"{len(rd.data) - rd.pos} trailing bytes")
    return cls(**values)


TREE = 4


def _leaf_kind(shape: tuple[int, ...], where: str) -> int:
    if len(shape) >= 2 and shape[-2:] == (3, curve.FP_LIMBS):
        return G1
    if len(shape) >= 1 and shape[-1] == field.LIMBS:
        return FR
    raise ValueError(f"{where}: leaf of shape {shape} is neither Fr[..., 8] nor G1[..., 3, 12]")


def _payload(arr: Any, kind: int) -> bytes:
    if int(np.prod(arr.shape, dtype=np.int64)) == 0:
        return b""
    if kind == FR:
        return _fr_bytes(arr)
    return np.asarray(curve.to_compressed(arr), dtype=np.uint8).tobytes()


def tree_to_bytes(tree: Any) -> bytes:
    """Serialize a composite proof (any pytree of Fr and G1 arrays) in the tree format."""
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    out = [MAGIC, VERSION.to_bytes(2, "big"), TREE.to_bytes(2, "big"),
           len(leaves).to_bytes(4, "big")]
    for path, leaf in leaves:
        name = jax.tree_util.keystr(path).encode()
        shape = tuple(int(d) for d in leaf.shape)
        kind = _leaf_kind(shape, name.decode())
        batch = shape[: len(shape) - (1 if kind == FR else 2)]
        if len(name) >= 1 << 16 or len(batch) > 255:
            raise ValueError(f"tree_to_bytes: leaf {name!r} cannot be encoded")
        out += [len(name).to_bytes(2, "big"), name, bytes([kind, len(batch)])]
        out += [int(d).to_bytes(4, "big") for d in batch]
        out.append(_payload(leaf, kind))
    return b"".join(out)


def tree_from_bytes(data: bytes, like: Any) -> Any:
    """Parse tree-format bytes strictly against the expected structure `like` (see above)."""
    import jax

    rd = _open(data, "tree_from_bytes")
    if rd.uint(2, "type") != TREE:
        raise ProofFormatError(6, "type", "not a composite (tree) proof")
    expected, treedef = jax.tree_util.tree_flatten_with_path(like)
    n = rd.uint(4, "nleaves")
    if n != len(expected):
        raise ProofFormatError(8, "nleaves", f"{n} leaves, the expected proof has "
                               f"{len(expected)}")
    values: list[Any] = []
    points: list[tuple[int, tuple[bytes, tuple[int, ...], int, str]]] = []  # (slot, payload)

    def decode_points() -> None:  # every G1 payload so far in one call, in payload order
        if not points:
            return
        for (slot, _), pts in zip(points, _parse_g1_many([p for _, p in points])):
            values[slot] = pts
        points.clear()

    try:
        _tree_leaves(rd, expected, values, points)
    except ProofFormatError:
        decode_points()  # an invalid point before this error is reported first, as read
        raise
    decode_points()
    if rd.pos != len(rd.data):
        raise ProofFormatError(rd.pos, "end", f"{len(rd.data) - rd.pos} trailing bytes")
    return jax.tree_util.tree_unflatten(treedef, values)


def _tree_leaves(rd: _Reader, expected: list, values: list, points: list) -> None:
    """Read and check every leaf's header and payload; Fr payloads are decoded here, G1 ones
    queued in `points` (their slots in `values` hold None until decoded)."""
    import jax

    for path, leaf in expected:
        name = jax.tree_util.keystr(path)
        shape = tuple(int(d) for d in leaf.shape)
        kind = _leaf_kind(shape, name)
        batch = shape[: len(shape) - (1 if kind == FR else 2)]
        at = rd.pos
        got = rd.take(rd.uint(2, name), name)
        if got != name.encode():
            raise ProofFormatError(at, name, f"expected leaf {name!r}, found {got[:80]!r}")
        at = rd.pos
        if rd.uint(1, name) != kind:
            raise ProofFormatError(at, name, "wrong element kind")
        at = rd.pos
        if rd.uint(1, name) != len(batch):
            raise ProofFormatError(at, name, f"wrong number of axes (expected {len(batch)})")
        at = rd.pos
        dims = tuple(rd.uint(4, name) for _ in batch)
        if dims != batch:
            raise ProofFormatError(at, name, f"shape {dims}, expected {batch}")
        count = int(np.prod(batch, dtype=np.int64))
        at = rd.pos
        raw = rd.take(count * _WIDTH[kind], name)
        if count == 0:
            values.append(jnp.zeros(shape, jnp.uint32))
        elif kind == FR:
            values.append(_parse_fr(raw, batch, at, name))
        else:
            points.append((len(values), (raw, batch, at, name)))
            values.append(None)


def header_bytes(cls: type) -> int:
    """Bytes of a proof's headers (everything except payload) for a registered class."""
    tid = _ID_OF[cls]
    _, schema = TYPES[tid]
    return 10 + sum(1 + len(n) + 2 + 4 * nd for n, _, nd in schema)


__all__ = ["TREE", "TYPES", "LookupProof", "OpeningProof", "ProofFormatError", "SumcheckProof",
           "from_bytes", "header_bytes", "to_bytes", "tree_from_bytes", "tree_to_bytes"]
