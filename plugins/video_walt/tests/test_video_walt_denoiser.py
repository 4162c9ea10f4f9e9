"""The denoiser: one step's shapes, the condition masks, causality over latent frames, and the
Table I ablation switches (what the cross-attention context holds)."""

import equinox as eqx
import jax
import numpy as np
import pytest

from archon_video_walt import Denoiser, description_bytes

ABLATIONS = {
    "full": {},
    "no_text": {"text": False},
    "no_joint": {"joint_cross_attention": False},
}


@pytest.fixture(scope="module")
def denoiser(random_renderer) -> Denoiser:
    return random_renderer.denoiser


@pytest.fixture(scope="module")
def step(denoise_step):
    return denoise_step


@pytest.fixture(scope="module")
def context():
    fn = eqx.filter_jit(lambda dn, cond: dn.encode_conditions(cond))
    return lambda dn, cond: jax.tree.map(np.asarray, fn(dn, cond))


@pytest.fixture(scope="module")
def ablated(make_config, randomize):
    """A randomized denoiser per Table I configuration."""
    out = {}
    for i, (name, switches) in enumerate(ABLATIONS.items()):
        cfg = make_config(conditioning={"text": True, "joint_cross_attention": True, **switches})
        out[name] = (cfg, randomize(Denoiser(cfg, key=jax.random.key(10 + i)), seed=10 + i))
    return out


def _z(mini, frames: int, seed: int = 0) -> np.ndarray:
    c, g = mini.autoencoder.latent_channels, mini.latent_size
    return np.random.default_rng(seed).standard_normal((c, mini.autoencoder.latent_frames(frames), g, g)).astype(np.float32)


def _differs(a, b) -> bool:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max()) > 1e-4


