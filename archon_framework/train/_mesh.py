"""Device meshes: the trainer's ("data", "fsdp") mesh over one or many hosts' devices, placing
parameters on it (FSDP shards an array's first axis), and `DataParallel` for other trainers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from archon_framework._errors import ConfigError
from archon_framework.train._config import TrainConfig

__all__ = ["DataParallel", "make_mesh", "param_sharding", "shard_tree"]


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


class DataParallel:
    """Data parallelism for any trainer (the plugins' tokenizer and decoder trainers too): the
    state replicated on every device of a one-axis mesh, each batch's rows split over the devices
    of every process. A jitted step on such inputs is data-parallel as written: XLA averages the
    gradients across devices (and, over JAX's distributed runtime, across processes).

    Each process produces only its own rows (`local_batch_size` of them; sample them with a
    generator seeded by the process index, `jax.process_index()`, so processes differ) and
    `put` assembles the global batch::

        dp = DataParallel()
        dp.check_batch_size(config.batch_size, "train.batch_size")
        model, opt_state = dp.replicate((model, opt_state))
        for step in range(steps):
            batch = dp.put(sampler(dp.local_batch_size(config.batch_size)))
            model, opt_state, loss = step_fn(model, opt_state, batch)

    Or each process draws the whole global batch from the same seed and `put_global` keeps its
    rows (the plugins' tokenizer trainers: their host sampling is cheap, and a run then trains
    the same model on 1 device, on N devices and on N processes, up to float rounding).
    `local` gives each process its own copy of the replicated state for work outside the mesh
    (evaluation), and only the primary process (`is_primary`) writes files.

    Args:
        devices: the mesh's devices (default: every process's, `jax.devices()`).
        axis: the mesh axis name.
    """

    def __init__(self, devices: Sequence[Any] | None = None, *, axis: str = "data") -> None:
        self.mesh = Mesh(np.asarray(list(devices if devices is not None else jax.devices())), (axis,))
        self.axis = axis
        self.batch_sharding = NamedSharding(self.mesh, PartitionSpec(axis))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())

    @property
    def size(self) -> int:
        """Devices on the data axis."""
        return self.mesh.shape[self.axis]

    def check_batch_size(self, batch_size: int, field: str = "batch_size") -> None:
        """Refuse a global batch size the devices cannot split evenly, naming `field`."""
        if batch_size % self.size:
            raise ConfigError(f"{field} = {batch_size}: not a multiple of the {self.size} data-parallel device(s) "
                              f"({jax.process_count()} process(es)); use a multiple of {self.size}")

    def local_batch_size(self, batch_size: int) -> int:
        """Rows of each global batch this process produces."""
        self.check_batch_size(batch_size)
        local = sum(1 for d in self.mesh.devices.flat if d.process_index == jax.process_index())
        return batch_size // self.size * local

    def replicate(self, tree: Any) -> Any:
        """Every array of `tree` on every device (equal on every process: same seed, same init)."""
        return jax.tree_util.tree_map(lambda x: self._replicated(x) if eqx.is_array(x) else x, tree)

    def _replicated(self, x: Any) -> jax.Array:
        if jax.process_count() == 1 or (isinstance(x, jax.Array) and x.sharding == self.replicated):
            return jax.device_put(x, self.replicated)
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            # a typed PRNG key: its raw data replicated, wrapped again
            return jax.random.wrap_key_data(self._replicated(jax.random.key_data(x)), impl=jax.random.key_impl(x))
        # Across processes device_put refuses an array committed to a local device; the host
        # copy (the same on every process) is placed instead.
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, self.replicated, lambda index: host[index])

    @property
    def is_primary(self) -> bool:
        """Whether this process writes the run's files (checkpoints, reports, metrics): process 0."""
        return jax.process_index() == 0

    def put_global(self, batch: Any) -> Any:
        """The global batch from the whole batch, which every process holds (drawn from one seed):
        each process places only its own rows. The rows, hence the training, then depend on the
        seed alone, not on how many processes or devices run it; on one device this is the batch
        itself on that device."""
        def place(x: Any) -> Any:
            x = np.asarray(x)
            self.check_batch_size(x.shape[0])
            if jax.process_count() == 1:
                return jax.device_put(x, self.batch_sharding)
            return jax.make_array_from_callback(x.shape, self.batch_sharding, lambda index: x[index])

        return jax.tree_util.tree_map(place, batch)

    def local(self, tree: Any) -> Any:
        """Every replicated array of `tree` as this process's own copy (a single-device array), for
        work each process does alone (evaluation, encoding): the values are the same everywhere.

        Raises:
            ConfigError: an array of `tree` is not replicated (a batch split over the devices).
        """
        def own(x: Any) -> Any:
            if not isinstance(x, jax.Array) or len(x.sharding.device_set) == 1:
                return x
            if not x.is_fully_replicated:
                raise ConfigError(f"DataParallel.local: an array of shape {x.shape} is split over the devices "
                                  f"({x.sharding}), not replicated; only replicated state has a local copy")
            return x.addressable_data(0)

        return jax.tree_util.tree_map(own, tree)

    def put(self, local_batch: Any) -> Any:
        """The global batch from this process's rows (a pytree of arrays, rows first)."""
        def place(x: Any) -> Any:
            x = np.asarray(x)
            if jax.process_count() == 1:
                return jax.device_put(x, self.batch_sharding)
            rows = x.shape[0] * self.size // sum(1 for d in self.mesh.devices.flat if d.process_index == jax.process_index())
            return jax.make_array_from_process_local_data(self.batch_sharding, x, (rows, *x.shape[1:]))

        return jax.tree_util.tree_map(place, local_batch)
