"""Chain-step decoding: one compilation per length bucket with the tokens of an exact-length
decode, and classifier-free guidance per chain step (toy modalities of test_infer_kit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from archon_framework import ClipMeta, CompileCounter, ConfigError
from archon_framework.data._examples import drop_conditions
from archon_framework.infer import Chain, ChainStep, StepRanges, generate
from archon_framework.infer._lm_steps import bucket, decode_fixed, target_bucket
from archon_framework.model import Sampling
from archon_framework.model import generate_tokens as lm_generate
from test_infer_kit import META, THINK, s, toy_clip, toy_model

WARM = Sampling(temperature=2.5, top_k=6)  # used by no other test module: its first compile is counted here


@pytest.fixture(scope="module")
def model():
    return toy_model()


def test_buckets_follow_a_ladder_within_the_context():
    assert [target_bucket(n, 64, 512) for n in (1, 5, 16, 17, 25, 100)] == [16, 16, 16, 24, 32, 128]
    assert target_bucket(40, 480, 512) == 40  # no room to pad: the exact count
    assert bucket(20, 16, 512) == bucket(60, 16, 512) == 64
    assert [bucket(n, 16, 512) for n in (65, 96, 97, 265, 400)] == [96, 96, 128, 384, 496]


def test_one_compilation_per_bucket_and_the_tokens_of_an_exact_decode(model):
    """Prompts of 20..50 tokens and outputs of 5..11 tokens (one bucket each) compile once, and
    each output equals an unpadded exact-count decode on the same key."""
    starts = 10 + 8 * (np.arange(11) % 3)  # three 8-wide blocks, as a residual tokenizer's levels
    cases = [(20, 5), (33, 8), (50, 11)]
    with CompileCounter() as compiles:
        outs = [decode_fixed(model.lm, np.arange(p, dtype=np.int32) % 90, StepRanges(starts[:n], 8),
                             jax.random.key(p), WARM) for p, n in cases]
    assert compiles.count("_fixed") == 1, dict(compiles.by_function)
    for (p, n), out in list(zip(cases, outs))[::2]:
        exact = lm_generate(model.lm, jnp.arange(p, dtype=jnp.int32) % 90, num_tokens=n, key=jax.random.key(p),
                            sampling=WARM, vocab_size=8, block_starts=jnp.asarray(starts[:n], jnp.int32))
        np.testing.assert_array_equal(out, np.asarray(exact))


def test_clips_of_other_lengths_reuse_the_chain_steps_compilations(model):
    hot = Sampling(temperature=4.0)
    run = {}
    for seconds in (0.4, 0.5, 0.6):
        meta = ClipMeta(clip_id="toy", duration=seconds, frame_rate=10, sample_rate=100)
        clip = toy_clip(1, meta)
        with CompileCounter() as compiles:
            run[seconds] = generate(model, {"speech": clip["speech"], "image": clip["image"]}, THINK, meta=meta,
                                    seed=1, sampling=hot)
        if seconds != 0.4:
            assert compiles.count("_fixed") + compiles.count("_until") == 0, (seconds, dict(compiles.by_function))
    assert [run[t].step("expression").global_ids.shape[0] for t in (0.4, 0.5, 0.6)] == [8, 10, 12]  # 2 a frame


# ---------------------------------------------------------------------- guidance
def test_guidance_per_chain_step(model):
    clip = toy_clip(2)
    conds = {"speech": clip["speech"], "image": clip["image"]}
    hot = Sampling(temperature=2.0)
    plain = generate(model, conds, THINK, meta=META, seed=5, sampling=hot)
    zero = generate(model, conds, THINK, meta=META, seed=5, sampling=hot._replace(guidance=0.0))
    guided_chain = Chain("toy-think-guided", THINK.conditions, tuple(
        ChainStep(st.output, st.inputs, guidance=6.0 if st.output == s("expression(c)") else None) for st in THINK.steps))
    guided = generate(model, conds, guided_chain, meta=META, seed=5, sampling=hot)
    for a, b, c in zip(plain.steps, zero.steps, guided.steps, strict=True):
        if a.global_ids is None:
            continue
        np.testing.assert_array_equal(a.global_ids, b.global_ids)  # scale 0: unguided, exactly
        if a.output != s("expression(c)"):
            np.testing.assert_array_equal(a.global_ids, c.global_ids)  # steps without guidance
    assert not np.array_equal(plain.step("expression").global_ids, guided.step("expression").global_ids)
    assert guided.step("expression").valid


def test_the_unconditional_prompt_keeps_headers_and_drops_values(model):
    speech = model.layout.range("speech").to_global(model.tokenizer("speech").encode(toy_clip(0)["speech"], meta=META))
    from archon_framework._prompt import Payload

    full = model.serializer.serialize([Payload(s("speech(c)"), speech)], s("expression(c)"), target_tokens=16).tokens
    null = model.serializer.serialize(drop_conditions([Payload(s("speech(c)"), speech)]), s("expression(c)"),
                                      target_tokens=16).tokens
    parsed = model.serializer.parse(null, len(null))
    assert [p.slot for p in parsed.inputs] == [s("speech(c)")] and len(parsed.inputs[0]) == 0
    assert len(null) < len(full) - len(speech) + 8


def test_guidance_without_an_unconditional_prompt_is_refused(model):
    with pytest.raises(ConfigError, match="unconditional"):
        decode_fixed(model.lm, np.arange(10, dtype=np.int32), StepRanges(np.full(3, 10), 8), jax.random.key(0),
                     Sampling(guidance=2.0))
