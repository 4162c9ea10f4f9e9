"""AdamW on all parameters raveled into one vector (cheaper to compile) is the per-array update."""

import equinox as eqx
import jax
import numpy as np

import archon_video_walt._train as train
from archon_video_walt import AutoencoderTrainer
from archon_video_walt._data import prepare_clips, sample_video_batch


def test_raveled_adamw_equals_per_array_adamw(mini, clips, monkeypatch):
    batches = [sample_video_batch(prepare_clips(clips, mini), 2, 5, 0, rng=np.random.default_rng(i)) for i in range(2)]
    results = {}
    for flat in (True, False):
        monkeypatch.setattr(train, "_flat", lambda name, flat=flat: flat and name != "adafactor")
        trainer = AutoencoderTrainer(mini, steps=20, seed=0)
        if flat:
            assert isinstance(trainer.opt_state[1].inner_state[0].mu, jax.Array)  # one vector of moments
        for batch in batches:  # a warm-up step at learning rate 0 (the count moves), then a real one
            trainer.step(batch)
        results[flat] = jax.tree.leaves(eqx.filter(trainer.model, eqx.is_array))
    moved = [not np.allclose(a, b) for a, b in
             zip(results[True], jax.tree.leaves(eqx.filter(AutoencoderTrainer(mini, steps=20, seed=0).model, eqx.is_array)))]
    assert any(moved)
    for a, b in zip(results[True], results[False]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    monkeypatch.undo()
    assert train._flat("adamw") and not train._flat("adafactor")
