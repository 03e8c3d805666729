"""Measure and undo sub-pixel shifts of 1D spectra and cross-dispersion profiles.

Four kernels, all vectorised over integrations (leading axis of length
``n``, possibly 0):

:func:`cross_dispersion_profile`
    Collapse a block of frames over a range of rows into one
    cross-dispersion profile per integration.
:func:`median_template`
    Median signal over integrations, after matching their flux scales.
:func:`measure_shifts`
    Shift, in pixels, of each 1D signal relative to a template.
:func:`resample`
    Re-sample each signal (and its error) onto the template's pixel grid.

Notes
-----
**Method.** Each signal :math:`y_i` is modelled as a scaled, offset and
shifted copy of the template :math:`T`,

.. math:: y_i(x_k) \\approx a_i\\,T(x_k - s_i) + b_i ,

and :math:`(s_i, a_i, b_i)` are found by (optionally weighted) non-linear
least squares with Gauss-Newton iterations [2]_, for all integrations at once.
:math:`T` is the template interpolated by a quintic interpolating spline,
whose analytic derivative gives the Jacobian column
:math:`\\partial y / \\partial s = -a\\,T'(x - s)`.  The starting point is
the integer lag that maximises the Pearson correlation coefficient between the
signal and the integer-shifted template, refined by a three-point parabola,
with the scale and offset of the linear fit at that lag; that search ignores
``ceil(max_shift) + 2`` samples at each end, so every lag sees the same
samples.  The template is normally the exposure's median, so shifts sit
near 0: a start half a pixel or more from 0 (on a faint star, often a noise
peak of the search) is also fitted from 0, and the fit from the search is
kept only if both reach the same minimum or its sum of squares is lower by
more than ``LAG_START_CHI2`` (25) times the residual variance.  The fit then
uses, per integration, every finite signal sample whose position in the
template at the starting shift lies at least 2 samples inside the
template's ends and clear of its non-finite samples: the shifted template
is never extrapolated, the set of samples does not change between
iterations (the cost function has no jumps), and a feature at a signal's end
(the throughput edge near the last rows of a subarray) still constrains the
shift.

**Why this method.**

* Scale and offset are free parameters, so changes in flux (transit,
  systematics) and in background do not bias the shift, and no detrending or
  normalisation of the signals is needed.
* The cost is a sum over a fixed set of samples, so the least-squares minimum
  of a noiseless signal sits at the true shift, up to the interpolation error
  of the template.  With a quintic spline that error is ~1e-5 px on the
  smooth test spectra and ~3e-5 px on a Gaussian profile of sigma 1.6 px
  (a cubic spline gives ~5e-4 px on the same profile).
* For white noise, least squares with inverse-variance weights attains the
  Cramér-Rao bound of a shift measured against a known template [1]_;
  unweighted, it stays within ~20 % of it on photon-noise-limited spectra.
* Gauss-Newton converges in a few iterations from a start within half a
  pixel; each iteration is two spline evaluations on an ``(n, m)`` grid, so
  1000 LRS spectra take a fraction of a second.  On signals dominated by
  noise (a faint star's spectra) it converges only linearly, so a fit also
  ends when its update is below a small fraction (``tol_sigma``) of the
  shift's own formal error.

ExoTiC-MIRI 1.0.1 [3]_ instead takes the peak of the *unnormalised* full
cross-correlation of cubic-upsampled signals, each detrended by the straight
line through its end samples.  That product sum depends on the lag not only
through the alignment of features but also through how much of the bright
part of the signals overlaps.  When the spectrum is still bright at an end
of the array, that overlap term dominates (without the detrending the
recovered fraction of a known shift is ~0) and the detrending only partly
compensates: on the analytic spectra of the tests ExoTiC-MIRI recovers
-5 % of the shifts for a spectrum still rising at its last row and 200 % for
one falling off over rows ~400-415; it is right to ~1 % only when the
spectrum falls to zero well before the end, as MIRISim spectra do.  It also
raises ``ValueError: zero-size array`` as soon as a spectrum contains one NaN
(the correlation is all NaN, its arg-max is the first lag and the fit window
around it is empty).  See ``tests/test_kernel_align.py``.

**Limitations.** A continuum close to an exponential is degenerate with a
flux change (:math:`e^{(x-s)/L} = e^{-s/L} e^{x/L}`), so the dispersion shift
is constrained by the features and by the throughput edges, and its noise is
correspondingly larger than a naive estimate from the continuum slope.
Features sharper than a pixel (the abrupt cut-off of MIRISim spectra) are
undersampled and give a ~1.5 % scale error on the shifts.  The template
should be built with :func:`median_template`: a plain median of signals that
differ in both flux and position is distorted (it scales the shifts by a
few tenths of a per cent for +/-2 % flux and +/-0.5 pixel shifts).

A shift that cannot be measured (too few usable samples, flat template,
singular fit, no convergence, non-positive fitted scale or
``|shift| > max_shift``) is NaN; the kernels never raise on such data.

References
----------
.. [1] Bouchy, F., Pepe, F. & Queloz, D. 2001, A&A, 374, 733,
   "Fundamental photon noise limit to radial velocity measurements".
.. [2] Nocedal, J. & Wright, S. J. 2006, *Numerical Optimization*, 2nd ed.,
   Springer, section 10.3 (Gauss-Newton method).
.. [3] Grant, D. ExoTiC-MIRI 1.0.1, ``exotic_miri.stage_2.AlignSpectraStep``,
   https://github.com/Exo-TiC/ExoTiC-MIRI (the reference this module
   replaces).
"""
import functools
import math
from fractions import Fraction

