"""The column fits of :mod:`xmiri.kernels.clean`: windowed polynomial least squares with outlier rejection.

All (integration, window, column) triples of a block that share a window
height are fitted at once on a fixed orthonormal polynomial basis, with 0/1
weights (the good-pixel mask); each rejection pass refits only the columns
that still hold an outlier.  See :mod:`xmiri.kernels.clean` for the algorithm
and its differences from ExoTiC-MIRI.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .background import MAD_TO_SIGMA

#: A column whose residual scatter is below this times its largest absolute
#: good value is treated as an exact fit (no outlier search on round-off).
ROUNDOFF_RELATIVE = 1e-10


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


def _roundoff_floor(columns):
    """Scatter at round-off level of each column (last axis) of good values (bad ones 0)."""
    return ROUNDOFF_RELATIVE * np.abs(columns).max(axis=-1, initial=0.0)


def _good_median(values, good, n_good, axis):
    """Median of the `good` `values` of each column along `axis` (that axis removed).

    The mean of the order statistics ``(n_good - 1) // 2`` and ``n_good // 2``
    of the good values, found by sorting a copy in which each column's values
    are contiguous and its bad ones +inf (numpy's vectorised sort of short
    contiguous rows is ~3x faster than sorting along a strided axis, and
    faster than a partition).
    """
    columns = np.empty(np.moveaxis(values, axis, -1).shape)
    laid = np.moveaxis(columns, -1, axis)  # a view of `columns` in the layout of `values`
    np.copyto(laid, values)
    laid[~good] = np.inf
    lo = np.maximum(n_good - 1, 0)[..., None] // 2
    hi = n_good[..., None] // 2
    columns.sort(axis=-1)
    return 0.5 * (np.take_along_axis(columns, lo, -1) + np.take_along_axis(columns, hi, -1))[..., 0]


def _robust_scatter(y, fit, good, n_good, axis):
    """Largest ``|residual|`` and ``MAD_TO_SIGMA * MAD`` of the good residuals of each column.

    The good residuals ``y - fit`` of each column are written, in the layout
    of :func:`_good_median` (each column contiguous, its bad pixels +inf),
    straight into one buffer and sorted once.  That gives the median and,
    from the first and last good values, the largest ``|residual|``; the
    absolute deviations from the median are then formed in place, where the
    +inf of the bad pixels stay +inf and at the end, and sorted again for the
    MAD.  Both order statistics are the same values as :func:`_good_median`
    finds, for every column whose good residuals are all finite (the only
    columns whose results are used: see :func:`_find_outliers`).

    Returns (peak, scatter), both with `axis` removed.  `peak` is
    non-finite where a good residual is; a column with no good pixel gets
    meaningless values.
    """
    columns = np.full(np.moveaxis(y, axis, -1).shape, np.inf)
    np.subtract(y, fit, out=np.moveaxis(columns, -1, axis), where=good)
    columns.sort(axis=-1)
    flat = columns.reshape(-1)  # a view: `columns` is contiguous
    first = np.arange(0, flat.size, max(columns.shape[-1], 1)).reshape(n_good.shape)
    last = first + np.maximum(n_good - 1, 0)
    lo, hi = first + np.maximum(n_good - 1, 0) // 2, first + n_good // 2
    peak = np.maximum(-columns[..., 0], flat[last])  # max |r| of sorted r (NaN propagates)
    center = 0.5 * (flat[lo] + flat[hi])
    np.subtract(columns, center[..., None], out=columns)
    np.abs(columns, out=columns)  # bad pixels: |inf - center| = inf, still last
    columns.sort(axis=-1)
    return peak, MAD_TO_SIGMA * (0.5 * (flat[lo] + flat[hi]))


def _find_outliers(y, fit, good, n_good, floor, n_coef, threshold, robust, axis=-1):
    """The most deviant good pixel of each column, and whether it is an outlier.

    `y`, `fit`, `good` hold the pixels of each column of a window along
    `axis` (`y` is zero at bad pixels); `n_good` has that axis removed, and
    ``floor(index)`` returns the round-off floor of the columns at `index`
    (a tuple of index arrays into `n_good`).  Returns (hit, worst): `hit` is True where
    ``|r_worst| / scatter > threshold``, with r the residuals of the good
    pixels and scatter their standard deviation (ddof=0) or
    ``MAD_TO_SIGMA * MAD``; `worst` is the index of the largest ``|r|`` along
    `axis` (first one on ties).  Columns with no more good pixels than
    coefficients, or with a scatter at round-off level (<= `floor`), have
    no outlier.  `worst` is only computed where `hit` (0 elsewhere).

    With `robust`, :func:`_robust_scatter` gives the peak and scatter, and
    the worst pixel is looked up in the hit columns only.  If a column with
    more good pixels than coefficients has a non-finite good residual (a fit
    that overflowed), everything is computed from the full residual array
    instead, as :func:`_robust_scatter` does not reproduce that case (a NaN
    residual makes its column no outlier there).
    """
    res = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if robust:
            peak, scatter = _robust_scatter(y, fit, good, n_good, axis)
        if not robust or not np.isfinite(peak[n_good > n_coef]).all():
            res = np.zeros_like(y)  # the residuals of the good pixels, 0 at the others
            np.subtract(y, fit, out=res, where=good)
            if robust:
                center = np.expand_dims(_good_median(res, good, n_good, axis), axis)
                scatter = MAD_TO_SIGMA * _good_median(np.abs(res - center), good, n_good, axis)
            else:
                # population variance over the good pixels (bad ones hold 0); the
                # mean residual is ~0 (the constant is in the basis), so this
                # one-pass form loses no precision against numpy's two-pass std
                mean = res.sum(axis=axis) / n_good
                sq = (res * res).sum(axis=axis) / n_good - mean * mean
                scatter = np.sqrt(np.maximum(sq, 0.0))
            np.abs(res, out=res)  # from here on |residuals|
            peak = res.max(axis=axis)  # the value at the argmax (NaN if any)
        # a column is tested when it has more good pixels than coefficients and a scatter
        # above round-off, `floor`: computed (one pass over the column) only for the few
        # columns whose worst pixel would be rejected otherwise
        hit = (n_good > n_coef) & (scatter > 0.0)
        hit &= peak / np.where(hit, scatter, 1.0) > threshold
        at = np.nonzero(hit)
        if at[0].size:
            hit[at] = scatter[at] > floor(at)
        # the index of the worst pixel, only where it is rejected (0 elsewhere)
        worst = np.zeros(hit.shape, np.intp)
        at = np.nonzero(hit)
        if at[0].size:
            if res is None:  # the |residuals| of these columns only
                columns = np.zeros((at[0].size, y.shape[axis]))
                np.subtract(*(np.moveaxis(a, axis, -1)[at] for a in (y, fit)), out=columns,
                            where=np.moveaxis(good, axis, -1)[at])
                np.abs(columns, out=columns)
            else:
                columns = np.moveaxis(res, axis, -1)[at]  # (n_hit, pixels)
            worst[at] = np.argmax(columns, axis=-1)
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

    hit, worst = _find_outliers(y, fit, good, n_good, lambda at: _roundoff_floor(y[at[0], :, at[1]]),
                                *options, axis=1)
    win, col = np.nonzero(hit)
    if not win.size:
        return fit

    # rejection passes on the columns holding an outlier, in (k, h) layout
    yc, gc, nc, fc = y[win, :, col], good[win, :, col], n_good[win, col], fit[win, :, col]
    floor_c = _roundoff_floor(yc)  # of the values before any rejection
    active, worst = np.arange(win.size), worst[win, col]
    while active.size:
        gc[active, worst] = False
        yc[active, worst] = 0.0
        nc[active] -= 1
        ya, ga, na = yc[active], gc[active], nc[active]
        fa = fc[active] = _fit_orthonormal(ya, ga, na, basis, outer)
        hit, worst = _find_outliers(ya, fa, ga, na, lambda at, a=active: floor_c[a[at]], *options)
        active, worst = active[hit], worst[hit]
    fit[win, :, col] = fc
    good[win, :, col] = gc
    y[win, :, col] = yc
    return fit


# --------------------------------------------------------------------------
# Public kernels
# --------------------------------------------------------------------------
