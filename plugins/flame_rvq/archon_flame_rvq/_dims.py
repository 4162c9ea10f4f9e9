"""FLAME parameter dimensions: the contract for identity, expression and pose raw values."""

from __future__ import annotations

import attrs

__all__ = ["FlameDims", "DEFAULT_DIMS"]


def _positive(instance, attribute, value):
    if value <= 0:
        raise ValueError(f"FlameDims.{attribute.name} must be positive, got {value}")


@attrs.frozen
class FlameDims:
    """Dimensions of the 3DMM (FLAME) parameters.

    The paper leaves e_sh, e_exp and e_pose unspecified; FLAME ships shape 100 or 300 and
    expression 50 or 100. Pose is the concatenation of an axis-angle head rotation (3) and a
    translation (3), as in the paper's Sec. D.4.
    """

    shape: int = attrs.field(default=100, validator=_positive)
    expression: int = attrs.field(default=50, validator=_positive)
    pose: int = attrs.field(default=6, validator=_positive)


DEFAULT_DIMS = FlameDims()
