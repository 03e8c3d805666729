"""Spectroscopic and white light curves from extracted spectra (pure numpy)."""
import numpy as np

from ..exceptions import ParameterError
from .background import MAD_TO_SIGMA, nanmedian, running_median_correlation

__all__ = ["bin_spectra", "bin_flux_sums", "bin_index", "bin_counts", "running_median_clip", "point_to_point_scatter",
           "rate_apertures", "correlation_length", "row_correlation_matrix", "bin_sky_variance", "noise_ratio",
           "second_differences", "second_difference_scatter", "transit_depth"]


def bin_index(wavelength, edges):
    """Bin number of every row, -1 where a row falls in no bin.

    Parameters
    ----------
    wavelength : array_like, shape (n_row,)
        Wavelength of each row in micron (NaN allowed).
    edges : array_like, shape (n_bin + 1,)
        Increasing bin edges in micron; bin ``k`` is ``[edges[k], edges[k+1])``,
        the last bin also includes its upper edge.

    Returns
    -------
    numpy.ndarray of int, shape (n_row,)
        Bin number of every row, -1 outside every bin.

    Examples
    --------
    >>> bin_index(np.array([5.0, 6.5, 8.0, np.nan, 9.0]), [5.0, 6.0, 8.0]).tolist()
    [0, 1, 1, -1, -1]
    """
    wavelength = np.asarray(wavelength, dtype=float)
    edges = np.asarray(edges, dtype=float)
    idx = np.searchsorted(edges, wavelength, side="right") - 1
    idx[wavelength == edges[-1]] = len(edges) - 2
    idx[(idx < 0) | (idx >= len(edges) - 1) | ~np.isfinite(wavelength)] = -1
    return idx


def bin_counts(index, n_bins):
    """Number of rows in each bin.

    Parameters
    ----------
    index : array_like of int, shape (n_row,)
        Bin of every row from :func:`bin_index` (-1: unused).
    n_bins : int
        Number of bins.

    Returns
    -------
    numpy.ndarray of int32, shape (n_bins,)
        Rows in each bin.

    Examples
    --------
    >>> bin_counts(np.array([0, 0, -1, 2]), 3).tolist()
    [2, 0, 1]
    """
    index = np.asarray(index)
    return np.bincount(index[index >= 0], minlength=n_bins).astype(np.int32)


def bin_spectra(flux, flux_error, index, n_bins):
    """Sum spectra into wavelength bins, errors in quadrature.

    Parameters
    ----------
    flux, flux_error : numpy.ndarray, shape (n_int, n_row)
        Spectra and their 1-sigma errors (DN/s).
    index : numpy.ndarray of int, shape (n_row,)
        Bin of every row from :func:`bin_index` (-1: unused).
    n_bins : int
        Number of bins.

    Returns
    -------
    binned : numpy.ndarray, shape (n_int, n_bins)
        ``sum(flux)`` over the rows of each bin.
    binned_error : numpy.ndarray, shape (n_int, n_bins)
        ``sqrt(sum(flux_error**2))`` over the rows of each bin.
        A NaN in any row of a bin makes that bin NaN for that
        integration (nothing is silently dropped); an empty bin is NaN.

    Examples
    --------
    >>> flux = np.array([[1.0, 2.0, 3.0]])
    >>> binned, error = bin_spectra(flux, 0.1 * flux, np.array([0, 0, 1]), 2)
    >>> binned.tolist(), error.round(4).tolist()
    ([[3.0, 3.0]], [[0.2236, 0.3]])
    """
    flux = np.asarray(flux, dtype=float)
    flux_error = np.asarray(flux_error, dtype=float)
    onehot = (index[:, None] == np.arange(n_bins)[None, :]).astype(float)  # (n_row, n_bins)
    empty = onehot.sum(axis=0) == 0
    used = index >= 0
    # A matrix product would spread a NaN (NaN * 0) into every bin: sum finite values,
    # and mark a bin NaN where it holds a non-finite row instead.
    f = np.where(np.isfinite(flux), flux, 0.0)[..., used] @ onehot[used]
    v = np.where(np.isfinite(flux_error), flux_error**2, 0.0)[..., used] @ onehot[used]
    bad = (~np.isfinite(flux) | ~np.isfinite(flux_error))[..., used].astype(float) @ onehot[used]
    f[(bad > 0) | empty] = np.nan
    v[(bad > 0) | empty] = np.nan
    return f, np.sqrt(v)


