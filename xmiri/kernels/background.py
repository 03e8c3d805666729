"""Sky-background estimation for blocks of MIRI LRS integrations.

The estimates reproduce the three methods of ExoTiC-MIRI's
``BackgroundSubtractStep`` (``constant``, ``row_wise`` and ``col_wise``),
including its optional running median along the dispersion (row) axis, but
work on a whole block of integrations at once and ignore NaN pixels.

All functions here are pure numpy: arrays in, arrays out.
"""
import functools

import numpy as np

from ..exceptions import ParameterError
from ._validate import background_method, index_range, smoothing_length as _check_smoothing_length
# the error of the sky estimate, re-exported
from .skyerror import (background_coefficients, background_error_block, difference_variance,
                       median_variance_factor, row_correlation, running_median_correlation)

__all__ = ["background_block", "subtract_block", "running_median_rows", "nanmedian", "MAD_TO_SIGMA",
           "median_variance_factor", "background_coefficients", "background_error_block",
           "row_correlation", "running_median_correlation", "difference_variance"]

#: Ratio of the standard deviation of a normal distribution to its median
#: absolute deviation, ``1 / Phi^-1(3/4)``: the one value every robust scatter
#: in xmiri uses.
MAD_TO_SIGMA = 1.482602218505602

_BLOCK_ELEMENTS = 2**21  # float64 elements per partitioned block of windows
_NETWORK_WIDTH = 32  # widest region whose median _region_median takes by a network
_NETWORK_ELEMENTS = 2**17  # values per step of _region_median (512 kB of float32)
_SKY_ELEMENTS = 2**16  # float64 elements of sky per step of subtract_block (512 kB)


