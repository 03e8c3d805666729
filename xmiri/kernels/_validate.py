"""Argument checks shared by the steps and the kernels: fail before any work, naming the parameter.

The steps accept what a TOML file may give (``26.0`` for 26); the kernels' checks
(:func:`whole`, :func:`pixel_range`, :func:`real`, :func:`widths`, :func:`frames`)
take integers only (``strict``).  Parameters raise; data never do.
"""
import numbers

import numpy as np

from ..exceptions import MissingVariableError, ParameterError


def integer(name, value, *, minimum=None, maximum=None, strict=False):
    """``value`` as an int, refusing bools, floats with a fraction and out-of-range values.

    A float with no fraction (``26.0``, as a TOML file may give) is accepted
    unless `strict` (the kernels' convention: integers only).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        if not strict and isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ParameterError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be <= {maximum}, got {value}")
    return value


def positive_number(name, value):
    """``value`` as a finite float > 0."""
    if isinstance(value, (str, bytes)):
        raise ParameterError(f"{name} must be a positive number, got the string {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a positive number, got {value!r}") from None
    if isinstance(value, (bool, np.bool_)) or not np.isfinite(out) or out <= 0:
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")
    return out


def integer_list(name, values, *, minimum=None):
    """A non-empty list of ints (a single int is accepted as a list of one)."""
    if isinstance(values, (numbers.Integral, np.integer)) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (str, bytes)):
        raise ParameterError(f"{name} must be a list of integers, got {values!r}")
    try:
        items = list(values)
    except TypeError:
        raise ParameterError(f"{name} must be a list of integers, got {values!r}") from None
    if not items:
        raise ParameterError(f"{name} must not be empty")
    return [integer(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(items)]


def choice(name, value, options):
    """``value`` if it is one of ``options``."""
    if value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise ParameterError(f"{name} must be one of {valid}; got {value!r}")
    return value


def column_range(start_name, start, end_name, end, n_cols):
    """A half-open column range ``[start, end)`` inside a frame of ``n_cols`` columns."""
    start = integer(start_name, start, minimum=0, maximum=n_cols - 1)
    end = integer(end_name, end, minimum=1, maximum=n_cols)
    if end <= start:
        raise ParameterError(f"{end_name}={end} must be greater than {start_name}={start}")
    return start, end


def index_range(name, value, size, axis, *, strict=False):
    """A half-open ``(start, stop)`` range inside ``size`` pixels along ``axis``."""
    try:
        start, stop = value
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a (start, stop) pair of {axis} indices, got {value!r}") from None
    start = integer(f"{name}[0]", start, minimum=0, maximum=size - 1, strict=strict)
    stop = integer(f"{name}[1]", stop, minimum=1, maximum=size, strict=strict)
    if stop <= start:
        raise ParameterError(f"{name}={value!r}: stop must be greater than start")
    return start, stop


def require(ds, names, step):
    """Raise MissingVariableError unless every name is a variable of ``ds``."""
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise MissingVariableError(
            f"{step} needs variable(s) {', '.join(map(repr, missing))}, which the Dataset does not "
            f"have (it has: {', '.join(map(str, ds.data_vars))})")


# The kernels' checks (strict: integers only).

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


# The sky-background kernels' checks (xmiri.kernels.background and skyerror).

BACKGROUND_METHODS = ("constant", "row_wise", "col_wise")


def background_method(method):
    """`method` if it is one of BACKGROUND_METHODS."""
    if method not in BACKGROUND_METHODS:
        raise ParameterError(f"method must be one of {BACKGROUND_METHODS}, got {method!r}")
    return method


def smoothing_length(smoothing_length):
    """None, or the running-median length `smoothing_length` (rows) as an int >= 1."""
    if smoothing_length is None:
        return None
    if isinstance(smoothing_length, (bool, np.bool_)) or not isinstance(
        smoothing_length, (int, np.integer)
    ):
        raise ParameterError(
            f"smoothing_length must be None or an integer >= 1, got {smoothing_length!r}"
        )
    if smoothing_length < 1:
        raise ParameterError(f"smoothing_length must be >= 1, got {smoothing_length}")
    return int(smoothing_length)