def bin_flux_sums(flux, index, n_bins):
    """Sum spectra into wavelength bins row by row, the same for any number of integrations.

    Each bin is numpy's (pairwise) sum of its rows' values, taken over a
    contiguous copy of those rows, so that an integration's result does not
    depend on how many integrations `flux` holds (unlike the matrix product
    of :func:`bin_spectra`, whose rounding may): second differences of
    binned light curves cancel all but ~1e-4 of the flux, so their ratio to
    the errors must not depend on the chunking.

    Parameters
    ----------
    flux : array_like, shape (..., n_row)
        Spectra, e.g. (n_int, n_row), DN/s.
    index : array_like of int, shape (n_row,)
        :func:`bin_index` of each row; rows with -1 are in no bin.
    n_bins : int
        How many bins there are (``len(edges) - 1``).

    Returns
    -------
    numpy.ndarray, shape (..., n_bins)
        float64 ``sum(flux)`` over the rows of each bin, DN/s; NaN in an
        empty bin, and where a row of the bin is NaN.

    Examples
    --------
    >>> bin_flux_sums(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([0, 0, -1, 2]), 3).tolist()
    [[3.0, nan, 4.0]]
    """
    flux = np.asarray(flux, dtype=np.float64)
    index = np.asarray(index)
    binned = np.full(flux.shape[:-1] + (n_bins,), np.nan)
    for k in range(n_bins):
        rows = np.flatnonzero(index == k)
        if rows.size:
            binned[..., k] = np.ascontiguousarray(flux[..., rows]).sum(axis=-1)
    return binned


