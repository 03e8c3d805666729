"""The trace of the star: its centre in every row and integration, as a fitted polynomial.

The LRS slitless trace is not parallel to the detector columns (in the
MIRISim NGTS-10 segment it moves by most of a column along a curve:
``benchmarks/TRACE.md``) and its width grows with wavelength.
The kernels here

1. fit the trace centre row by row on a frame, usually the median frame of
   the exposure (:func:`row_centers`, :func:`detected_rows`), as a
   polynomial in row with iterative sigma clipping
   (:func:`fit_trace_polynomial`, :func:`evaluate_trace`; all chained by
   :func:`fit_reference_trace`);
2. measure one cross-dispersion offset per integration relative to that
   frame (:func:`integration_offsets`, in :mod:`xmiri.kernels.traceoffsets`).

The apertures that follow the trace are in :mod:`xmiri.kernels.aperture`.
Conventions: ``row`` is the dispersion axis, ``col`` the cross-dispersion
axis; pixel ``c`` covers ``[c - 0.5, c + 0.5]``, so a centre of ``36.0`` is
the middle of column 36.  Polynomial coefficients follow
:mod:`numpy.polynomial.polynomial` (increasing powers of the row index in
pixels: ``center(row) = c[0] + c[1] * row + c[2] * row**2``).  All functions
are pure numpy, without warnings machinery, so they are safe inside dask
worker threads.
"""
from collections import namedtuple

import numpy as np
from numpy.polynomial import polynomial as _poly

from ..exceptions import ParameterError
from ._validate import frames, pixel_range, real, whole
from .background import MAD_TO_SIGMA
from .trace import _N_PARAMS, _model_and_jacobian, gaussian_fit
from .traceoffsets import integration_offsets

__all__ = ["RowFit", "row_centers", "detected_rows", "fit_trace_polynomial", "evaluate_trace",
           "ReferenceTrace", "fit_reference_trace", "integration_offsets", "MAD_TO_SIGMA"]


_NEVER_CLIPPED = 1e-6  # pixels: residuals this small are never clipped



# --------------------------------------------------------------------------
# per-row centres and the trace polynomial
RowFit = namedtuple("RowFit", "center center_error amplitude amplitude_error sigma sigma_error baseline")
RowFit.__doc__ = """Per-row Gaussian-plus-constant fits (:func:`row_centers`).

All fields have the shape of the input frames without the column axis.

Parameters
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


def row_centers(frame, *, cols, sigma_guess):
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
    cols : tuple of int
        Half-open column range fitted, as
        :func:`xmiri.kernels.trace.fit_trace_block` (the steps use
        :data:`xmiri.defaults.TRACE_COLUMNS`).
    sigma_guess : float
        Initial Gaussian width in pixels
        (:data:`xmiri.defaults.PSF_SIGMA_GUESS`).

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
    >>> fit = row_centers(frame, cols=(12, 68), sigma_guess=1.59)
    >>> bool(np.allclose(fit.center, centre[:, 0], atol=1e-6))
    True
    """
    frame = frames("frame", frame, 2)
    c0, c1 = pixel_range("cols", cols, frame.shape[-1])
    sigma_guess = real("sigma_guess", sigma_guess, minimum=0.0, strict=True)
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


def detected_rows(fit, *, min_snr, sigma_range, max_center_error):
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
    min_snr : float
        Minimum amplitude signal-to-noise ratio (the steps use
        :data:`xmiri.defaults.TRACE_MIN_SNR`; how often noise passes a
        threshold: ``benchmarks/TRACE.md``, "Detection").
    sigma_range : tuple of float
        Accepted Gaussian widths (min, max) in pixels
        (:data:`xmiri.defaults.TRACE_SIGMA_RANGE`).
    max_center_error : float
        Largest accepted centre uncertainty in pixels
        (:data:`xmiri.defaults.TRACE_MAX_CENTER_ERROR`).

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
    >>> detected_rows(fit, min_snr=10.0, sigma_range=(0.5, 4.0), max_center_error=0.5)
    array([ True])
    """
    min_snr = real("min_snr", min_snr, minimum=0.0)
    max_center_error = real("max_center_error", max_center_error, minimum=0.0, strict=True)
    try:
        lo, hi = sigma_range
    except (TypeError, ValueError):
        raise ParameterError(f"sigma_range must be a (min, max) pair in pixels, "
                             f"got {sigma_range!r}") from None
    lo, hi = real("sigma_range", lo, minimum=0.0), real("sigma_range", hi, minimum=0.0)
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


def fit_trace_polynomial(rows, centers, weights=None, *, order, clip_sigma, max_iter):
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
    order : int
        Polynomial degree (the steps use
        :data:`xmiri.defaults.TRACE_POLY_ORDER`; why: ``benchmarks/TRACE.md``).
    clip_sigma : float
        Clipping threshold in robust standard deviations
        (:data:`xmiri.defaults.TRACE_CLIP_SIGMA`).
    max_iter : int
        Maximum number of fits, >= 1
        (:data:`xmiri.defaults.TRACE_CLIP_MAX_ITER`).

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
    >>> coef, used = fit_trace_polynomial(rows, centers, order=1, clip_sigma=4.0, max_iter=10)
    >>> np.round(coef, 4).tolist(), int((~used).sum())
    ([35.02, 0.0064], 2)
    >>> coef, used = fit_trace_polynomial(rows, centers, order=2, clip_sigma=4.0, max_iter=10)
    >>> (np.round(coef, 6) + 0.0).tolist()
    [35.02, 0.0064, 0.0]
    """
    order = whole("order", order, minimum=0)
    clip_sigma = real("clip_sigma", clip_sigma, minimum=0.0, strict=True)
    max_iter = whole("max_iter", max_iter, minimum=1)
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

