"""archon-speech-soundstream: the ``speech`` modality, a SoundStream codec (Archon Sec. 3.1).

16 kHz mono audio -> causal conv encoder (strides multiplying to 640, 25 frames/s) -> residual VQ
(8 levels x 1024 codes) -> the first 4 levels as tokens, frame-major, local id = level * 1024 +
code -> causal decoder. Plus its trainer (multi-scale mel/STFT, hinge STFT discriminator, feature
matching), wave I/O, MCD-DTW and an energy-envelope helper.
"""

from ._audio import check_wave, read_wave, resample, to_mono, write_wave
from ._codec import SoundStream, init_codec, load_codec, save_codec
from ._config import (
    CodecConfig,
    DiscriminatorConfig,
    LossConfig,
    SoundStreamConfig,
    TokenConfig,
    TrainConfig,
    load_soundstream_config,
    shipped_config,
)
from ._constants import FRAME_RATE, HOP_LENGTH, SAMPLE_RATE
from ._discriminator import STFTDiscriminator
from ._evaluate import evaluate_levels
from ._losses import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    multiresolution_stft_loss,
    multiscale_mel_loss,
)
from ._metrics import (
    MCD_CONSTANT,
    McdScore,
    dtw_path,
    energy_envelope,
    log_mel_distance,
    mel_cepstral_distortion,
    mel_cepstrum,
)
from ._model import Decoder, Encoder
from ._plugin import SPEECH
from ._signals import synthetic_speech
from ._spectral import mel_filterbank, np_stft_magnitude
from ._tokenizer import (
    SPEECH_VOCABULARY,
    SoundStreamTokenizer,
    make_tokenizer,
    num_speech_frames,
    num_speech_tokens,
)
from ._trainer import SoundStreamTrainer, expected_code_counts, lr_schedule, train_tokenizer

__all__ = [
    "CodecConfig",
    "Decoder",
    "DiscriminatorConfig",
    "Encoder",
    "FRAME_RATE",
    "HOP_LENGTH",
    "LossConfig",
    "MCD_CONSTANT",
    "McdScore",
    "SAMPLE_RATE",
    "SPEECH",
    "SPEECH_VOCABULARY",
    "STFTDiscriminator",
    "SoundStream",
    "SoundStreamConfig",
    "SoundStreamTokenizer",
    "SoundStreamTrainer",
    "TokenConfig",
    "TrainConfig",
    "check_wave",
    "dtw_path",
    "energy_envelope",
    "evaluate_levels",
    "lr_schedule",
    "expected_code_counts",
    "feature_matching_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "init_codec",
    "load_codec",
    "load_soundstream_config",
    "log_mel_distance",
    "make_tokenizer",
    "mel_cepstral_distortion",
    "mel_cepstrum",
    "mel_filterbank",
    "np_stft_magnitude",
    "multiresolution_stft_loss",
    "multiscale_mel_loss",
    "num_speech_frames",
    "num_speech_tokens",
    "read_wave",
    "resample",
    "save_codec",
    "shipped_config",
    "synthetic_speech",
    "to_mono",
    "train_tokenizer",
    "write_wave",
]
