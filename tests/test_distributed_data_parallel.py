"""`DataParallel`, the data parallelism any trainer can call (the plugins' tokenizer trainers):
a jitted step on its replicated state and split batches trains as on one device, on 4 devices
of one process and on 2 processes x 2 devices; a batch the devices cannot split is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from archon_framework.train import DataParallel, LocalLaunch

# Each process keeps its own rows of the global batch (a tokenizer trainer's sampler would draw
# only those); a small MLP fits a fixed regression batch.
SCRIPT = r"""
import json, sys
args = sys.argv[1:]
cluster = {}
if "--coordinator" in args:
    from archon_framework.train import ClusterConfig, join_cluster
    get = lambda k: args[args.index(k) + 1]
    join_cluster(ClusterConfig(coordinator=get("--coordinator"), num_processes=int(get("--num-processes")),
                               process_id=int(get("--process-id"))))
import equinox as eqx, jax, jax.numpy as jnp, numpy as np, optax
from archon_framework import ConfigError
from archon_framework.train import DataParallel

def train(dp, steps=5, batch=8):
    model = eqx.nn.MLP(6, 1, 16, 2, key=jax.random.key(0))
    opt = optax.adamw(1e-2)
    model, opt_state = dp.replicate((model, opt.init(eqx.filter(model, eqx.is_array))))

    @eqx.filter_jit
    def step(model, opt_state, x, y):
        loss, grads = eqx.filter_value_and_grad(lambda m: jnp.mean((jax.vmap(m)(x)[:, 0] - y) ** 2))(model)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    local = dp.local_batch_size(batch)
    lo = local * jax.process_index()
    losses = []
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 6)).astype(np.float32)
    y = np.sin(x.sum(1)).astype(np.float32)
    for t in range(steps):
        data = dp.put({"x": x[lo:lo + local], "y": y[lo:lo + local]})
        model, opt_state, loss = step(model, opt_state, data["x"], data["y"])
        losses.append(float(loss))
    return losses

out = {"all": train(DataParallel())}
if jax.process_count() == 1:
    out["one"] = train(DataParallel(jax.devices()[:1]))
try:
    DataParallel().check_batch_size(6, "train.batch_size")
except ConfigError as err:
    out["error"] = str(err)
if jax.process_index() == 0:
    print("RESULT " + json.dumps(out), flush=True)
"""


def _result(text: str) -> dict:
    found = re.search(r"^RESULT (.*)$", text, re.M)
    assert found, text[-3000:]
    return json.loads(found.group(1))


def test_data_parallel_trains_as_one_device_on_4_devices_and_on_2_processes(tmp_path):
    script = tmp_path / "dp.py"
    script.write_text(SCRIPT)
    env = {"JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    single = _result(done.stdout + done.stderr)
    assert single["all"] == pytest.approx(single["one"], abs=1e-5)
    assert single["all"][-1] < single["all"][0]  # it learns
    assert single["error"] == ("train.batch_size = 6: not a multiple of the 4 data-parallel device(s) (1 process(es)); "
                               "use a multiple of 4")
    launch = LocalLaunch([sys.executable, str(script)], 2, devices_per_process=2, env=env, output=None)
    result = launch.wait(grace_s=60, timeout_s=300)
    assert result.ok, launch.output(0)[-3000:] + launch.output(1)[-3000:]
    multi = _result(launch.output(0))
    assert multi["all"] == pytest.approx(single["one"], abs=1e-5)
    assert "(2 process(es))" in multi["error"]


def test_on_one_process_the_batch_is_placed_whole():
    import jax
    import numpy as np

    dp = DataParallel()
    assert dp.size == jax.device_count() and dp.local_batch_size(4 * dp.size) == 4 * dp.size
    x = np.arange(8.0 * dp.size).reshape(4 * dp.size, 2)
    placed = dp.put({"x": x})["x"]
    np.testing.assert_array_equal(np.asarray(placed), x)
    assert placed.sharding == dp.batch_sharding
