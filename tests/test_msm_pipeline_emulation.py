"""The GPU MSM pipeline (xla_ffi/cuda/msm_pipeline.h) emulated on the host.

Compiles tests/native/msm_pipeline_emulation.cc with the host C++ compiler and runs it: every
kernel of the CUDA MSM runs as a loop over its thread indices, CUB's sort as a stable sort, and
the results are compared with naive double-and-add sums. It checks the GPU code's indexing on
machines without a GPU; test_gpu.py checks the real kernels where there is one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "native" / "msm_pipeline_emulation.cc"


def test_msm_pipeline_emulation(tmp_path):
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no host C++ compiler")
    exe = tmp_path / "msm_pipeline_emulation"
    build = subprocess.run(
        [cxx, "-std=c++17", "-O2", "-Wall", "-I", str(ROOT / "xla_ffi" / "include"), "-I",
         str(ROOT / "xla_ffi"), str(SOURCE), "-o", str(exe)],
        check=False, capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    res = subprocess.run([str(exe)], check=False, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 of " in res.stdout and "FAIL" not in res.stdout
