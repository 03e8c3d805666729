"""The error of the sky estimate of :func:`xmiri.kernels.background.background_block`.

The variance of the median-based sky estimates (the median of ``n`` normal
values, by quadrature of order statistics), their coefficients in each
column, and the correlation along the dispersion axis that a running median
leaves.  Pure numpy: arrays in, arrays out.  The names are also reached
from :mod:`xmiri.kernels.background`.
"""
import numpy as np

from ..exceptions import ParameterError
from ._validate import background_method, index_range, smoothing_length as _check_smoothing_length

__all__ = ["median_variance_factor", "background_coefficients", "background_error_block",
           "row_correlation", "running_median_correlation", "difference_variance"]


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


def _count(mask):
    """``np.count_nonzero(mask, axis=-1)``; a short last axis is added up column by column
    (one pass per column over the other axes, instead of one reduction per row)."""
    if mask.shape[-1] > 64:
        return np.count_nonzero(mask, axis=-1)
    count = np.zeros(mask.shape[:-1], np.uint8)
    for column in range(mask.shape[-1]):
        count += mask[..., column]
    return count.astype(np.intp)


def _median_error(valid, sigma):
    """Standard error of a median of the `valid` values along the last axis, each of standard
    error `sigma`.

    ``sqrt(median_variance_factor(n)) * sigma_eff``, with ``n`` the number of
    valid values and ``sigma_eff = 1 / mean(1 / sigma)`` over the valid values
    of known, positive sigma.  The linearised median (Bahadur) of values of
    unequal Gaussian errors has variance ``(pi / 2) n / (sum 1 / sigma)**2``,
    which this is for large ``n``; for equal errors it is exact at any ``n``.
    """
    valid = np.asarray(valid, dtype=bool)
    sigma = np.asarray(sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        known = valid & np.isfinite(sigma) & (sigma > 0)
        if sigma.flags.c_contiguous:  # 1 / sigma where known, else 0, in one pass
            inverse = np.zeros(known.shape, np.result_type(sigma, 1.0))
            np.divide(1.0, sigma, out=inverse, where=known)
        else:  # (windows) the layout np.where gives, which sets the order of the sum below
            inverse = np.where(known, 1.0 / np.where(known, sigma, 1.0), 0.0)
        n_known = _count(known)
        sigma_eff = n_known / inverse.sum(axis=-1)
    n = _count(valid)
    counts = np.flatnonzero(np.bincount(n.ravel()))  # the values of n, each factor once
    root = np.full(counts[-1] + 1 if counts.size else 1, np.nan)
    root[counts] = np.sqrt(median_variance_factor(counts))
    out = root[n] * sigma_eff
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
    return _median_error(np.isfinite(windows), windows)


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
    background_method(method)
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
    data = np.asarray(data)
    variance = np.asarray(variance)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    if variance.shape != data.shape:
        raise ParameterError(
            f"variance must have the shape of data {data.shape}, got {variance.shape}")
    background_method(method)
    n_cols = data.shape[2]
    l0, l1 = index_range("left", left, n_cols, "column", strict=True)
    r0, r1 = index_range("right", right, n_cols, "column", strict=True)
    length = _check_smoothing_length(smoothing_length)

    def region(*ranges):  # which pixels are finite, and their sigma, on the regions' columns only
        if all(stop == start for (_, stop), (start, _) in zip(ranges, ranges[1:])):
            start, stop = ranges[0][0], ranges[-1][1]  # adjacent: one slice, no copy
            d, v = data[:, :, start:stop], np.asarray(variance[:, :, start:stop], np.float64)
        else:
            d = np.concatenate([data[:, :, start:stop] for start, stop in ranges], axis=2)
            v = np.concatenate([variance[:, :, start:stop] for start, stop in ranges], axis=2,
                               dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.isfinite(d), np.sqrt(v)

    both = ((l0, l1), (r0, r1))
    if method == "constant":
        ok, sd = region(*both)
        shape = (data.shape[0], data.shape[1] * ok.shape[2])
        error = _median_error(ok.reshape(shape), sd.reshape(shape))
        return np.broadcast_to(error[:, None, None], data.shape[:2] + (1,)).copy()
    if method == "row_wise":
        error = _median_error(*region(*both))[:, :, None]
    else:
        background_coefficients(method, (l0, l1), (r0, r1), n_cols)  # checks the mid-points
        error = np.stack([_median_error(*region((l0, l1))),
                          _median_error(*region((r0, r1)))], axis=-1)
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


def difference_variance(data):
    """Pixel variance of each frame, from the differences of neighbouring pixels.

    For frames without ``err`` or ``var_*`` planes, the variance the sky
    error is computed from is measured in the data themselves:
    ``(1.4826 * median |d[r, c + 1] - d[r, c]| / sqrt(2))**2`` over every
    row and pair of neighbouring columns of the frame.  Differencing cancels
    a smooth sky gradient, the median ignores the trace's few steep
    columns, and ``1 / sqrt(2)`` turns the scatter of a difference of two
    independent pixels into that of one pixel.  This assumes the noise is
    the same in every pixel (sky-limited frames).

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Rate images, DN/s.  NaN pixels are left out of the median.

    Returns
    -------
    numpy.ndarray, shape (n_int,)
        float64 variance of one pixel in each frame, (DN/s)**2; NaN for a
        frame with no finite difference.

    Raises
    ------
    ParameterError
        If `data` is not 3-D.

    Examples
    --------
    >>> frame = np.array([[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]])
    >>> difference_variance(frame).round(4)
    array([1.0991])
    """
    from .background import MAD_TO_SIGMA, nanmedian

    data = np.asarray(data)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    steps = np.abs(np.diff(data.astype(np.float64), axis=-1))
    sigma = MAD_TO_SIGMA * nanmedian(steps.reshape(steps.shape[0], -1), axis=-1) / np.sqrt(2.0)
    return sigma ** 2
