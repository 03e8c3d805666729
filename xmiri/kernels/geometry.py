"""Apertures that follow a fitted, tilted trace, with sub-pixel edges.

The LRS slitless trace is not parallel to the detector columns (in the
MIRISim NGTS-10 segment its centre moves from column 36.8 at row 150 to
37.6 at rows 330-380, along a curve) and its width grows with wavelength.
An aperture fixed on one column, or centred on a whole-pixel rounding of
one fitted centre per integration, therefore loses a fraction of the flux
that changes with every pointing jitter.  The kernels here

1. fit the trace centre row by row on a frame, usually the median frame of
   the exposure (:func:`row_centers`, :func:`detected_rows`), as a
   polynomial in row with iterative sigma clipping
   (:func:`fit_trace_polynomial`, :func:`evaluate_trace`; all chained by
   :func:`fit_reference_trace`);
2. measure one cross-dispersion offset per integration relative to that
   frame (:func:`integration_offsets`);
3. build an aperture ``[center - left_width - 0.5, center + right_width +
   0.5]`` per integration and row, whose partial edge pixels get fractional
   weights (:func:`aperture_weights`), so that it moves continuously with
   the trace;
4. extract inside it, by a weighted box sum (:func:`box_extract_weighted`)
   or by Horne (1986) [1]_ optimal extraction restricted to the same aperture
   (:func:`optimal_extract_weighted`, with :func:`gaussian_profile` as a
   profile model);
5. read the wavelength at the trace centre (:func:`wavelength_at_trace`);
6. and rate aperture widths by the robust point-to-point scatter of a
   white-light curve (:func:`point_to_point_scatter`).

Conventions: ``row`` is the dispersion axis, ``col`` the cross-dispersion
axis; pixel ``c`` covers ``[c - 0.5, c + 0.5]``, so a centre of ``36.0`` is
the middle of column 36.  Polynomial coefficients follow
:mod:`numpy.polynomial.polynomial` (increasing powers of the row index in
pixels: ``center(row) = c[0] + c[1] * row + c[2] * row**2``).

All functions here are pure numpy: arrays in, arrays out, no warnings
machinery (NaN-producing operations run under :func:`numpy.errstate`), so
they are safe inside dask worker threads.

References
----------
.. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
   spectroscopy", PASP, 98, 609.
"""
import numbers
from collections import namedtuple

import numpy as np
from numpy.polynomial import polynomial as _poly
from scipy.special import erf

from ..exceptions import ParameterError
from .background import nanmedian
from .trace import _model_and_jacobian, gaussian_fit

__all__ = [
    "RowFit",
    "row_centers",
    "detected_rows",
    "fit_trace_polynomial",
    "evaluate_trace",
    "ReferenceTrace",
    "fit_reference_trace",
    "integration_offsets",
    "aperture_weights",
    "box_extract_weighted",
    "optimal_extract_weighted",
    "gaussian_profile",
    "wavelength_at_trace",
    "point_to_point_scatter",
    "MAD_TO_SIGMA",
]

#: Ratio of the standard deviation of a normal distribution to its median
#: absolute deviation, ``1 / Phi^-1(3/4)``.
MAD_TO_SIGMA = 1.482602218505602

_N_PARAMS = 4
_NEVER_CLIPPED = 1e-6  # pixels: residuals this small are never clipped