def running_median_clip(values, window, threshold):
    """Flag time-series outliers against a running median.

    Parameters
    ----------
    values : numpy.ndarray, shape (n,)
        Light curve.
    window : int
        Running-median window in samples (odd; truncated at the ends).
    threshold : float
        Flag where ``|values - running median| > threshold * scatter``, with
        the scatter 1.4826 times the median absolute deviation of the
        residuals.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True for flagged samples; NaN samples are flagged too.

    Examples
    --------
    >>> values = 1.0 + 1e-3 * np.sin(np.arange(20.0))
    >>> values[7] = 1.05
    >>> np.flatnonzero(running_median_clip(values, window=5, threshold=5.0)).tolist()
    [7]
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return np.zeros(0, bool)
    half = max(int(window) // 2, 0)
    padded = np.pad(values, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    with np.errstate(all="ignore"):
        trend = nanmedian(windows, axis=1)  # warning-free: all-NaN windows give NaN
        resid = values - trend
        scatter = MAD_TO_SIGMA * nanmedian(np.abs(resid - nanmedian(resid)))
    flagged = ~np.isfinite(values)
    if np.isfinite(scatter) and scatter > 0:
        flagged |= np.abs(resid) > threshold * scatter
    return flagged


# --------------------------------------------------------------------------
# aperture-width statistic
def point_to_point_scatter(light_curves, axis=-1):
    """Robust point-to-point scatter of normalised light curves.

    Each curve is divided by its median (over its finite values), so the
    result is a fraction of the flux and comparable between apertures of
    different widths; then ``1.4826 * median(|x[i+1] - x[i]|) / sqrt(2)``
    over the pairs of consecutive points that are both finite. For white
    Gaussian noise of standard deviation ``s`` this estimates ``s``; the
    median makes it insensitive to a transit (a few large steps at ingress
    and egress), cosmic rays and slow trends.

    Parameters
    ----------
    light_curves : array_like
        White-light flux (any unit, e.g. DN/s summed over rows), time along
        `axis`; e.g. shape (n_widths, n_int).
    axis : int, optional
        Time axis. Default -1.

    Returns
    -------
    numpy.ndarray
        Scatter (dimensionless, relative to the median flux), with `axis`
        removed. NaN if a curve has no finite pair of consecutive points or
        a median flux of 0.

    Notes
    -----
    Pitfalls when choosing an aperture width by it:

    * First differences remove slow variations, so the statistic sees only
      noise that changes from one integration to the next. Correlated
      (red) noise and slow systematics, e.g. flux lost from a narrow
      aperture as the trace drifts, are invisible to it; a width can win
      here and still give the worse transit depth. Check the residuals of
      a light-curve fit (binned rms versus bin size) as well.
    * Noise correlated between consecutive integrations lowers the
      statistic below the true scatter (by ``sqrt(1 - rho)`` for lag-1
      correlation ``rho``), anticorrelated noise raises it.
    * The scatter of a narrow aperture includes the jitter-induced flux
      loss only if the aperture does not follow the trace; with a traced
      aperture the optimum is usually 3-4 PSF sigmas either side.
    * Compare it with the median flux error of the same aperture: a
      measured scatter well above the expected one points to systematics.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> curve = 1000.0 * (1.0 + 1e-3 * rng.standard_normal(20000))
    >>> round(float(point_to_point_scatter(curve)), 4)
    0.001
    """
    values = np.asarray(light_curves, dtype=np.float64)
    if values.ndim == 0:
        raise ParameterError("light_curves must have at least one dimension")
    try:
        values = np.moveaxis(values, axis, -1)
    except (ValueError, IndexError, TypeError):  # numpy AxisError derives from ValueError and IndexError
        raise ParameterError(f"axis={axis!r} is not an axis of light_curves with shape {values.shape}") from None
    level = nanmedian(np.where(np.isfinite(values), values, np.nan), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = values / level[..., np.newaxis]
        steps = np.abs(np.diff(normalised, axis=-1))
    steps = np.where(np.isfinite(steps), steps, np.nan)
    return MAD_TO_SIGMA * nanmedian(steps, axis=-1) / np.sqrt(2.0)


def rate_apertures(white_flux, white_flux_error):
    """Rate white light curves of several apertures: scatter, median error and the best one.

    Parameters
    ----------
    white_flux, white_flux_error : array_like, shape (n_int, n_aperture)
        White-light flux and its 1-sigma error of each aperture (any unit).

    Returns
    -------
    scatter : numpy.ndarray, shape (n_aperture,)
        :func:`point_to_point_scatter` of each curve (relative).
    median_error : numpy.ndarray, shape (n_aperture,)
        Median over integrations of ``|white_flux_error / white_flux|``, NaN ignored.
    best : int
        Index of the smallest finite scatter, -1 if none is finite.

    Examples
    --------
    >>> flux = np.array([[100.0, 100.0], [101.0, 100.5], [99.0, 99.5], [100.0, 100.0]])
    >>> scatter, error, best = rate_apertures(flux, np.ones_like(flux))
    >>> best, error.round(4).tolist()
    (1, [0.01, 0.01])
    """
    white_flux = np.asarray(white_flux, dtype=np.float64)
    white_flux_error = np.asarray(white_flux_error, dtype=np.float64)
    scatter = point_to_point_scatter(white_flux, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        median_error = nanmedian(np.abs(white_flux_error / white_flux), axis=0)
    best = int(np.nanargmin(scatter)) if np.isfinite(scatter).any() else -1
    return scatter, median_error, best

# --------------------------------------------------------------------------
# errors of a subtracted sky, correlated between rows
def correlation_length(row_correlation):
    """The correlation length, in rows, that a ``row_correlation`` attribute names.

    Parameters
    ----------
    row_correlation : str
        ``"none"``, ``"full"`` or ``"running median of N rows"`` (the
        ``row_correlation`` attribute of ``background_error`` and of the
        spectra's ``sky_flux_error``).

    Returns
    -------
    float
        0 for ``"none"``, ``inf`` for ``"full"``, ``N`` for a running median.

    Raises
    ------
    ParameterError
        For any other value.

    Examples
    --------
    >>> correlation_length("none"), correlation_length("full"), correlation_length("running median of 11 rows")
    (0.0, inf, 11.0)
    """
    text = str(row_correlation).strip()
    if text == "none":
        return 0.0
    if text == "full":
        return float("inf")
    words = text.split()
    if len(words) == 5 and words[:3] == ["running", "median", "of"] and words[4] == "rows":
        try:
            length = int(words[3])
        except ValueError:
            length = 0
        if length >= 1:
            return float(length)
    raise ParameterError(
        f"row_correlation must be 'none', 'full' or 'running median of N rows', got "
        f"{row_correlation!r}")


def row_correlation_matrix(n_row, length):
    """Correlation between the sky errors of two rows ``|r - r'|`` apart.

    ``length = 0``: identity (independent rows); ``inf``: all ones (one
    estimate for every row); ``N``: the correlation of a running median of
    ``N`` independent estimates (rows ``r`` and ``r'`` share ``N - |r - r'|``
    of them), :func:`xmiri.kernels.background.running_median_correlation`,
    0 for ``|r - r'| >= N``.

    Parameters
    ----------
    n_row : int
        Number of rows.
    length : float
        Correlation length in rows (:func:`correlation_length`).

    Returns
    -------
    numpy.ndarray, shape (n_row, n_row)
        float64.

    Notes
    -----
    The medians of two overlapping windows move together less than the
    fraction of estimates they share (``1 - |r - r'| / N``, which holds for
    large windows only); using that triangle would overestimate the sky
    variance of a sum over rows (see ``docs/errors.rst``).  Rows near the
    ends, whose windows are clipped, are treated like the others.

    Examples
    --------
    >>> row_correlation_matrix(3, 0.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    >>> row_correlation_matrix(2, np.inf).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    lag = np.abs(np.arange(n_row)[:, None] - np.arange(n_row)[None, :])
    if length == 0:
        return (lag == 0).astype(np.float64)
    if np.isinf(length):
        return np.ones((n_row, n_row))
    rho = np.append(running_median_correlation(int(length)), 0.0)
    return rho[np.minimum(lag, rho.size - 1)]


def bin_sky_variance(sky_error, index, n_bins, length):
    """Variance of a subtracted sky's error summed over the rows of each bin.

    ``sum_{r, r' in bin} s[r] s[r'] C[r, r']`` with ``C`` from
    :func:`row_correlation_matrix`: the quadrature sum for independent rows,
    ``(sum s)**2`` for a sky common to every row.

    Parameters
    ----------
    sky_error : numpy.ndarray, shape (n_int, n_row)
        The sky's part of each row's flux error (DN/s).
    index : numpy.ndarray of int, shape (n_row,)
        Bin of every row from :func:`bin_index` (-1: unused).
    n_bins : int
        Number of bins.
    length : float
        Correlation length in rows (:func:`correlation_length`).

    Returns
    -------
    numpy.ndarray, shape (n_int, n_bins)
        float64 variance, (DN/s)**2.  NaN where a row of the bin has a
        non-finite sky error, or the bin is empty.

    Examples
    --------
    >>> s = np.full((1, 4), 0.1)
    >>> [round(float(bin_sky_variance(s, np.array([0, 0, 1, 1]), 2, x)[0, 0]), 6) for x in (0.0, np.inf)]
    [0.02, 0.04]
    """
    sky_error = np.asarray(sky_error, dtype=np.float64)
    index = np.asarray(index)
    onehot = (index[:, None] == np.arange(n_bins)[None, :]).astype(np.float64)  # (n_row, n_bins)
    finite = np.isfinite(sky_error)
    s = np.where(finite, sky_error, 0.0)
    if length == 0:
        var = (s * s) @ onehot
    elif np.isinf(length):
        var = (s @ onehot) ** 2
    else:
        corr = row_correlation_matrix(sky_error.shape[-1], length)
        per_bin = s[:, None, :] * onehot.T[None, :, :]  # (n_int, n_bins, n_row)
        var = ((per_bin @ corr) * per_bin).sum(axis=-1)
    bad = (~finite).astype(np.float64) @ onehot
    var[(bad > 0) | (onehot.sum(axis=0) == 0)] = np.nan
    return var


def second_differences(values, axis=-1):
    """``x[i+1] - 2 x[i] + x[i-1]`` along `axis` (moved last), NaN where not finite.

    Parameters
    ----------
    values : array_like
        Time series (any unit), time along `axis`.
    axis : int, optional
        Time axis.  Default -1.

    Returns
    -------
    numpy.ndarray
        float64, the time axis last and two shorter.

    Examples
    --------
    >>> second_differences([1.0, 4.0, 9.0, np.nan]).tolist()
    [2.0, nan]
    """
    x = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    d = x[..., 2:] - 2.0 * x[..., 1:-1] + x[..., :-2]
    return np.where(np.isfinite(d), d, np.nan)


def second_difference_scatter(values, clip, axis=-1):
    """White-noise standard deviation of time series from their second differences, robustly.

    ``d[i] = x[i+1] - 2 x[i] + x[i-1]`` cancels any straight line, so a
    transit's ingress and egress, slow trends and offsets leave only the
    few points where the slope changes; for white noise of standard
    deviation ``s``, ``var(d) = 6 s**2``.  The differences further than
    `clip` robust sigmas (1.4826 times their median absolute deviation) from
    their median are left out (hits, the ends of ingress and egress), and
    ``s = std(d) / sqrt(6)`` over the rest (a clip of 5 sigmas leaves out a
    negligible part of Gaussian differences: the standard deviation is kept
    for its statistical efficiency, which a median of absolute values lacks).

    Parameters
    ----------
    values : array_like
        Time series (any unit), time along `axis`.  NaN values are skipped
        (with their differences).
    clip : float
        Clipping threshold, in robust standard deviations of the differences.
    axis : int, optional
        Time axis.  Default -1.

    Returns
    -------
    numpy.ndarray
        Standard deviation in the unit of `values`, `axis` removed.  NaN
        with fewer than 3 finite second differences.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(20000.0)
    >>> series = 1e3 + 0.01 * t + 2.0 * rng.standard_normal(t.size)
    >>> round(float(second_difference_scatter(series, 5.0)), 1)
    2.0
    """
    d = second_differences(values, axis)
    centre = nanmedian(d, axis=-1)[..., None]
    with np.errstate(invalid="ignore"):
        spread = MAD_TO_SIGMA * nanmedian(np.abs(d - centre), axis=-1)[..., None]
        kept = np.isfinite(d) & (np.abs(d - centre) <= clip * spread)
        n = kept.sum(axis=-1)
        mean = np.where(kept, d, 0.0).sum(axis=-1) / n
        variance = np.where(kept, (d - mean[..., None]) ** 2, 0.0).sum(axis=-1) / (n - 1)
        out = np.sqrt(variance / 6.0)
    return np.where(n >= 3, out, np.nan)


def noise_ratio(flux, flux_error, clip, axis=-1):
    """Measured white-noise scatter of light curves divided by their median propagated error.

    The scatter is :func:`second_difference_scatter` (the standard deviation
    of the clipped second differences of consecutive points over
    ``sqrt(6)``): for white Gaussian noise it estimates the standard
    deviation, and second differences ignore a transit (its ingress and
    egress are straight to a good approximation), hits and slow trends.
    The error is the median of `flux_error` over the finite points.  1 when
    the errors are honest.

    Parameters
    ----------
    flux, flux_error : array_like
        Light curves and their 1-sigma errors (same unit), time along `axis`.
    clip : float
        Clipping threshold of the second differences, in robust sigmas.
    axis : int, optional
        Time axis.  Default -1.

    Returns
    -------
    numpy.ndarray
        Dimensionless, `axis` removed.  NaN with fewer than 3 finite second
        differences or with a median error of 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> curve = 100.0 + 2.0 * rng.standard_normal(20000)
    >>> round(float(noise_ratio(curve, np.full(20000, 1.0), 5.0)), 1)
    2.0
    """
    flux = np.moveaxis(np.asarray(flux, dtype=np.float64), axis, -1)
    error = np.moveaxis(np.asarray(flux_error, dtype=np.float64), axis, -1)
    scatter = second_difference_scatter(flux, clip)
    typical = nanmedian(np.where(np.isfinite(error), error, np.nan), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(typical > 0, scatter / typical, np.nan)


def transit_depth(white, relative_flux):
    """A transit's depth and its 1-sigma uncertainty, from the true in- and out-of-transit masks.

    For simulated exposures, whose relative flux is known (``xmiri demo``,
    the benchmarks).

    Parameters
    ----------
    white : array_like, shape (n_int,)
        White-light flux per integration (any unit; NaN skipped).
    relative_flux : array_like, shape (n_int,)
        The true relative flux per integration (1 out of transit): in
        transit is where it is at its minimum (full depth, ingress and
        egress left out), out of transit where it is 1.

    Returns
    -------
    depth : float
        ``1 - mean(in) / mean(out)``, a fraction.
    sigma : float
        ``std(out / mean(out)) * sqrt(1/N_in + 1/N_out)``, a fraction: the
        out-of-transit scatter of one integration (sample standard
        deviation) applied to the difference of the two means.

    Examples
    --------
    >>> relative = np.array([1.0, 1.0, 0.99, 0.99, 1.0, 1.0])
    >>> depth, sigma = transit_depth(100 * relative + np.array([0.1, -0.1, 0, 0, 0.1, -0.1]), relative)
    >>> round(float(depth), 6), round(float(sigma), 6)
    (0.01, 0.001)
    """
    white = np.asarray(white, dtype=np.float64)
    relative_flux = np.asarray(relative_flux, dtype=np.float64)
    finite = np.isfinite(white)
    full = (relative_flux <= relative_flux.min() + 1e-12) & finite
    out = (relative_flux >= 1 - 1e-12) & finite
    baseline = np.mean(white[out])
    scatter = np.std(white[out] / baseline, ddof=1)
    return 1 - np.mean(white[full]) / baseline, scatter * np.sqrt(1 / full.sum() + 1 / out.sum())