Parameters
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


def fit_reference_trace(frame, *, order, sigma_order, cols, sigma_guess, min_snr, sigma_range,
                        max_center_error, clip_sigma, max_iter):
    """Trace polynomial of a reference frame: the exposure-wide part of a traced aperture.

    Chains :func:`row_centers`, :func:`detected_rows` and
    :func:`fit_trace_polynomial` (weights ``1 / center_error**2``), and
    fits the width of the used rows with a polynomial too, for a
    :func:`gaussian_profile` model in optimal extraction. A Gaussian fitted
    to pixel values has the width of the PSF convolved with the pixel,
    ``sqrt(s**2 + 1/12)`` for a Gaussian PSF of width ``s``; the width
    polynomial fits ``sqrt(sigma**2 - 1/12)`` (floored at 0.1 pixel), so
    that :func:`gaussian_profile`, which integrates over the pixels itself,
    does not broaden the profile twice (what that does to optimal
    extraction: ``benchmarks/TRACE.md``, "Optimal extraction in the same
    aperture").

    Parameters
    ----------
    frame : array_like, shape (n_row, n_col)
        Background-subtracted reference frame in DN/s: the median over the
        integrations of the exposure (or of an evenly spaced subset of them).
    order : int
        Degree of the centre polynomial (the steps use
        :data:`xmiri.defaults.TRACE_POLY_ORDER`).
    sigma_order : int
        Degree of the width polynomial
        (:data:`xmiri.defaults.TRACE_SIGMA_POLY_ORDER`).
    cols : tuple of int
        Half-open column range fitted
        (:data:`xmiri.defaults.TRACE_COLUMNS`).
    sigma_guess : float
        Initial Gaussian width, pixels
        (:data:`xmiri.defaults.PSF_SIGMA_GUESS`).
    min_snr, sigma_range, max_center_error : float, (float, float), float
        Detection thresholds of :func:`detected_rows`
        (:data:`xmiri.defaults.TRACE_MIN_SNR`,
        :data:`~xmiri.defaults.TRACE_SIGMA_RANGE`,
        :data:`~xmiri.defaults.TRACE_MAX_CENTER_ERROR`).
    clip_sigma, max_iter : float, int
        Clipping threshold and most fits of :func:`fit_trace_polynomial`,
        for the centre and the width polynomials
        (:data:`xmiri.defaults.TRACE_CLIP_SIGMA`,
        :data:`~xmiri.defaults.TRACE_CLIP_MAX_ITER`).

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
    >>> ref = fit_reference_trace(frame, order=1, sigma_order=2, cols=(12, 68), sigma_guess=1.59,
    ...                           min_snr=10.0, sigma_range=(0.5, 4.0), max_center_error=0.5,
    ...                           clip_sigma=4.0, max_iter=10)
    >>> np.round(evaluate_trace(ref.coefficients, [130, 370]), 2)
    array([35.85, 37.39])
    >>> bool(ref.used.sum() > 400 and ref.residual_rms < 0.05)
    True
    """
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim != 2:
        raise ParameterError(f"frame must be 2-D (row, col), got shape {frame.shape}")
    sigma_order = whole("sigma_order", sigma_order, minimum=0)
    fit = row_centers(frame, cols=cols, sigma_guess=sigma_guess)
    good = detected_rows(fit, min_snr=min_snr, sigma_range=sigma_range, max_center_error=max_center_error)
    rows = np.arange(frame.shape[0], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        weights = np.where(good, 1.0 / np.maximum(fit.center_error, _MIN_CENTER_ERROR) ** 2, 0.0)
    coefficients, used = fit_trace_polynomial(rows, fit.center, weights, order=order, clip_sigma=clip_sigma,
                                              max_iter=max_iter)
    if not np.all(np.isfinite(coefficients)):
        used = np.zeros_like(used)
    row_weights = np.where(used, weights, 0.0)
    with np.errstate(invalid="ignore"):
        sigma_weights = np.where(used, 1.0 / np.maximum(fit.sigma_error, _MIN_CENTER_ERROR) ** 2, 0.0)
        intrinsic = np.sqrt(np.maximum(fit.sigma**2 - 1.0 / 12.0, 0.01))
    sigma_coefficients, _ = fit_trace_polynomial(rows, intrinsic, sigma_weights, order=sigma_order,
                                                 clip_sigma=clip_sigma, max_iter=max_iter)
    residual = (fit.center - evaluate_trace(coefficients, rows))[used]
    residual_rms = float(np.sqrt(np.mean(residual**2))) if residual.size else np.nan
    return ReferenceTrace(coefficients, sigma_coefficients, fit, used, row_weights, residual_rms)
