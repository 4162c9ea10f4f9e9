"""Sampling with the denoiser: guidance, determinism, chunks and frame padding."""

import equinox as eqx
import jax
import numpy as np
import pytest

from archon_video_walt import chunk_plan, guided_velocity, padded_frames, sample_chunk

UNCOND = (True, True, True)


@pytest.fixture(scope="module")
def branches(mini, random_renderer, clips, make_conditions, denoise_step):
    """(conditional v, unconditional v, guided v for w in {0, 1, 2.5}) at one point of one chunk."""
    dn = random_renderer.denoiser
    cond = make_conditions(mini, clips[0])
    uncond = cond._replace(drop=np.asarray(UNCOND))
    z = np.asarray(jax.random.normal(jax.random.key(0), cond.known.shape))
    t = np.float32(0.55)

    @eqx.filter_jit
    def guided(dn, cond, z, t, w):
        ctx, ctx_u = dn.encode_conditions(cond), dn.encode_conditions(uncond)
        return guided_velocity(dn, ctx, ctx_u, z, t, w)

    # The two branches each evaluated alone, and the batched guided evaluation of the sampler.
    ws = [np.asarray(guided(dn, cond, z, t, np.float32(w))) for w in (0.0, 1.0, 2.5)]
    return denoise_step(dn, z, t, cond), denoise_step(dn, z, t, uncond), ws


def test_guidance_weight_one_is_the_conditional_prediction(branches):
    v_c, v_u, (w0, w1, w25) = branches
    assert np.abs(v_c - v_u).max() > 1e-3  # the conditions matter, so the two branches differ
    np.testing.assert_allclose(w1, v_c, atol=1e-5)
    np.testing.assert_allclose(w0, v_u, atol=1e-5)  # and the unconditional branch is the second one
    np.testing.assert_allclose(w25, v_u + 2.5 * (v_c - v_u), atol=1e-4)


@pytest.fixture(scope="module")
def chunk_inputs(mini, random_renderer, clips, make_conditions):
    cond = make_conditions(mini, clips[0])
    noise = jax.random.normal(jax.random.key(3), cond.known.shape)
    return random_renderer.denoiser, cond, noise


def _sample(chunk_inputs, key, **kw):
    dn, cond, noise = chunk_inputs
    # The renderer's own static arguments, so the compiled sampler is shared with the renderer tests.
    args = {"steps": 3, "guidance": 1.5, "uncond_drop": UNCOND, "shift": 1.0, "eta": 0.0, **kw}
    return np.asarray(sample_chunk(dn, cond, noise, jax.random.key(key), **args))


def test_deterministic_ddim_depends_on_the_noise_only(chunk_inputs):
    a, b = _sample(chunk_inputs, 0), _sample(chunk_inputs, 1)
    np.testing.assert_array_equal(a, b)  # eta = 0: the key draws nothing
    assert np.all(np.isfinite(a))
    # eta > 0 does draw fresh noise from the key (one branch: half the compilation)
    c, d = _sample(chunk_inputs, 0, eta=0.7, guidance=1.0), _sample(chunk_inputs, 1, eta=0.7, guidance=1.0)
    assert np.abs(c - d).max() > 1e-3


def test_rendering_is_deterministic_per_seed(random_renderer, clips):
    clip = clips[0]
    args = (clip["semantic"], clip["image"], clip["description"])
    a = random_renderer.generate(*args, seed=7)
    np.testing.assert_array_equal(random_renderer.generate(*args, seed=7), a)
    assert np.abs(random_renderer.generate(*args, seed=8).astype(int) - a).max() > 0
    assert a.shape == (9, 64, 64, 3) and a.dtype == np.uint8


@pytest.mark.parametrize("frames, length, starts", [(1, 1, [0]), (3, 5, [0]), (5, 5, [0]), (6, 5, [0, 4]),
                                                    (9, 5, [0, 4]), (12, 5, [0, 4, 8]), (17, 5, [0, 4, 8, 12])])
def test_chunk_plans_cover_the_clip_with_one_shared_frame(frames, length, starts):
    assert chunk_plan(frames, 5, 4) == (length, starts)
    assert starts[-1] + length >= frames and padded_frames(frames, 4) >= frames


def test_generation_is_causal_across_chunks_and_padding(random_renderer, clips):
    """A longer clip begins exactly like a shorter one: chunks, padding and every network are causal."""
    sem, img, desc = clips[1]["semantic"], clips[1]["image"], clips[1]["description"]
    five = random_renderer.generate(sem[:5], img, desc, seed=3)
    nine = random_renderer.generate(sem, img, desc, seed=3)
    np.testing.assert_array_equal(nine[:5], five)  # chunk 1 of 2 is the 5-frame clip
    three = random_renderer.generate(sem[:3], img, desc, seed=3)  # padded to 5 frames, trimmed back to 3
    assert three.shape == (3, 64, 64, 3)
    np.testing.assert_array_equal(three[0], five[0])  # frame 0 is its own latent frame
    twelve = random_renderer.generate(np.concatenate([sem, sem[:3]]), img, desc, seed=3)  # 3 chunks
    assert twelve.shape == (12, 64, 64, 3)
    np.testing.assert_array_equal(twelve[:9], nine)
