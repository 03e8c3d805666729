"""Centred moving medians along axis 0 (integrations), windows clipped at the block's ends.

The moving-median machinery of :mod:`xmiri.kernels.temporal`: pixel time
series are copied, a group of pixels at a time (about 2**20 samples per
group, which bounds the temporaries), into float64 rows padded with ``h``
NaN at both ends, invalid samples set to NaN, and filtered by
:func:`bottleneck.move_median` (a running median, O(log w) per sample,
that skips NaN and releases the GIL, so that dask's threads run in
parallel).  Position ``i`` gets the median of the valid samples of
``[i - h, i + h] & [0, n)``: windows are clipped at the ends of the block,
never shifted.  Every median is an order statistic of the same samples (one
element, or the float64 mean of two) whatever the block, so results are
bit-identical for any chunking.  There are no Python loops over pixels or
integrations, only over groups of pixels.
"""
import numbers

import bottleneck as bn
import numpy as np

from ..exceptions import ParameterError
from .background import nanmedian

__all__ = ["moving_median"]

_GROUP_SAMPLES = 1 << 20  # samples of one group of pixel series (8 MB in float64)

def _odd_width(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an odd integer >= 1, got {value!r}")
    value = int(value)
    if value < 1 or value % 2 == 0:
        raise ParameterError(
            f"{name} must be an odd integer >= 1 (a centred window of 2h + 1 integrations), got {value}"
        )
    return value


def _series_medians(series, good, half, start, stop):
    """Clipped moving medians of the rows of `series`, ignoring invalid samples.

    series : (g, n) float32 or float64, one pixel's time series per row;
    good : (g, n) bool, or None when every sample is valid.  Returns the
    (g, stop - start) float64 medians of positions ``[start, stop)``, each
    over the valid samples of ``[i - half, i + half] & [0, n)`` (NaN if
    there is none).
    """
    g, n = series.shape
    first, last = start - half, stop + half  # samples the windows cover
    a, b = max(first, 0), min(last, n)
    pads = (a - first, last - b)
    if good is None:
        return _window_medians(series[:, a:b], None, half, *pads)
    covered = good[:, a:b]
    if covered.all():
        return _window_medians(series[:, a:b], None, half, *pads)
    # one running median over every row, the invalid samples NaN (a row without a valid
    # sample gives NaN): the same values as whole rows on their own, without copying them
    return _window_medians(series[:, a:b], covered, half, *pads)


def _window_medians(values, good, half, pad_before, pad_after):
    """Moving medians over rows padded with invalid samples.

    values : (k, L) samples the windows cover; good : (k, L) bool or None.
    The rows are extended by `pad_before` and `pad_after` invalid samples;
    output ``j`` is the median of the valid samples of ``j .. j + 2 half``
    of the extended row, for ``j < pad_before + L + pad_after - 2 half``
    (NaN if there is none; the mean of the middle two for an even number).

    The samples are copied into float64 rows with NaN for the invalid
    samples and the padding, and :func:`bottleneck.move_median` (a
    double-heap running median that skips NaN and releases the GIL) takes
    the trailing window ending at ``j + 2 half``.  In float64 an odd count's
    median is one of the samples and an even count's the float64 mean of
    two, so the value does not depend on the block the window is computed in.
    """
    k, length = values.shape
    width = 2 * half + 1
    n_out = pad_before + length + pad_after - 2 * half
    padded = np.full((k, pad_before + length + pad_after), np.nan)
    inner = padded[:, pad_before : pad_before + length]
    if good is None:
        inner[...] = values
    else:
        np.copyto(inner, values, where=good)
    median = bn.move_median(padded, width, min_count=1, axis=1)
    return median[:, 2 * half : 2 * half + n_out]

def _groups(n, m):
    """Pixel ranges of at most ~_GROUP_SAMPLES samples of n integrations."""
    step = max(1, _GROUP_SAMPLES // max(n, 1))
    return [(p0, min(p0 + step, m)) for p0 in range(0, m, step)]


def moving_median(values, width, *, valid=None, start=0, stop=None):
    """Centred moving median along axis 0 (integrations), windows clipped.

    Position ``i`` gets the median of the valid samples ``j`` of its own
    pixel (same indices on the other axes) with ``i - h <= j <= i + h``,
    ``h = width // 2``, ``0 <= j < n``: windows near the ends of the block
    are clipped, never shifted or wrapped.  An even number of valid samples
    gives the mean of the middle two; none gives NaN.

    Parameters
    ----------
    values : array_like, shape (n, ...)
        Time series along axis 0 (e.g. DN/s).  Any real dtype; the medians
        are taken in float64 (exact for float32 and float64 samples).
    width : int
        Odd window width in integrations, ``2h + 1``.
    valid : array_like of bool, shape (n, ...), optional
        False marks samples to ignore.  Non-finite values are always ignored.
    start, stop : int, optional
        Positions ``[start, stop)`` to compute (default all).  Samples
        outside that range still enter the windows.

    Returns
    -------
    numpy.ndarray, shape (stop - start, ...)
        float64 medians, in the unit of `values`.

    Raises
    ------
    ParameterError
        For an even or non-positive `width`, a `valid` of another shape or
        an invalid range.

    Examples
    --------
    >>> moving_median([1.0, 5.0, 2.0, 8.0, 3.0], 3).tolist()
    [3.0, 2.0, 5.0, 3.0, 5.5]
    """
    width = _odd_width("width", width)
    values = np.asarray(values)
    if values.ndim == 0:
        raise ParameterError("values must have at least one dimension (integration)")
    if values.dtype != np.float32:
        values = values.astype(np.float64, copy=False)
    n = values.shape[0]
    stop = n if stop is None else stop
    for name, value in (("start", start), ("stop", stop)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise ParameterError(f"{name} must be an integer, got {value!r}")
    if not 0 <= start <= stop <= n:
        raise ParameterError(f"need 0 <= start <= stop <= {n}, got start={start}, stop={stop}")
    flat = values.reshape(n, -1)
    ok = np.isfinite(flat)
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != values.shape:
            raise ParameterError(f"valid shape {valid.shape} differs from values shape {values.shape}")
        ok &= valid.reshape(n, -1).astype(bool, copy=False)
    out = np.empty((stop - start, flat.shape[1]))
    if stop > start:
        for p0, p1 in _groups(n, flat.shape[1]):
            good = np.ascontiguousarray(ok[:, p0:p1].T)
            series = np.ascontiguousarray(flat[:, p0:p1].T)
            out[:, p0:p1] = _series_medians(series, good, width // 2, int(start), int(stop)).T
    return out.reshape((stop - start,) + values.shape[1:])


def _window_medians_at(values, good, half, rows, positions):
    """Medians of the valid samples of single windows, one window at a time.

    values : (g, L) float32 or float64; good : (g, L) bool; returns, for
    each (row, position), the float64 median of
    ``values[row, position - half : position + half + 1]`` (clipped to the
    row) over its valid samples, NaN if there is none: the same values as
    :func:`_window_medians`.  Whole valid windows take their middle element
    after :func:`numpy.partition`, the others go to :func:`nanmedian`.
    """
    width = 2 * half + 1
    padded = np.full((values.shape[0], values.shape[1] + 2 * half), np.nan, values.dtype)
    padded[:, half : half + values.shape[1]] = np.where(good, values, np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)
    result = np.empty(rows.size)
    step = max(1, _GROUP_SAMPLES // width)
    for k in range(0, rows.size, step):
        part = slice(k, k + step)
        gathered = windows[rows[part], positions[part]]
        holes = np.isnan(gathered).any(axis=1)
        whole = ~holes
        if whole.any():
            result[part][whole] = np.partition(gathered[whole], half, axis=1)[:, half]
        if holes.any():
            result[part][holes] = nanmedian(gathered[holes], axis=-1)
    return result
