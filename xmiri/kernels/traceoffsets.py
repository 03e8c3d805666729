"""The trace's cross-dispersion offset in each integration, relative to a reference trace (pure numpy).

Step 2 of :mod:`xmiri.kernels.tracefit` (which re-exports
:func:`integration_offsets`): the reference trace is fitted there, once per
exposure; the offsets here move it integration by integration.
"""
import numpy as np

from ..exceptions import ParameterError
from ._validate import frames, pixel_range, real, whole

__all__ = ["integration_offsets"]


def integration_offsets(data, reference, row_weights, *, cols, half_width, max_iter, tol):
    """Cross-dispersion offset of each integration from the reference trace.

    The trace of integration ``k`` is modelled as the reference trace shifted
    by one offset ``x_k`` for all rows: in row ``r``,

    ``D_k(r, c) = A_kr * exp(-(c - mu_r - x_k)**2 / (2 s_r**2)) + b_kr``,

    with ``mu_r`` and ``s_r`` the centre and width fitted per row on the
    reference frame (:func:`~xmiri.kernels.tracefit.row_centers` of the median frame) and a free
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
    arrays per iteration instead of one non-linear fit per row and
    integration (how it compares with per-row Gaussian fits:
    ``benchmarks/TRACE.md``, "Per-integration offsets").

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
        Per-row fit of the reference frame (:func:`~xmiri.kernels.tracefit.row_centers`); its
        ``center`` and ``sigma`` (shape (n_row,), pixels) are used.
    row_weights : array_like, shape (n_row,)
        Non-negative weight of each row, normally ``1 / center_error**2``
        (pixels**-2) on the rows :func:`~xmiri.kernels.tracefit.fit_trace_polynomial` used and 0
        elsewhere. Rows with zero or non-finite weight, or without a
        reference fit, are not read.
    cols : tuple of int
        Half-open column range that may be fitted (the steps use
        :data:`xmiri.defaults.TRACE_COLUMNS`).
    half_width : int
        Each row is fitted over the ``2 * half_width + 1`` columns around
        the rounded reference centre (within `cols`), pixels
        (:data:`xmiri.defaults.TRACE_OFFSET_HALF_WIDTH`, at least 4 PSF
        widths either side at all LRS wavelengths).
    max_iter : int
        Maximum number of Gauss-Newton iterations
        (:data:`xmiri.defaults.TRACE_OFFSET_MAX_ITER`).
    tol : float
        Convergence threshold on the offset update, pixels
        (:data:`xmiri.defaults.TRACE_OFFSET_TOL`).

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
    The offsets' errors on simulated exposures, against those of the
    ``align`` step's x-shift and of ExoTiC-MIRI's per-integration trace
    fit, are measured in ``benchmarks/TRACE.md``. On noiseless frames the
    offsets are exact to rounding (the per-row model biases cancel, see
    above).

    Examples
    --------
    >>> import numpy as np
    >>> from xmiri.kernels.tracefit import row_centers
    >>> cols = np.arange(72)
    >>> ref = 50.0 * np.exp(-0.5 * ((cols - 36.2) / 1.5) ** 2) * np.ones((416, 1))
    >>> moved = 60.0 * np.exp(-0.5 * ((cols - 36.5) / 1.5) ** 2) * np.ones((416, 1)) + 3.0
    >>> fit = row_centers(ref, cols=(12, 68), sigma_guess=1.59)
    >>> offsets = integration_offsets(moved[None], fit, np.ones(416), cols=(12, 68), half_width=8,
    ...                               max_iter=10, tol=1e-6)
    >>> np.round(offsets, 6)
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
