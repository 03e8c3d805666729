"""Outlier cleaning and spatial profile by windowed column-wise polynomial fits.

This is the vectorised kernel behind xmiri's outlier-cleaning step.  It gives
the same results as the ``CleanOutliersStep`` of ExoTiC-MIRI 1.0.1 [2]_, which fits
one column of one window of one integration at a time with :func:`numpy.polyfit`.
Here all (integration, window, column) triples of a block that share a window
height are fitted at once, by linear least squares with 0/1 weights (the
good-pixel mask) on a fixed orthonormal polynomial basis: fully good columns
need two small matrix products, columns with bad pixels solve their own
small Gram system.  Each rejection pass then refits only the columns that
still hold an outlier; the only Python loops are over window heights,
chunks of integrations and rejection passes.  The final fits make the spatial
profile P of Horne (1986) [1]_.

Algorithm
---------
1. The rows are cut into windows whose heights cycle through
   ``window_heights`` until every row is covered (the last window is cut at
   the bottom of the frame).
2. In every window and column a pixel is *good* if it is finite and none of
   the bits of ``dq_mask`` is set in its DQ value.  A polynomial of degree
   ``poly_order`` in the local row index ``0 .. h - 1`` is fitted by least
   squares to the good pixels.
3. The residuals of the good pixels and their scatter are computed (the
   population standard deviation, or ``MAD_TO_SIGMA * MAD`` when ``robust``).  If
   the largest ``|residual| / scatter`` exceeds ``outlier_threshold``, that
   one pixel is marked bad and the column is refitted; otherwise the column
   is final.
4. Every bad pixel (non-finite, DQ-masked or outlier) is replaced by the
   value of the final fit.
5. The spatial profile is the final fit with negative values set to 0 and
   the columns outside ``[profile_left, profile_right)`` set to 0; each row
   is normalised to unit sum over the kept columns.

Differences from ExoTiC-MIRI 1.0.1
----------------------------------
* DQ bits are selected by an integer bit mask.  (ExoTiC-MIRI decodes bits
  with ``np.array(list('0101')).astype(bool)``, which is all ``True`` under
  numpy >= 2, so any non-zero DQ value is masked there whatever bits were
  asked for.)
* The outlier search of a column stops when its residual scatter is at the
  level of floating-point round-off (below ``1e-10`` times the largest
  absolute good value of the column), or when it has no more good pixels
  than polynomial coefficients (``poly_order + 1``, so the fit interpolates
  them).  In both cases the residuals are pure round-off; ExoTiC-MIRI keeps
  dividing round-off by round-off there and may discard good pixels of an
  exactly polynomial column.
* Columns with fewer good pixels than coefficients (but at least 2) get the
  same minimum-norm solution as :func:`numpy.polyfit` (least squares on the
  column-scaled Vandermonde matrix with ``rcond = n_good * eps``), computed
  by a batched SVD.  Columns with fewer than 2 good pixels are fitted by 0,
  as in ExoTiC-MIRI.
* :func:`count_replaced_near_trace` counts replaced pixels only, while
  ExoTiC-MIRI counts every pixel with a non-zero DQ value (including flags
  set by the JWST pipeline before cleaning).

References
----------
.. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
   spectroscopy", PASP 98, 609.  Table 1, step 5 ("Construct spatial
   profile").
.. [2] Grant, D., ExoTiC-MIRI 1.0.1, ``exotic_miri.stage_2.CleanOutliersStep``,
   https://github.com/Exo-TiC/ExoTiC-MIRI
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np

from ..exceptions import ParameterError
from .background import MAD_TO_SIGMA

__all__ = ["clean_block", "count_replaced_near_trace", "window_edges"]


#: A column whose residual scatter is below this times its largest absolute
#: good value is treated as an exact fit (no outlier search on round-off).
ROUNDOFF_RELATIVE = 1e-10

#: Target number of pixels per block chunk (bounds the temporaries).
_CHUNK_PIXELS = 1 << 18


# --------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------
def _as_int(value, name, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_window_heights(window_heights):
    if isinstance(window_heights, numbers.Integral) and not isinstance(window_heights, bool):
        window_heights = [window_heights]
    try:
        heights = [_as_int(h, "window_heights entries", minimum=1) for h in window_heights]
    except TypeError:
        raise ParameterError(
            f"window_heights must be a sequence of positive integers, got {window_heights!r}"
        ) from None
    if not heights:
        raise ParameterError("window_heights must hold at least one height, got an empty sequence")
    return heights


def window_edges(n_row, window_heights):
    """Start rows and heights of the fitting windows of a frame.

    Heights are taken cyclically from `window_heights` until all rows are
    covered; the last window is truncated at the bottom of the frame.

    Parameters
    ----------
    n_row : int
        Number of rows (dispersion axis) of the frame, in pixels.
    window_heights : sequence of int
        Window heights in pixels, cycled.

    Returns
    -------
    starts : ndarray of int64
        First row of each window, in row order.
    heights : ndarray of int64
        Height (pixels) of each window.

    See Also
    --------
    clean_block : Cleans the windows described here.

    Examples
    --------
    >>> starts, heights = window_edges(23, [10])
    >>> starts.tolist(), heights.tolist()
    ([0, 10, 20], [10, 10, 3])
    """
    n_row = _as_int(n_row, "n_row", minimum=0)
    cycle = np.asarray(_check_window_heights(window_heights), dtype=np.int64)
    n_cycles = -(-n_row // int(cycle.sum())) if n_row else 0
    heights = np.tile(cycle, n_cycles)
    starts = np.concatenate([[0], np.cumsum(heights)[:-1]]).astype(np.int64)[: heights.size]
    keep = starts < n_row
    starts, heights = starts[keep], heights[keep]
    heights = np.minimum(heights, n_row - starts)
    return starts, heights


# --------------------------------------------------------------------------
# Fitting machinery
# --------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _orthonormal_basis(height, n_coef):
    """Orthonormal polynomial basis on rows 0..height-1, shape (height, n_coef).

    Legendre polynomials of the row index scaled to [-1, 1], orthonormalised
    by QR; requires ``height >= n_coef``.  Also returns the row-wise outer
    products, shape (height, n_coef * n_coef), used to build Gram matrices.
    """
    t = np.linspace(-1.0, 1.0, height) if height > 1 else np.zeros(1)
    q, r = np.linalg.qr(np.polynomial.legendre.legvander(t, n_coef - 1))
    q = q * np.sign(np.diag(r))  # deterministic signs
    outer = (q[:, :, None] * q[:, None, :]).reshape(height, n_coef * n_coef)
    q.setflags(write=False)
    outer.setflags(write=False)
    return q, outer


def _fit_orthonormal(y, good, n_good, basis, outer):
    """Least-squares fit of every row of `y` on its good pixels.

    y : (k, h) float64, zero wherever `good` is False; good : (k, h) bool;
    n_good : (k,) good-pixel counts.  Returns the fitted values (k, h).

    Fully good rows need no solve (their Gram matrix is the identity); the
    others solve their small Gram system ``Q^T W Q c = Q^T W y`` followed
    by one step of iterative refinement.  Rows with fewer good pixels than
    coefficients get a meaningless fit here and must be overwritten.
    """
    n_coef = basis.shape[1]
    coef = y @ basis
    partial = np.flatnonzero(n_good < y.shape[1])
    if partial.size:
        w = good[partial].astype(np.float64)
        gram = (w @ outer).reshape(-1, n_coef, n_coef)
        gram[n_good[partial] < n_coef] = np.eye(n_coef)  # singular: placeholder
        c = np.linalg.solve(gram, coef[partial][..., None])[..., 0]
        res = (y[partial] - w * (c @ basis.T)) @ basis  # refinement step
        c += np.linalg.solve(gram, res[..., None])[..., 0]
        coef[partial] = c
    return coef @ basis.T


def _fit_min_norm(y, good, n_coef):
    """numpy.polyfit's minimum-norm fit for columns with few good pixels.

    Reproduces ``np.polyfit(x[good], y[good], n_coef - 1)`` evaluated on all
    rows: least squares on the Vandermonde matrix (decreasing powers of the
    local row index) whose columns are scaled to unit norm over the good
    pixels, with singular values <= ``n_good * eps`` times the largest one
    discarded.  Bad rows are zeroed, which leaves the solution unchanged.
    """
    k, h = y.shape
    vander = np.vander(np.arange(h, dtype=np.float64), n_coef)
    vg = np.where(good[:, :, None], vander, 0.0)
    scale = np.sqrt((vg * vg).sum(axis=1))  # (k, n_coef), > 0 when n_good >= 2
    a = vg / scale[:, None, :]
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    n_good = good.sum(axis=1)
    cutoff = (n_good * np.finfo(np.float64).eps)[:, None] * s[:, :1]
    inv_s = np.where(s > cutoff, 1.0 / np.where(s > 0, s, 1.0), 0.0)
    uty = np.einsum("khm,kh->km", u, np.where(good, y, 0.0))
    coef = np.einsum("kmn,km->kn", vt, uty * inv_s) / scale
    return coef @ vander.T


def _find_outliers(y, fit, good, n_good, floor, n_coef, threshold, robust, axis=-1):
    """The most deviant good pixel of each column, and whether it is an outlier.

    `y`, `fit`, `good` hold the pixels of each column of a window along
    `axis` (`y` is zero at bad pixels); `n_good` and `floor` have that axis
    removed.  Returns (hit, worst): `hit` is True where
    ``|r_worst| / scatter > threshold``, with r the residuals of the good
    pixels and scatter their standard deviation (ddof=0) or
    ``MAD_TO_SIGMA * MAD``; `worst` is the index of the largest ``|r|`` along
    `axis` (first one on ties).  Columns with no more good pixels than
    coefficients, or with a scatter at round-off level (<= `floor`), have
    no outlier.
    """
    res = np.where(good, y - fit, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if robust:
            lo = np.expand_dims(np.maximum(n_good - 1, 0) // 2, axis)
            hi = np.expand_dims(n_good // 2, axis)

            def median(v):
                v = np.sort(np.where(good, v, np.inf), axis=axis)
                return 0.5 * (np.take_along_axis(v, lo, axis) + np.take_along_axis(v, hi, axis))

            scatter = MAD_TO_SIGMA * median(np.abs(res - median(res))).squeeze(axis)
        else:
            # population variance over the good pixels (bad ones hold 0); the
            # mean residual is ~0 (the constant is in the basis), so this
            # one-pass form loses no precision against numpy's two-pass std
            mean = res.sum(axis=axis) / n_good
            sq = (res * res).sum(axis=axis) / n_good - mean * mean
            scatter = np.sqrt(np.maximum(sq, 0.0))
        absres = np.abs(res, out=res)
        worst = np.argmax(absres, axis=axis)
        peak = np.take_along_axis(absres, np.expand_dims(worst, axis), axis).squeeze(axis)
        ok = (n_good > n_coef) & (scatter > floor)
        hit = ok & (peak / np.where(ok, scatter, 1.0) > threshold)
    return hit, worst


def _clean_windows_native(y, good, *, poly_order, outlier_threshold, robust):
    """Fit and reject outliers in every column of every window.

    y : (n_win, h, n_col) float64, one window of one integration per entry
    along axis 0; good : same shape, bool.  Both are modified in place: `y`
    is zeroed and `good` cleared at every bad or rejected pixel.  Returns
    the final fitted values, shape (n_win, h, n_col).

    The first fit and outlier search of all columns run in this layout
    (fully good columns need only two small matrix products); columns with
    masked pixels, too few pixels, or an outlier are then gathered into a
    (k, h) layout and handled there, the rejection passes refitting only
    the columns that lost a pixel.
    """
    n_win, h, n_col = y.shape
    n_coef = poly_order + 1
    np.copyto(y, 0.0, where=~good)
    n_good = good.sum(axis=1)
    floor = ROUNDOFF_RELATIVE * np.abs(y).max(axis=1, initial=0.0)
    options = (n_coef, outlier_threshold, robust)
    enough = n_good >= max(n_coef, 2)  # ExoTiC-MIRI fits 0 to < 2 pixels

    if enough.any():
        basis, outer = _orthonormal_basis(h, n_coef)
        fit = basis @ (basis.T @ y)  # exact for fully good columns
    else:
        basis = outer = None
        fit = np.zeros_like(y)
    win, col = np.nonzero((n_good < h) | ~enough)  # columns with bad pixels or too few
    if win.size:
        yc, gc, nc = y[win, :, col], good[win, :, col], n_good[win, col]
        fc = np.zeros_like(yc)
        ok = enough[win, col]
        if ok.any():
            fc[ok] = _fit_orthonormal(yc[ok], gc[ok], nc[ok], basis, outer)
        few = ~ok & (nc >= 2)
        if few.any():
            fc[few] = _fit_min_norm(yc[few], gc[few], n_coef)
        fit[win, :, col] = fc

    hit, worst = _find_outliers(y, fit, good, n_good, floor, *options, axis=1)
    win, col = np.nonzero(hit)
    if not win.size:
        return fit

    # rejection passes on the columns holding an outlier, in (k, h) layout
    yc, gc, nc, fc = y[win, :, col], good[win, :, col], n_good[win, col], fit[win, :, col]
    floor_c = floor[win, col]
    active, worst = np.arange(win.size), worst[win, col]
    while active.size:
        gc[active, worst] = False
        yc[active, worst] = 0.0
        nc[active] -= 1
        ya, ga, na = yc[active], gc[active], nc[active]
        fa = fc[active] = _fit_orthonormal(ya, ga, na, basis, outer)
        hit, worst = _find_outliers(ya, fa, ga, na, floor_c[active], *options)
        active, worst = active[hit], worst[hit]
    fit[win, :, col] = fc
    good[win, :, col] = gc
    y[win, :, col] = yc
    return fit


# --------------------------------------------------------------------------
# Public kernels
# --------------------------------------------------------------------------
def clean_block(data, dq, *, window_heights, dq_mask=0, poly_order=4, outlier_threshold=4.0,
                profile_left=26, profile_right=47, robust=False, unfitted=0.0, max_gap=None,
                fill_span=None, fill_min_weight=None, fill_max_change=None, bad=None):
    """Replace bad pixels and outliers by windowed polynomial fits; build the spatial profile.

    In each window of rows and each column, a polynomial in the local row
    index is fitted by least squares to the good pixels, rejecting the most
    deviant pixel and refitting while it lies more than `outlier_threshold`
    times the residual scatter away from the fit.  Non-finite, DQ-masked and
    rejected pixels are replaced by the final fit.  The fits, clipped at 0,
    cut to columns ``[profile_left, profile_right)`` and normalised to unit
    sum along each row, form the spatial profile P of Horne (1986).

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col), float
        Integrations of the block (any float dtype, integers are converted;
        any ``n_int >= 0``); rows run along the dispersion axis, columns
        across it.  Any surface brightness or count-rate unit (e.g. MJy/sr
        or DN/s); NaN and infinite pixels are bad.
    dq : array_like of unsigned int, shape (n_int, n_row, n_col), or None
        JWST data-quality flags of `data` (uint32 bit fields).  ``None``
        means no flags.
    window_heights : sequence of int
        Window heights in pixels (rows), cycled until every row is covered;
        the last window is truncated at the frame edge, and a window taller
        than the frame is cut to the frame.
    dq_mask : int, optional
        Bit mask, 0 <= dq_mask < 2**32: pixels with ``(dq & dq_mask) != 0``
        are bad and replaced.  Default 0 (DQ ignored).
    poly_order : int, optional
        Degree of the polynomial fitted along each column of a window.
        Default 4.
    outlier_threshold : float, optional
        Rejection threshold, in units of the residual scatter (number of
        standard deviations), > 0.  Default 4.0.
    profile_left, profile_right : int, optional
        Column range ``[profile_left, profile_right)`` (pixels) kept in the
        spatial profile; ``0 <= profile_left <= profile_right <= n_col``.
        Defaults 26 and 47.
    robust : bool, optional
        If False (default, as ExoTiC-MIRI) the scatter is the population
        standard deviation (ddof=0) of the good residuals.  If True it is
        ``1.4826 * median(|r - median(r)|)``, which a few large hits in one
        column do not inflate, so that all of them are found.
    unfitted : float, optional
        Value given to the bad pixels of a window column with fewer than 2
        good pixels, which cannot be fitted.  ExoTiC-MIRI fits 0 there (the
        default, kept for equivalence); the accessor passes NaN so that such
        pixels are not silently counted as zero flux.  Also given to the
        pixels of long runs that cannot be filled (`max_gap`).
    max_gap : int or None, optional
        Missing pixels (non-finite or DQ-masked, or in `bad`) of the profile
        columns ``[profile_left, profile_right)`` are filled from the
        neighbouring rows (see Notes); where that is not possible, a run of
        at most `max_gap` of them (rows) in a column takes the column's
        polynomial fit and a longer run is set to `unfitted`.  None
        (default): every bad pixel is replaced by its column's fit
        (ExoTiC-MIRI).
    fill_span : int or None, optional
        Longest stretch of rows with missing pixels (between the two complete
        rows that bracket it) that the neighbouring rows may fill.  None or
        0: no filling from the neighbouring rows.  Only used with `max_gap`.
    fill_min_weight : float or None, optional
        Smallest fraction (0..1] of the template's clipped sum over the
        profile columns that a row's good pixels must hold for its missing
        pixels to be filled (they scale the template to the row).  Needed
        with `fill_span`.
    fill_max_change : float or None, optional
        Largest change between the templates of the two sides of a long run,
        as the total variation ``sum_c |q_above,c - q_below,c|`` (0..2) of
        the clipped, normalised templates, for the run to be filled by
        interpolation: a profile that changes faster than this (the end of
        the spectrum, rows of noise) is not interpolated across a long run
        (a short gap then takes the nearer side's template alone).  Needed
        with `fill_span`.
    bad : array_like of bool, shape (n_int, n_row, n_col), or None, optional
        More bad pixels (e.g. with an outlying ERR), treated exactly as NaN
        pixels of `data`; None (default): none.  Saves the caller a copy of
        `data` with NaN written in.

    Returns
    -------
    cleaned : ndarray, shape (n_int, n_row, n_col), float64
        `data` with every bad pixel replaced by the fit (same unit as `data`).
    replaced : ndarray, shape (n_int, n_row, n_col), bool
        True where a pixel was replaced (non-finite, DQ-masked or outlier).
    profile : ndarray, shape (n_int, n_row, n_col), float64
        Spatial profile P (dimensionless, per pixel): 0 outside
        ``[profile_left, profile_right)``, each row summing to 1 inside it.

    Raises
    ------
    ParameterError
        If an array has the wrong shape or dtype, or a parameter is out of
        range.

    See Also
    --------
    count_replaced_near_trace : Counts the replaced pixels near the trace.
    window_edges : The windows used for a given number of rows.

    Notes
    -----
    * One pixel (the largest ``|residual|``, first on ties) is rejected per
      column per pass, as in ExoTiC-MIRI, so that the order of rejections
      and the final fits are the same.
    * Columns with fewer than 2 good pixels in a window are fitted by 0 (as
      in ExoTiC-MIRI); those with at least 2 but fewer than
      ``poly_order + 1`` get numpy.polyfit's minimum-norm solution.
    * With `max_gap`, a row of the profile columns holding a missing pixel
      (non-finite or DQ-masked on input, or in `bad`; rejected outliers do
      not count) is *incomplete*.  Its template is the mean data of the
      ``SIDE_ROWS`` (3) nearest complete rows above it and of those below
      it, the lower mean scaled (least squares) to the upper one and the
      two interpolated linearly in row.  When complete rows exist on both
      sides, at most `fill_span` rows apart across the gap, the row's good
      pixels hold at least `fill_min_weight` of the template's clipped sum
      and, for a run of more than `max_gap` missing pixels in a column
      (counted along the whole frame), the two sides' templates differ by
      at most `fill_max_change`, each missing pixel becomes ``f * g_c``,
      with ``f`` the least-squares scale of the template ``g`` to the row's
      good pixels.  Otherwise a run of at most `max_gap` keeps its column's
      fit and a longer one is set to `unfitted`.  The profile of a row with
      a long run is its template, clipped and normalised.
    * The outlier search stops once the scatter is at round-off level
      (``< 1e-10 * max |good value|`` of the column), or once a column has
      no more good pixels than coefficients; ExoTiC-MIRI would go on
      rejecting on round-off there.
    * A profile row whose clipped fits sum to 0 over the kept columns is
      set to ``1 / h`` in every kept column, where ``h`` is the number of
      *rows* in its window, not the number of kept columns.  This
      reproduces ExoTiC-MIRI 1.0.1 exactly, although such a row does not sum
      to 1 unless ``h == profile_right - profile_left``.
    * Fits are computed in float64 with an orthonormal (QR of Legendre)
      basis per window height; each rejection pass refits only the columns
      that lost a pixel.  Memory use is a few times the size of the block
      in float64 (temporaries are chunked to about 0.25 Mpixel).

    References
    ----------
    .. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
       spectroscopy", PASP 98, 609.  Table 1, step 5 ("Construct spatial
       profile").

    Examples
    --------
    A smooth frame with one cosmic-ray hit:

    >>> rows = np.arange(40.0)[None, :, None]
    >>> data = np.broadcast_to(100.0 + 0.5 * rows - 0.01 * rows**2, (1, 40, 8)).copy()
    >>> data[0, 20, 3] += 1e4
    >>> cleaned, replaced, profile = clean_block(
    ...     data, None, window_heights=[40], poly_order=2, profile_left=2, profile_right=6)
    >>> np.argwhere(replaced).tolist()
    [[0, 20, 3]]
    >>> round(float(cleaned[0, 20, 3]), 6)
    106.0
    >>> profile[0, 0].round(2).tolist()
    [0.0, 0.0, 0.25, 0.25, 0.25, 0.25, 0.0, 0.0]
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    if not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)):
        raise ParameterError(f"data must hold real numbers, got dtype {data.dtype}")
    if dq is not None:
        dq = np.asarray(dq)
        if dq.shape != data.shape:
            raise ParameterError(f"dq shape {dq.shape} differs from data shape {data.shape}")
        if not np.issubdtype(dq.dtype, np.integer):
            raise ParameterError(f"dq must be an integer (uint32) array, got dtype {dq.dtype}")
    heights_cycle = _check_window_heights(window_heights)
    dq_mask = _as_int(dq_mask, "dq_mask", minimum=0)
    if dq_mask >= 2**32:
        raise ParameterError(f"dq_mask must be < 2**32, got {dq_mask}")
    poly_order = _as_int(poly_order, "poly_order", minimum=0)
    try:
        outlier_threshold = float(outlier_threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"outlier_threshold must be a number, got {outlier_threshold!r}") from None
    if not (np.isfinite(outlier_threshold) and outlier_threshold > 0):
        raise ParameterError(f"outlier_threshold must be finite and > 0, got {outlier_threshold}")
    n_int, n_row, n_col = data.shape
    left = _as_int(profile_left, "profile_left", minimum=0)
    right = _as_int(profile_right, "profile_right", minimum=0)
    if not left <= right <= n_col:
        raise ParameterError(
            f"need 0 <= profile_left <= profile_right <= n_col={n_col}, "
            f"got profile_left={left}, profile_right={right}"
        )
    fill = _check_fill(max_gap, fill_span, fill_min_weight, fill_max_change)
    if bad is not None:
        bad = np.asarray(bad)
        if bad.shape != data.shape or bad.dtype != bool:
            raise ParameterError(f"bad must be a boolean array of shape {data.shape}, got "
                                 f"{bad.dtype} {bad.shape}")

    cleaned = np.empty(data.shape, np.float64)
    replaced = np.empty(data.shape, bool)
    profile = np.empty(data.shape, np.float64)
    norm = np.empty(data.shape[:2], np.float64)
    starts, heights = window_edges(n_row, heights_cycle)
    for h in np.unique(heights):
        _clean_windows(data, dq, bad, (cleaned, replaced, profile, norm), starts[heights == h],
                       int(h), dq_mask=dq_mask, profile=(left, right), poly_order=poly_order,
                       outlier_threshold=outlier_threshold, robust=bool(robust),
                       unfitted=float(unfitted))
    if fill is not None and right > left:
        missing = ~np.isfinite(data[:, :, left:right])
        if bad is not None:
            missing |= bad[:, :, left:right]
        if dq_mask and dq is not None:
            missing |= (dq[:, :, left:right] & np.uint32(dq_mask)) != 0
        _fill_long_runs(cleaned, replaced, missing, profile, norm, (left, right), *fill,
                        unfitted=float(unfitted))
    return cleaned, replaced, profile


