"""The noise model of a count-rate pixel: Horne's Q from the file, expected errors, outlying ERR.

The variance of a rate ``R`` (DN/s) is ``R / Q + V_read``, with ``Q`` the
detected electrons per DN/s (gain times effective integration time) and
``V_read`` the read-noise variance (the file's ``var_rnoise``).  A rateints
file does not state the gain, but its Poisson variance plane does:
``var_poisson = R / Q``, so ``Q`` is the median of ``R / var_poisson`` over
bright pixels (:func:`estimate_q`).  The estimate's accuracy on simulations,
and how a quoted MIRI gain times EFFINTTM compares with the shared MIRISim
file's own ``var_poisson``, are measured in ``benchmarks/DEFAULTS.md``.

Pure numpy, no warnings machinery.
"""
import numpy as np


__all__ = ["estimate_q", "expected_error", "median_of", "outlying_errors", "sky_flux_variance"]


def estimate_q(rate, var_poisson, var_rnoise, bad=None, *, snr):
    """Horne's Q (electrons per DN/s) from a file's own Poisson variance.

    Parameters
    ----------
    rate : array_like
        Count rates, DN/s, *before* sky subtraction (the rate the Poisson
        variance was computed from).
    var_poisson, var_rnoise : array_like, same shape
        The file's Poisson and read-noise variances, (DN/s)**2.
    bad : array_like of bool, optional
        Pixels to leave out (e.g. flagged in DQ).
    snr : float
        Only pixels with ``rate > snr * sqrt(median(var_rnoise))`` count.

    Returns
    -------
    float
        ``median(rate / var_poisson)`` over the finite, unflagged, bright
        pixels with ``var_poisson > 0``; NaN if there is none.

    Examples
    --------
    >>> rate = np.array([100.0, 200.0, 1.0, 400.0])
    >>> estimate_q(rate, rate / 38.0, np.full(4, 0.07), snr=20.0)
    38.0
    """
    # masks on the arrays as given (float32 frames stay float32; the floor is a
    # float64 scalar, so the comparison is exact), float64 only for the selected pixels
    rate, var_poisson = np.asarray(rate), np.asarray(var_poisson)
    floor = np.float64(snr * np.sqrt(median_of(var_rnoise)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(rate) & np.isfinite(var_poisson) & (var_poisson > 0) & (rate > floor)
        if bad is not None:
            ok &= ~np.asarray(bad, dtype=bool)
        if not ok.any():
            return float("nan")
        # both cast to float64 before dividing, as astype would; no NaN: the median
        return float(median_of(np.divide(rate[ok], var_poisson[ok], dtype=np.float64)))


def median_of(values):
    """Median of the non-NaN values of an array (all axes), float64; NaN if there is none.

    Bit for bit :func:`xmiri.kernels.background.nanmedian` (so
    :func:`numpy.median` without NaN) of the flattened values, but from one
    partition of a copy at a single kth, in the values' own float dtype: the
    middle value, or the mean ``(lower + upper) / 2`` of the middle two in
    float64 with ``lower`` the largest value below the kth.  Float values
    that are all non-negative and not NaN (variances, ratios of positive
    numbers) are partitioned as the integers of their bits, which order as
    the values do and partition faster.

    Parameters
    ----------
    values : array_like
        Any unit; other than float32 and float64 converted to float64.

    Returns
    -------
    numpy.float64
        In the unit of `values`.

    Examples
    --------
    >>> float(median_of(np.array([[4.0, np.nan], [1.0, 2.0]])))
    2.0
    >>> float(median_of(np.array([3.0, 1.0, 2.0, 10.0], np.float32)))
    2.5
    """
    values = np.ravel(values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    work = None
    if values.size:
        bits = values.view(np.int32 if values.dtype == np.float32 else np.int64)
        inf = np.array(np.inf, values.dtype).view(bits.dtype)  # the largest non-NaN pattern
        if bits.min() >= 0 and bits.max() <= inf:  # no sign bit (no -0.0), no NaN
            work = bits.copy()
    if work is None:
        nan = np.isnan(values)
        work = values[~nan] if nan.any() else values.copy()
    if not work.size:
        return np.float64(np.nan)
    k = work.size // 2
    work.partition(k)  # one kth: numpy's partition at two is several times slower
    upper = np.float64(work[k : k + 1].view(values.dtype)[0])
    if work.size % 2:
        return upper
    lower = np.float64(work[:k].max(keepdims=True).view(values.dtype)[0])
    with np.errstate(invalid="ignore"):  # -inf and +inf in the middle
        return (lower + upper) / 2


def expected_error(rate, q, var_rnoise):
    """The 1-sigma error a pixel of count rate ``rate`` should have: ``sqrt(max(rate, 0) / q + V_read)``.

    Parameters
    ----------
    rate : array_like
        Count rate before sky subtraction, DN/s.
    q : float
        Electrons per DN/s (:func:`estimate_q`).
    var_rnoise : array_like or float
        Read-noise variance, (DN/s)**2.

    Returns
    -------
    numpy.ndarray
        DN/s.

    Examples
    --------
    >>> expected_error(np.array([38.0, -5.0]), 38.0, 0.0).tolist()
    [1.0, 0.0]
    """
    out = np.array(rate, dtype=np.float64)  # one buffer, worked in place
    var_rnoise = np.asarray(var_rnoise, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        np.maximum(out, 0.0, out=out)
        out /= q
        if np.broadcast_shapes(out.shape, var_rnoise.shape) == out.shape:
            out += var_rnoise
        else:
            out = out + var_rnoise
        return np.sqrt(out, out=out)


def outlying_errors(err, rate, q, var_rnoise, threshold, *, sky=None):
    """Pixels whose ERR is more than ``threshold`` times the error their own rate implies.

    A pipeline ERR far above ``sqrt(max(rate, 0) / Q + V_read)`` marks a pixel
    whose noise the pipeline distrusted (an unreliable dark or flat, a
    poorly fitted ramp) even when no DQ bit says so; its ERR would dominate
    the error of every spectrum and light-curve bin that sums it.

    Parameters
    ----------
    err, rate : array_like
        The file's ERR and the count rate before sky subtraction, DN/s.
    q : float
        Electrons per DN/s.
    var_rnoise : array_like or float
        Read-noise variance, (DN/s)**2 (e.g. the median of the file's).
    threshold : float
        How many times the expected error counts as outlying.
    sky : array_like, optional
        Sky already subtracted from `rate`, DN/s: the rate tested is then
        ``rate + sky`` (summed in their own dtype, as numpy would), without
        the caller writing that sum out.  None (default): `rate` as given.

    Returns
    -------
    numpy.ndarray of bool
        True where ``err > threshold * expected_error(rate, q, var_rnoise)``
        (never where ERR or the rate is NaN).

    Examples
    --------
    >>> outlying_errors(np.array([1.0, 52.8]), np.array([38.0, 38.0]), 38.0, 0.0, 5.0).tolist()
    [False, True]
    """
    err, rate = np.asarray(err), np.asarray(rate)
    if sky is not None:
        sky = np.asarray(sky)
        if not (sky.dtype == rate.dtype and sky.shape == rate.shape):
            rate, sky = rate + sky, None
    if (err.dtype == rate.dtype == np.float32 and err.shape == rate.shape and rate.ndim
            and np.broadcast_shapes(np.shape(var_rnoise), rate.shape) == rate.shape
            and np.isfinite(q) and q >= _SCREEN_MIN_Q):
        return _outlying_screened(err, rate, sky, q, var_rnoise, threshold)
    if sky is not None:
        rate = rate + sky
    expected = expected_error(rate, q, var_rnoise)
    expected *= threshold
    with np.errstate(invalid="ignore"):
        return err > expected  # float32 ERR compares exactly in float64


#: Relative margin of the float32 screen of :func:`outlying_errors`, far above
#: float32 round-off (about 1e-7), so that no pixel the float64 test flags is missed.
_SCREEN_MARGIN = 1e-4
#: Below this Q the float32 screen could overflow; the float64 test runs alone.
_SCREEN_MIN_Q = 1e-20
#: Pixels per slab of the float32 screen (its temporaries stay in cache).
_SCREEN_SLAB = 1 << 17


def _outlying_screened(err, rate, sky, q, var_rnoise, threshold):
    """:func:`outlying_errors` on float32 frames: a float32 screen, then the float64 test.

    The screen keeps every pixel whose ERR exceeds the expected error
    computed in float32 less a relative margin; only those are tested in
    float64, so the result is that of the float64 test everywhere.  With one
    read-noise variance per frame (or one in all), non-negative, the screen
    looks at ERR alone: the expected error is at least ``sqrt(V_read)``, so
    only pixels with ``err > threshold * sqrt(V_read)`` (less the margin)
    can be outlying, a few per cent of a frame.  Otherwise the screen
    computes the expected error of every pixel in float32.  It runs in slabs
    along the first axis, in reused buffers; `sky` (or None) is added to
    `rate` only where needed.
    """
    shape = rate.shape
    per = max(int(np.prod(shape[1:])), 1)
    step = max(1, _SCREEN_SLAB // per)
    var_rnoise = np.asarray(var_rnoise, dtype=np.float64)
    per_frame = var_rnoise.ndim == 0 or (var_rnoise.ndim == len(shape)
                                         and var_rnoise.size == shape[0] == var_rnoise.shape[0])
    with np.errstate(invalid="ignore"):
        err_only = per_frame and not np.any(var_rnoise < 0)  # NaN: no pixel is outlying
        if err_only:  # float64 floor less the margin, rounded to float32: below the float64 test's
            floor32 = np.broadcast_to((threshold * (1.0 - _SCREEN_MARGIN) * np.sqrt(var_rnoise))
                                      .astype(np.float32), (shape[0],) + (1,) * (len(shape) - 1))
    if not err_only:
        read32 = np.broadcast_to(var_rnoise.astype(np.float32), shape)
        screen = np.empty((min(step, shape[0]),) + shape[1:], np.float32)
    above = np.empty((min(step, shape[0]),) + shape[1:], bool)
    factor, q32 = np.float32(threshold * (1.0 - _SCREEN_MARGIN)), np.float32(q)
    found, rates, errs = [], [], []
    with np.errstate(invalid="ignore", over="ignore"):
        for i0 in range(0, shape[0], step):
            i1 = min(i0 + step, shape[0])
            a = above[: i1 - i0]
            if err_only:
                np.greater(err[i0:i1], floor32[i0:i1], out=a)
            else:
                s = screen[: i1 - i0]
                if sky is None:
                    np.maximum(rate[i0:i1], np.float32(0.0), out=s)
                else:
                    np.add(rate[i0:i1], sky[i0:i1], out=s)
                    np.maximum(s, np.float32(0.0), out=s)
                s /= q32
                s += read32[i0:i1]
                np.sqrt(s, out=s)
                s *= factor
                np.greater(err[i0:i1], s, out=a)
            hits = np.flatnonzero(a)
            if hits.size:  # their rate and ERR taken while the slab is in cache
                value = np.ravel(rate[i0:i1])[hits]
                if sky is not None:
                    value += np.ravel(sky[i0:i1])[hits]  # float32, as rate + sky
                found.append(hits + i0 * per)
                rates.append(value)
                errs.append(np.ravel(err[i0:i1])[hits])
        out = np.zeros(shape, bool)
        if not found:
            return out
        candidates = np.concatenate(found)
        if var_rnoise.ndim == 0:
            read = var_rnoise
        elif per_frame:
            read = var_rnoise.reshape(-1)[candidates // per]
        else:
            read = np.broadcast_to(var_rnoise, shape)[np.unravel_index(candidates, shape)]
        expected = expected_error(np.concatenate(rates), q, read)
        expected *= threshold
        out.reshape(-1)[candidates] = np.concatenate(errs) > expected
    return out


#: float64 elements of whole rows :func:`sky_flux_variance` builds at a time from a band of columns.
_SKY_PASS_ELEMENTS = 2**18


def sky_flux_variance(weights, coefficients, sky_error, columns=None):
    """Variance that a subtracted sky estimate adds to a weighted column sum.

    The sky subtracted from pixel ``(r, c)`` of one integration is a linear
    combination ``sky[r, c] = sum_k coefficients[k, c] * y[r, k]`` of ``K``
    independent estimates ``y[r, k]`` (e.g. the median of the left and of
    the right background region of row ``r``), each with standard error
    ``sky_error[r, k]``.  The same estimate enters every column of the row,
    so its error is correlated across the columns of an aperture: for a flux
    ``f = sum_c weights[c] * (D[c] - sky[c])`` it adds

    ``var = sum_k (sum_c weights[c] * coefficients[k, c]) ** 2 * sky_error[k] ** 2``,

    not the sum over columns of per-pixel sky variances.

    Parameters
    ----------
    weights : array_like, shape (n_int, n_row, n_col)
        Linear weight of each pixel in the flux (aperture weights for a box,
        ``P / V / sum(P**2 / V)`` for an optimal extraction); 0 outside the
        aperture and for missing pixels.  Dimensionless.
    coefficients : array_like, shape (K, n_col)
        Coefficient of each independent sky estimate at each column.
        Dimensionless.
    sky_error : array_like, shape (n_int, n_row, K)
        Standard error of each sky estimate, in the unit of the data (DN/s).
    columns : slice, optional
        The columns ``[start, stop)`` of the frame that `weights` holds
        (every other weight is 0), e.g. from
        :func:`xmiri.kernels.aperture.band_weights`; the frame is
        ``coefficients.shape[1]`` columns wide.  The sums are taken over
        whole rows, a few integrations at a time, so that the result is the
        same, bit for bit, as with the whole frame's weights.  None (default):
        `weights` covers every column.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row)
        float64 variance in the squared unit of the data; NaN propagates.

    Examples
    --------
    One sky level per row (``K = 1``) with error 0.1 under a 3-pixel box:

    >>> w = np.zeros((1, 1, 5)); w[..., 1:4] = 1.0
    >>> round(float(sky_flux_variance(w, np.ones((1, 5)), np.full((1, 1, 1), 0.1))[0, 0]), 12)
    0.09
    """
    weights = np.asarray(weights, dtype=np.float64)
    coefficients = np.asarray(coefficients, dtype=np.float64)
    sky_error = np.asarray(sky_error, dtype=np.float64)
    if columns is None:
        projected = np.einsum("irc,kc->irk", weights, coefficients)
    else:  # whole rows built from the band in a small buffer (in cache), a pass at a time
        n_int, n_row = weights.shape[:2]
        step = max(1, _SKY_PASS_ELEMENTS // max(1, n_row * coefficients.shape[1]))
        rows = np.zeros((min(step, n_int), n_row, coefficients.shape[1]))
        projected = np.empty((n_int, n_row, coefficients.shape[0]))
        for start in range(0, n_int, step):
            stop = min(start + step, n_int)
            rows[:stop - start, :, columns] = weights[start:stop]
            projected[start:stop] = np.einsum("irc,kc->irk", rows[:stop - start], coefficients)
    return np.sum((projected * sky_error) ** 2, axis=-1)
