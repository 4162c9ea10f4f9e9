"""Encoder/decoder causality and shapes, the RVQ through the codec, discriminator and losses."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from archon_speech_soundstream import (
    HOP_LENGTH,
    Decoder,
    Encoder,
    STFTDiscriminator,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    init_codec,
    multiresolution_stft_loss,
    multiscale_mel_loss,
    shipped_config,
    synthetic_speech,
)

CFG = shipped_config("tiny")
BATCH, FRAMES = 16, 10  # one compiled shape for every test in this module
SAMPLES = FRAMES * HOP_LENGTH


@pytest.fixture(scope="module")
def encoder():
    return Encoder(CFG.codec, key=jax.random.key(0))


@pytest.fixture(scope="module")
def encode_batch():
    return eqx.filter_jit(lambda enc, x: jax.vmap(enc)(x))  # [B, samples] -> [B, D, frames]


def test_shapes(encoder, encode_batch):
    z = encode_batch(encoder, jnp.zeros((BATCH, SAMPLES)))
    assert z.shape == (BATCH, CFG.codec.latent_dim, FRAMES)
    dec = Decoder(CFG.codec, key=jax.random.key(1))
    assert eqx.filter_jit(lambda d, x: d(x))(dec, z[0]).shape == (SAMPLES,)
    with pytest.raises(ValueError, match="multiple of 640"):
        jax.eval_shape(encoder, jnp.zeros(SAMPLES + 1))


def test_encoder_is_causal(encoder, encode_batch):
    """Output frame t depends only on samples < 640 (t + 1): perturb from sample p onwards."""
    base = synthetic_speech(SAMPLES / 16_000, seed=5)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, SAMPLES), size=BATCH - 1, replace=False))
    cuts[:3] = [640, 641, 3 * 640 - 1]  # frame boundaries and just inside them
    batch = np.repeat(base[None], BATCH, axis=0)
    for row, p in enumerate(cuts, start=1):
        batch[row, p:] = rng.uniform(-1, 1, SAMPLES - p)
    z = np.asarray(encode_batch(encoder, jnp.asarray(batch)))  # [B, D, frames]
    for row, p in enumerate(cuts, start=1):
        done = p // HOP_LENGTH  # frames 0..done-1 end before sample p
        np.testing.assert_allclose(z[row, :, :done], z[0, :, :done], atol=1e-6, err_msg=f"cut {p}")
        assert np.abs(z[row, :, done:] - z[0, :, done:]).max() > 1e-4  # the future does matter


def test_decoder_is_causal():
    dec = Decoder(CFG.codec, key=jax.random.key(2))
    z = jax.random.normal(jax.random.key(3), (CFG.codec.latent_dim, FRAMES))
    z2 = z.at[:, 4:].add(1.0)
    y, y2 = np.asarray(jax.vmap(dec)(jnp.stack([z, z2])))  # one batched call: [2, samples]
    np.testing.assert_allclose(y2[: 4 * HOP_LENGTH], y[: 4 * HOP_LENGTH], atol=1e-6)
    assert np.abs(y2[4 * HOP_LENGTH :] - y[4 * HOP_LENGTH :]).max() > 1e-5


def test_rvq_error_does_not_increase_with_levels(encoder, encode_batch):
    """Codebooks fit by k-means on the encoder's latents; measured on held-out latents."""
    codec, state = init_codec(CFG, key=jax.random.key(4))
    quantizer = codec.quantizer
    waves = synthetic_speech(12 * BATCH * SAMPLES / 16_000, seed=9).reshape(12, BATCH, SAMPLES)
    latents = [np.asarray(encode_batch(encoder, jnp.asarray(w))) for w in waves]  # [B, D, F] each
    z_fit = jnp.asarray(np.concatenate([z.transpose(0, 2, 1).reshape(-1, z.shape[1]) for z in latents[:11]]))
    assert z_fit.shape[0] > CFG.codec.codebook_size  # more points than codes: a real fit
    fwd = eqx.filter_jit(lambda q, s, x, n: q(s, x, num_active=n))
    out = fwd(quantizer, state, z_fit, CFG.codec.levels)
    state = quantizer.update(state, out.residuals, out.codes, key=jax.random.key(5))
    held = jnp.asarray(latents[11].transpose(0, 2, 1).reshape(-1, latents[11].shape[1]))
    errors = [float(jnp.mean(jnp.square(held - fwd(quantizer, state, held, n).quantized))) for n in range(1, 9)]
    assert all(b <= a * (1 + 1e-5) for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.9 * errors[0], errors
    codes = fwd(quantizer, state, held, 8).codes
    assert codes.shape == (held.shape[0], 8) and int(codes.min()) >= 0 and int(codes.max()) < 1024


def test_discriminator_shapes_and_hinge():
    disc = STFTDiscriminator(CFG.discriminator, key=jax.random.key(6))
    wave = jnp.asarray(synthetic_speech(0.4, seed=3))
    logits, feats = eqx.filter_jit(lambda d, w: d(w))(disc, wave)
    assert logits.ndim == 1 and logits.shape[0] >= 1
    assert len(feats) == len(CFG.discriminator.strides) + 1
    assert feats[-1].shape[0] == CFG.discriminator.channels * CFG.discriminator.channel_mults[-1]
    ones = jnp.ones(3)
    assert float(hinge_discriminator_loss(ones, -ones)) == 0.0
    assert float(hinge_discriminator_loss(-ones, ones)) == 4.0
    assert float(hinge_generator_loss(ones)) == 0.0 and float(hinge_generator_loss(-ones)) == 2.0
    assert float(feature_matching_loss(feats, feats)) == 0.0


def test_reconstruction_losses_are_zero_only_for_equal_waves():
    a = jnp.asarray(synthetic_speech(0.4, seed=1))
    b = jnp.asarray(synthetic_speech(0.4, seed=2))
    scales = CFG.loss.mel_scales

    @jax.jit
    def losses(x, y):
        mel = multiscale_mel_loss(x, y, scales=scales, n_mels=CFG.loss.n_mels)
        return mel, multiresolution_stft_loss(x, y, scales=scales)

    mel_same, stft_same = losses(a, a)
    assert float(mel_same) == pytest.approx(0.0, abs=1e-4)
    assert float(stft_same) == pytest.approx(0.0, abs=1e-5)
    mel_diff, _ = losses(a, b)
    _, stft_half = losses(a, 0.5 * a)
    assert float(mel_diff) > 1.0
    assert float(stft_half) > 0.1


def test_spectral_convergence_stays_bounded_on_a_silent_segment():
    # espeak speech is half digital silence, so training batches hold silent segments. Their
    # spectral convergence must not divide by ~0: quiet noise (-40 dBFS) against silence scores
    # about what the same noise scores against speech, not thousands.
    scales = CFG.loss.mel_scales
    silence = jnp.zeros(6400)
    speech = jnp.asarray(synthetic_speech(0.4, seed=3))
    noise = 0.01 * jax.random.normal(jax.random.key(0), (6400,))
    on_silence = float(multiresolution_stft_loss(silence, noise, scales=scales))
    on_speech = float(multiresolution_stft_loss(speech, speech + noise, scales=scales))
    assert np.isfinite(on_silence) and on_silence < 10.0, on_silence
    assert on_speech < on_silence  # the noise is still penalized, more where nothing was expected