def _clean_windows(data, dq, bad, outputs, win_starts, height, *, dq_mask, profile, unfitted,
                   **options):
    """Clean all windows of one height, in chunks of integrations.

    A chunk of n integrations is gathered as an array of shape
    (n * k, h, n_col) for its k windows of this height, cleaned, and its
    results written into `outputs` (cleaned, replaced, profile).
    """
    n_int, _, n_col = data.shape
    n_win = win_starts.size
    left, right = profile
    if np.array_equal(win_starts, win_starts[0] + height * np.arange(n_win)):
        rows = slice(int(win_starts[0]), int(win_starts[0]) + n_win * height)  # adjacent windows
    else:
        rows = (win_starts[:, None] + np.arange(height)).ravel()
    step = max(1, _CHUNK_PIXELS // max(n_win * height * n_col, 1))
    for i0 in range(0, n_int, step):
        sl = slice(i0, min(i0 + step, n_int))
        n = sl.stop - sl.start
        shape = (n * n_win, height, n_col)
        y = data[sl, rows, :]  # a view for a slice of rows, else a copy
        y = np.array(y, np.float64) if isinstance(rows, slice) else y.astype(np.float64, copy=False)
        y = y.reshape(shape)
        good = np.isfinite(y)
        if bad is not None:
            good &= ~bad[sl, rows, :].reshape(shape)
        if dq_mask and dq is not None:
            good &= (dq[sl, rows, :].reshape(shape) & np.uint32(dq_mask)) == 0
        unfit = good.sum(axis=1, keepdims=True) < 2  # columns that cannot be fitted
        fit = _clean_windows_native(y, good, **options)

        block = (n, n_win * height, n_col)
        outputs[1][sl, rows, :] = ~good.reshape(block)
        np.copyto(y, np.where(unfit, unfitted, fit), where=~good)
        outputs[0][sl, rows, :] = y.reshape(block)

        # spatial profile: clip, keep columns [left, right), normalise rows
        p = np.maximum(fit, 0.0, out=fit)
        p[..., :left] = 0.0
        p[..., right:] = 0.0
        kept = p[..., left:right]
        norm = kept.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            # ExoTiC-MIRI's top hat for rows of zero sum: 1 / (rows in window)
            kept[...] = np.where(norm == 0.0, 1.0 / height, kept / norm)
        outputs[2][sl, rows, :] = p.reshape(block)
        outputs[3][sl, rows] = norm.reshape(n, n_win * height)


def _check_fill(max_gap, fill_span, fill_min_weight, fill_max_change):
    """(max_gap, fill_span, fill_min_weight, fill_max_change) checked; None without `max_gap`."""
    if max_gap is None:
        return None
    max_gap = _as_int(max_gap, "max_gap", minimum=0)
    span = 0 if fill_span is None else _as_int(fill_span, "fill_span", minimum=0)
    weight, change = 1.0, 0.0
    if span:
        try:
            weight, change = float(fill_min_weight), float(fill_max_change)
        except (TypeError, ValueError):
            raise ParameterError(
                "fill_min_weight and fill_max_change must be numbers with fill_span, got "
                f"{fill_min_weight!r} and {fill_max_change!r}") from None
        if not 0.0 < weight <= 1.0:
            raise ParameterError(f"fill_min_weight must be in (0, 1], got {fill_min_weight}")
        if not 0.0 <= change <= 2.0:
            raise ParameterError(f"fill_max_change must be in [0, 2], got {fill_max_change}")
    return max_gap, span, weight, change


def _run_lengths(bad):
    """Length (pixels along axis 1) of the run of True holding each pixel; 0 where False."""
    n_row = bad.shape[1]
    idx = np.arange(n_row).reshape(1, n_row, 1)
    before = np.maximum.accumulate(np.where(bad, -1, idx), axis=1)  # last good row at/above
    after = np.minimum.accumulate(np.where(bad, n_row, idx)[:, ::-1], axis=1)[:, ::-1]
    return np.where(bad, after - before - 1, 0)


#: Complete rows averaged on each side of an incomplete stretch to make its template.
SIDE_ROWS = 3


def _side_means(template, above, below, im, ir):
    """Mean template and mean row of the SIDE_ROWS nearest complete rows above and below.

    template : (m, R, k); above, below : (m, R), the nearest complete row at
    or above (-1 if none) and at or below (R if none) each row; (im, ir) the
    incomplete rows.  Returns (p_a, r_a, p_b, r_b): (n, k) and (n,) arrays,
    NaN where a side has no complete row.
    """
    n_row = template.shape[1]
    sums = {}
    for side, nearest, step, end in (("a", above, -1, -1), ("b", below, 1, n_row)):
        total = np.zeros((im.size, template.shape[2]))
        rows = np.zeros(im.size)
        count = np.zeros(im.size)
        r = nearest[im, ir]
        for _ in range(SIDE_ROWS):  # the next complete row beyond the last one taken
            ok = r != end
            total[ok] += template[im[ok], r[ok]]
            rows[ok] += r[ok]
            count[ok] += 1
            nxt = np.clip(r + step, 0, n_row - 1)
            r = np.where(ok & (r + step != end), nearest[im, nxt], end)
        with np.errstate(divide="ignore", invalid="ignore"):
            sums[side] = (total / count[:, None], rows / count)
    return sums["a"] + sums["b"]


def _fill_long_runs(cleaned, replaced, missing, profile, norm, columns, max_gap, span, min_weight,
                    max_change, *, unfitted):
    """Refill the missing pixels of the profile columns from the neighbouring rows' data.

    `cleaned` and `profile` are modified in place (see :func:`clean_block`,
    Notes).  `missing` (n_int, n_row, k) marks the pixels of the profile
    columns that were missing on input (non-finite, DQ-masked or `bad`);
    pixels rejected as outliers keep their column's fit.  `norm`
    (n_int, n_row) is each row's sum of clipped fits over the profile columns
    (a row with 0 is not used as a complete row).
    """
    left, right = columns
    ints = np.flatnonzero(missing.any(axis=(1, 2)))
    if not ints.size:
        return
    missing = missing[ints]
    bad = replaced[ints, :, left:right]
    long = np.zeros(missing.shape, bool)  # (m, R, k): in a run longer than max_gap
    ci, cc = np.nonzero(missing.sum(axis=1) > max_gap)  # only columns that may hold one
    if ci.size:
        long[ci, :, cc] = _run_lengths(missing[ci, :, cc][:, :, None])[:, :, 0] > max_gap
    incomplete = missing.any(axis=2)  # (m, R)
    n_row = bad.shape[1]
    template = cleaned[:, :, left:right][ints]  # the data of the complete rows
    complete = ~incomplete & (norm[ints] > 0)
    idx = np.arange(n_row)[None, :]
    above = np.maximum.accumulate(np.where(complete, idx, -1), axis=1)
    below = np.minimum.accumulate(np.where(complete, idx, n_row)[:, ::-1], axis=1)[:, ::-1]

    im, ir = np.nonzero(incomplete)
    a, b = above[im, ir], below[im, ir]
    has_a, has_b = a >= 0, b < n_row
    both = has_a & has_b
    p_a, r_a, p_b, r_b = _side_means(template, above, below, im, ir)
    # interpolation weight of the rows above (1 / 0 with one side only)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_a = np.where(both, (r_b - ir) / (r_b - r_a), has_a.astype(np.float64))
        s_ab = (p_a * p_b).sum(axis=1) / (p_b * p_b).sum(axis=1)  # p_b brought to p_a's flux
    s_ab = np.where(both & np.isfinite(s_ab), s_ab, 1.0)
    p_a, p_b = np.nan_to_num(p_a), np.nan_to_num(p_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_a, q_b = (np.maximum(p, 0.0) / np.maximum(p, 0.0).sum(axis=1, keepdims=True)
                    for p in (p_a, p_b))
        steady = np.abs(q_a - q_b).sum(axis=1) <= max_change  # False on NaN
    # a profile that changes fast is not interpolated: the nearer side alone
    w_a = np.where(steady, w_a, (ir - r_a <= r_b - ir) | ~has_b)
    g = w_a[:, None] * p_a + ((1.0 - w_a) * s_ab)[:, None] * p_b
    g_plus = np.maximum(g, 0.0)
    total = g_plus.sum(axis=1)
    usable = (has_a | has_b) & (total > 0)

    # the profile of rows with a long run: their template, clipped and normalised
    fill = long[im, ir]
    reprofile = usable & fill.any(axis=1)
    rows_i, rows_r = ints[im[reprofile]], ir[reprofile]
    profile[rows_i, rows_r, left:right] = g_plus[reprofile] / total[reprofile, None]

    # long-run pixels: the template scaled to the row's good pixels, or `unfitted`
    good = ~bad[im, ir]
    g_good = np.where(good, g, 0.0)
    gd = (g_good * np.where(good, cleaned[ints[im], ir, left:right], 0.0)).sum(axis=1)
    gg = (g_good * g_good).sum(axis=1)
    g_good = np.where(good, g_plus, 0.0).sum(axis=1)
    # a long run needs a steady profile across it; a short gap is local
    ok = (usable & both & (steady | ~fill.any(axis=1)) & (b - a - 1 <= span)
          & (g_good >= min_weight * total) & (gg > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(ok, gd / np.where(ok, gg, 1.0), np.nan)  # least squares
    # missing pixels of a row that passes: the template scaled; of the others: the
    # column's fit across a short gap, `unfitted` across a long run
    value = np.where(ok[:, None], scale[:, None] * g, unfitted)
    change = np.where(ok[:, None], missing[im, ir], fill)
    sub = cleaned[ints[im], ir, left:right]
    cleaned[ints[im], ir, left:right] = np.where(change, value, sub)


def count_replaced_near_trace(replaced, center=36, max_width=4):
    """Count replaced pixels in column bands centred on the spectral trace.

    For each integration and row, the replaced pixels are counted in the
    bands of half-width 0, 1, ..., `max_width` columns around `center`, a
    diagnostic of how much of the extracted flux came from the fits.

    Parameters
    ----------
    replaced : array_like of bool, shape (n_int, n_row, n_col)
        Replaced-pixel mask, as returned by :func:`clean_block`.
    center : int, optional
        Column of the trace centre (pixels), ``0 <= center < n_col``.
        Default 36 (MIRI LRS slitless).
    max_width : int, optional
        Largest half-width of the bands (pixels), >= 0.  Default 4.

    Returns
    -------
    ndarray, shape (n_int, n_row, max_width + 1), int64
        Element ``[..., w]`` is the number of replaced pixels of each row in
        columns ``center - w .. center + w`` inclusive (clipped to the frame).

    See Also
    --------
    clean_block : Produces `replaced`.

    Notes
    -----
    ExoTiC-MIRI 1.0.1 reports the same counts but of pixels with any
    non-zero DQ flag, including flags set before cleaning; here only the
    replaced pixels are counted.  Bands reaching past the frame edge are
    clipped (ExoTiC-MIRI's negative slice start would wrap around instead).

    References
    ----------
    .. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
       spectroscopy", PASP 98, 609.  Table 1, step 5 ("Construct spatial
       profile"), whose outlier rejection produces `replaced`.

    Examples
    --------
    >>> replaced = np.zeros((1, 1, 10), bool)
    >>> replaced[0, 0, [4, 6, 9]] = True
    >>> count_replaced_near_trace(replaced, center=5, max_width=4).tolist()
    [[[0, 2, 2, 2, 3]]]
    """
    replaced = np.asarray(replaced)
    if replaced.ndim != 3:
        raise ParameterError(f"replaced must be 3-D (integration, row, col), got shape {replaced.shape}")
    if replaced.dtype != bool:
        raise ParameterError(f"replaced must be a boolean array, got dtype {replaced.dtype}")
    n_col = replaced.shape[2]
    center = _as_int(center, "center", minimum=0)
    if center >= n_col:
        raise ParameterError(f"center must be < n_col={n_col}, got {center}")
    max_width = _as_int(max_width, "max_width", minimum=0)
    widths = np.arange(max_width + 1)
    lo = np.maximum(center - widths, 0)
    hi = np.minimum(center + widths + 1, n_col)
    first = int(lo.min())  # only the columns the widest band covers are summed
    cumulative = np.zeros(replaced.shape[:2] + (int(hi.max()) - first + 1,), np.int64)
    np.cumsum(replaced[..., first : int(hi.max())], axis=2, dtype=np.int64,
              out=cumulative[..., 1:])
    return cumulative[..., hi - first] - cumulative[..., lo - first]
