"""The trace of the star: its centre in every row and integration, as a fitted polynomial.

The LRS slitless trace is not parallel to the detector columns (in the
MIRISim NGTS-10 segment its centre moves from column 36.8 at row 150 to
37.6 at rows 330-380, along a curve) and its width grows with wavelength.
The kernels here

1. fit the trace centre row by row on a frame, usually the median frame of
   the exposure (:func:`row_centers`, :func:`detected_rows`), as a
   polynomial in row with iterative sigma clipping
   (:func:`fit_trace_polynomial`, :func:`evaluate_trace`; all chained by
   :func:`fit_reference_trace`);
2. measure one cross-dispersion offset per integration relative to that
   frame (:func:`integration_offsets`).

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
from ._args import frames, pixel_range, real, whole
from .background import MAD_TO_SIGMA
from .trace import _N_PARAMS, _model_and_jacobian, gaussian_fit

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
    sigma_order = whole("sigma_order", sigma_order, minimum=0)
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


# --------------------------------------------------------------------------
# per-integration offsets
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
    data = frames("data", data, 3)
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
    c0, c1 = pixel_range("cols", cols, n_col)
    half_width = whole("half_width", half_width, minimum=1)
    max_iter = whole("max_iter", max_iter, minimum=1)
    tol = real("tol", tol, minimum=0.0, strict=True)
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
