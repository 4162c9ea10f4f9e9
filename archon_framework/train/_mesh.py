"""Device meshes: the trainer's ("data", "fsdp") mesh over one or many hosts' devices, and
placing parameters on it (FSDP shards an array's first axis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from archon_framework._errors import ConfigError
from archon_framework.train._config import TrainConfig

__all__ = ["make_mesh", "param_sharding", "shard_tree"]


def make_mesh(config: TrainConfig, devices: Sequence[Any] | None = None) -> Mesh:
    """A ("data", "fsdp") mesh over the devices (one CPU device works; so do many hosts')."""
    devices = list(devices if devices is not None else jax.devices())
    fsdp = config.mesh.fsdp
    data = config.mesh.data if config.mesh.data > 0 else len(devices) // fsdp
    if data * fsdp != len(devices) and config.mesh.data > 0 or data * fsdp > len(devices) or data < 1:
        raise ConfigError(f"mesh data={config.mesh.data} x fsdp={fsdp} does not fit {len(devices)} device(s)")
    if config.data.batch_size % data:
        raise ConfigError(f"data.batch_size={config.data.batch_size} is not a multiple of the mesh's data axis ({data})")
    return Mesh(np.asarray(devices[: data * fsdp]).reshape(data, fsdp), ("data", "fsdp"))


def param_sharding(leaf: Any, mesh: Mesh) -> NamedSharding:
    """FSDP: shard an array's first axis over "fsdp" when it divides evenly, else replicate."""
    fsdp = mesh.shape["fsdp"]
    if fsdp > 1 and getattr(leaf, "ndim", 0) >= 1 and leaf.shape[0] % fsdp == 0:
        return NamedSharding(mesh, PartitionSpec("fsdp"))
    return NamedSharding(mesh, PartitionSpec())


def shard_tree(tree: Any, mesh: Mesh) -> Any:
    """Every array of `tree` placed on `mesh` by `param_sharding`."""
    return jax.tree_util.tree_map(lambda x: jax.device_put(x, param_sharding(x, mesh)) if eqx.is_array(x) else x, tree)
