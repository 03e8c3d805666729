"""Gaussian fits to the cross-dispersion profile of the spectral trace.

ExoTiC-MIRI locates the trace of each integration by fitting a Gaussian plus
a constant to the median (over rows) cross-dispersion profile with
:func:`scipy.optimize.curve_fit`, one integration at a time. Here the same
least-squares problem is solved for all integrations of a block together by
a batched Levenberg-Marquardt iteration, with analytic derivatives and the
4 x 4 normal equations of every integration solved in one
:func:`numpy.linalg.solve` call.

:func:`locate_trace` finds the trace in a frame of an unknown subarray,
where no geometry tells where to fit.

All functions here are pure numpy: arrays in, arrays out.
"""
import numpy as np

from ._validate import index_range
from ..exceptions import ParameterError
from .background import nanmedian

__all__ = ["fit_trace_block", "gaussian_fit", "gaussian", "locate_trace"]

#: Convergence controls of :func:`gaussian_fit`'s Levenberg-Marquardt iteration: most
#: iterations, and the relative parameter and sum-of-squares changes that end it.
LM_MAX_ITER = 200
LM_XTOL = 1e-10
LM_FTOL = 1e-10

_N_PARAMS = 4


def gaussian(x, amplitude, center, sigma, baseline):
    """Gaussian plus constant, ``a * exp(-(x - mu)**2 / (2 s**2)) + b``.

    Parameters
    ----------
    x : array_like, shape (m,)
        Column positions in pixels.
    amplitude, center, sigma, baseline : array_like, shape (n,)
        Peak height above the baseline (DN/s), centre (column index, pixels),
        width (pixels) and constant level (DN/s) of each of `n` models.

    Returns
    -------
    numpy.ndarray, shape (n, m)
        Model values in DN/s.

    Examples
    --------
    >>> gaussian(np.array([35.0, 36.0]), [2.0], [36.0], [1.0], [0.5]).round(4)
    array([[1.7131, 2.5   ]])
    """
    x = np.asarray(x, dtype=np.float64)
    amplitude, center, sigma, baseline = (
        np.asarray(p, dtype=np.float64)[..., np.newaxis] for p in (amplitude, center, sigma, baseline)
    )
    return amplitude * np.exp(-((x - center) ** 2) / (2.0 * sigma**2)) + baseline


def _model_and_jacobian(x, params, with_jacobian=True):
    """Model (n, m) and its derivatives (n, m, 4) w.r.t. (a, mu, s, b)."""
    amplitude, center, sigma, baseline = (params[:, k, np.newaxis] for k in range(_N_PARAMS))
    offset = x - center
    shape = np.exp(-(offset**2) / (2.0 * sigma**2))
    model = amplitude * shape + baseline
    if not with_jacobian:
        return model, None
    jacobian = np.empty(model.shape + (_N_PARAMS,))
    jacobian[..., 0] = shape
    jacobian[..., 1] = amplitude * shape * offset / sigma**2
    jacobian[..., 2] = amplitude * shape * offset**2 / sigma**3
    jacobian[..., 3] = 1.0
    return model, jacobian


def _solve_stacked(matrices, vectors):
    """Solve a stack of small linear systems; pseudo-inverse if one is singular."""
    try:
        return np.linalg.solve(matrices, vectors[..., np.newaxis])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("nij,nj->ni", np.linalg.pinv(matrices), vectors)


