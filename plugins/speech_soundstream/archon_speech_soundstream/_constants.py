"""Speech contract of the paper (Sec. 3.1): 16 kHz audio, 25 token frames per second."""

from __future__ import annotations

__all__ = ["SAMPLE_RATE", "FRAME_RATE", "HOP_LENGTH"]

SAMPLE_RATE: int = 16_000
FRAME_RATE: int = 25
HOP_LENGTH: int = SAMPLE_RATE // FRAME_RATE  # 640 samples per token frame
