"""SoundStream's training losses (Zeghidour et al. 2021, Sec. 3.5), one example at a time.

* Multi-scale mel reconstruction, over window sizes s with hop s/4:
  ``L_mel = mean_s [ mean_t ||S_t - S^_t||_1 + alpha_s mean_t ||log(S_t + f_s) - log(S^_t + f_s)||_2 ]``,
  ``alpha_s = sqrt(s / 2)``.
* Multi-resolution linear STFT: spectral convergence ``||Y - Y^||_F / (||Y||_F + f_s sqrt(|Y|))`` plus the mean
  absolute log-magnitude difference (same floor), averaged over the same scales.

The log floor ``f_s = log_floor * s / 4`` is ``log_floor`` times the STFT magnitude of a
full-scale sinusoid at window size ``s`` (Hann window sum ``s / 2``, halved by the real
spectrum), so ``log_floor = 1e-3`` ignores detail more than 60 dB below full scale at every
scale alike. SoundStream does not state its floor; with a tiny absolute floor (1e-5) the log
term is dominated by digital silence and near-empty bands (espeak speech is ~50% exact zeros),
and a small codec learns to be quiet everywhere rather than reproduce the speech.
* Hinge adversarial losses: discriminator ``mean relu(1 - D(x)) + mean relu(1 + D(x^))``;
  generator ``mean relu(1 - D(x^))`` (SoundStream's form).
* Feature matching: mean over the discriminator's layers of ``mean |D_l(x) - D_l(x^)|``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._constants import SAMPLE_RATE
from ._spectral import mel_filterbank, stft_magnitude

__all__ = [
    "multiscale_mel_loss",
    "multiresolution_stft_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "feature_matching_loss",
]

_LOG_FLOOR = 1e-3  # relative to a full-scale sinusoid: -60 dB


def _floor(n_fft: int, log_floor: float) -> float:
    """The magnitude floor at window size ``n_fft``: ``log_floor`` x a full-scale sine's peak bin."""
    return log_floor * n_fft / 4.0


def multiscale_mel_loss(
    target: Float[Array, " samples"],
    estimate: Float[Array, " samples"],
    *,
    scales: Sequence[int],
    n_mels: int,
    sample_rate: int = SAMPLE_RATE,
    log_floor: float = _LOG_FLOOR,
) -> Float[Array, ""]:
    """SoundStream's multi-scale spectral reconstruction loss (Sec. 3.5, eq. for L_rec).

    ``log_floor`` is relative to a full-scale sinusoid (see the module docstring).
    """
    total = jnp.zeros(())
    for s in scales:
        bank = jnp.asarray(mel_filterbank(sample_rate, s, n_mels))  # [mels, bins]
        mel_t = stft_magnitude(target, n_fft=s, hop=s // 4) @ bank.T  # [frames, mels]
        mel_e = stft_magnitude(estimate, n_fft=s, hop=s // 4) @ bank.T
        l1 = jnp.mean(jnp.sum(jnp.abs(mel_t - mel_e), axis=-1))
        eps = _floor(s, log_floor)
        log_diff = jnp.log(mel_t + eps) - jnp.log(mel_e + eps)  # [frames, mels]
        l2 = jnp.mean(jnp.sqrt(jnp.sum(log_diff**2, axis=-1) + 1e-12))
        total = total + l1 + math.sqrt(s / 2.0) * l2
    return total / len(scales)


def multiresolution_stft_loss(
    target: Float[Array, " samples"],
    estimate: Float[Array, " samples"],
    *,
    scales: Sequence[int],
    log_floor: float = _LOG_FLOOR,
) -> Float[Array, ""]:
    """Spectral convergence + log-magnitude L1 over several STFT resolutions (hop = n_fft / 4)."""
    total = jnp.zeros(())
    for s in scales:
        mag_t = stft_magnitude(target, n_fft=s, hop=s // 4)  # [frames, bins]
        mag_e = stft_magnitude(estimate, n_fft=s, hop=s // 4)
        eps = _floor(s, log_floor)
        # The reference's norm is floored at that of a spectrum at the log floor everywhere: a
        # silent segment (espeak speech is ~50% digital silence) would otherwise divide by ~0 and
        # its gradient swamp the batch.
        sc = jnp.linalg.norm(mag_t - mag_e) / (jnp.linalg.norm(mag_t) + eps * math.sqrt(mag_t.size))
        log_l1 = jnp.mean(jnp.abs(jnp.log(mag_t + eps) - jnp.log(mag_e + eps)))
        total = total + sc + log_l1
    return total / len(scales)


def hinge_discriminator_loss(
    real_logits: Float[Array, " steps"], fake_logits: Float[Array, " steps"]
) -> Float[Array, ""]:
    """``mean relu(1 - D(x)) + mean relu(1 + D(x^))``."""
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits: Float[Array, " steps"]) -> Float[Array, ""]:
    """SoundStream's generator term ``mean relu(1 - D(x^))``."""
    return jnp.mean(jax.nn.relu(1.0 - fake_logits))


def feature_matching_loss(
    real_features: Sequence[Float[Array, "..."]], fake_features: Sequence[Float[Array, "..."]]
) -> Float[Array, ""]:
    """Mean over layers of the mean absolute difference of discriminator feature maps.

    The real features are treated as constants (stop-gradient), as targets should be.
    """
    terms = [
        jnp.mean(jnp.abs(jax.lax.stop_gradient(r) - f)) for r, f in zip(real_features, fake_features)
    ]
    return sum(terms) / len(terms)
