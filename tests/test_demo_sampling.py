"""The demo's sampling: the demo spec names the outputs decoded greedily, a config overrides it."""

from __future__ import annotations

from archon_framework import DemoSpec
from archon_framework.infer._demo import DemoConfig

SPEC = DemoSpec(name="toy", chains=(("toy-chain", ("speech",), "toy"),), suite="toy", dataset="a",
                heldout_dataset="b", greedy_for=["description"])


def test_the_spec_names_the_greedy_outputs_unless_the_config_does():
    assert DemoConfig().resolved(SPEC).greedy_for == ("description",)
    assert DemoConfig(greedy_for=[]).resolved(SPEC).greedy_for == ()
    assert DemoConfig(greedy_for=["script"]).resolved(SPEC).greedy_for == ("script",)


def test_the_demo_samples_with_its_settings_and_the_greedy_outputs():
    sampling = DemoConfig(temperature=0.7, top_p=0.8).resolved(SPEC).sampling()
    assert (sampling.temperature, sampling.top_p, sampling.greedy_for, sampling.greedy) == (0.7, 0.8, ("description",), False)
