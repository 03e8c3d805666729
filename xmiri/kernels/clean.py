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

import numpy as np

from ..exceptions import ParameterError
from ._validate import whole
from .fill import _check_fill, _fill_long_runs
from .polyfit import ROUNDOFF_RELATIVE, _clean_windows_native  # noqa: F401  (ROUNDOFF_RELATIVE: public here before)

__all__ = ["clean_block", "count_replaced_near_trace", "window_edges"]


#: Target number of pixels per block chunk (bounds the temporaries).
_CHUNK_PIXELS = 1 << 18


# --------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------
def _check_window_heights(window_heights):
    if isinstance(window_heights, numbers.Integral) and not isinstance(window_heights, bool):
        window_heights = [window_heights]
    try:
        heights = [whole("window_heights entries", h, minimum=1) for h in window_heights]
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
    n_row = whole("n_row", n_row, minimum=0)
    cycle = np.asarray(_check_window_heights(window_heights), dtype=np.int64)
    n_cycles = -(-n_row // int(cycle.sum())) if n_row else 0
    heights = np.tile(cycle, n_cycles)
    starts = np.concatenate([[0], np.cumsum(heights)[:-1]]).astype(np.int64)[: heights.size]
    keep = starts < n_row
    starts, heights = starts[keep], heights[keep]
    heights = np.minimum(heights, n_row - starts)
    return starts, heights


def clean_block(data, dq, *, window_heights, dq_mask, poly_order, outlier_threshold,
                profile_left, profile_right, unfitted, robust=False, max_gap=None,
                fill_span=None, fill_min_weight=None, fill_max_change=None, bad=None,
                cleaned_dtype=np.float64, profile_dtype=np.float64):
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
    dq_mask : int
        Bit mask, 0 <= dq_mask < 2**32: pixels with ``(dq & dq_mask) != 0``
        are bad and replaced; 0 ignores DQ (the step passes the bits of
        :data:`xmiri.defaults.DQ_BITS_TO_MASK`).
    poly_order : int
        Degree of the polynomial fitted along each column of a window (the
        steps use :data:`xmiri.defaults.POLY_ORDER`).
    outlier_threshold : float
        Rejection threshold, in units of the residual scatter (number of
        standard deviations), > 0 (:data:`xmiri.defaults.CLEAN_OUTLIER_THRESHOLD`).
    profile_left, profile_right : int
        Column range ``[profile_left, profile_right)`` (pixels) kept in the
        spatial profile; ``0 <= profile_left <= profile_right <= n_col``
        (the steps use :data:`xmiri.defaults.PROFILE_COLUMNS`).
    unfitted : float
        Value given to the bad pixels of a window column with fewer than 2
        good pixels, which cannot be fitted, in the unit of `data`.
        ExoTiC-MIRI fits 0 there (0.0 reproduces it); the step passes NaN so
        that such pixels are not silently counted as zero flux.  Also given
        to the pixels of long runs that cannot be filled (`max_gap`).
    robust : bool, optional
        If False (default, as ExoTiC-MIRI) the scatter is the population
        standard deviation (ddof=0) of the good residuals.  If True it is
        ``1.4826 * median(|r - median(r)|)``, which a few large hits in one
        column do not inflate, so that all of them are found.
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
    cleaned_dtype, profile_dtype : numpy float dtype, optional
        The dtype of the returned `cleaned` and `profile` (default float64).
        Everything is computed in float64 and rounded once when written,
        so float32 gives exactly ``cleaned.astype(np.float32)`` of the
        float64 result, without a float64 frame in memory.

    Returns
    -------
    cleaned : ndarray, shape (n_int, n_row, n_col), `cleaned_dtype`
        `data` with every bad pixel replaced by the fit (same unit as `data`).
    replaced : ndarray, shape (n_int, n_row, n_col), bool
        True where a pixel was replaced (non-finite, DQ-masked or outlier).
    profile : ndarray, shape (n_int, n_row, n_col), `profile_dtype`
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
    ...     data, None, window_heights=[40], dq_mask=0, poly_order=2, outlier_threshold=4.0,
    ...     profile_left=2, profile_right=6, unfitted=0.0)
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
    dq_mask = whole("dq_mask", dq_mask, minimum=0)
    if dq_mask >= 2**32:
        raise ParameterError(f"dq_mask must be < 2**32, got {dq_mask}")
    poly_order = whole("poly_order", poly_order, minimum=0)
    try:
        outlier_threshold = float(outlier_threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"outlier_threshold must be a number, got {outlier_threshold!r}") from None
    if not (np.isfinite(outlier_threshold) and outlier_threshold > 0):
        raise ParameterError(f"outlier_threshold must be finite and > 0, got {outlier_threshold}")
    n_int, n_row, n_col = data.shape
    left = whole("profile_left", profile_left, minimum=0)
    right = whole("profile_right", profile_right, minimum=0)
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

    cleaned_dtype, profile_dtype = (_float_dtype(name, value) for name, value in (
        ("cleaned_dtype", cleaned_dtype), ("profile_dtype", profile_dtype)))

    cleaned = np.empty(data.shape, cleaned_dtype)
    replaced = np.empty(data.shape, bool)
    profile = np.zeros(data.shape, profile_dtype)  # 0 outside the profile columns
    norm = np.empty(data.shape[:2], np.float64)
    outputs = (cleaned, replaced, profile, norm)
    band = None
    if fill is not None and right > left:  # the input's bad pixels of the profile columns
        missing = np.empty((n_int, n_row, right - left), bool)
        if cleaned_dtype != np.float64:  # the fill reads and writes float64 data
            band = np.empty((n_int, n_row, right - left), np.float64)
        outputs += (missing, band)
    starts, heights = window_edges(n_row, heights_cycle)
    for h in np.unique(heights):
        _clean_windows(data, dq, bad, outputs, starts[heights == h],
                       int(h), dq_mask=dq_mask, profile=(left, right), poly_order=poly_order,
                       outlier_threshold=outlier_threshold, robust=bool(robust),
                       unfitted=float(unfitted))
    if band is not None:  # the refilled rows rounded into `cleaned` (the rest is there)
        _fill_long_runs(band, replaced[:, :, left:right], missing, profile[:, :, left:right],
                        norm, (0, right - left), *fill, unfitted=float(unfitted),
                        out=cleaned[:, :, left:right])
    elif fill is not None and right > left:
        _fill_long_runs(cleaned, replaced, missing, profile, norm, (left, right), *fill,
                        unfitted=float(unfitted))
    return cleaned, replaced, profile


