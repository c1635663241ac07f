"""Layers across devices (`shard.py`, `model.prove(mesh=...)`) on four CPU host devices.

JAX fixes its device count when it starts, so each check runs `tests/shard_check.py` in a fresh
process with `--xla_force_host_platform_device_count=4`:
- default suite: the mesh pieces (stacking on devices, one SPMD program with custom calls per
  layer, cutting back per device, one thread per device) equal the per-layer computation on
  meshes of 4, 2 and 1 devices; the model's SPMD layer program traces and lowers (compiling it
  takes many minutes on a CPU: it is for GPUs, `bench_model.py --devices N --jit`);
- slow (`pytest -m slow tests/test_shard.py`, about 15 minutes on 2 cores: every device
  compiles its own eager prover): a whole tiny model proven with its layers on two devices gives
  the one-device proof byte for byte, and it verifies; so do both from a streamed witness
  (`run(..., stream=True)`: each layer's witness remade when proven); swapped layer proofs are
  rejected; impossible splits are named.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _check(*args: str) -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("shard_check.py")), *args],
                       capture_output=True, text=True, env=env, timeout=3000, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_mesh_pieces_on_four_host_devices():
    res = _check("helpers")
    assert res["devices"] == 4
    for m, where in ((4, [0, 0, 1, 1, 2, 2, 3, 3]), (2, [0] * 4 + [1] * 4), (1, [0] * 8)):
        r = res[f"mesh{m}"]
        assert r["same"], m  # every layer's result equals the unsharded computation
        assert r["where"] == where  # and stays on the device holding that layer
        assert r["placed"] == list(range(m))
        assert r["ran"] == [[d, d] for d in range(m)]  # per_device: device d's default is d
    # the model's SPMD layer program traces and lowers; its outputs are the layer's, stacked
    low = res["lowered"]
    for m in ("mesh2", "mesh1"):
        assert low[m]["stacked"], m
        assert low[m]["custom_calls"] > 100, low[m]  # the BLS12-381 kernels, called per shard
    assert low["mesh1"]["loop"]  # two layers on one device: lax.map


@pytest.fixture(scope="module")
def model_result():
    return {**_check("single"), **_check("mesh2"), **_check("stream"), **_check("mesh2-stream")}


@pytest.mark.slow
def test_sharded_model_proof_equals_the_single_device_proof(model_result):
    one, two = model_result["single"], model_result["mesh2"]
    assert model_result["devices"] == 4
    assert one["verified"] and two["verified"]
    assert two["proof"] == one["proof"]
    assert two["state"] == one["state"]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["stream", "mesh2-stream"])
def test_streamed_witness_gives_the_same_proof(model_result, which):
    one, got = model_result["single"], model_result[which]
    assert got["verified"]
    assert got["proof"] == one["proof"]
    assert got["state"] == one["state"]


@pytest.mark.slow
def test_swapped_layer_proofs_are_rejected(model_result):
    assert model_result["swapped"].startswith("layer 0"), model_result["swapped"]


@pytest.mark.slow
def test_bad_splits_are_named(model_result):
    uneven, straddle = model_result["errors"]
    assert uneven and "do not split evenly over 2 devices" in uneven
    assert straddle and "straddle" in straddle
