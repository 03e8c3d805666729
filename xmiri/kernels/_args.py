"""Argument checks shared by the trace-geometry kernels (parameters raise; data never do)."""
import numbers

import numpy as np

from .._validate import index_range, integer
from ..exceptions import ParameterError

__all__ = ["real", "whole", "pixel_range", "widths", "frames"]


def whole(name, value, *, minimum=0):
    """An int >= `minimum` (bools and floats refused)."""
    return integer(name, value, minimum=minimum, strict=True)


def pixel_range(name, bounds, size):
    """A half-open ``(start, end)`` index range inside ``size`` pixels."""
    return index_range(name, bounds, size, "pixel", strict=True)


def real(name, value, *, minimum=None, strict=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ParameterError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise ParameterError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return value




def widths(name, value):
    """A non-negative finite width (scalar or array) in pixels, as float64."""
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ParameterError(f"{name} must be a number of pixels >= 0, got {value!r}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(f"{name} must be finite and >= 0 (pixels), got {value!r}")
    return arr


def frames(name, values, min_ndim):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < min_ndim:
        raise ParameterError(f"{name} must have at least {min_ndim} dimensions, got shape {values.shape}")
    return values
