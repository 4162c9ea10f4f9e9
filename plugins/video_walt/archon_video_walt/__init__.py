"""archon-video-walt: the ``video`` modality, a WALT-style latent video diffusion decoder that turns
(semantic video, reference image, description) into RGB video (Archon paper Sec. 3.3, E.4)."""

from archon_video_walt._attention import MultiHeadAttention, window_partition, window_unpartition
from archon_video_walt._autoencoder import Autoencoder, VideoDecoder, VideoEncoder
from archon_video_walt._config import (
    CONDITIONS,
    SHIPPED_CONFIGS,
    AutoencoderConfig,
    ConditioningConfig,
    DenoiserConfig,
    DiffusionConfig,
    TextEncoderConfig,
    TrainConfig,
    VideoConfig,
    load_video_config,
    shipped_config,
)
from archon_video_walt._data import chunk_plan, pad_frames, padded_frames, toy_clip
from archon_video_walt._decode import decode
from archon_video_walt._denoiser import Conditions, Context, Denoiser, SemanticEncoder, WaltBlock
from archon_video_walt._evaluate import evaluate_renderer, label_accuracy, psnr
from archon_video_walt._io import load_video, side_by_side, write_video
from archon_video_walt._plugin import VIDEO, make_renderer
from archon_video_walt._renderer import LatentStats, VideoRenderer
from archon_video_walt._sample import ddim_sample, guided_velocity, sample_chunk
from archon_video_walt._schedule import alpha_sigma, ddim_step, eps_from_v, guided, log_snr, time_grid, v_target, x_from_v
from archon_video_walt._text import canonical_json, description_bytes
from archon_video_walt._train import (AutoencoderTrainer, DenoiserTrainer, LatentWindows, encode_windows, lr_schedule, stage_steps,
                                      train_video_decoder)

__all__ = [
    "alpha_sigma",
    "Autoencoder",
    "AutoencoderConfig",
    "AutoencoderTrainer",
    "canonical_json",
    "chunk_plan",
    "ConditioningConfig",
    "Conditions",
    "CONDITIONS",
    "Context",
    "ddim_sample",
    "ddim_step",
    "decode",
    "Denoiser",
    "DenoiserConfig",
    "DenoiserTrainer",
    "description_bytes",
    "DiffusionConfig",
    "LatentWindows",
    "encode_windows",
    "eps_from_v",
    "evaluate_renderer",
    "guided",
    "guided_velocity",
    "label_accuracy",
    "LatentStats",
    "load_video",
    "load_video_config",
    "log_snr",
    "lr_schedule",
    "make_renderer",
    "MultiHeadAttention",
    "pad_frames",
    "padded_frames",
    "psnr",
    "sample_chunk",
    "SemanticEncoder",
    "stage_steps",
    "shipped_config",
    "SHIPPED_CONFIGS",
    "side_by_side",
    "TextEncoderConfig",
    "time_grid",
    "toy_clip",
    "train_video_decoder",
    "TrainConfig",
    "v_target",
    "VIDEO",
    "VideoConfig",
    "VideoDecoder",
    "VideoEncoder",
    "VideoRenderer",
    "WaltBlock",
    "window_partition",
    "window_unpartition",
    "write_video",
    "x_from_v",
]