import numpy as np

from ..exceptions import ParameterError
from ._validate import real
from .background import nanmedian
from .regrid import resample, resample_with_sky  # re-exported: undo the shifts measured here

__all__ = ["cross_dispersion_profile", "median_template", "measure_shifts", "resample",
           "resample_with_sky", "shift_margin"]


#: A shift fitted from a lag-search start half a pixel or more from 0 is kept
#: only if its sum of squares is lower than the fit from 0 by more than this,
#: in units of the residual variance (a 5-sigma improvement for one parameter).  On
#: simulated faint stars 9 let more noise peaks of the lag search win; 16 recovered
#: shifts of 2 px rms a little better but let more noise peaks win at 1/20 of the
#: default flux on SLITLESSPRISM_IPS; JWST's pointing moves far less than 2 px.
LAG_START_CHI2 = 25.0


def shift_margin(max_shift):
    """Samples the integer-lag search of :func:`measure_shifts` leaves out at each end, for `max_shift`.

    ``ceil(max_shift) + 2``: the integer-lag search covers ``|lag| <=
    ceil(max_shift) + 1``, and one more sample keeps the shifted template
    inside the data.

    Parameters
    ----------
    max_shift : float
        Largest shift measured, in pixels (samples).

    Returns
    -------
    int
        Samples left out at each end.

    Examples
    --------
    >>> shift_margin(5.0), shift_margin(0.5)
    (7, 3)
    """
    return math.ceil(max_shift) + 2


