"""Run by Bazel (`bazel run //:zkllm_jax_py_check`), not by pytest: the Python package target
with the Bazel-built CPU module computes field products that agree with Python integers."""

from __future__ import annotations

import importlib.util
import os
import sys


def main() -> None:
    from zkllm_jax import ffi, field

    native = os.path.abspath(ffi._native_cpu.__file__)
    if ".runfiles" not in native:
        sys.exit(f"zkllm_jax._native_cpu came from {native}, not from the Bazel runfiles")
    models = importlib.util.find_spec("zkllm_jax.models")
    if models is None or ".runfiles" not in (models.origin or ""):
        sys.exit(f"zkllm_jax.models is not the Bazel-copied subpackage: {models}")

    a = [3, field.R - 1, 1 << 200, -7]
    b = [5, field.R - 1, (1 << 255) % field.R, 11]
    got = field.decode(field.mul(field.encode(a), field.encode(b)))
    want = [(x * y) % field.R for x, y in zip(a, b)]
    if list(got) != want:
        sys.exit(f"field.mul through the Bazel-built module: got {list(got)}, want {want}")
    print(f"ok: {len(ffi.TARGETS)} targets from {native}")


if __name__ == "__main__":
    main()