# ---------------------------------------------------------------------------
# argument checks (parameters raise; data never do)
# ---------------------------------------------------------------------------
def _real(name, value, *, minimum=None, strict=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ParameterError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise ParameterError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return value


def _integer(name, value, *, minimum=0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _range(name, bounds, size):
    try:
        start, end = bounds
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a (start, end) pair of indices, got {bounds!r}") from None
    for value in (start, end):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
            raise ParameterError(f"{name} must hold integer indices, got {bounds!r}")
    if not 0 <= start < end <= size:
        raise ParameterError(f"{name}={tuple(bounds)!r} must satisfy 0 <= start < end <= {size}")
    return int(start), int(end)


def _widths(name, value):
    """A non-negative finite width (scalar or array) in pixels, as float64."""
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ParameterError(f"{name} must be a number of pixels >= 0, got {value!r}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(f"{name} must be finite and >= 0 (pixels), got {value!r}")
    return arr


def _frames(name, values, min_ndim):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < min_ndim:
        raise ParameterError(f"{name} must have at least {min_ndim} dimensions, got shape {values.shape}")
    return values


# ---------------------------------------------------------------------------
# 1. per-row centres and the trace polynomial
# ---------------------------------------------------------------------------
RowFit = namedtuple("RowFit", "center center_error amplitude amplitude_error sigma sigma_error baseline")
RowFit.__doc__ = """Per-row Gaussian-plus-constant fits (:func:`row_centers`).

All fields have the shape of the input frames without the column axis.

Attributes
----------
center : numpy.ndarray
    Column of the Gaussian centre, pixels.
center_error : numpy.ndarray
    1-sigma uncertainty of ``center``, pixels.
amplitude : numpy.ndarray
    Peak height above the baseline, in the unit of the data (DN/s).
amplitude_error : numpy.ndarray
    1-sigma uncertainty of ``amplitude``, same unit.
sigma : numpy.ndarray
    Gaussian standard deviation, pixels (of the pixel values: the PSF
    convolved with the pixel).
sigma_error : numpy.ndarray
    1-sigma uncertainty of ``sigma``, pixels.
baseline : numpy.ndarray
    Constant level, in the unit of the data (DN/s).
"""


def _covariance_diagonal(x, profiles, params):
    """Parameter variances ``s**2 diag((J^T J)^-1)`` of unweighted fits.

    ``s**2`` is the residual variance ``sum(r**2) / (m - 4)`` over the
    finite samples, so the uncertainties scale with the actual noise.
    NaN where the fit failed or the normal matrix is singular.
    """
    n = profiles.shape[0]
    out = np.full((n, _N_PARAMS), np.nan)
    good = np.all(np.isfinite(params), axis=1)
    if not np.any(good):
        return out
    p, y = params[good], profiles[good]
    finite = np.isfinite(y)
    w = finite.astype(np.float64)
    model, jacobian = _model_and_jacobian(x, p)
    residual = np.where(finite, y - model, 0.0)
    dof = finite.sum(axis=1) - _N_PARAMS
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.sum(residual**2, axis=1) / dof
        normal = np.einsum("nmi,nmj->nij", jacobian * w[..., np.newaxis], jacobian)
        det_ok = np.all(np.isfinite(normal), axis=(1, 2))
        normal[~det_ok] = np.eye(_N_PARAMS)
        try:
            inverse = np.linalg.inv(normal)
        except np.linalg.LinAlgError:
            inverse = np.linalg.pinv(normal)
        var = np.einsum("nii->ni", inverse) * s2[:, np.newaxis]
        var = np.where(det_ok[:, np.newaxis] & (dof[:, np.newaxis] > 0) & (var >= 0), var, np.nan)
    out[good] = var
    return out


def row_centers(frame, *, cols=(12, 68), sigma_guess=1.59):
    """Gaussian-plus-constant fit of the cross-dispersion profile of every row.

    Each row of `frame`, over columns ``[cols[0], cols[1])``, is fitted with
    ``a * exp(-(x - mu)**2 / (2 s**2)) + b`` by
    :func:`xmiri.kernels.trace.gaussian_fit` (all rows at once). The
    uncertainties come from the covariance ``s_r**2 (J^T J)^-1`` of each
    unweighted fit, ``s_r**2`` being its residual variance, so they reflect
    the noise actually present in the row.

    Parameters
    ----------
    frame : array_like, shape (..., n_row, n_col)
        Background-subtracted rate image(s) in DN/s, typically the median
        frame of the exposure (a single 2-D frame); any leading axes (e.g.
        integrations) are fitted too.
    cols : tuple of int, optional
        Half-open column range fitted. Default (12, 68), as
        :func:`xmiri.kernels.trace.fit_trace_block`.
    sigma_guess : float, optional
        Initial Gaussian width in pixels. Default 1.59.

    Returns
    -------
    RowFit
        Named tuple of arrays of shape ``frame.shape[:-1]``: ``center``
        (column, pixels), ``center_error`` (pixels), ``amplitude``,
        ``amplitude_error``, ``sigma`` and ``sigma_error`` (pixels) and
        ``baseline``. All NaN for
        a row whose fit fails (see :func:`~xmiri.kernels.trace.gaussian_fit`);
        no exception is raised for bad data.

    Raises
    ------
    ParameterError
        If `frame` has fewer than 2 dimensions or `cols` falls outside it.

    See Also
    --------
    detected_rows : Which rows have a trustworthy centre.
    fit_trace_polynomial : Smooth the centres with a polynomial in row.

    Examples
    --------
    >>> import numpy as np
    >>> cols = np.arange(72)
    >>> centre = 36.0 + 0.004 * (np.arange(416) - 200)[:, None]
    >>> frame = 100.0 * np.exp(-0.5 * ((cols - centre) / 1.5) ** 2)
    >>> fit = row_centers(frame)
    >>> bool(np.allclose(fit.center, centre[:, 0], atol=1e-6))
    True
    """
    frame = _frames("frame", frame, 2)
    c0, c1 = _range("cols", cols, frame.shape[-1])
    sigma_guess = _real("sigma_guess", sigma_guess, minimum=0.0, strict=True)
    shape = frame.shape[:-1]
    profiles = frame[..., c0:c1].reshape(-1, c1 - c0)
    x = np.arange(c0, c1, dtype=np.float64)
    amplitude, center, sigma, baseline = gaussian_fit(x, profiles, sigma_guess=sigma_guess)
    params = np.stack([amplitude, center, sigma, baseline], axis=1)
    variance = _covariance_diagonal(x, profiles, params)
    with np.errstate(invalid="ignore"):
        errors = np.sqrt(variance)
    return RowFit(
        center.reshape(shape),
        errors[:, 1].reshape(shape),
        amplitude.reshape(shape),
        errors[:, 0].reshape(shape),
        sigma.reshape(shape),
        errors[:, 2].reshape(shape),
        baseline.reshape(shape),
    )


def detected_rows(fit, *, min_snr=10.0, sigma_range=(0.5, 4.0), max_center_error=0.5):
    """Rows whose per-row fit located the star: the rows the polynomial uses.

    A row counts as well detected when its fit succeeded and

    * the amplitude is at least `min_snr` times its uncertainty
      (``amplitude / amplitude_error >= min_snr``): the Gaussian is a
      significant detection, not the largest noise peak of the row;
    * the width lies within `sigma_range` (pixels): not a single hot pixel
      or cosmic ray (too narrow), nor a background gradient (too wide);
    * the centre uncertainty is at most `max_center_error` pixels.

    Parameters
    ----------
    fit : RowFit
        Result of :func:`row_centers`.
    min_snr : float, optional
        Minimum amplitude signal-to-noise ratio. Default 10. Fits to rows of
        pure white noise (56 columns) pass 3 in 2 % of 20 000 trials, 5 and
        10 in none; on the MIRISim NGTS-10 median frame 5 and 10 select the
        same 235 rows (148-382), as the trace ends abruptly. 10 leaves a
        margin for noise that is not white (residual cosmic rays, hot
        pixels, correlated read noise). See ``benchmarks/TRACE.md``.
    sigma_range : tuple of float, optional
        Accepted Gaussian widths in pixels. Default (0.5, 4.0).
    max_center_error : float, optional
        Largest accepted centre uncertainty in pixels. Default 0.5.

    Returns
    -------
    numpy.ndarray of bool
        Shape of ``fit.center``; True for well-detected rows.

    Raises
    ------
    ParameterError
        If a threshold is not a finite number or `sigma_range` is not an
        increasing pair.

    Examples
    --------
    >>> import numpy as np
    >>> fit = RowFit(*(np.array([v]) for v in (36.2, 0.02, 40.0, 1.0, 1.4, 0.03, 0.0)))
    >>> detected_rows(fit)
    array([ True])
    """
    min_snr = _real("min_snr", min_snr, minimum=0.0)
    max_center_error = _real("max_center_error", max_center_error, minimum=0.0, strict=True)
    try:
        lo, hi = (_real("sigma_range", v, minimum=0.0) for v in sigma_range)
    except TypeError:
        raise ParameterError(f"sigma_range must be a (min, max) pair in pixels, got {sigma_range!r}") from None
    if not lo < hi:
        raise ParameterError(f"sigma_range must be increasing, got {sigma_range!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            np.isfinite(fit.center)
            & (fit.amplitude >= min_snr * fit.amplitude_error)
            & (fit.amplitude > 0)
            & (fit.sigma >= lo)
            & (fit.sigma <= hi)
            & (fit.center_error <= max_center_error)
        )


def fit_trace_polynomial(rows, centers, weights=None, *, order=2, clip_sigma=4.0, max_iter=10):
    """Weighted polynomial fit of the trace centre in row, with sigma clipping.

    Minimises ``sum(weights * (centers - p(rows))**2)`` over the points not
    yet clipped, then clips the points whose normalised residual
    ``|centers - p(rows)| * sqrt(weights)`` exceeds `clip_sigma` times its
    robust standard deviation (``1.4826 * median(|z - median(z)|)`` of
    the normalised residuals ``z`` of the points in use), and refits, until
    the set of points no longer changes or after `max_iter` fits. The
    robust scale makes the clipping independent of how well the weights'
    absolute scale is known (the per-row uncertainties of
    :func:`row_centers` ignore the mismatch between a Gaussian and the real
    PSF). A point clipped once may come back if it agrees with a later fit.
    Points within 1e-6 pixel of the fit are never clipped (noiseless data
    would otherwise be clipped at the level of rounding errors).

    Parameters
    ----------
    rows : array_like, shape (m,)
        Row of each centre, pixels.
    centers : array_like, shape (m,)
        Trace centres, column pixels. Non-finite values are ignored.
    weights : array_like, shape (m,), optional
        Non-negative weights, normally ``1 / center_error**2``
        (pixels**-2). Zero or non-finite weights leave a point out. Default:
        all 1.
    order : int, optional
        Polynomial degree. Default 2: the MIRISim NGTS-10 trace is curved
        (order-1 residuals of up to 0.3 pixel, reduced chi-square 7.3; order 2:
        1.6), and on straight simulated traces order 2 costs only ~5
        milli-pixels of centre error (``benchmarks/TRACE.md``).
    clip_sigma : float, optional
        Clipping threshold in robust standard deviations. Default 4.
    max_iter : int, optional
        Maximum number of fits (>= 1). Default 10.

    Returns
    -------
    coefficients : numpy.ndarray, shape (order + 1,)
        float64, increasing powers of the row in pixels
        (:mod:`numpy.polynomial.polynomial` convention, evaluate with
        :func:`evaluate_trace` or :func:`numpy.polynomial.polynomial.polyval`).
        All NaN if fewer than ``order + 1`` usable points remain.
    used : numpy.ndarray of bool, shape (m,)
        Points that entered the final fit.

    Raises
    ------
    ParameterError
        If shapes do not match or a parameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.arange(150.0, 390.0)
    >>> centers = 36.3 + 0.0064 * (rows - 200)
    >>> centers[[10, 50]] += 3.0          # two bad rows
    >>> coef, used = fit_trace_polynomial(rows, centers, order=1)
    >>> np.round(coef, 4).tolist(), int((~used).sum())
    ([35.02, 0.0064], 2)
    >>> coef, used = fit_trace_polynomial(rows, centers)  # order 2
    >>> (np.round(coef, 6) + 0.0).tolist()
    [35.02, 0.0064, 0.0]
    """
    order = _integer("order", order, minimum=0)
    clip_sigma = _real("clip_sigma", clip_sigma, minimum=0.0, strict=True)
    max_iter = _integer("max_iter", max_iter, minimum=1)
    rows = np.asarray(rows, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if rows.ndim != 1 or centers.shape != rows.shape:
        raise ParameterError(f"rows and centers must be 1-D of equal length, got {rows.shape} and {centers.shape}")
    if weights is None:
        weights = np.ones_like(rows)
    else:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != rows.shape:
            raise ParameterError(f"weights must have the shape of rows {rows.shape}, got {weights.shape}")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(rows) & np.isfinite(centers) & np.isfinite(weights) & (weights > 0)
    sqrt_w = np.sqrt(np.where(valid, weights, 0.0))
    # Fit in a scaled variable u = (row - mid) / half for conditioning.
    if np.any(valid):
        lo, hi = rows[valid].min(), rows[valid].max()
    else:
        lo, hi = 0.0, 1.0
    mid, half = 0.5 * (lo + hi), max(0.5 * (hi - lo), 1.0)
    u = np.where(valid, (rows - mid) / half, 0.0)
    design = np.vander(u, order + 1, increasing=True)
    y = np.where(valid, centers, 0.0)
    used = valid.copy()
    coef_u = np.full(order + 1, np.nan)
    for _ in range(max_iter):
        if used.sum() < order + 1:
            return np.full(order + 1, np.nan), used
        a = design[used] * sqrt_w[used, np.newaxis]
        coef_u = np.linalg.lstsq(a, y[used] * sqrt_w[used], rcond=None)[0]
        residual = y - design @ coef_u
        z = residual * sqrt_w
        zu = z[used]
        scale = MAD_TO_SIGMA * np.median(np.abs(zu - np.median(zu)))
        if not scale > 0:  # exact fit or fewer points than needed for a spread
            break
        new_used = valid & ((np.abs(z) <= clip_sigma * scale) | (np.abs(residual) <= _NEVER_CLIPPED))
        if np.array_equal(new_used, used):
            break
        used = new_used
    if used.sum() < order + 1:
        return np.full(order + 1, np.nan), used
    # Back to powers of the row: p(row) = sum_k a_k ((row - mid) / half)**k.
    shift_scale = np.array([-mid / half, 1.0 / half])
    coefficients = np.zeros(order + 1)
    power = np.array([1.0])
    for k in range(order + 1):
        coefficients[: power.size] += coef_u[k] * power
        power = _poly.polymul(power, shift_scale)
    return coefficients, used


def evaluate_trace(coefficients, rows, offsets=None):
    """Trace centre per row (and integration) from polynomial coefficients.

    Parameters
    ----------
    coefficients : array_like, shape (k,)
        Increasing powers of the row (:func:`fit_trace_polynomial`).
    rows : array_like, shape (n_row,)
        Rows in pixels.
    offsets : array_like, shape (n_int,), optional
        Cross-dispersion offset of each integration in pixels
        (:func:`integration_offsets`), added to every row.

    Returns
    -------
    numpy.ndarray
        Centre (column, pixels): shape (n_row,) without `offsets`,
        (n_int, n_row) with them. NaN where a coefficient or offset is NaN.

    Examples
    --------
    >>> evaluate_trace([36.0, 0.01], [0, 100], offsets=[0.0, 0.5])
    array([[36. , 37. ],
           [36.5, 37.5]])
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if coefficients.ndim != 1 or coefficients.size == 0:
        raise ParameterError(f"coefficients must be a non-empty 1-D array, got shape {coefficients.shape}")
    center = _poly.polyval(np.asarray(rows, dtype=np.float64), coefficients)
    if offsets is None:
        return center
    offsets = np.asarray(offsets, dtype=np.float64)
    if offsets.ndim != 1:
        raise ParameterError(f"offsets must be 1-D (one per integration), got shape {offsets.shape}")
    return center[np.newaxis, :] + offsets[:, np.newaxis]


ReferenceTrace = namedtuple(
    "ReferenceTrace", "coefficients sigma_coefficients row_fit used row_weights residual_rms")
ReferenceTrace.__doc__ = """The exposure-wide trace solution (:func:`fit_reference_trace`).

Attributes
----------
coefficients : numpy.ndarray, shape (order + 1,)
    Trace centre polynomial, increasing powers of the row (pixels).
sigma_coefficients : numpy.ndarray, shape (sigma_order + 1,)
    Polynomial in row of the pixel-deconvolved Gaussian width
    ``sqrt(sigma**2 - 1/12)``, pixels: the width :func:`gaussian_profile`
    needs.
row_fit : RowFit
    Per-row fits of the reference frame, fields of shape (n_row,).
used : numpy.ndarray of bool, shape (n_row,)
    Rows the centre polynomial used (detected and not clipped).
row_weights : numpy.ndarray, shape (n_row,)
    ``1 / center_error**2`` on the used rows, 0 elsewhere (pixels**-2): the
    weights :func:`integration_offsets` needs.
residual_rms : float
    Rms of ``center - polynomial`` over the used rows, pixels.
"""

#: Floor on the per-row centre error when it becomes a weight, pixels:
#: keeps noiseless (simulated) rows at a finite weight; no real fit is this good.
_MIN_CENTER_ERROR = 1e-6


def fit_reference_trace(frame, *, order=2, sigma_order=2, cols=(12, 68), min_snr=10.0, clip_sigma=4.0,
                        sigma_guess=1.59):
    """Trace polynomial of a reference frame: the exposure-wide part of a traced aperture.

    Chains :func:`row_centers`, :func:`detected_rows` and
    :func:`fit_trace_polynomial` (weights ``1 / center_error**2``), and
    fits the width of the used rows with a polynomial too, for a
    :func:`gaussian_profile` model in optimal extraction. A Gaussian fitted
    to pixel values has the width of the PSF convolved with the pixel,
    ``sqrt(s**2 + 1/12)`` for a Gaussian PSF of width ``s``; the width
    polynomial fits ``sqrt(sigma**2 - 1/12)`` (floored at 0.1 pixel), so
    that :func:`gaussian_profile`, which integrates over the pixels itself,
    does not broaden the profile twice (that would bias optimal extraction
    by ~+0.8 % relative to the box on the simulated exposures; +0.1 %
    with the deconvolved width).

    Parameters
    ----------
    frame : array_like, shape (n_row, n_col)
        Background-subtracted reference frame in DN/s: the median over the
        integrations of the exposure (or of an evenly spaced subset of them).
    order : int, optional
        Degree of the centre polynomial. Default 2.
    sigma_order : int, optional
        Degree of the width polynomial. Default 2.
    cols : tuple of int, optional
        Half-open column range fitted. Default (12, 68).
    min_snr : float, optional
        Detection threshold of :func:`detected_rows`. Default 10.
    clip_sigma : float, optional
        Clipping threshold of :func:`fit_trace_polynomial`. Default 4.
    sigma_guess : float, optional
        Initial Gaussian width, pixels. Default 1.59.

    Returns
    -------
    ReferenceTrace
        Named tuple ``(coefficients, sigma_coefficients, row_fit, used,
        row_weights, residual_rms)``; the coefficients are NaN (and no row
        is used) when fewer than ``order + 1`` rows are detected.

    Raises
    ------
    ParameterError
        If `frame` is not 2-D or a parameter is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.arange(416.0), np.arange(72.0)
    >>> centre = 36.3 + 1.6 * (rows - 200) / 250
    >>> frame = 80.0 * np.exp(-0.5 * ((cols - centre[:, None]) / 1.4) ** 2)
    >>> frame += np.random.default_rng(0).normal(0.0, 1.0, frame.shape)
    >>> ref = fit_reference_trace(frame, order=1)
    >>> np.round(evaluate_trace(ref.coefficients, [130, 370]), 2)
    array([35.85, 37.39])
    >>> bool(ref.used.sum() > 400 and ref.residual_rms < 0.05)
    True
    """
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim != 2:
        raise ParameterError(f"frame must be 2-D (row, col), got shape {frame.shape}")
    sigma_order = _integer("sigma_order", sigma_order, minimum=0)
    fit = row_centers(frame, cols=cols, sigma_guess=sigma_guess)
    good = detected_rows(fit, min_snr=min_snr)
    rows = np.arange(frame.shape[0], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        weights = np.where(good, 1.0 / np.maximum(fit.center_error, _MIN_CENTER_ERROR) ** 2, 0.0)
    coefficients, used = fit_trace_polynomial(rows, fit.center, weights, order=order, clip_sigma=clip_sigma)
    if not np.all(np.isfinite(coefficients)):
        used = np.zeros_like(used)
    row_weights = np.where(used, weights, 0.0)
    with np.errstate(invalid="ignore"):
        sigma_weights = np.where(used, 1.0 / np.maximum(fit.sigma_error, _MIN_CENTER_ERROR) ** 2, 0.0)
        intrinsic = np.sqrt(np.maximum(fit.sigma**2 - 1.0 / 12.0, 0.01))
    sigma_coefficients, _ = fit_trace_polynomial(rows, intrinsic, sigma_weights, order=sigma_order,
                                                 clip_sigma=clip_sigma)
    residual = (fit.center - evaluate_trace(coefficients, rows))[used]
    residual_rms = float(np.sqrt(np.mean(residual**2))) if residual.size else np.nan
    return ReferenceTrace(coefficients, sigma_coefficients, fit, used, row_weights, residual_rms)


# ---------------------------------------------------------------------------
# 2. per-integration offsets
# ---------------------------------------------------------------------------
def integration_offsets(data, reference, row_weights, *, cols=(12, 68), half_width=8, max_iter=10, tol=1e-6):
    """Cross-dispersion offset of each integration from the reference trace.

    The trace of integration ``k`` is modelled as the reference trace shifted
    by one offset ``x_k`` for all rows: in row ``r``,

    ``D_k(r, c) = A_kr * exp(-(c - mu_r - x_k)**2 / (2 s_r**2)) + b_kr``,

    with ``mu_r`` and ``s_r`` the centre and width fitted per row on the
    reference frame (:func:`row_centers` of the median frame) and a free
    amplitude ``A_kr`` and baseline ``b_kr`` per integration and row (so a
    transit, flux or background change does not bias the offset). The
    offsets minimise ``sum_r sum_c (D - model)**2 / s_r**2``, a
    least-squares fit of the reference-shaped trace to each integration,
    by Gauss-Newton with the linear parameters profiled out (variable
    projection): each iteration fits ``A`` and ``b`` of every row by linear
    least squares and moves ``x_k`` by

    ``sum_r A_r <R_r, H'_r> / s_r**2  /  sum_r A_r**2 <H'_r, H'_r> / s_r**2``

    (``R`` the residual, ``H'`` the derivative of the Gaussian with respect
    to its centre, made orthogonal to the Gaussian and the constant).
    The per-pixel noise ``s_r**2`` of each row, up to a common factor, comes
    from `row_weights`: a row's centre variance in the reference fit is
    ``~ s_r**2 / (A_r**2 <H'_r, H'_r>)``, so with ``row_weights = 1 /
    center_error**2`` each row counts with the information it carries. The
    cost is a few array operations on (n_int, n_row, 2 * half_width + 1)
    arrays per iteration (3-5 iterations for offsets up to 1 pixel) instead
    of one non-linear fit per row and integration, and the result equals
    the weighted mean of per-row Gaussian-fit differences to ~0.4
    milli-pixel rms (``benchmarks/TRACE.md``).

    Because ``mu_r`` are the reference frame's own per-row centres, not the
    polynomial, whatever bias the Gaussian model has in a row (a PSF that
    is not Gaussian, the pixel phase of the tilted trace) is the same in
    the integration and in the reference and cancels in the offset. The
    weighted mean of ``mu_r - p(r)`` over the rows the polynomial ``p``
    used is 0 for these weights, so ``p(r) + x_k`` is the trace of
    integration ``k``.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images, DN/s.
    reference : RowFit
        Per-row fit of the reference frame (:func:`row_centers`); its
        ``center`` and ``sigma`` (shape (n_row,), pixels) are used.
    row_weights : array_like, shape (n_row,)
        Non-negative weight of each row, normally ``1 / center_error**2``
        (pixels**-2) on the rows :func:`fit_trace_polynomial` used and 0
        elsewhere. Rows with zero or non-finite weight, or without a
        reference fit, are not read.
    cols : tuple of int, optional
        Half-open column range that may be fitted. Default (12, 68).
    half_width : int, optional
        Each row is fitted over the ``2 * half_width + 1`` columns around
        the rounded reference centre (within `cols`), pixels. Default 8:
        >= 4 PSF widths either side at all LRS wavelengths, and 3.5 times
        less work than the 56 columns of `cols`.
    max_iter : int, optional
        Maximum number of Gauss-Newton iterations. Default 10 (4 suffice for
        offsets below 0.5 pixel, 5 for 1.25 pixels).
    tol : float, optional
        Convergence threshold on the offset update, pixels. Default 1e-6.

    Returns
    -------
    numpy.ndarray, shape (n_int,)
        float64 offsets in pixels (positive: trace at larger column than in
        the reference). NaN where no row can be fitted (e.g. an all-NaN
        frame) or the iteration does not converge; NaN pixels are left out
        of their row's fit.

    Raises
    ------
    ParameterError
        If shapes do not match or a parameter is invalid.

    Notes
    -----
    On the simulated exposures of ``benchmarks/trace_study.py`` (1.6 pixel
    tilt, widening PSF, 0.15 pixel jitter, default brightness) the offset
    error is 2.8 milli-pixels per integration, against 2.9 for the x-shift
    the ``align`` step measures on row-summed profiles and 21 for a
    Gaussian fit of each integration's row-median profile (ExoTiC-MIRI's
    trace fit, made relative); see ``benchmarks/TRACE.md``. On noiseless
    frames it is exact to < 1e-8 pixel.

    Examples
    --------
    >>> import numpy as np
    >>> cols = np.arange(72)
    >>> ref = 50.0 * np.exp(-0.5 * ((cols - 36.2) / 1.5) ** 2) * np.ones((416, 1))
    >>> moved = 60.0 * np.exp(-0.5 * ((cols - 36.5) / 1.5) ** 2) * np.ones((416, 1)) + 3.0
    >>> fit = row_centers(ref)
    >>> np.round(integration_offsets(moved[None], fit, np.ones(416)), 6)
    array([0.3])
    """
    data = _frames("data", data, 3)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    n, n_row, n_col = data.shape
    try:
        mu = np.asarray(reference.center, dtype=np.float64)
        width = np.asarray(reference.sigma, dtype=np.float64)
    except AttributeError:
        raise ParameterError(f"reference must be a RowFit (row_centers), got {type(reference).__name__}") from None
    if mu.shape != (n_row,) or width.shape != (n_row,):
        raise ParameterError(
            f"reference must hold per-row fits of shape (n_row,) = ({n_row},), got {mu.shape} and {width.shape}")
    row_weights = np.asarray(row_weights, dtype=np.float64)
    if row_weights.shape != (n_row,):
        raise ParameterError(f"row_weights must have shape (n_row,) = ({n_row},), got {row_weights.shape}")
    c0, c1 = _range("cols", cols, n_col)
    half_width = _integer("half_width", half_width, minimum=1)
    max_iter = _integer("max_iter", max_iter, minimum=1)
    tol = _real("tol", tol, minimum=0.0, strict=True)
    try:
        ref_amplitude = np.asarray(reference.amplitude, dtype=np.float64)
    except AttributeError:
        raise ParameterError(f"reference must be a RowFit (row_centers), got {type(reference).__name__}") from None
    with np.errstate(invalid="ignore"):
        take = np.flatnonzero(np.isfinite(row_weights) & (row_weights > 0) & np.isfinite(mu)
                              & np.isfinite(width) & (width > 0) & (ref_amplitude > 0))
    if n == 0 or take.size == 0:
        return np.full(n, np.nan)
    # A window of columns around the reference centre of each row.
    x = np.rint(mu[take])[:, np.newaxis] + np.arange(-half_width, half_width + 1)
    inside = (x >= c0) & (x < c1)
    columns = np.clip(x, 0, n_col - 1).astype(np.intp)
    y = data[:, take[:, np.newaxis], columns]
    finite = np.isfinite(y) & inside
    y = np.where(finite, y, 0.0)
    m = finite.astype(np.float64)
    mu, width = mu[take, np.newaxis], width[take, np.newaxis]
    # Per-pixel inverse noise variance of each row, up to a common factor: the
    # reference centre variance is ~ s**2 / (A**2 sum(H'**2)), so
    # 1 / s**2 ~ row_weight / (A**2 sum(H'**2)) at zero offset.
    _, _, hp0 = _project_rows(inside.astype(np.float64)[np.newaxis], inside[np.newaxis], x, mu, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_noise = row_weights[take] / (ref_amplitude[take] ** 2 * np.sum(hp0[0] ** 2, axis=1))
    offsets = np.zeros(n)
    converged = np.zeros(n, dtype=bool)
    active = np.arange(n)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(max_iter):
            shifted = mu + offsets[active, np.newaxis, np.newaxis]
            amplitude, residual, hp = _project_rows(y[active], m[active], x, shifted, width)
            # Gauss-Newton step of the joint fit with A and b profiled out:
            # sum_r A_r <R_r, H'_r> / s_r**2  /  sum_r A_r**2 <H'_r, H'_r> / s_r**2
            numerator = amplitude * np.sum(residual * hp, axis=2)
            denominator = amplitude**2 * np.sum(hp * hp, axis=2)
            ok = np.isfinite(numerator) & np.isfinite(denominator)
            step = (np.sum(np.where(ok, inv_noise * numerator, 0.0), axis=1)
                    / np.sum(np.where(ok, inv_noise * denominator, 0.0), axis=1))
            offsets[active] += step
            done = np.abs(step) <= tol
            bad = ~np.isfinite(step)
            converged[active[done]] = True
            offsets[active[bad]] = np.nan
            active = active[~(done | bad)]
            if active.size == 0:
                break
    return np.where(converged, offsets, np.nan)


def _project_rows(y, m, x, center, width):
    """Linear fit of ``A G + b`` per row and the centre derivative orthogonal to it.

    ``y`` (n, r, w) data, ``m`` (n, r, w) 1 for usable pixels else 0, ``x``
    (r, w) columns, ``center`` broadcastable to (n, r, 1), ``width`` (r, 1).
    Returns the amplitude (n, r), the residual ``y - A G - b`` (n, r, w) and
    ``H'`` (n, r, w), the derivative of G with respect to its centre minus
    its least-squares projection on G and the constant (zero on unusable
    pixels).
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = (x - center) / width
        g = np.exp(-0.5 * z * z) * m
        h = g * z / width
        sg, sgg, sgh, sh, npx = g.sum(2), (g * g).sum(2), (g * h).sum(2), h.sum(2), m.sum(2)
        sgy, sy = (g * y).sum(2), (y * m).sum(2)
        det = sgg * npx - sg * sg
        amplitude = (sgy * npx - sg * sy) / det
        baseline = (sgg * sy - sg * sgy) / det
        alpha = (sgh * npx - sg * sh) / det
        beta = (sgg * sh - sg * sgh) / det
        hp = h - alpha[..., np.newaxis] * g - beta[..., np.newaxis] * m
        residual = (y - amplitude[..., np.newaxis] * g - baseline[..., np.newaxis] * m) * m
    return amplitude, residual, hp


# ---------------------------------------------------------------------------
# 3. fractional apertures and extraction
# ---------------------------------------------------------------------------
def aperture_weights(center, n_cols, left_width, right_width):
    """Fraction of each pixel inside an aperture centred on the trace.

    The aperture of a row runs from ``center - left_width - 0.5`` to
    ``center + right_width + 0.5`` (so it is ``left_width + right_width + 1``
    pixels wide, like ExoTiC-MIRI's integer aperture, and equals it when
    the centre is a whole number); the weight of column ``c`` is the length
    of the overlap of ``[c - 0.5, c + 0.5]`` with it, in [0, 1]. Pixels wholly
    inside get exactly 1, the two edge pixels the covered fractions, so the
    aperture slides continuously with the centre. The frame clips it: the
    part of the aperture beyond column ``-0.5`` or ``n_cols - 0.5`` has no
    pixel and contributes nothing.

    Parameters
    ----------
    center : array_like, shape (...)
        Aperture centre (column, pixels), e.g. (n_int, n_row) from
        :func:`evaluate_trace`.
    n_cols : int
        Number of detector columns.
    left_width, right_width : float or array_like broadcastable to `center`
        Half-widths in pixels (>= 0; need not be integers, and may vary
        per row, e.g. in proportion to the PSF width).

    Returns
    -------
    numpy.ndarray, shape center.shape + (n_cols,)
        float64 weights in [0, 1]; all 0 where `center` is not finite.
        Along a row they sum to ``left_width + right_width + 1`` (to
        rounding, ~1e-15 relative) unless the frame clips the aperture.

    Raises
    ------
    ParameterError
        If `n_cols` is not an integer >= 0 or a width is negative or not
        finite.

    Examples
    --------
    >>> aperture_weights([36.25], 72, 1, 1)[0, 34:39]
    array([0.  , 0.75, 1.  , 1.  , 0.25])
    """
    n_cols = _integer("n_cols", n_cols)
    left = _widths("left_width", left_width)
    right = _widths("right_width", right_width)
    center = np.asarray(center, dtype=np.float64)
    finite = np.isfinite(center)
    center = np.where(finite, center, 0.0)
    try:
        lower = (center - left - 0.5)[..., np.newaxis]
        upper = (center + right + 0.5)[..., np.newaxis]
    except ValueError:
        raise ParameterError(
            f"left_width {left.shape} and right_width {right.shape} must broadcast to center {center.shape}"
        ) from None
    cols = np.arange(n_cols, dtype=np.float64)
    weights = np.minimum(cols + 0.5, upper) - np.maximum(cols - 0.5, lower)
    np.clip(weights, 0.0, 1.0, out=weights)
    weights *= np.broadcast_to(finite, weights.shape[:-1])[..., np.newaxis]
    return weights


def _weights_for(weights, shape):
    try:
        return np.broadcast_to(np.asarray(weights, dtype=np.float64), shape)
    except ValueError:
        raise ParameterError(f"weights of shape {np.shape(weights)} do not broadcast to data {shape}") from None


def _band(weights):
    """Slice of the columns where any weight of the block is non-zero (all columns if none)."""
    touched = np.flatnonzero(np.any(weights > 0, axis=tuple(range(weights.ndim - 1))))
    if touched.size == 0:
        return slice(None)
    return slice(int(touched[0]), int(touched[-1]) + 1)


def box_extract_weighted(data, err, weights):
    """Box extraction with fractional pixel weights, row by row.

    ``flux = sum(w * D)`` and ``flux_error = sqrt(sum(w**2 * err**2))``
    over the columns. The flux is a linear combination of independent
    pixels with coefficients ``w``, so its variance is ``sum(w**2 var)``:
    a pixel half in the aperture contributes half its signal and a quarter
    of its variance. (``sum(w * err**2)`` would overstate the error of
    every aperture with partial pixels; the tests check ``w**2`` against
    the scatter of noise realisations.)

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images in DN/s.
    err : array_like, broadcastable to `data`
        1-sigma uncertainty of each pixel in DN/s.
    weights : array_like, broadcastable to `data`
        Aperture weights in [0, 1] (:func:`aperture_weights`).

    Returns
    -------
    flux : numpy.ndarray, shape (n_int, n_row)
        float64 DN/s.
    flux_error : numpy.ndarray, shape (n_int, n_row)
        float64 DN/s.

        Both NaN for rows whose aperture holds no pixel (weights all 0,
        e.g. a NaN centre) and rows with a NaN value in a pixel of
        non-zero weight; pixels of zero weight never matter.

    Raises
    ------
    ParameterError
        If the shapes do not broadcast.

    Examples
    --------
    >>> import numpy as np
    >>> w = aperture_weights(np.full((1, 2), 36.5), 72, 4, 4)
    >>> flux, error = box_extract_weighted(np.ones((1, 2, 72)), 1.0, w)
    >>> flux, error
    (array([[9., 9.]]), array([[2.91547595, 2.91547595]]))
    """
    data = _frames("data", data, 3)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    try:
        err = np.broadcast_to(np.asarray(err, dtype=np.float64), data.shape)
    except ValueError:
        raise ParameterError(f"err of shape {np.shape(err)} does not broadcast to data {data.shape}") from None
    weights = _weights_for(weights, data.shape)
    band = _band(weights)  # work only on the columns the apertures touch
    data, err, weights = data[..., band], err[..., band], weights[..., band]
    inside = weights > 0
    with np.errstate(invalid="ignore"):
        flux = np.sum(np.where(inside, weights * data, 0.0), axis=2)
        variance = np.sum(np.where(inside, (weights * err) ** 2, 0.0), axis=2)
    empty = ~np.any(inside, axis=2)
    return np.where(empty, np.nan, flux), np.where(empty, np.nan, np.sqrt(variance))


def optimal_extract_weighted(data, profile, variance0, weights, *, q=1.0, sky=None):
    """Optimal extraction (Horne 1986) restricted to a fractional aperture.

    Following table 1 of Horne (1986) [1]_, with aperture weights ``w``
    (:func:`aperture_weights`), the spatial profile is cut to the aperture
    and normalised so that ``sum(w P) = 1`` in every row; then, as in
    :func:`xmiri.kernels.extract.optimal_extract_block`,

    * step 4: ``f = sum(w D)`` (the weighted box flux);
    * step 6: ``V = variance0 + |f P + sky| / q``;
    * step 8: ``f_opt = sum(w P D / V) / sum(w P**2 / V)``, with variance
      ``sum(w**2 P**2 / V) / sum(w P**2 / V)**2``.

    How partial pixels enter: the aperture weight multiplies the optimal
    weight ``P / V`` of each pixel. If ``E[D] = F P_true`` and the profile
    is right (``P`` proportional to ``P_true``),
    ``E[f_opt] = F sum(w P_true)`` whatever the weights: exactly the
    expectation of the weighted box flux, so box and optimal estimate the
    same quantity (the flux inside the fractional aperture) and both move
    continuously with the trace. For ``w`` in {0, 1} every formula reduces
    to Horne's (the variance to ``1 / sum(P**2 / V)``). Rescaling the data
    and variance of a partial pixel by ``w`` and ``w**2`` instead would
    cancel ``w`` from the estimate, leaving only the normalisation, and
    make each edge pixel enter with its full weight as soon as the
    aperture touches it: a jump in the noise realisation whenever the
    trace crosses a pixel boundary.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images D, DN/s.
    profile : array_like, broadcastable to `data`
        Spatial profile P (any positive normalisation), e.g. a smoothed
        cleaned profile or :func:`gaussian_profile` of the fitted trace.
        It should follow the trace of each integration: a profile that is
        off by ``dx`` biases ``f_opt`` by a fraction that changes with
        ``dx``.
    variance0 : array_like, broadcastable to `data`
        Variance floor V0, (DN/s)**2 (read noise).
    weights : array_like, broadcastable to `data`
        Aperture weights in [0, 1].
    q : float, optional
        Horne's Q, electrons per unit of data: ``gain * integration time``
        for rates in DN/s. Default 1, as ExoTiC-MIRI.
    sky : array_like broadcastable to `data`, optional
        The subtracted sky S, DN/s. Default 0.

    Returns
    -------
    flux : numpy.ndarray, shape (n_int, n_row)
        float64 DN/s, the flux inside the aperture.
    flux_error : numpy.ndarray, shape (n_int, n_row)
        float64 DN/s.

        Both NaN for rows with an empty aperture, a profile summing to 0
        over it, or a NaN value in a pixel of non-zero weight.

    Raises
    ------
    ParameterError
        If shapes do not broadcast or `q` is not positive.

    References
    ----------
    .. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
       spectroscopy", PASP, 98, 609, table 1, steps 4, 6 and 8.

    Examples
    --------
    >>> import numpy as np
    >>> center = np.full((1, 3), 36.3)
    >>> profile = gaussian_profile(center, 1.5, 72)
    >>> w = aperture_weights(center, 72, 4, 4)
    >>> f, _ = optimal_extract_weighted(1000.0 * profile, profile, 0.07, w, q=38.0)
    >>> bool(np.allclose(f, 1000.0 * np.sum(w * profile, axis=-1)))
    True
    """
    data = _frames("data", data, 3)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    q = _real("q", q, minimum=0.0, strict=True)
    shape = data.shape
    weights = _weights_for(weights, shape)
    try:
        profile = np.broadcast_to(np.asarray(profile, dtype=np.float64), shape)
        variance0 = np.broadcast_to(np.asarray(variance0, dtype=np.float64), shape)
        sky = 0.0 if sky is None else np.broadcast_to(np.asarray(sky, dtype=np.float64), shape)
    except ValueError:
        raise ParameterError(
            f"profile {np.shape(profile)}, variance0 {np.shape(variance0)} and sky "
            f"{np.shape(sky)} must broadcast to data {shape}"
        ) from None
    band = _band(weights)  # work only on the columns the apertures touch
    data, weights, profile, variance0 = data[..., band], weights[..., band], profile[..., band], variance0[..., band]
    if np.ndim(sky):
        sky = sky[..., band]
    inside = weights > 0
    w = np.where(inside, weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(inside, profile, 0.0)
        p = p / np.sum(w * p, axis=2, keepdims=True)
        d = np.where(inside, data, 0.0)
        flux = np.sum(w * d, axis=2)  # step 4
        variance = np.where(inside, variance0 + np.abs(flux[..., np.newaxis] * p + sky) / q, 1.0)  # step 6
        inv_var = np.where(p != 0, 1.0 / variance, 0.0)
        a = w * p * inv_var  # step 8
        denominator = np.sum(a * p, axis=2)
        flux_opt = np.sum(a * d, axis=2) / denominator
        variance_opt = np.sum(a * a * variance, axis=2) / denominator**2
        # NaN data inside the aperture propagate (0 * NaN above would not if P = 0 there).
        bad = np.any(inside & ~np.isfinite(data), axis=2) | ~np.any(inside, axis=2)
        flux_opt = np.where(bad, np.nan, flux_opt)
        flux_error = np.where(bad, np.nan, np.sqrt(variance_opt))
    return flux_opt, flux_error


def gaussian_profile(center, sigma, n_cols):
    """Pixel-integrated Gaussian profile across the columns.

    ``P_c = (erf((c + 0.5 - center) / (sqrt(2) sigma)) -
    erf((c - 0.5 - center) / (sqrt(2) sigma))) / 2``, the fraction of a
    normalised Gaussian falling in column ``c``: a profile model for
    :func:`optimal_extract_weighted` that follows the fitted trace, and the
    flux fraction a Gaussian predicts for an aperture
    (``sum(aperture_weights * P)``).

    Parameters
    ----------
    center : array_like, shape (...)
        Centre (column, pixels), e.g. (n_int, n_row).
    sigma : array_like, broadcastable to `center`
        Standard deviation of the Gaussian before pixel integration, pixels
        (> 0), e.g. per row. A Gaussian fitted to pixel values
        (:func:`row_centers`) is wider by the pixel, ``sqrt(sigma**2 +
        1/12)``; use ``ReferenceTrace.sigma_coefficients``, which are
        deconvolved.
    n_cols : int
        Number of columns.

    Returns
    -------
    numpy.ndarray, shape broadcast(center, sigma).shape + (n_cols,)
        float64, dimensionless; sums to 1 over the columns when the
        Gaussian lies well inside the frame. NaN where `center` or `sigma`
        is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_profile(36.0, 1.0, 72)
    >>> round(float(p[36]), 6), round(float(p.sum()), 12)
    (0.382925, 1.0)
    """
    n_cols = _integer("n_cols", n_cols)
    center = np.asarray(center, dtype=np.float64)[..., np.newaxis]
    sigma = np.asarray(sigma, dtype=np.float64)[..., np.newaxis]
    edges = np.arange(n_cols + 1, dtype=np.float64) - 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = erf((edges - center) / (np.sqrt(2.0) * sigma))
    return 0.5 * (cdf[..., 1:] - cdf[..., :-1])


# ---------------------------------------------------------------------------
# 4. wavelength at the trace
# ---------------------------------------------------------------------------
def wavelength_at_trace(wavelength_map, center):
    """Wavelength of each row read at the trace centre.

    Linear interpolation of `wavelength_map` along the columns at the
    fractional column `center`: for ``i = floor(center)`` and
    ``t = center - i``, ``(1 - t) * map[row, i] + t * map[row, i + 1]``.
    A centre on a whole column takes that column's value even if its
    neighbour is NaN; otherwise a NaN neighbour gives NaN, as does a
    centre outside ``[0, n_col - 1]`` (no extrapolation) or a NaN centre.
    For a map that depends on the row only (the packaged solution) this
    is the map's value wherever it is defined.

    Parameters
    ----------
    wavelength_map : array_like, shape (n_row, n_col)
        Wavelength of each pixel, micron (NaN where undefined).
    center : array_like, shape (..., n_row)
        Trace centre of each row (column, pixels), e.g. (n_int, n_row).

    Returns
    -------
    numpy.ndarray, shape center.shape
        float64 micron.

    Raises
    ------
    ParameterError
        If the map is not 2-D or `center` does not end with its row axis.

    Examples
    --------
    >>> import numpy as np
    >>> wmap = np.array([[5.0, 6.0, np.nan], [7.0, 8.0, 9.0]])
    >>> wavelength_at_trace(wmap, [[0.25, 1.5], [1.0, -0.1]])
    array([[5.25, 8.5 ],
           [6.  ,  nan]])
    """
    wmap = np.asarray(wavelength_map, dtype=np.float64)
    if wmap.ndim != 2:
        raise ParameterError(f"wavelength_map must be 2-D (row, col), got shape {wmap.shape}")
    center = np.asarray(center, dtype=np.float64)
    n_row, n_col = wmap.shape
    if center.ndim < 1 or center.shape[-1] != n_row:
        raise ParameterError(f"center must have shape (..., n_row={n_row}), got {center.shape}")
    if n_col == 0:
        return np.full(center.shape, np.nan)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(center) & (center >= 0) & (center <= n_col - 1)
    x = np.where(valid, center, 0.0)
    i0 = np.clip(np.floor(x).astype(np.intp), 0, max(n_col - 2, 0))
    i1 = np.minimum(i0 + 1, n_col - 1)
    t = x - i0
    row = np.arange(n_row)
    v0 = wmap[row, i0]
    v1 = wmap[row, i1]
    with np.errstate(invalid="ignore"):
        value = np.where(t == 0, v0, np.where(t == 1, v1, v0 + t * (v1 - v0)))
    return np.where(valid, value, np.nan)


# ---------------------------------------------------------------------------
# 5. aperture-width statistic
# ---------------------------------------------------------------------------
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