def cross_dispersion_profile(data, *, rows, cols):
    """Collapse frames over a band of rows into cross-dispersion profiles.

    The profile is the signal from which :func:`measure_shifts` measures the
    cross-dispersion (x) position of the trace, as ExoTiC-MIRI does, over the
    same default rows and columns.

    Parameters
    ----------
    data : array_like, shape (n, r, c)
        Frames (any flux unit), integration first, then row (dispersion) and
        column (cross-dispersion).
    rows : tuple of int
        Half-open range ``[rows[0], rows[1])`` of rows to sum over, in pixels
        (the steps use :data:`xmiri.defaults.TRACE_ROWS`, the high
        signal-to-noise part of the LRS trace).
    cols : tuple of int
        Half-open range ``[cols[0], cols[1])`` of columns kept, in pixels
        (:data:`xmiri.defaults.TRACE_COLUMNS`).

    Returns
    -------
    ndarray, shape (n, cols[1] - cols[0]), float64
        Profiles: per integration and column, the sum over the rows.  NaN pixels are
        ignored and the sum of the remaining ones is scaled by
        ``n_rows / n_finite`` (the NaN-aware mean times the number of rows), so
        that a partly masked column stays on the scale of its neighbours; it
        equals the plain sum when there is no NaN.  A column with no finite
        pixel is NaN.

    Raises
    ------
    xmiri.exceptions.ParameterError
        If ``data`` is not 3-D or the ranges are empty or out of bounds.

    See Also
    --------
    measure_shifts : Shift of each profile relative to a template.

    Examples
    --------
    >>> import numpy as np
    >>> cross_dispersion_profile(np.ones((2, 416, 72)), rows=(200, 390), cols=(12, 68)).shape
    (2, 56)
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise ParameterError(f"data must have shape (n, row, col); got {data.ndim} dimension(s)")
    r0, r1 = (int(v) for v in rows)
    c0, c1 = (int(v) for v in cols)
    _, n_row, n_col = data.shape
    if not (0 <= r0 < r1 <= n_row):
        raise ParameterError(f"rows={rows!r} must satisfy 0 <= rows[0] < rows[1] <= {n_row}")
    if not (0 <= c0 < c1 <= n_col):
        raise ParameterError(f"cols={cols!r} must satisfy 0 <= cols[0] < cols[1] <= {n_col}")
    block = np.asarray(data[:, r0:r1, c0:c1], dtype=np.float64)
    finite = np.isfinite(block)
    n_finite = finite.sum(axis=1)
    total = np.where(finite, block, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = total * ((r1 - r0) / n_finite)
    profile[n_finite == 0] = np.nan
    return profile


def median_template(signals):
    """Median of 1D signals over integrations, after matching their scales.

    A plain per-sample median of signals that differ both in flux scale and
    in position picks different integrations at different samples (the
    median-flux one where the signal is flat, the median-shift one where it
    is steep), which distorts the template: with +/-2 % scale changes and
    +/-0.5 pixel shifts it scales the measured shifts by a few tenths of a
    per cent (``tests/test_kernel_align.py``).  Dividing
    each signal by its least-squares scale relative to the plain median
    first removes that effect.

    Parameters
    ----------
    signals : array_like, shape (n, m)
        One 1D signal per integration (any unit).  Non-finite samples are
        ignored.

    Returns
    -------
    ndarray, shape (m,), float64
        The template, ``nanmedian(signals / c[:, None], axis=0) * nanmedian(c)`` where
        ``c[i]`` is the least-squares scale of ``signals[i]`` against the plain
        NaN-aware median.  A sample with no finite value (or any sample when
        ``n == 0``) is NaN.

    Raises
    ------
    xmiri.exceptions.ParameterError
        If ``signals`` is not 2-D.

    See Also
    --------
    measure_shifts : Shifts of the signals relative to the template.

    Examples
    --------
    >>> import numpy as np
    >>> median_template(np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])).round(6)
    array([1.5, 3. , 4.5])
    """
    y = np.asarray(signals, dtype=np.float64)
    if y.ndim != 2:
        raise ParameterError(f"signals must have shape (n, m); got {y.ndim} dimension(s)")
    if y.shape[0] == 0:
        return np.full(y.shape[1], np.nan)
    plain = nanmedian(y, axis=0)  # warning-free: all-NaN samples give NaN
    both = np.isfinite(y) & np.isfinite(plain)
    p0 = np.where(both, plain, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = (np.where(both, y, 0.0) * p0).sum(axis=1) / (p0 * p0).sum(axis=1)
    scale[~(np.isfinite(scale) & (scale > 0))] = np.nan
    if np.isnan(scale).all():
        return plain
    with np.errstate(invalid="ignore", divide="ignore"):
        return nanmedian(y / scale[:, None], axis=0) * nanmedian(scale)


def _masked_linear_fit(y, t, w):
    """Per-row weighted least squares ``y ~ a t + b``.

    ``y`` (n, m), ``t`` and ``w`` broadcastable to it; entries with ``w == 0``
    must still be finite.  Returns the weighted Pearson correlation
    coefficient, ``a`` and ``b``, each (n,), NaN where undefined.
    """
    sw = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        my = (w * y).sum(axis=-1) / sw
        mt = (w * t).sum(axis=-1) / sw
        dy = y - my[:, None]
        dt = t - mt[:, None]
        syy = (w * dy * dy).sum(axis=-1)
        stt = (w * dt * dt).sum(axis=-1)
        syt = (w * dy * dt).sum(axis=-1)
        r = syt / np.sqrt(syy * stt)
        a = syt / stt
        b = my - a * mt
    return r, a, b


@functools.cache
def _uniform_bspline_weights(degree):
    """Polynomial coefficients of the uniform B-spline basis of `degree` on one knot interval.

    On a unit-spaced knot interval ``[j, j + 1)`` exactly ``degree + 1`` B-splines of
    the given degree are non-zero; with ``phi = x - j`` the ``r``-th of them (the one
    whose support starts ``degree - r`` knots before ``j``) equals
    ``sum(value[e, r] * phi**e)``, and its derivative ``sum(slope[e, r] * phi**e)``.
    The pieces of the cardinal B-spline are built exactly, in rational arithmetic, from
    the Cox-de Boor recursion on the integer knots
    ``M_d(x) = (x M_{d-1}(x) + (d + 1 - x) M_{d-1}(x - 1)) / d``, then rounded once.

    Parameters
    ----------
    degree : int
        Spline degree, ``>= 0``.

    Returns
    -------
    value, slope : ndarray, shape (degree + 1, degree + 1), float64
        Read-only coefficients, power of ``phi`` first, then the basis function.

    Examples
    --------
    >>> value, slope = _uniform_bspline_weights(1)
    >>> value.tolist(), slope.tolist()
    ([[1.0, 0.0], [-1.0, 1.0]], [[-1.0, 1.0], [0.0, 0.0]])
    """
    # pieces[q][e]: coefficient of phi**e of the cardinal B-spline on [q, q + 1)
    pieces = [[Fraction(1)]]
    for d in range(1, degree + 1):
        new = []
        for q in range(d + 1):
            acc = [Fraction(0)] * (d + 1)
            if q < d:  # x M_{d-1}(x) with x = q + phi
                for e, cf in enumerate(pieces[q]):
                    acc[e] += q * cf
                    acc[e + 1] += cf
            if q > 0:  # (d + 1 - x) M_{d-1}(x - 1)
                for e, cf in enumerate(pieces[q - 1]):
                    acc[e] += (d + 1 - q) * cf
                    acc[e + 1] -= cf
            new.append([cf / d for cf in acc])
        pieces = new
    # basis function r on the interval is the cardinal piece degree - r
    value = np.array([[float(pieces[degree - r][e]) for r in range(degree + 1)]
                      for e in range(degree + 1)])
    slope = np.zeros_like(value)
    slope[:-1] = value[1:] * np.arange(1, degree + 1)[:, None]  # exact: small integer times
    value.flags.writeable = False
    slope.flags.writeable = False
    return value, slope


def _horner(coef, phi):
    """``sum(coef[e] * phi[:, None]**e)`` over ``e``, shape ``(phi.size, coef.shape[1])``."""
    out = np.repeat(coef[-1][None, :], phi.size, axis=0)
    for row in coef[-2::-1]:
        out *= phi[:, None]
        out += row
    return out


class _TemplateSpline:
    """A template spline and its derivative evaluated along shifted pixel grids.

    Evaluates ``spline(k - s[i])`` and its derivative for ``k = 0 .. m - 1`` and
    every shift ``s[i]``, equal to scipy's evaluation to rounding but mostly with
    whole-array arithmetic.  Within a row every point has the same fractional
    position ``phi`` in its knot interval, so on the intervals whose ``2 * degree + 2``
    surrounding knots are unit-spaced integers the spline is a fixed
    ``degree + 1``-tap combination of consecutive B-spline coefficients, with weights
    (:func:`_uniform_bspline_weights`) that depend on the row only: one gather of
    coefficients per row and one batched product, instead of a de Boor evaluation
    per point in scipy's ``evaluate_spline`` (which also holds the GIL).  Points in
    the other intervals (the ends, where the boundary knots repeat) and beyond the
    knots (extrapolation) are evaluated by scipy.

    Parameters
    ----------
    x : ndarray, shape (p,)
        Increasing sample positions of the template, in pixels.
    values : ndarray, shape (p,)
        Template at `x`.
    degree : int
        Degree of the interpolating spline (odd, as ``measure_shifts`` allows).
    m : int
        Length of the pixel grids ``k = 0 .. m - 1``.

    Notes
    -----
    The fast path is used only when `x` is ``0 .. m - 1`` (a template without
    non-finite samples), the degree is at least 2 and the knots of the spline, read
    from ``spline.t``, hold one run of unit-spaced integer knots; otherwise, or for
    non-finite shifts, every point goes through scipy.  A point that lies within
    rounding of a knot may be taken in the interval on either side of it (``phi``
    near 1 or near 0); from degree 2 on the spline and its derivative are
    continuous there, so that changes nothing beyond rounding, whereas the
    derivative of a linear spline jumps at every knot, hence no fast path for it.
    """

    def __init__(self, x, values, degree, m):
        from scipy.interpolate import make_interp_spline

        self.spline = make_interp_spline(x, values, k=degree)
        self.dspline = self.spline.derivative()
        self.m = m
        self.degree = degree
        self.fast = False
        if degree < 2 or not np.array_equal(x, np.arange(m)):
            return
        knots = self.spline.t
        n_coef = self.spline.c.size
        # interval l (knots[l] <= x < knots[l + 1], degree <= l < n_coef) uses coefficients
        # l - degree .. l and knots l - degree .. l + degree + 1
        win = np.lib.stride_tricks.sliding_window_view(knots, 2 * degree + 2)[:n_coef - degree]
        ell = np.arange(degree, n_coef)
        left = knots[ell]
        uniform = (np.all(win == left[:, None] + np.arange(-degree, degree + 2), axis=1)
                   & (left == np.round(left)))
        ell = ell[uniform]
        if ell.size == 0:
            return
        offset = ell - left[uniform].astype(np.intp)  # l = j + offset on uniform intervals
        if np.any(offset != offset[0]) or np.any(np.diff(ell) != 1):
            return
        self.fast = True
        self.j_lo = int(ell[0] - offset[0])  # uniform intervals [j, j + 1): j_lo <= j <= j_hi
        self.j_hi = int(ell[-1] - offset[0])
        self.offset = int(offset[0])
        self.weights = np.stack(_uniform_bspline_weights(degree), axis=-1)  # (power, tap, 2)

    def __call__(self, s):
        """Spline and derivative at ``k - s[:, None]``, each of shape ``(s.size, m)``.

        Parameters
        ----------
        s : ndarray, shape (n,)
            Shift of each row, in pixels.

        Returns
        -------
        value, slope : ndarray, shape (n, m), float64
            ``spline(k - s[:, None])`` and its derivative.
        """
        m, p = self.m, self.degree
        k = np.arange(m)
        if not self.fast or not np.all(np.isfinite(s)):
            u = k[None, :] - s[:, None]
            return self.spline(u), self.dspline(u)
        # point (i, k) lies in interval j = k + f[i], at phi[i] from its left knot
        f = np.floor(-s)
        phi = -s - f
        f = f.astype(np.intp)
        start = f + (self.offset - p)  # coefficient index of tap 0 at k = 0
        coef = np.take(self.spline.c, start[:, None] + np.arange(m + p), mode="clip")
        taps = np.lib.stride_tricks.sliding_window_view(coef, p + 1, axis=1)  # (n, m, tap)
        out = np.empty((2,) + coef.shape[:1] + (m,))
        weights = _horner(self.weights.reshape(p + 1, -1), phi).reshape(-1, p + 1, 2)
        np.matmul(taps, weights, out=out.transpose(1, 2, 0))
        value, slope = out
        # the ends (non-uniform knots, extrapolation): scipy, at the same points
        ends = (k[None, :] < (self.j_lo - f)[:, None]) | (k[None, :] > (self.j_hi - f)[:, None])
        rows, cols = np.nonzero(ends)
        if rows.size:
            u = cols - s[rows]
            value[rows, cols] = self.spline(u)
            slope[rows, cols] = self.dspline(u)
        return value, slope


def measure_shifts(signals, template, *, weights=None, max_shift, spline_order, min_samples, max_iter,
                   tol, tol_sigma=0.0):
    """Shift of each 1D signal relative to a template, in pixels.

    Fits ``signals[i](x) ~ a_i * template(x - shift_i) + b_i`` by
    Gauss-Newton least squares on a spline interpolation of the template,
    for all integrations at once (see the module docstring for the method
    and why it differs from ExoTiC-MIRI).

    Parameters
    ----------
    signals : array_like, shape (n, m)
        One 1D signal per integration (a spectrum along the dispersion axis,
        or a cross-dispersion profile), on the same pixel grid as
        ``template``.  Non-finite samples are ignored.
    template : array_like, shape (m,)
        Reference signal, e.g. :func:`median_template` of ``signals``.
        The spline interpolates its finite samples only, and signal samples
        that would need the template within 2 pixels of a non-finite one are
        ignored.
    weights : array_like, optional
        Non-negative least-squares weights broadcastable to ``(n, m)``,
        e.g. ``1 / errors**2`` (inverse variance, in inverse signal units
        squared).  Samples with zero or non-finite weight are ignored.  The
        default weighs all finite samples equally.  The integer-lag start is
        always unweighted.
    max_shift : float
        Largest measurable ``|shift|``, in pixels (the steps use
        :data:`xmiri.defaults.MAX_SHIFT`).  The integer-lag search
        covers ``|lag| <= ceil(max_shift) + 1`` and ignores
        ``ceil(max_shift) + 2`` samples at each end (the fit itself uses all
        samples whose shifted template position is 2 samples inside its
        ends); fitted shifts beyond ``max_shift`` are NaN.
    spline_order : {1, 3, 5, 7, 9}
        Degree of the interpolating spline through the template (the steps
        use :data:`xmiri.defaults.SHIFT_SPLINE_ORDER`).  A quintic spline is
        ~15 times more accurate than a cubic one on a Gaussian of sigma 1.6
        pixels (bias ~3e-5 pixel instead of 5e-4).
    min_samples : int
        Minimum number of usable samples for a fit, at least 4
        (:data:`xmiri.defaults.SHIFT_MIN_SAMPLES`).
    max_iter : int
        Maximum number of Gauss-Newton iterations
        (:data:`xmiri.defaults.SHIFT_MAX_ITER`).
    tol : float
        Convergence threshold on the shift update, in pixels
        (:data:`xmiri.defaults.SHIFT_TOL`).
    tol_sigma : float, optional
        Also converged when the shift update is below `tol_sigma` times the
        shift's formal 1-sigma error (the residual variance times the
        inverse normal matrix), >= 0 (the steps use
        :data:`xmiri.defaults.SHIFT_TOL_SIGMA`).  0 (default): `tol` alone.
        Gauss-Newton converges only linearly on signals whose residuals are
        dominated by noise; `tol` alone then leaves faint stars' shifts
        unconverged (NaN) although they are known to a tiny fraction of
        their error.

    Returns
    -------
    ndarray, shape (n,), float64
        Shift of each signal in pixels: positive when the signal is displaced
        toward larger index relative to the template.  NaN where the shift
        cannot be measured: fewer than ``min_samples`` usable samples, flat or
        (nearly) all-NaN template, singular fit, fitted scale ``a_i <= 0``,
        no convergence within ``max_iter`` iterations, or ``|shift| >
        max_shift``.

    Raises
    ------
    xmiri.exceptions.ParameterError
        If the shapes do not match or a parameter is out of range.  Data that
        merely cannot be measured never raise.

    See Also
    --------
    median_template : A template robust to flux changes.
    resample : Move the signals onto the template's grid.

    Notes
    -----
    A start half a pixel or more from 0 is also fitted from 0, and the fit
    from the lag search is kept only when both reach the same minimum (to
    0.1 pixel) or its sum of squares is lower by more than
    :data:`LAG_START_CHI2` times the residual variance: the template is
    normally the signals' median, so their shifts sit near 0, and on faint
    signals the lag search often peaks on noise.

    The cost is a handful of evaluations of the template spline and its
    derivative on an ``(n, m)`` grid; there is no loop over integrations
    (only over the ``2 * ceil(max_shift) + 3`` trial lags and the
    Gauss-Newton iterations).  All points of a row share the same fractional
    shift, so away from the template's ends the spline and its derivative are
    evaluated as a fixed ``spline_order + 1``-tap filter of the B-spline
    coefficients (whole-array arithmetic), and only the few end samples by
    scipy's point-by-point evaluation (all samples for a template with
    non-finite samples, or a linear spline).

    For noiseless, well-sampled signals (features wider than ~1.5 pixels)
    the interpolation error of the template limits the accuracy to ~1e-4
    pixel or better.  Features sharper than a pixel (e.g. the abrupt
    short-wavelength cut-off of MIRISim spectra) are undersampled: there the
    error grows to ~1e-2 pixel at ``|shift| = 0.5`` (a ~1.5 % scale error
    on the shift), proportionally less for smaller shifts.

    References
    ----------
    .. [1] Nocedal, J. & Wright, S. J. 2006, *Numerical Optimization*, 2nd
       ed., Springer, section 10.3.
    .. [2] Bouchy, F., Pepe, F. & Queloz, D. 2001, A&A, 374, 733.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(60.0)
    >>> template = np.exp(-0.5 * ((x - 30.0) / 2.0) ** 2)
    >>> signals = 2.0 * np.exp(-0.5 * ((x - 30.25) / 2.0) ** 2)[None, :]
    >>> measure_shifts(signals, template, max_shift=5.0, spline_order=5, min_samples=10, max_iter=30,
    ...                tol=1e-6).round(4)
    array([0.25])
    """
    y = np.asarray(signals, dtype=np.float64)
    t = np.asarray(template, dtype=np.float64)
    if y.ndim != 2:
        raise ParameterError(f"signals must have shape (n, m); got {y.ndim} dimension(s)")
    if t.ndim != 1 or t.size != y.shape[1]:
        raise ParameterError(
            f"template must have shape ({y.shape[1]},) to match signals; got {t.shape}")
    if weights is None:
        wts = np.ones(y.shape)
    else:
        try:
            wts = np.broadcast_to(np.asarray(weights, dtype=np.float64), y.shape)
        except ValueError:
            raise ParameterError(
                f"weights of shape {np.shape(weights)} do not broadcast to signals {y.shape}"
            ) from None
        if np.any(wts < 0):
            raise ParameterError("weights must be non-negative")
    if not (np.isfinite(max_shift) and max_shift > 0):
        raise ParameterError(f"max_shift must be a positive number of pixels; got {max_shift!r}")
    if spline_order not in (1, 3, 5, 7, 9):
        raise ParameterError(f"spline_order must be 1, 3, 5, 7 or 9; got {spline_order!r}")
    if int(min_samples) < 4:
        raise ParameterError(f"min_samples must be at least 4; got {min_samples!r}")
    if int(max_iter) < 1 or not tol > 0:
        raise ParameterError(f"max_iter must be >= 1 and tol > 0; got {max_iter!r}, {tol!r}")
    sigma_fraction = real("tol_sigma", tol_sigma, minimum=0.0)
    min_samples = int(min_samples)
    n, m = y.shape
    shifts = np.full(n, np.nan)

    t_finite = np.isfinite(t)
    if n == 0 or t_finite.sum() < max(min_samples, spline_order + 1):
        return shifts
    if np.ptp(t[t_finite]) == 0:  # flat template: no shift information
        return shifts
    margin = shift_margin(max_shift)
    lag_max = margin - 1
    if m - 2 * margin < min_samples:
        return shifts

    k = np.arange(m)
    core = (k >= margin) & (k < m - margin)
    usable = np.isfinite(y) & np.isfinite(wts) & (wts > 0)
    y_ok = usable & core  # the lag search: the same samples for every lag
    # Work in units of each row's peak |value| (and peak weight), which leaves
    # the shift unchanged and keeps the sums far from over- or underflow.
    y0 = np.where(usable, y, 0.0)
    y_peak = np.abs(y0).max(axis=1)
    y0 /= np.where(y_peak > 0, y_peak, 1.0)[:, None]
    wts = np.where(usable, wts, 0.0)
    w_peak = wts.max(axis=1)
    wts = wts / np.where(w_peak > 0, w_peak, 1.0)[:, None]
    t = t / np.abs(t[t_finite]).max()

    # The spline interpolates the finite template samples only (bridging any
    # gap smoothly); signal samples that would need the template within 2
    # pixels of a gap are left out of the fit.
    bad = ~t_finite
    bad_near = bad.copy()
    for d in (1, 2):
        bad_near[d:] |= bad[:-d]
        bad_near[:-d] |= bad[d:]
    t_fill = np.where(t_finite, t, 0.0)  # masked anyway in the lag search

    # 1. Start: integer lag maximising the Pearson correlation between the
    #    signal and template[k - lag], on the same core samples for all lags.
    lags = np.arange(-lag_max, lag_max + 1)
    r_lag, a_lag, b_lag = np.empty((3, lags.size, n))
    for j, lag in enumerate(lags):
        idx = k - lag  # stays within [1, m - 2] on the core samples
        idx_c = np.clip(idx, 0, m - 1)
        w_lag = (y_ok & ~bad[idx_c]).astype(np.float64)
        r_lag[j], a_lag[j], b_lag[j] = _masked_linear_fit(y0, t_fill[idx_c][None, :], w_lag)
    r_search = np.where(np.isfinite(r_lag), r_lag, -np.inf)
    j_best = np.argmax(r_search[1:-1], axis=0) + 1  # both neighbours exist
    rows = np.arange(n)
    r_m, r_0, r_p = (r_search[j_best + d, rows] for d in (-1, 0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        curv = r_m - 2.0 * r_0 + r_p
        frac = np.where((curv < 0) & np.isfinite(curv), 0.5 * (r_m - r_p) / curv, 0.0)
    s = lags[j_best] + np.clip(frac, -0.5, 0.5)
    a = a_lag[j_best, rows]
    b = b_lag[j_best, rows]
    alive = np.isfinite(r_0) & np.isfinite(a) & np.isfinite(b) & (a > 0)
    s = np.where(alive, s, 0.0)

    # 2. Fixed per-integration weights: usable signal samples whose template
    #    position (at the start) lies 2 samples inside the template's ends and
    #    clear of its gaps, so the fit sees a signal's ends too (a throughput
    #    edge near the last rows of a subarray carries most of the shift).
    def sample_weights(start, rows):
        pos = k[None, :] - start[:, None]
        inside = (pos >= 2) & (pos <= m - 3)
        u0 = np.clip(np.floor(pos).astype(np.intp), 0, m - 2)
        w = np.where(usable[rows] & inside & ~bad_near[u0] & ~bad_near[u0 + 1], wts[rows], 0.0)
        return np.sqrt(w), np.count_nonzero(w, axis=1)

    # 3. Gauss-Newton on (shift, scale, offset) from these starts.
    shifted_template = _TemplateSpline(k[t_finite], t[t_finite], spline_order, m)
    fit = functools.partial(_gauss_newton, shifted_template=shifted_template, lag_max=lag_max,
                            min_samples=min_samples, max_iter=int(max_iter), tol=tol,
                            sigma_fraction=sigma_fraction)
    sqrt_w, n_used = sample_weights(s, slice(None))
    start = s  # the fit returns new arrays
    s, a, b, measured, cost = fit(y0, sqrt_w, n_used, s, a, b, alive)

    # 4. The template is the exposure's median, so shifts sit near 0: a start
    #    half a pixel or more away (a noise peak of the lag search on a faint
    #    star, or a real jump) is fitted again from 0, and the fit from the
    #    lag search is kept only when both reach the same minimum (its samples
    #    were chosen for it) or its sum of squares is lower by more than
    #    LAG_START_CHI2 (in units of the residual variance).
    far = np.flatnonzero(alive & (np.abs(start) >= 0.5))
    if far.size:
        j0 = lag_max  # lags[j0] == 0
        a0, b0 = a_lag[j0, far], b_lag[j0, far]
        zero = np.zeros(far.size)
        sw0, n0 = sample_weights(zero, far)
        alive0 = np.isfinite(r_lag[j0, far]) & np.isfinite(a0) & np.isfinite(b0) & (a0 > 0)
        s0, a0, b0, measured0, cost0 = fit(y0[far], sw0, n0, zero, a0, b0, alive0)
        measured_far = measured[far]  # max_shift applies to the chosen fit only (below)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_sample = cost[far] / np.maximum(n_used[far], 1)
            chi2_gain = (cost0 / np.maximum(n0, 1) / per_sample - 1.0) * np.maximum(n0 - 3, 1)
        same = np.abs(s0 - s[far]) < 0.1  # one minimum: the lag start's samples fit it best
        keep_lag = measured_far & (~measured0 | same | (chi2_gain > LAG_START_CHI2))
        take = far[~keep_lag]
        s[take], a[take], measured[take] = s0[~keep_lag], a0[~keep_lag], measured0[~keep_lag]

    good = measured & (a > 0) & (np.abs(s) <= max_shift)
    shifts[good] = s[good]
    return shifts


def _gauss_newton(y0, sqrt_w, n_used, s, a, b, alive, *, shifted_template, lag_max, min_samples,
                  max_iter, tol, sigma_fraction):
    """Gauss-Newton on (shift, scale, offset) of each row of `y0` from (s, a, b).

    Rows that are not `alive` or have fewer than `min_samples` samples of
    non-zero weight are not fitted.  A step that raised a row's sum of
    squares is halved back towards the last point (on a faint star's spectra
    the full steps can cycle around the minimum).  A row has converged when
    its shift update is below `tol`, or below `sigma_fraction` times the
    shift's formal error.  Returns (s, a, b, measured, cost): the parameters
    (new arrays), True where the fit converged, and the weighted sum of
    squares at the last accepted point.
    """
    n = y0.shape[0]
    s, a, b = s.copy(), a.copy(), b.copy()
    alive = alive & (n_used >= min_samples)
    converged = np.zeros(n, dtype=bool)
    active = alive.copy()
    last_cost = np.full(n, np.inf)
    last = np.empty((3, n))  # (s, a, b) where last_cost was measured
    for _ in range(max_iter):
        ia = np.flatnonzero(active)
        if ia.size == 0:
            break
        sel = ia if ia.size < n else slice(None)  # every row: views, not copies
        tv, dtv = shifted_template(s[ia])
        sw = sqrt_w[sel]
        res = (y0[sel] - a[ia, None] * tv - b[ia, None]) * sw
        cost = np.einsum("nk,nk->n", res, res)
        worse = cost > last_cost[ia] * (1.0 + 1e-9)
        if worse.any():
            back = ia[worse]
            for v, p in zip((s, a, b), last):
                v[back] = 0.5 * (v[back] + p[back])
            keep = ~worse
            ia, tv, dtv, res, cost = ia[keep], tv[keep], dtv[keep], res[keep], cost[keep]
            sw = sqrt_w[ia]
            if ia.size == 0:
                continue
        last_cost[ia] = cost
        last[:, ia] = s[ia], a[ia], b[ia]
        # the Jacobian's columns -a T', T and 1, times sw: written in place (1 * sw is sw)
        jac = np.empty(tv.shape + (3,))
        np.multiply(-a[ia, None] * dtv, sw, out=jac[..., 0])
        np.multiply(tv, sw, out=jac[..., 1])
        jac[..., 2] = sw
        jtj = np.einsum("nkp,nkq->npq", jac, jac)
        jtr = np.einsum("nkp,nk->np", jac, res)
        # Solve with Jacobi preconditioning; a scale-free determinant test
        # flags singular systems (flat template, degenerate samples).
        diag = np.einsum("npp->np", jtj)
        ok = np.all(diag > 0, axis=1)
        d_inv = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
        norm = jtj * d_inv[:, :, None] * d_inv[:, None, :]
        ok &= np.linalg.det(norm) > 1e-12
        norm[~ok] = np.eye(3)
        step = np.linalg.solve(norm, (jtr * d_inv)[..., None])[..., 0] * d_inv
        ds = np.clip(step[:, 0], -0.5, 0.5)  # damp wild first steps
        s[ia] += np.where(ok, ds, 0.0)
        a[ia] += np.where(ok, step[:, 1], 0.0)
        b[ia] += np.where(ok, step[:, 2], 0.0)
        failed = ~ok | ~np.isfinite(s[ia]) | (np.abs(s[ia]) > lag_max)
        small = np.abs(ds) < tol
        if sigma_fraction > 0:  # the shift's formal error: residual variance x (J^T J)^-1 [0, 0]
            unit = np.zeros((ia.size, 3, 1))
            unit[:, 0, 0] = 1.0
            inv_00 = np.linalg.solve(norm, unit)[:, 0, 0] * d_inv[:, 0] ** 2
            variance = cost / np.maximum(n_used[ia] - 3, 1)
            small |= np.abs(ds) < sigma_fraction * np.sqrt(variance * np.abs(inv_00))
        done = ~failed & small
        alive[ia[failed]] = False
        converged[ia[done]] = True
        active[ia[failed | done]] = False

    return s, a, b, alive & converged, last_cost