def _float_dtype(name, value):
    """`value` as a numpy floating dtype; ParameterError otherwise."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise ParameterError(f"{name} must be a numpy float dtype, got {value!r}") from None
    if not np.issubdtype(dtype, np.floating):
        raise ParameterError(f"{name} must be a numpy float dtype, got {dtype}")
    return dtype


def _clean_windows(data, dq, bad, outputs, win_starts, height, *, dq_mask, profile, unfitted,
                   **options):
    """Clean all windows of one height, in chunks of integrations.

    A chunk of n integrations is gathered as an array of shape
    (n * k, h, n_col) for its k windows of this height, cleaned, and its
    results written into `outputs` (cleaned, replaced, profile, norm[,
    missing, band]): `missing`, when given, receives the pixels of the profile
    columns that were bad on input (before the outlier search), `band`
    (None or float64) the cleaned data of the profile columns.
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
        if len(outputs) > 4:  # before the outlier search clears `good` at rejected pixels
            outputs[4][sl, rows] = ~good[..., left:right].reshape(n, n_win * height, right - left)
        fit = _clean_windows_native(y, good, **options)

        block = (n, n_win * height, n_col)
        bad_now = ~good
        outputs[1][sl, rows, :] = bad_now.reshape(block)
        np.copyto(y, fit, where=bad_now)
        if unfit.any():  # bad pixels of columns that cannot be fitted
            np.copyto(y, unfitted, where=bad_now & unfit)
        outputs[0][sl, rows, :] = y.reshape(block)
        if len(outputs) > 5 and outputs[5] is not None:
            outputs[5][sl, rows] = y[..., left:right].reshape(n, n_win * height, right - left)

        # spatial profile: clip, keep columns [left, right), normalise rows (the profile
        # output is 0 outside them from the start)
        kept = np.maximum(fit[..., left:right], 0.0, out=fit[..., left:right])
        norm = kept.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(kept, norm, out=kept)
        kept[norm[..., 0] == 0.0] = 1.0 / height  # ExoTiC-MIRI's top hat: 1 / (rows in window)
        outputs[2][sl, rows, left:right] = kept.reshape(n, n_win * height, right - left)
        outputs[3][sl, rows] = norm.reshape(n, n_win * height)


def count_replaced_near_trace(replaced, *, center, max_width):
    """Count replaced pixels in column bands centred on the spectral trace.

    For each integration and row, the replaced pixels are counted in the
    bands of half-width 0, 1, ..., `max_width` columns around `center`, a
    diagnostic of how much of the extracted flux came from the fits.

    Parameters
    ----------
    replaced : array_like of bool, shape (n_int, n_row, n_col)
        Replaced-pixel mask, as returned by :func:`clean_block`.
    center : int
        Column of the trace centre (pixels), ``0 <= center < n_col``
        (the clean step uses the aperture centre,
        :data:`xmiri.defaults.APERTURE_CENTER` for SLITLESSPRISM).
    max_width : int
        Largest half-width of the bands (pixels), >= 0 (the clean step uses
        ``xmiri.defaults.N_OUTLIER_WIDTHS - 1``).

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
    center = whole("center", center, minimum=0)
    if center >= n_col:
        raise ParameterError(f"center must be < n_col={n_col}, got {center}")
    max_width = whole("max_width", max_width, minimum=0)
    counts = np.empty(replaced.shape[:2] + (max_width + 1,), np.int64)
    running = replaced[..., center].astype(np.int64)
    counts[..., 0] = running
    for w in range(1, max_width + 1):  # each band is the previous one and its two edge columns
        if center - w >= 0:
            running += replaced[..., center - w]
        if center + w < n_col:
            running += replaced[..., center + w]
        counts[..., w] = running
    return counts
