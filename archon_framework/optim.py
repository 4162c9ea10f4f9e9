"""Learning-rate schedules shared by the prefix-LM trainer and the plugins' tokenizer trainers.

Light on purpose (Optax only), so a plugin can import it without the training stack.
"""

from __future__ import annotations

import optax

__all__ = ["warmup_cosine_schedule"]


def warmup_cosine_schedule(
    peak: float, *, warmup_steps: int, steps: int | None, end_value: float = 0.0
) -> optax.Schedule:
    """A linear warm-up from 0 to ``peak``, then a cosine decay to ``end_value`` at ``steps``.

    Args:
        peak: the rate reached at the end of the warm-up.
        warmup_steps: length of the linear warm-up (0: start at ``peak``). With a decay it is
            clipped to ``steps - 1``, so a run shorter than its warm-up still decays.
        steps: the step at which the decay ends (the warm-up included); ``None`` holds ``peak``
            after the warm-up (a constant rate).
        end_value: the rate at ``steps`` and after.

    Returns:
        An Optax schedule (a function of the step count).

    Raises:
        ValueError: a negative ``warmup_steps`` or ``steps``.
    """
    if warmup_steps < 0 or (steps is not None and steps < 0):
        raise ValueError(f"warmup_cosine_schedule: warmup_steps={warmup_steps} and steps={steps} must be >= 0")
    if steps is None:
        return optax.linear_schedule(0.0, peak, warmup_steps) if warmup_steps else optax.constant_schedule(peak)
    warmup = min(warmup_steps, max(steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, max(steps, warmup + 1), end_value=end_value)