def nanmedian(values, axis=-1):
    """Median along one axis, ignoring NaN, without warnings.

    Without NaN this is :func:`numpy.median`. Otherwise the values are
    sorted along `axis` (numpy sorts NaN last), the non-NaN ones counted,
    and the middle one (or the mean of the middle two) taken.
    Unlike :func:`numpy.nanmedian`, a slice with no finite value quietly
    gives NaN: no ``RuntimeWarning`` is emitted, so no thread-unsafe warning
    filter is needed when the function runs inside dask worker threads.

    Parameters
    ----------
    values : array_like
        Input values, any unit; converted to float64.
    axis : int, optional
        Axis along which the median is taken. Default is the last axis.

    Returns
    -------
    numpy.ndarray
        float64 array with `axis` removed. NaN where a slice holds no
        non-NaN value. Infinite values take part as in :func:`numpy.median`.

    Examples
    --------
    >>> nanmedian(np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])).tolist()
    [2.0, nan]
    """
    a = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    n = a.shape[-1]
    if n == 0:
        return np.full(a.shape[:-1], np.nan)
    ordered = np.sort(a, axis=-1)  # NaN last; faster than np.median's partition here
    if not np.isnan(ordered[..., -1]).any():  # np.median's values, bit for bit: the mean
        with np.errstate(invalid="ignore"):  # of the middle value(s), summed from +0.0
            if n % 2:
                return ordered[..., n // 2] + 0.0
            return (ordered[..., n // 2 - 1] + ordered[..., n // 2] + 0.0) / 2.0
    count = n - np.count_nonzero(np.isnan(ordered), axis=-1)
    lower = np.maximum((count - 1) // 2, 0)[..., np.newaxis]
    upper = np.maximum(count // 2, 0)[..., np.newaxis]
    low_value = np.take_along_axis(ordered, lower, axis=-1)[..., 0]
    high_value = np.take_along_axis(ordered, upper, axis=-1)[..., 0]
    with np.errstate(invalid="ignore"):  # -inf and +inf in the middle
        median = (low_value + high_value) / 2.0
    return np.where(count > 0, median, np.nan)


@functools.cache
def _median_network(width):
    """Comparators ``(i, j)`` (min to wire i, max to wire j) that bring the middle values of
    `width` values to the wires returned after them: ``(comparators, low, high)``.

    Batcher's odd-even merge sort of the next power of two, the padding
    wires being +inf (their comparators resolved statically), pruned to the
    comparators the middle wires depend on.  Every input reaches the middle
    wires, so a NaN anywhere in a row (which ``minimum`` and ``maximum``
    propagate) makes them NaN.
    """
    size = 1
    while size < width:
        size *= 2
    wire = list(range(size))  # position -> wire
    padding = set(range(width, size))  # positions holding +inf
    kept = []
    step = 1
    while step < size:
        k = step
        while k >= 1:
            for j in range(k % step, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * step) != b // (2 * step) or b in padding:
                        continue  # not a comparator; or max(a, +inf): nothing moves
                    if a in padding:  # min(+inf, b) is b: the two swap places
                        padding.symmetric_difference_update((a, b))
                        wire[a], wire[b] = wire[b], wire[a]
                    else:
                        kept.append((wire[a], wire[b]))
            k //= 2
        step *= 2
    low, high = wire[(width - 1) // 2], wire[width // 2]
    needed, comparators = {low, high}, []
    for a, b in reversed(kept):
        if a in needed or b in needed:
            needed.update((a, b))
            comparators.append((a, b))
    return comparators[::-1], low, high


def _region_median(values):
    """:func:`nanmedian` along the last axis, bit for bit; a short axis without NaN by a
    selection network on a few thousand rows at a time (in cache), else :func:`nanmedian`.

    The network compares the values in their own floating dtype (converting
    to float64 is exact and keeps their order) and :func:`nanmedian`'s
    formula is applied to the middle values; a NaN anywhere sends the whole
    array to :func:`nanmedian` first (which treats every row differently
    when any has NaN), so frames with NaN pixels do not pay for the network
    as well.
    """
    values = np.asarray(values)
    width = values.shape[-1]
    if (not 2 <= width <= _NETWORK_WIDTH or values.dtype not in (np.float32, np.float64)
            or np.isnan(values).any()):
        return nanmedian(values)
    comparators, low, high = _median_network(width)
    rows = values.reshape(-1, width)
    lower = np.empty(rows.shape[0])
    upper = np.empty(rows.shape[0])
    step = max(1, _NETWORK_ELEMENTS // width)
    for start in range(0, rows.shape[0], step):
        wires = list(rows[start : start + step].T.copy())  # one contiguous row per wire
        spare = np.empty_like(wires[0])
        for a, b in comparators:
            np.minimum(wires[a], wires[b], out=spare)
            np.maximum(wires[a], wires[b], out=wires[b])
            wires[a], spare = spare, wires[a]
        lower[start : start + step] = wires[low]
        upper[start : start + step] = wires[high]
    with np.errstate(invalid="ignore"):  # as nanmedian without NaN
        if width % 2:
            median = lower + 0.0
        else:
            median = (lower + upper + 0.0) / 2.0
    return median.reshape(values.shape[:-1])


def running_median_rows(values, smoothing_length):
    """Running median along the row (dispersion) axis.

    Row ``i`` of the result is the median of rows ``[i - h, i + h]`` of
    `values` in the same column, with ``h = (smoothing_length - 1) // 2``
    and the window clipped at the first and last rows, as in ExoTiC-MIRI's
    ``BackgroundSubtractStep`` (an even `smoothing_length` therefore acts as
    the next smaller odd one). Windows are
    :func:`numpy.lib.stride_tricks.sliding_window_view` views: full windows
    without NaN take their middle element after :func:`numpy.partition`;
    clipped windows at the edges (built on a NaN-padded copy) and windows
    holding NaN use :func:`nanmedian`, so NaN values are ignored. Full
    windows are partitioned a block of rows at a time (about 16 MB of
    windows per block), which bounds the temporary memory.

    Parameters
    ----------
    values : array_like, shape (..., n_row, n_col)
        Values to smooth, e.g. a background in DN/s. Rows are axis -2.
    smoothing_length : int
        Window length in rows, >= 1. A length of 1 or 2 returns a copy.

    Returns
    -------
    numpy.ndarray, shape (..., n_row, n_col)
        float64 smoothed values. NaN only where a whole window is NaN.

    Raises
    ------
    ParameterError
        If `smoothing_length` is not an integer >= 1 or `values` has fewer
        than two dimensions.

    Examples
    --------
    >>> values = np.array([[1.0], [9.0], [2.0], [3.0]])
    >>> running_median_rows(values, 3)[:, 0].tolist()
    [5.0, 2.0, 3.0, 2.5]
    """
    length = _check_smoothing_length(smoothing_length)
    if length is None:
        raise ParameterError("smoothing_length must be an integer >= 1, got None")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 2:
        raise ParameterError(
            f"values must have at least 2 dimensions (row, col), got shape {values.shape}"
        )
    half = (length - 1) // 2
    n_rows = values.shape[-2]
    if half == 0 or n_rows == 0:
        return values.copy()
    window = 2 * half + 1
    smoothed = np.empty(values.shape)
    # Full windows (rows half .. n_rows - half - 1): the window is odd, so the
    # median is its middle element after a partition, unless it holds NaN.
    if n_rows > 2 * half:
        full = np.lib.stride_tricks.sliding_window_view(values, window, axis=-2)
        interior = np.empty(full.shape[:-1])
        # Partition blocks of rows: numpy copies each strided block, so the
        # blocks bound the temporary memory (~16 MB) and stay in cache.
        per_row = max(1, full[..., :1, :, :].size)
        step = max(1, _BLOCK_ELEMENTS // per_row)
        for start in range(0, interior.shape[-2], step):
            block = full[..., start : start + step, :, :]
            interior[..., start : start + step, :] = np.partition(block, half, axis=-1)[..., half]
        is_nan = np.isnan(values)
        if is_nan.any():
            has_nan = np.lib.stride_tricks.sliding_window_view(is_nan, window, axis=-2).any(axis=-1)
            interior[has_nan] = nanmedian(full[has_nan], axis=-1)
        smoothed[..., half : n_rows - half, :] = interior
    # Clipped windows near the first and last rows: NaN padding, ignored.
    edge = np.r_[0 : min(half, n_rows), max(n_rows - half, half) : n_rows]
    pad = [(0, 0)] * values.ndim
    pad[-2] = (half, half)
    padded = np.pad(values, pad, mode="constant", constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-2)
    smoothed[..., edge, :] = nanmedian(windows[..., edge, :, :], axis=-1)
    return smoothed


def background_block(data, *, method, left, right, smoothing_length):
    """Estimate the sky background of every pixel of a block of integrations.

    The background is measured in two column regions either side of the
    spectral trace, ``[left[0], left[1])`` and ``[right[0], right[1])``:

    ``"constant"``
        one value per integration, the median of both regions over all rows;
    ``"row_wise"``
        one value per row, the median of both regions in that row;
    ``"col_wise"``
        per row, the straight line through (``(left[0] + left[1]) / 2``,
        median of the left region) and (``(right[0] + right[1]) / 2``,
        median of the right region), evaluated at every column. The
        abscissae are those of ExoTiC-MIRI (the mean of start and end, not
        the centre of the included columns).

    With `smoothing_length`, the ``row_wise`` and ``col_wise`` estimates are
    then smoothed by :func:`running_median_rows` column by column, as
    ExoTiC-MIRI does; ``constant`` ignores it.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Rate images in DN/s. Any ``n_int >= 0``.
    method : {"row_wise", "constant", "col_wise"}
        Estimation method.
    left, right : tuple of int
        Half-open column ranges [start, end) of the background regions (the
        steps use :data:`xmiri.defaults.BACKGROUND_LEFT` and
        :data:`xmiri.defaults.BACKGROUND_RIGHT`).
    smoothing_length : int or None
        Running-median window in rows (>= 1), or None for no smoothing.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, n_col)
        float64 background in DN/s (the unit of `data`), to be subtracted
        from `data`.

    Raises
    ------
    ParameterError
        For an unknown method, a region outside the columns or empty, equal
        region mid-points with ``col_wise``, an invalid `smoothing_length`,
        or `data` that is not 3-D.

    Notes
    -----
    Medians ignore NaN pixels; a median with no finite pixel is NaN, and the
    running median ignores NaN estimates inside its window. ExoTiC-MIRI uses
    :func:`numpy.median`, so a single NaN pixel there turns the background
    of its whole row (or integration, for ``constant``) into NaN. This is a
    deliberate difference: on NaN-free data both agree to rounding.

    Examples
    --------
    A sky of 5 DN/s plus 0.1 DN/s per column under a bright trace:

    >>> cols = np.arange(72.0)
    >>> frame = 5.0 + 0.1 * cols + 100.0 * np.exp(-0.5 * ((cols - 36) / 1.6) ** 2)
    >>> data = np.broadcast_to(frame, (1, 416, 72))
    >>> bkg = background_block(data, method="col_wise", left=(8, 17), right=(56, 72), smoothing_length=None)
    >>> round(float(bkg[0, 0, 36]), 6), round(float(5.0 + 0.1 * 36), 6)
    (8.55, 8.6)

    (0.05 DN/s low: half a column of the gradient, from ExoTiC-MIRI's region
    mid-points, see above.)
    """
    base, slope, fraction = _sky_terms(data, method=method, left=left, right=right,
                                       smoothing_length=smoothing_length)
    if slope is None:
        return np.broadcast_to(base, np.shape(data)).copy()
    return _line(base, slope, fraction)


def _line(base, slope, fraction, out=None):
    """``slope * fraction + base`` (multiplied, then added), into `out` if given: the
    ``col_wise`` sky ``y_left + (y_right - y_left) * fraction``."""
    line = np.multiply(slope, fraction, out=out)
    line += base
    return line


def _sky_terms(data, *, method, left, right, smoothing_length):
    """The sky of :func:`background_block` before it is spread over the columns.

    Returns ``(base, slope, fraction)``: the sky is ``slope * fraction +
    base`` (multiplied, then added: ``col_wise`` without smoothing; `base`
    and `slope` shaped (n_int, n_row, 1) in DN/s, `fraction` (n_col,),
    dimensionless), or `base` broadcast to the shape of `data` if `slope` is
    None (``constant``: (n_int, 1, 1); ``row_wise``: (n_int, n_row, 1);
    smoothed ``col_wise``: the whole sky).  float64.  Checks the arguments
    as :func:`background_block` documents.
    """
    data = np.asarray(data)  # the medians convert the regions' pixels to float64
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    background_method(method)
    n_cols = data.shape[2]
    l0, l1 = index_range("left", left, n_cols, "column", strict=True)
    r0, r1 = index_range("right", right, n_cols, "column", strict=True)
    length = _check_smoothing_length(smoothing_length)

    if method == "constant":
        both = np.concatenate([data[:, :, l0:l1], data[:, :, r0:r1]], axis=2)
        level = nanmedian(both.reshape(data.shape[0], data.shape[1] * both.shape[2]), axis=-1)
        return level[:, np.newaxis, np.newaxis], None, None

    if method == "row_wise":
        both = np.concatenate([data[:, :, l0:l1], data[:, :, r0:r1]], axis=2)
        level = _region_median(both)[:, :, np.newaxis]
        if length is not None:
            level = running_median_rows(level, length)
        return level, None, None

    # col_wise: a line through the two region medians, per row.
    x_left = (l0 + l1) / 2.0
    x_right = (r0 + r1) / 2.0
    if x_left == x_right:
        raise ParameterError(
            f"col_wise needs distinct region mid-points, got left={left!r} and right={right!r}"
        )
    y_left = _region_median(data[:, :, l0:l1])[:, :, np.newaxis]
    y_right = _region_median(data[:, :, r0:r1])[:, :, np.newaxis]
    fraction = (np.arange(n_cols, dtype=np.float64) - x_left) / (x_right - x_left)
    if length is None:
        return y_left, y_right - y_left, fraction
    return running_median_rows(_line(y_left, y_right - y_left, fraction), length), None, None


def subtract_block(data, *, method, left, right, smoothing_length):
    """The data less the sky of :func:`background_block`, and the sky, of a block.

    The float64 sky is computed a few integrations at a time (about 512 kB,
    which stays in the cache) and each difference rounded once: the values
    are ``(data - background_block(data, ...)).astype(data.dtype)`` and
    ``background_block(data, ...).astype(numpy.float32)``, bit for bit,
    without a float64 frame.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Rate images in DN/s.
    method : {"row_wise", "constant", "col_wise"}
        Estimation method (as :func:`background_block`).
    left, right : tuple of int
        Half-open column ranges [start, end) of the background regions.
    smoothing_length : int or None
        Running-median window in rows (>= 1), or None for no smoothing.

    Returns
    -------
    subtracted : numpy.ndarray, shape (n_int, n_row, n_col)
        `data` less the sky, DN/s, in the dtype of `data`.
    sky : numpy.ndarray, shape (n_int, n_row, n_col)
        float32 sky, DN/s.

    Raises
    ------
    ParameterError
        For the reasons of :func:`background_block`.
    """
    data = np.asarray(data)
    base, slope, fraction = _sky_terms(data, method=method, left=left, right=right,
                                       smoothing_length=smoothing_length)
    subtracted = np.empty(data.shape, data.dtype)
    sky = np.empty(data.shape, np.float32)
    if slope is None:  # the float64 difference, rounded once; the sky rounded once
        np.subtract(data, base, out=subtracted, casting="unsafe")
        np.copyto(sky, base, casting="unsafe")
        return subtracted, sky
    step = max(1, _SKY_ELEMENTS // max(1, data.shape[1] * data.shape[2]))
    buffer = np.empty((min(step, data.shape[0]),) + data.shape[1:])
    for start in range(0, data.shape[0], step):
        block = slice(start, start + step)
        line = _line(base[block], slope[block], fraction, out=buffer[:len(slope[block])])
        np.subtract(data[block], line, out=subtracted[block], casting="unsafe")
        np.copyto(sky[block], line, casting="unsafe")
    return subtracted, sky

