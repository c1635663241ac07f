"""Layers across devices: a one-axis `jax.sharding.Mesh` ("layers") and the pieces the model
prover needs to spread its layers over it.

The whole-model proof gives every layer its own transcript branch (`Transcript.fork`), so the
layers' proofs are independent of each other once the witness is known. That makes the layer
axis the one to shard: no communication inside a layer, and the work per device is whole
layers, which keeps every custom call's operands local (each shard calls the BLS12-381 kernels
on its own device; nothing is partitioned inside a kernel).

- `stack_layers` builds global arrays sharded over the mesh (`NamedSharding(mesh, P("layers"))`),
  each device's block assembled on that device from its own layers only;
- `map_layers` runs one function per layer under `jax.shard_map`, each device mapping over its
  block (`lax.map`), as one SPMD program;
- `unstack_layers` cuts the sharded results back into per-layer pytrees that stay on their
  device;
- `per_device` runs one callable per device, concurrently on accelerators (JAX dispatch is per
  device, so one host thread per device keeps every device busy), and returns their results in
  mesh order.

On one device the same code runs with a mesh of one.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "layers"


def layer_mesh(devices: Sequence[Any] | int | None = None) -> Mesh:
    """A one-axis mesh named "layers" over `devices` (a list, a count of the first local
    devices, or None for every local device)."""
    avail = jax.local_devices()
    if devices is None:
        devs = avail
    elif isinstance(devices, int):
        if not 1 <= devices <= len(avail):
            raise ValueError(f"shard: {devices} devices asked for, {len(avail)} available "
                             f"({avail[0].platform})")
        devs = avail[:devices]
    else:
        devs = list(devices)
        if not devs:
            raise ValueError("shard: an empty device list")
    return Mesh(np.asarray(devs, dtype=object), (AXIS,))


def check_split(num_layers: int, mesh: Mesh, batch: int) -> int:
    """Layers per device; the layers must split evenly, and a finish group (`batch` layers)
    must not straddle two devices."""
    n = mesh.size
    if num_layers % n:
        raise ValueError(f"shard: {num_layers} layers do not split evenly over {n} devices")
    per = num_layers // n
    if per % batch:
        raise ValueError(f"shard: finish groups of {batch} layers straddle devices holding "
                         f"{per} layers each; use a batch that divides {per}")
    return per


def device_of(i: int, num_layers: int, mesh: Mesh) -> Any:
    """The device holding layer i (contiguous blocks, as `P("layers")` lays them out)."""
    return mesh.devices.flat[i // (num_layers // mesh.size)]


def stack_layers(mesh: Mesh, num_layers: int, get: Callable[[int], Any]) -> Any:
    """The pytree of `get(i)` for every layer, stacked on a leading axis and sharded over the
    mesh; each device's block is stacked from its own layers and put on that device."""
    per = num_layers // mesh.size
    blocks = []
    for d, dev in enumerate(mesh.devices.flat):
        trees = [get(i) for i in range(d * per, (d + 1) * per)]
        stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]),
                                         *trees)
        blocks.append(jax.device_put(stacked, dev))
    sharding = NamedSharding(mesh, P(AXIS))

    def glue(*parts):
        shape = (num_layers,) + parts[0].shape[1:]
        return jax.make_array_from_single_device_arrays(shape, sharding, list(parts))

    return jax.tree_util.tree_map(glue, *blocks)


def map_layers(fn: Callable[[Any, Any], Any], mesh: Mesh) -> Callable[[Any, Any], Any]:
    """jit(shard_map) of `fn(layer_inputs, shared)` over the stacked layers: each device maps
    `fn` over its block; `shared` is replicated."""
    def block(xs, shared):
        if jax.tree_util.tree_leaves(xs)[0].shape[0] == 1:  # one layer per device: no loop
            y = fn(jax.tree_util.tree_map(lambda a: a[0], xs), shared)
            return jax.tree_util.tree_map(lambda a: a[None], y)
        return jax.lax.map(functools.partial(_swap, fn, shared), xs)

    return jax.jit(jax.shard_map(block, mesh=mesh, in_specs=(P(AXIS), P()), out_specs=P(AXIS),
                                 check_vma=False))


def _swap(fn, shared, x):
    return fn(x, shared)


def unstack_layers(tree: Any, mesh: Mesh, num_layers: int) -> list[Any]:
    """Per-layer pytrees from a stacked, sharded pytree; each stays on the device holding it."""
    per = num_layers // mesh.size
    order = {dev: d for d, dev in enumerate(mesh.devices.flat)}
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    local = []  # leaf -> [block of device d]
    for a in leaves:
        blocks = [None] * mesh.size
        for s in a.addressable_shards:
            blocks[order[s.device]] = s.data
        local.append(blocks)
    return [treedef.unflatten([blocks[i // per][i % per] for blocks in local])
            for i in range(num_layers)]


def per_device(mesh: Mesh, work: Callable[[int, Any], Any]) -> list[Any]:
    """work(d, device) for every device of the mesh, each under `jax.default_device(device)`;
    results in mesh order (the first error is raised). Accelerators run concurrently, one host
    thread each; CPU host devices run one after another (they share the host's cores, and each
    compiles its own executables, which together would cross vm.max_map_count: `codecache`)."""
    devs = list(mesh.devices.flat)

    def run(d):
        with jax.default_device(devs[d]):
            return work(d, devs[d])

    if len(devs) == 1 or devs[0].platform == "cpu":
        return [run(d) for d in range(len(devs))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(devs)) as ex:
        # each thread runs in a copy of the caller's context (field.trusted() carries over)
        futs = [ex.submit(contextvars.copy_context().run, run, d) for d in range(len(devs))]
        return [f.result() for f in futs]


__all__ = ["AXIS", "check_split", "device_of", "layer_mesh", "map_layers", "per_device",
           "stack_layers", "unstack_layers"]
