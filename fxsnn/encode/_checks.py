"""Argument checks shared by the encoders: one clear message per bad value."""

from __future__ import annotations

import math

import numpy as np

from ..errors import UsageError

__all__ = ["check_num_steps", "check_positive"]

#: Steps per sample: docs/fixed-point.md section 1 (``1 <= T <= 65535``).
MAX_NUM_STEPS = 65535


def check_num_steps(num_steps) -> int:
    """``num_steps`` as an int, or :class:`UsageError` if it is not an integer in ``1 .. 65535``."""
    if (
        isinstance(num_steps, bool)
        or not isinstance(num_steps, (int, np.integer))
        or not 1 <= num_steps <= MAX_NUM_STEPS
    ):
        raise UsageError(f"num_steps must be an integer in 1..{MAX_NUM_STEPS}, got {num_steps!r}")
    return int(num_steps)


def check_positive(what: str, value) -> float:
    """``value`` as a float, or :class:`UsageError` naming ``what`` if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UsageError(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what} must be a finite number > 0, got {value!r}")
    return value
