"""Bridges to the independent reference implementations used as known answers."""

from __future__ import annotations

import numpy as np
import py_arkworks_bls12381 as ark

from zkllm_jax import curve, field


def ark_from_xy(xy: tuple[int, int] | None) -> ark.G1Point:
    if xy is None:
        return ark.G1Point.identity()
    x, y = xy
    return ark.G1Point.from_xy_bytes_be(x.to_bytes(48, "big") + y.to_bytes(48, "big"))


def ark_points(p) -> list[ark.G1Point]:
    """Our point array -> arkworks points (via affine coordinates)."""
    return [ark_from_xy(xy) for xy in curve.to_affine(p)]


def our_points(points: list[ark.G1Point]):
    """arkworks points -> our (validated) point array."""
    xs, ys = [], []
    for q in points:
        b = q.to_xy_bytes_be()
        xs.append(int.from_bytes(b[:48], "big"))
        ys.append(int.from_bytes(b[48:], "big"))
    return curve.from_affine(np.array(xs, dtype=object), np.array(ys, dtype=object))


def random_ark_points(rng, n: int) -> list[ark.G1Point]:
    g = ark.G1Point()
    return [g * ark.Scalar(rng.randrange(field.R)) for _ in range(n)]
