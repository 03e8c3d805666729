"""Sky-background estimation for blocks of MIRI LRS integrations.

The estimates reproduce the three methods of ExoTiC-MIRI's
``BackgroundSubtractStep`` (``constant``, ``row_wise`` and ``col_wise``),
including its optional running median along the dispersion (row) axis, but
work on a whole block of integrations at once and ignore NaN pixels.

All functions here are pure numpy: arrays in, arrays out.
"""
import numpy as np

from ._validate import index_range
from ..exceptions import ParameterError

__all__ = ["background_block", "running_median_rows", "nanmedian", "MAD_TO_SIGMA",
           "median_variance_factor", "background_coefficients", "background_error_block",
           "row_correlation", "running_median_correlation"]

#: Ratio of the standard deviation of a normal distribution to its median
#: absolute deviation, ``1 / Phi^-1(3/4)``: the one value every robust scatter
#: in xmiri uses.
MAD_TO_SIGMA = 1.482602218505602

_METHODS = ("constant", "row_wise", "col_wise")
_BLOCK_ELEMENTS = 2**21  # float64 elements per partitioned block of windows


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
    if a.shape[-1] == 0:
        return np.full(a.shape[:-1], np.nan)
    is_nan = np.isnan(a)
    if not is_nan.any():  # fast path: partition-based, same values
        return np.median(a, axis=-1)
    ordered = np.sort(a, axis=-1)
    count = a.shape[-1] - np.count_nonzero(is_nan, axis=-1)
    lower = np.maximum((count - 1) // 2, 0)[..., np.newaxis]
    upper = np.maximum(count // 2, 0)[..., np.newaxis]
    low_value = np.take_along_axis(ordered, lower, axis=-1)[..., 0]
    high_value = np.take_along_axis(ordered, upper, axis=-1)[..., 0]
    with np.errstate(invalid="ignore"):  # -inf and +inf in the middle
        median = (low_value + high_value) / 2.0
    return np.where(count > 0, median, np.nan)


def _check_smoothing_length(smoothing_length):
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


def background_block(data, *, method="row_wise", left=(8, 17), right=(56, 72), smoothing_length=None):
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
    method : {"row_wise", "constant", "col_wise"}, optional
        Estimation method. Default ``"row_wise"``.
    left, right : tuple of int, optional
        Half-open column ranges [start, end) of the background regions.
        Defaults (8, 17) and (56, 72).
    smoothing_length : int or None, optional
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
    >>> bkg = background_block(data, method="col_wise")
    >>> round(float(bkg[0, 0, 36]), 6), round(float(5.0 + 0.1 * 36), 6)
    (8.55, 8.6)

    (0.05 DN/s low: half a column of the gradient, from ExoTiC-MIRI's region
    mid-points, see above.)
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    if method not in _METHODS:
        raise ParameterError(f"method must be one of {_METHODS}, got {method!r}")
    n_cols = data.shape[2]
    l0, l1 = index_range("left", left, n_cols, "column", strict=True)
    r0, r1 = index_range("right", right, n_cols, "column", strict=True)
    length = _check_smoothing_length(smoothing_length)

    if method == "constant":
        both = np.concatenate([data[:, :, l0:l1], data[:, :, r0:r1]], axis=2)
        level = nanmedian(both.reshape(data.shape[0], data.shape[1] * both.shape[2]), axis=-1)
        return np.broadcast_to(level[:, np.newaxis, np.newaxis], data.shape).copy()

    if method == "row_wise":
        both = np.concatenate([data[:, :, l0:l1], data[:, :, r0:r1]], axis=2)
        level = nanmedian(both, axis=-1)[:, :, np.newaxis]
        if length is not None:
            level = running_median_rows(level, length)
        return np.broadcast_to(level, data.shape).copy()

    # col_wise: a line through the two region medians, per row.
    x_left = (l0 + l1) / 2.0
    x_right = (r0 + r1) / 2.0
    if x_left == x_right:
        raise ParameterError(
            f"col_wise needs distinct region mid-points, got left={left!r} and right={right!r}"
        )
    y_left = nanmedian(data[:, :, l0:l1], axis=-1)[:, :, np.newaxis]
    y_right = nanmedian(data[:, :, r0:r1], axis=-1)[:, :, np.newaxis]
    fraction = (np.arange(n_cols, dtype=np.float64) - x_left) / (x_right - x_left)
    background = y_left + (y_right - y_left) * fraction
    if length is not None:
        background = running_median_rows(background, length)
    return background


# --------------------------------------------------------------------------
# the error of the sky estimate
def _log_normal_pdf(x):
    return -0.5 * x * x - 0.5 * np.log(2.0 * np.pi)


def _exact_median_variance(n):
    """Var of the median of ``n`` iid standard normal values, by quadrature of order statistics."""
    from scipy.special import gammaln, log_ndtr

    half_width = 8.5 * np.sqrt(np.pi / (2.0 * n)) + 0.5
    if n % 2:  # the middle order statistic X_(m+1), n = 2m + 1
        m = (n - 1) // 2
        x = np.linspace(-half_width, half_width, 4001)
        log_g = (gammaln(n + 1) - 2.0 * gammaln(m + 1) + m * (log_ndtr(x) + log_ndtr(-x))
                 + _log_normal_pdf(x))
        g = np.exp(log_g)
        return float(np.trapezoid(x * x * g, x) / np.trapezoid(g, x))
    # the mean of X_(m) and X_(m+1), n = 2m: their joint density on x < y
    m = n // 2
    x = np.linspace(-half_width, half_width, 1201)
    lx, ly = np.meshgrid(x, x, indexing="ij")
    log_h = (gammaln(n + 1) - 2.0 * gammaln(m) + (m - 1) * (log_ndtr(lx) + log_ndtr(-ly))
             + _log_normal_pdf(lx) + _log_normal_pdf(ly))
    h = np.where(lx < ly, np.exp(log_h), 0.0)
    h[lx == ly] = 0.5 * np.exp(log_h[lx == ly])  # half of the diagonal cell is inside
    s = 0.5 * (lx + ly)
    return float((s * s * h).sum() / h.sum())


_MEDIAN_VARIANCE = {}
_EXACT_UP_TO = 400


def median_variance_factor(n):
    """Variance of the median of ``n`` independent standard normal values.

    For ``n <= 400`` the variance is computed by numerical quadrature over
    the density of the middle order statistic (odd ``n``) or the joint
    density of the two middle ones, whose mean the median is (even ``n``);
    values are cached per ``n``.  Beyond, the asymptotic
    ``pi / (2 (n + 1))`` is used (the leading term ``pi / (2 n)`` of the
    normal median's variance, with a finite-size correction; the odd and
    even sequences converge to it from either side).

    Parameters
    ----------
    n : array_like of int
        Number of values (>= 1); values < 1 give NaN.

    Returns
    -------
    numpy.ndarray
        float64 ``Var(median) / sigma**2``, the shape of `n`.

    Examples
    --------
    >>> median_variance_factor(np.array([1, 2])).round(6).tolist()
    [1.0, 0.5]
    >>> bool(abs(median_variance_factor(1001) / (np.pi / 2 / 1001) - 1) < 2e-3)
    True
    """
    n = np.asarray(n)
    out = np.full(n.shape, np.nan)
    if n.size == 0:
        return out
    for value in np.unique(n):
        value = int(value)
        if value < 1:
            continue
        if value > _EXACT_UP_TO:
            factor = np.pi / (2.0 * (value + 1))
        else:
            if value not in _MEDIAN_VARIANCE:
                _MEDIAN_VARIANCE[value] = _exact_median_variance(value)
            factor = _MEDIAN_VARIANCE[value]
        out[n == value] = factor
    return out


def _median_error(valid, sigma, axis):
    """Standard error of a median of the `valid` values along `axis`, each of standard error `sigma`.

    ``sqrt(median_variance_factor(n)) * sigma_eff``, with ``n`` the number of
    valid values and ``sigma_eff = 1 / mean(1 / sigma)`` over the valid values
    of known, positive sigma.  The linearised median (Bahadur) of values of
    unequal Gaussian errors has variance ``(pi / 2) n / (sum 1 / sigma)**2``,
    which this is for large ``n``; for equal errors it is exact at any ``n``.
    """
    valid = np.asarray(valid, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        known = valid & np.isfinite(sigma) & (sigma > 0)
        inverse = np.where(known, 1.0 / np.where(known, sigma, 1.0), 0.0)
        n_known = np.count_nonzero(known, axis=axis)
        sigma_eff = n_known / inverse.sum(axis=axis)
    n = np.count_nonzero(valid, axis=axis)
    out = np.sqrt(median_variance_factor(n)) * sigma_eff
    out[(n == 0) | (n_known == 0)] = np.nan
    return out


def _running_median_error(error, length):
    """Standard error of :func:`running_median_rows` of estimates of standard error `error`.

    `error` has shape (n_int, n_row, K); windows are clipped at the ends and
    ignore NaN estimates, as the running median does.
    """
    half = (length - 1) // 2
    if half == 0 or error.shape[1] == 0:
        return error.copy()
    pad = [(0, 0), (half, half), (0, 0)]
    padded = np.pad(error, pad, mode="constant", constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=1)
    return _median_error(np.isfinite(windows), windows, axis=-1)


def background_coefficients(method, left, right, n_cols):
    """How the independent sky estimates of a row combine into the sky of each column.

    The sky subtracted at ``(row, col)`` by :func:`background_block` is
    ``sum_k coefficients[k, col] * estimate[row, k]``:

    ``"constant"``, ``"row_wise"``
        one estimate (the median of both regions), coefficient 1 everywhere;
    ``"col_wise"``
        two (the medians of the left and of the right region), coefficients
        ``1 - f`` and ``f``, with ``f = (col - x_left) / (x_right - x_left)``
        the position of the column on the line through the regions'
        mid-points.

    Parameters
    ----------
    method : {"constant", "row_wise", "col_wise"}
        Estimation method.
    left, right : tuple of int
        Half-open column ranges [start, end) of the background regions.
    n_cols : int
        Number of columns.

    Returns
    -------
    numpy.ndarray, shape (K, n_cols)
        float64, dimensionless.

    Examples
    --------
    >>> background_coefficients("col_wise", (0, 2), (4, 6), 6).tolist()
    [[1.25, 1.0, 0.75, 0.5, 0.25, 0.0], [-0.25, 0.0, 0.25, 0.5, 0.75, 1.0]]
    """
    if method not in _METHODS:
        raise ParameterError(f"method must be one of {_METHODS}, got {method!r}")
    if method != "col_wise":
        return np.ones((1, n_cols))
    x_left = (left[0] + left[1]) / 2.0
    x_right = (right[0] + right[1]) / 2.0
    if x_left == x_right:
        raise ParameterError(
            f"col_wise needs distinct region mid-points, got left={left!r} and right={right!r}")
    fraction = (np.arange(n_cols, dtype=np.float64) - x_left) / (x_right - x_left)
    return np.stack([1.0 - fraction, fraction])


def background_error_block(data, variance, *, method, left, right, smoothing_length):
    """Standard error of each independent sky estimate of :func:`background_block`.

    Each estimate is a median of ``n`` pixels (the finite pixels of the
    region(s) in a row; of every row for ``"constant"``), whose variance,
    for Gaussian pixels of standard deviation ``sigma``, is
    ``median_variance_factor(n) * sigma**2`` (``~ pi sigma**2 / (2 n)``):
    see :func:`median_variance_factor`.  ``sigma`` comes from the pixel
    variance model (`variance`), not from the scatter of the data, so that
    the error follows the chain's own noise model.  A running median over
    rows (`smoothing_length`) is a median of the per-row estimates in its
    window, and its error is computed the same way from theirs.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Rate images (DN/s): only which pixels are finite is used.
    variance : array_like, shape (n_int, n_row, n_col)
        Variance of each pixel, (DN/s)**2 (``var_poisson + var_rnoise``, or
        ``err**2``).  Pixels with a non-finite or non-positive variance are
        counted in ``n`` but do not set ``sigma``.
    method : {"constant", "row_wise", "col_wise"}
        Estimation method (as :func:`background_block`).
    left, right : tuple of int
        Half-open column ranges [start, end) of the background regions.
    smoothing_length : int or None
        Running-median window in rows, or None.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, K)
        float64 standard errors in DN/s; ``K`` and the meaning of each
        estimate as in :func:`background_coefficients`.  NaN where an
        estimate has no finite pixel or no pixel of known variance.

    Raises
    ------
    ParameterError
        For the reasons of :func:`background_block`, or if `variance` does
        not have the shape of `data`.

    Notes
    -----
    The estimates of different rows are independent without smoothing
    (``row_wise``, ``col_wise``); ``constant`` gives every row the same
    estimate (fully correlated rows); a running median of ``N`` rows makes
    rows closer than ``N`` correlated (see :func:`row_correlation`).

    Examples
    --------
    One row, 25 background pixels of sigma 1: ``sqrt(pi / 2 / 25) ~ 0.25``.

    >>> data = np.zeros((1, 1, 72))
    >>> error = background_error_block(data, np.ones((1, 1, 72)), method="row_wise",
    ...                                left=(8, 17), right=(56, 72), smoothing_length=None)
    >>> error.shape, round(float(error[0, 0, 0]), 3)
    ((1, 1, 1), 0.248)
    """
    data = np.asarray(data, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    if variance.shape != data.shape:
        raise ParameterError(
            f"variance must have the shape of data {data.shape}, got {variance.shape}")
    if method not in _METHODS:
        raise ParameterError(f"method must be one of {_METHODS}, got {method!r}")
    n_cols = data.shape[2]
    l0, l1 = index_range("left", left, n_cols, "column", strict=True)
    r0, r1 = index_range("right", right, n_cols, "column", strict=True)
    length = _check_smoothing_length(smoothing_length)
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(variance)
    valid = np.isfinite(data)

    def region(cols):
        return valid[:, :, cols], sigma[:, :, cols]

    both = np.r_[l0:l1, r0:r1]
    if method == "constant":
        ok, sd = region(both)
        shape = (data.shape[0], data.shape[1] * both.size)
        error = _median_error(ok.reshape(shape), sd.reshape(shape), axis=-1)
        return np.broadcast_to(error[:, None, None], data.shape[:2] + (1,)).copy()
    if method == "row_wise":
        error = _median_error(*region(both), axis=-1)[:, :, None]
    else:
        background_coefficients(method, (l0, l1), (r0, r1), n_cols)  # checks the mid-points
        error = np.stack([_median_error(*region(np.r_[l0:l1]), axis=-1),
                          _median_error(*region(np.r_[r0:r1]), axis=-1)], axis=-1)
    if length is not None:
        error = _running_median_error(error, length)
    return error


def row_correlation(method, smoothing_length):
    """The ``row_correlation`` attribute of a background error: how its rows are correlated.

    ``"full"`` for ``"constant"`` (one estimate for every row); ``"none"``
    without smoothing; ``"running median of N rows"`` with smoothing over an
    effective (odd) window of ``N`` rows.  For the latter, rows ``r`` and
    ``r'`` share the estimates of ``N - |r - r'|`` rows, and the covariance
    of their sky is ``e[r] e[r'] rho(|r - r'|)`` with ``rho`` from
    :func:`running_median_correlation`
    (:func:`xmiri.kernels.lightcurves.row_correlation_matrix`).

    Parameters
    ----------
    method : {"constant", "row_wise", "col_wise"}
        Estimation method (as :func:`background_block`).
    smoothing_length : int or None
        Running-median window in rows, or None.

    Returns
    -------
    str
        The attribute's value.

    Examples
    --------
    >>> row_correlation("row_wise", 12), row_correlation("constant", 12), row_correlation("col_wise", None)
    ('running median of 11 rows', 'full', 'none')
    """
    length = _check_smoothing_length(smoothing_length)
    if method == "constant":
        return "full"
    if length is None or (length - 1) // 2 == 0:
        return "none"
    return f"running median of {2 * ((length - 1) // 2) + 1} rows"


_RUNNING_CORRELATION = {}
_CORRELATION_DRAWS = 20000


def running_median_correlation(length):
    """Correlation of a running median of independent Gaussian estimates between rows ``d`` apart.

    Two windows of ``N`` rows ``d`` apart share ``N - d`` estimates; their
    medians are correlated by less than that shared fraction (which the
    linearised median gives for large ``N`` only).  The correlation is
    computed by Monte Carlo integration: the medians of all ``N`` window
    offsets over a common series of ``2 N - 1`` standard normal values, for
    a fixed set of draws (seeded, so the result is deterministic; 20000 draws,
    fewer for windows longer than 100 rows), cached per ``N``.

    Parameters
    ----------
    length : int
        Window length ``N`` in rows (odd, >= 1: the effective window of
        :func:`running_median_rows`).

    Returns
    -------
    numpy.ndarray, shape (N,)
        float64 correlation at lags ``0 .. N - 1`` (1 at lag 0); 0 beyond.

    Examples
    --------
    >>> running_median_correlation(1).tolist()
    [1.0]
    >>> rho = running_median_correlation(11)
    >>> bool(rho[1] < 1 - 1 / 11) and bool(np.all(np.diff(rho) < 0))
    True
    """
    length = int(length)
    if length < 1:
        raise ParameterError(f"length must be an integer >= 1, got {length}")
    if length not in _RUNNING_CORRELATION:
        # fewer draws for long windows bound the work (~2e8 values), in batches of ~4e6
        n_draws = max(1000, min(_CORRELATION_DRAWS, 200_000_000 // length**2))
        draws = np.random.default_rng([21, length]).standard_normal((n_draws, 2 * length - 1))
        batch = max(1, 4_000_000 // length**2)
        medians = np.concatenate([  # (draws, length): the medians at offsets 0 .. N - 1
            np.median(np.lib.stride_tricks.sliding_window_view(draws[i:i + batch], length, axis=1),
                      axis=-1) for i in range(0, n_draws, batch)])
        medians -= medians.mean(axis=0)
        covariance = (medians[:, :1] * medians).mean(axis=0)
        rho = covariance / covariance[0]
        rho[0] = 1.0
        _RUNNING_CORRELATION[length] = rho
    return _RUNNING_CORRELATION[length].copy()