def gaussian_fit(x, profiles, *, sigma_guess):
    """Least-squares fit of a Gaussian plus constant to many profiles at once.

    Each profile is fitted with ``a * exp(-(x - mu)**2 / (2 s**2)) + b``
    (see :func:`gaussian`), starting, as ExoTiC-MIRI does, from
    ``a = max(profile)``, ``mu = x[argmax(profile)]``, ``s = sigma_guess``
    and ``b = 0``. The fit is an unweighted Levenberg-Marquardt iteration
    run on all profiles together: each iteration solves the damped, scaled
    4 x 4 normal equations ``(J^T J + lambda diag(J^T J)) delta = -J^T r`` of
    every profile still iterating, accepts a step if it lowers the sum of
    squared residuals (and divides the damping ``lambda`` by 10) or rejects
    it (and multiplies ``lambda`` by 10). A fit has converged when an
    accepted step, taken with ``lambda <= 1``, changes the parameters by
    less than :data:`LM_XTOL` in the scaled norm ``||D delta|| / ||D p||``
    (D the column norms of the Jacobian J) or lowers the sum of squares,
    both actually and as predicted by the linearised model, by less than
    :data:`LM_FTOL` of itself; when the residuals vanish; or when no step
    can lower the sum of squares any more (``lambda > 1e16``).  Fits not
    converged within :data:`LM_MAX_ITER` iterations give NaN.  These are
    properties of the solver (the minimum is found to round-off), not
    tuning values, so they are not parameters.

    This is the minimum :func:`scipy.optimize.curve_fit` (``method="lm"``,
    MINPACK ``lmdif``) finds from the same start, converged more tightly:
    curve_fit stops once the sum of squares falls by less than 1.5e-8 of
    itself, which leaves poorly constrained parameters (noisy profiles,
    peak signal-to-noise below ~10) uncertain at the 1e-5 to 1e-4 level;
    the fit here then has the lower sum of squares. On well-exposed traces
    both agree to better than 1e-6.

    Parameters
    ----------
    x : array_like, shape (m,)
        Column positions in pixels, shared by all profiles.
    profiles : array_like, shape (n, m)
        Profiles to fit, e.g. in DN/s. Non-finite values are left out of
        the fit of their profile.
    sigma_guess : float
        Initial Gaussian width in pixels
        (:data:`xmiri.defaults.PSF_SIGMA_GUESS`).

    Returns
    -------
    amplitude : numpy.ndarray, shape (n,)
        Peak height above the baseline, in the unit of `profiles`.
    center : numpy.ndarray, shape (n,)
        Gaussian centre, in the unit of `x` (column index, pixels).
    sigma : numpy.ndarray, shape (n,)
        Gaussian standard deviation ``abs(s)``, in pixels.
    baseline : numpy.ndarray, shape (n,)
        Constant level, in the unit of `profiles`.

        All four are NaN where the fit fails: fewer than 4 finite values,
        a flat profile (no Gaussian can be located), no convergence within
        :data:`LM_MAX_ITER` iterations, a non-finite result, a zero width, a centre
        outside ``[min(x), max(x)]``, or a
        fitted amplitude below ``1.5e-8`` times the largest ``|profile|``
        (where :func:`scipy.optimize.curve_fit` returns its start values
        with an infinite covariance). No exception is raised for bad data.

    Raises
    ------
    ParameterError
        If `profiles` is not 2-D or does not match `x`.

    Examples
    --------
    >>> x = np.arange(12.0, 68.0)
    >>> profiles = gaussian(x, [100.0, 80.0], [36.3, 35.8], [1.6, 1.7], [2.0, 1.0])
    >>> _, center, sigma, _ = gaussian_fit(x, profiles, sigma_guess=1.59)
    >>> center.round(6), sigma.round(6)
    (array([36.3, 35.8]), array([1.6, 1.7]))
    """
    x = np.asarray(x, dtype=np.float64)
    profiles = np.asarray(profiles, dtype=np.float64)
    if x.ndim != 1 or profiles.ndim != 2 or profiles.shape[1] != x.shape[0]:
        raise ParameterError(
            f"profiles must have shape (n, {x.shape[0] if x.ndim == 1 else 'm'}) matching x, "
            f"got x {x.shape} and profiles {profiles.shape}"
        )
    n = profiles.shape[0]
    finite = np.isfinite(profiles)
    y = np.where(finite, profiles, 0.0)
    weight = finite.astype(np.float64)
    n_finite = finite.sum(axis=1)
    scale = np.max(np.abs(y), axis=1, initial=0.0)
    highest = np.where(finite, profiles, -np.inf)
    peak_index = np.argmax(highest, axis=1) if x.size else np.zeros(n, dtype=int)
    peak = np.max(highest, axis=1, initial=-np.inf)
    lowest = np.min(np.where(finite, profiles, np.inf), axis=1, initial=np.inf)
    usable = (n_finite >= _N_PARAMS) & (peak > lowest)

    params = np.zeros((n, _N_PARAMS))
    params[:, 0] = np.where(usable, peak, 1.0)
    params[:, 1] = x[peak_index] if x.size else 0.0
    params[:, 2] = sigma_guess
    converged = np.zeros(n, dtype=bool)
    damping = np.full(n, 1e-3)
    active = usable.copy()

    with np.errstate(all="ignore"):
        model, _ = _model_and_jacobian(x, params, with_jacobian=False)
        cost = np.sum(weight * (model - y) ** 2, axis=1)
        total = np.sum(weight * y**2, axis=1)
        identity = np.eye(_N_PARAMS)
        for _ in range(LM_MAX_ITER):
            index = np.flatnonzero(active)
            if index.size == 0:
                break
            p, w, yy, lam = params[index], weight[index], y[index], damping[index]
            model, jacobian = _model_and_jacobian(x, p)
            residual = w * (model - yy)
            jw = jacobian * w[..., np.newaxis]
            normal = np.einsum("nmi,nmj->nij", jw, jacobian)
            gradient = np.einsum("nmi,nm->ni", jacobian, residual)
            norms = np.sqrt(np.einsum("nii->ni", normal))
            norms = np.where((norms > 0) & np.isfinite(norms), norms, 1.0)
            scaled = normal / (norms[:, :, np.newaxis] * norms[:, np.newaxis, :])
            system = scaled + lam[:, np.newaxis, np.newaxis] * identity
            bad = ~np.all(np.isfinite(system), axis=(1, 2)) | ~np.all(np.isfinite(gradient), axis=1)
            system[bad] = identity
            step = _solve_stacked(system, np.where(bad[:, np.newaxis], 0.0, -gradient / norms)) / norms
            trial = p + step
            trial_model, _ = _model_and_jacobian(x, trial, with_jacobian=False)
            trial_cost = np.sum(w * (trial_model - yy) ** 2, axis=1)
            accept = np.isfinite(trial_cost) & (trial_cost < cost[index]) & ~bad
            small_step = np.linalg.norm(norms * step, axis=1) <= LM_XTOL * np.linalg.norm(norms * p, axis=1)
            predicted = -(2.0 * np.einsum("ni,ni->n", gradient, step) + np.einsum("ni,nij,nj->n", step, normal, step))
            flat = (cost[index] - trial_cost <= LM_FTOL * cost[index]) & (predicted <= LM_FTOL * cost[index])
            exact = trial_cost <= (1e-15) ** 2 * total[index]
            done = accept & (((lam <= 1.0) & (small_step | flat)) | exact)
            params[index[accept]] = trial[accept]
            cost[index[accept]] = trial_cost[accept]
            lam = np.where(accept, np.maximum(lam / 10.0, 1e-15), lam * 10.0)
            stuck = ~accept & (lam > 1e16)
            done |= stuck & ~bad
            damping[index] = lam
            converged[index[done]] = True
            active[index[done | bad]] = False

    amplitude, center, sigma, baseline = (params[:, k].copy() for k in range(_N_PARAMS))
    sigma = np.abs(sigma)
    inside = (center >= x.min(initial=np.inf)) & (center <= x.max(initial=-np.inf))
    ok = (
        usable
        & converged
        & inside
        & np.all(np.isfinite(params), axis=1)
        & (sigma > 0)
        & (np.abs(amplitude) > 1.5e-8 * scale)
    )
    return tuple(np.where(ok, value, np.nan) for value in (amplitude, center, sigma, baseline))