def test_a_denoiser_step_keeps_the_latent_shape(mini, denoiser, step, clips, make_conditions):
    z = _z(mini, 5)
    v = step(denoiser, z, 0.5, make_conditions(mini, clips[0]))
    assert v.shape == z.shape == (4, 2, 8, 8)
    assert v.dtype == np.float32 and np.all(np.isfinite(v))
    assert _differs(v, 0.0)
    long_clip = {**clips[0].values, "semantic": np.concatenate([clips[0]["semantic"]] * 2)}  # 18 frames
    for frames in (1, 9, 13):  # an image alone, and longer chunks (shapes only)
        z = jax.ShapeDtypeStruct((4, 1 + (frames - 1) // 4, 8, 8), np.float32)
        out = eqx.filter_eval_shape(denoiser, z, np.float32(0.5), make_conditions(mini, long_clip, frames=frames))
        assert out.shape == z.shape and out.dtype == np.float32


def test_latents_and_conditions_of_different_lengths_are_refused(mini, denoiser, clips, make_conditions):
    long_clip = {**clips[0].values, "semantic": np.concatenate([clips[0]["semantic"]] * 3)}
    too_many = 1 + 4 * mini.denoiser.max_latent_frames  # one latent frame more than the positions
    z = jax.ShapeDtypeStruct((4, mini.denoiser.max_latent_frames + 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="max_latent_frames=4"):
        eqx.filter_eval_shape(denoiser, z, np.float32(0.5), make_conditions(mini, long_clip, frames=too_many))
    z = jax.ShapeDtypeStruct((4, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"need a semantic video of 1 \+ 4 \* \(3 - 1\) = 9 frames"):
        eqx.filter_eval_shape(denoiser, z, np.float32(0.5), make_conditions(mini, long_clip, frames=5))


def test_the_context_holds_null_reference_and_text_tokens_with_their_mask(mini, denoiser, context, clips, make_conditions):
    cond = make_conditions(mini, clips[0])
    ctx = context(denoiser, cond)
    refs = (mini.latent_size // mini.denoiser.context_patch) ** 2
    texts = mini.text.max_bytes // mini.text.patch
    assert ctx.tokens.shape == (1 + refs + texts, mini.denoiser.width) and ctx.mask.shape == (1 + refs + texts,)
    used = int(np.count_nonzero(cond.text))  # bytes of the description; the rest is padding
    expected = np.r_[True, np.ones(refs, bool), np.arange(texts) < -(-used // mini.text.patch)]
    np.testing.assert_array_equal(ctx.mask, expected)
    dropped = context(denoiser, cond._replace(drop=np.array([True, True, True])))
    np.testing.assert_array_equal(dropped.mask, np.r_[True, np.zeros(refs + texts, bool)])  # the null token stays


@pytest.mark.parametrize("index, field", [(0, "semantic"), (1, "reference"), (2, "text")])
def test_a_dropped_condition_has_no_effect_and_a_kept_one_has(mini, denoiser, step, clips, make_conditions, index, field):
    z = _z(mini, 5, seed=1)
    base = make_conditions(mini, clips[0])
    other = make_conditions(mini, clips[1], seed=5)
    changes = {"semantic": {"semantic": other.semantic},
               "reference": {"ref_latent": other.ref_latent, "ref_mask": other.ref_mask},
               "text": {"text": description_bytes({"appearance": {"hair": "long red curls"}}, mini.text.max_bytes)}}[field]
    drop = np.zeros(3, bool)
    drop[index] = True
    kept = (step(denoiser, z, 0.4, base), step(denoiser, z, 0.4, base._replace(**changes)))
    gone = (step(denoiser, z, 0.4, base._replace(drop=drop)), step(denoiser, z, 0.4, base._replace(drop=drop, **changes)))
    assert _differs(*kept)
    np.testing.assert_allclose(gone[0], gone[1], atol=1e-5)


def test_known_latents_act_only_where_the_known_mask_is_set(mini, denoiser, step, clips, make_conditions):
    z = _z(mini, 5, seed=2)
    cond = make_conditions(mini, clips[0], known_frames=1)
    noise = np.random.default_rng(9).standard_normal(cond.known.shape).astype(np.float32)
    unmasked = cond.known.copy()
    unmasked[:, 1:] = noise[:, 1:]  # values under known_mask = False
    np.testing.assert_allclose(step(denoiser, z, 0.7, cond._replace(known=unmasked)), step(denoiser, z, 0.7, cond), atol=1e-5)
    masked = cond.known.copy()
    masked[:, 0] = noise[:, 0]
    assert _differs(step(denoiser, z, 0.7, cond._replace(known=masked)), step(denoiser, z, 0.7, cond))


def test_the_prediction_for_a_latent_frame_ignores_later_frames(mini, denoiser, step, clips, make_conditions):
    assert mini.denoiser.causal_time
    z = _z(mini, 5, seed=3)
    cond = make_conditions(mini, clips[0])
    v = step(denoiser, z, 0.6, cond)
    z2 = z.copy()
    z2[:, 1:] = _z(mini, 5, seed=4)[:, 1:]
    sem2 = cond.semantic.copy()
    sem2[1:] = clips[2]["semantic"][1:5]  # the semantic frames of latent frame 1
    v2 = step(denoiser, z2, 0.6, cond._replace(semantic=sem2))
    np.testing.assert_allclose(v2[:, 0], v[:, 0], atol=1e-5)
    assert _differs(v2[:, 1], v[:, 1])
    # Frame 1 does read frame 0 (spatio-temporal attention reaches back in time).
    z3 = z.copy()
    z3[:, 0] = z2[:, 1]
    assert _differs(step(denoiser, z3, 0.6, cond)[:, 1], v[:, 1])


# ---------------------------------------------------------------- Table I ablation switches
def test_without_text_conditioning_the_context_has_no_text_tokens(ablated, context, clips, make_conditions):
    (cfg_full, full), (_, off) = ablated["full"], ablated["no_text"]
    assert full.text_encoder is not None and off.text_encoder is None
    refs = (cfg_full.latent_size // cfg_full.denoiser.context_patch) ** 2
    cond = make_conditions(cfg_full, clips[0])
    other_text = cond._replace(text=description_bytes({"appearance": {"hair": "short"}}, cfg_full.text.max_bytes))
    assert context(off, cond).tokens.shape[0] == 1 + refs
    assert context(full, cond).tokens.shape[0] == 1 + refs + cfg_full.text.tokens
    np.testing.assert_array_equal(context(off, cond).tokens, context(off, other_text).tokens)
    assert _differs(context(full, cond).tokens, context(full, other_text).tokens)


def test_without_joint_cross_attention_the_reference_tokens_ignore_its_semantic_mask(ablated, context, clips,
                                                                                       make_conditions):
    (cfg, full), (_, off) = ablated["full"], ablated["no_joint"]
    c, cs, q = cfg.autoencoder.latent_channels, cfg.denoiser.semantic_channels, cfg.denoiser.context_patch
    assert full.ref_in.weight.shape[0] == (c + cs) * q * q  # image latent + mask latent, channel-wise
    assert off.ref_in.weight.shape[0] == c * q * q  # the image latent alone
    cond = make_conditions(cfg, clips[0])
    other_mask = cond._replace(ref_mask=clips[3]["semantic"][4])
    np.testing.assert_array_equal(context(off, cond).tokens, context(off, other_mask).tokens)
    assert _differs(context(full, cond).tokens, context(full, other_mask).tokens)
    # Both still see the reference image latent itself.
    other_image = cond._replace(ref_latent=cond.ref_latent + 1.0)
    assert _differs(context(off, cond).tokens, context(off, other_image).tokens)