def _median_with_rows_filled(region, missing, profiles, passes=2):
    """Median over rows of `region` (n, r, c) with its missing pixels filled from `profiles`.

    A pixel missing in only some rows of a column moves that column's median
    to the other rows' brightness (a dead stretch on the trace shifts the
    fitted centre by up to a column); filling each missing pixel with its
    row's least-squares scale times the current median profile, twice,
    removes most of that.  Rows without a usable pixel stay missing.
    """
    for _ in range(passes):
        usable = ~missing & np.isfinite(profiles)[:, None, :]
        shape = np.where(usable, profiles[:, None, :], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = (np.where(usable, region, 0.0) * shape).sum(-1) / (shape * shape).sum(-1)
        filled = np.where(missing, scale[..., None] * profiles[:, None, :], region)
        profiles = nanmedian(filled, axis=1)
    return profiles


def fit_trace_block(data, *, rows, cols, sigma_guess):
    """Centre and width of the spectral trace in each integration.

    For every integration, the median over rows ``[rows[0], rows[1])`` of
    columns ``[cols[0], cols[1])`` gives a cross-dispersion profile, which
    :func:`gaussian_fit` fits with a Gaussian plus constant, as
    ExoTiC-MIRI's box and optimal extraction steps do with
    :func:`scipy.optimize.curve_fit`.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Rate images in DN/s, usually background-subtracted. Any n_int >= 0.
    rows : tuple of int
        Half-open row range [start, end) over which the median profile is
        taken (the steps use :data:`xmiri.defaults.TRACE_ROWS`).
    cols : tuple of int
        Half-open column range [start, end) fitted
        (:data:`xmiri.defaults.TRACE_COLUMNS`).
    sigma_guess : float
        Initial Gaussian width in pixels
        (:data:`xmiri.defaults.PSF_SIGMA_GUESS`).

    Returns
    -------
    center : numpy.ndarray, shape (n_int,)
        float64 trace centre as a (fractional) column index, pixels.
    sigma : numpy.ndarray, shape (n_int,)
        float64 Gaussian standard deviation of the trace, pixels (>= 0).

        Both are NaN, without an exception, where the fit fails (see
        :func:`gaussian_fit`) or the profile has no finite values.

    Raises
    ------
    ParameterError
        If `data` is not 3-D or `rows`/`cols` fall outside it.

    Notes
    -----
    The median over rows ignores NaN pixels; where some rows of a column
    are NaN (a dead stretch), they are first filled with their row's
    least-squares scale times the median profile, so that the column's
    median stays on the same rows' brightness.  Columns whose median is
    NaN are left out of the fit. ExoTiC-MIRI uses :func:`numpy.median`, so a
    single NaN pixel in the region makes its fit fail (NaN). It also accepts
    the start values :func:`scipy.optimize.curve_fit` returns for a flat
    profile, and centres outside the fitted columns, which are NaN here. On
    finite data with a trace, both agree to the fit tolerance.

    Examples
    --------
    >>> cols = np.arange(72.0)
    >>> frame = 100.0 * np.exp(-0.5 * ((cols - 36.4) / 1.6) ** 2)
    >>> center, sigma = fit_trace_block(np.broadcast_to(frame, (2, 416, 72)),
    ...                                 rows=(200, 390), cols=(12, 68), sigma_guess=1.59)
    >>> center.round(6), sigma.round(6)
    (array([36.4, 36.4]), array([1.6, 1.6]))
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    r0, r1 = index_range("rows", rows, data.shape[1], "row", strict=True)
    c0, c1 = index_range("cols", cols, data.shape[2], "column", strict=True)
    region = np.asarray(data[:, r0:r1, c0:c1], dtype=np.float64)  # the region only in float64
    profiles = nanmedian(region, axis=1)
    missing = np.isnan(region)
    if missing.any():
        profiles = _median_with_rows_filled(region, missing, profiles)
    _, center, sigma, _ = gaussian_fit(np.arange(c0, c1, dtype=np.float64), profiles, sigma_guess=sigma_guess)
    return center, sigma


def locate_trace(frame, *, bright_fraction):
    """Column of the trace and rows of its bright part in one frame (e.g. the median frame).

    Each row's sky level (its NaN-aware median) is removed; the trace's
    column is the one with the largest sum over the rows (NaN ignored), and
    its bright rows run from the first to the last row whose value in that
    column is at least `bright_fraction` of the column's largest (all rows
    when no value is positive).

    Parameters
    ----------
    frame : array_like, shape (n_row, n_col)
        Frame, DN/s; NaN allowed.
    bright_fraction : float
        Fraction of the trace column's peak above which a row is bright.

    Returns
    -------
    tuple of (int, (int, int)) or None
        ``(column, (start, stop))``: the trace's column index and the rows
        ``[start, stop)`` from its first to its last bright row; None when
        the frame holds no finite value once each row's sky level is removed.

    Examples
    --------
    >>> frame = np.ones((4, 5)); frame[1:3, 3] = [9.0, 5.0]; frame[3, 3] = 1.5
    >>> locate_trace(frame, bright_fraction=0.2)
    (3, (1, 3))
    >>> locate_trace(np.full((2, 2), np.nan), bright_fraction=0.2) is None
    True
    """
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim != 2:
        raise ParameterError(f"frame must be 2-D (row, col), got shape {frame.shape}")
    star = frame - nanmedian(frame, axis=1)[:, np.newaxis]  # each row's sky level removed
    if not np.isfinite(star).any():
        return None
    column = int(np.nanargmax(np.nansum(star, axis=0)))
    along = np.nan_to_num(star[:, column])
    if along.max() > 0:
        bright = np.flatnonzero(along >= bright_fraction * along.max())
    else:
        bright = np.arange(frame.shape[0])
    return column, (int(bright[0]), int(bright[-1]) + 1)
