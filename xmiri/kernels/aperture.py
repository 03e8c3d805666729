"""Extraction apertures: which fraction of each pixel a row's aperture holds.

Every aperture is a pair of edges per integration and row, in column
coordinates where pixel ``c`` covers ``[c - 0.5, c + 0.5]``
(:func:`aperture_edges`); the weight of a pixel is the length of its overlap
with ``[lower, upper]`` (:func:`edge_weights`).  ExoTiC-MIRI's whole-pixel
aperture (:func:`aperture_mask`) is the special case of edges on pixel
boundaries (weights 0 or 1); a traced aperture (:func:`aperture_weights`)
has sub-pixel edges that move continuously with the trace
(:mod:`xmiri.kernels.tracefit`).  The box and optimal extraction inside the
weights are in :mod:`xmiri.kernels.extract`.  Also here: the aperture
cut-outs a median profile is built from (:func:`aperture_cutout`,
:func:`expand_cutout`), a Gaussian profile model (:func:`gaussian_profile`)
and the wavelength at the trace (:func:`wavelength_at_trace`).  Pure numpy,
no warnings machinery.
"""
import numpy as np
from scipy.special import erf

from ..exceptions import ParameterError
from ._validate import whole, widths

__all__ = ["aperture_edges", "edge_weights", "band_weights", "aperture_weights", "aperture_mask",
           "aperture_cutout", "expand_cutout", "gaussian_profile", "wavelength_at_trace"]


# --------------------------------------------------------------------------
# edges and weights
def aperture_edges(center, left_width, right_width, whole_pixels):
    """Lower and upper edge of the aperture around `center`, in column coordinates.

    Pixel ``c`` covers ``[c - 0.5, c + 0.5]``.

    * ``whole_pixels=False``: ``[center - left_width - 0.5, center +
      right_width + 0.5]``, ``left_width + right_width + 1`` pixels wide,
      with fractional edge pixels.
    * ``whole_pixels=True``: ExoTiC-MIRI's columns ``[rint(center -
      left_width), rint(center + right_width + 1))``, i.e. the edges
      ``rint(center - left_width) - 0.5`` and ``rint(center + right_width +
      1) - 0.5`` (``rint`` rounds halves to even).

    For a whole-number centre and whole-number widths both give the same edges.

    Parameters
    ----------
    center : array_like, shape (...)
        Aperture centre, column in pixels (NaN allowed: NaN edges).
    left_width, right_width : float or array_like broadcastable to `center`
        Half-widths in pixels, >= 0.
    whole_pixels : bool
        Round the edges to pixel boundaries as ExoTiC-MIRI does.

    Returns
    -------
    lower : numpy.ndarray, shape broadcast(center, widths)
        float64 lower edges, pixels.
    upper : numpy.ndarray, shape broadcast(center, widths)
        float64 upper edges, pixels.

    Raises
    ------
    ParameterError
        If a width is negative or not finite, or the shapes do not broadcast.

    Examples
    --------
    >>> [float(edge) for edge in aperture_edges(36.25, 4, 4, False)]
    [31.75, 40.75]
    >>> [float(edge) for edge in aperture_edges(36.25, 4, 4, True)]
    [31.5, 40.5]
    """
    left = widths("left_width", left_width)
    right = widths("right_width", right_width)
    center = np.asarray(center, dtype=np.float64)
    try:
        if whole_pixels:
            lower = np.rint(center - left) - 0.5
            upper = np.rint(center + right + 1.0) - 0.5
        else:
            lower = center - left - 0.5
            upper = center + right + 0.5
    except ValueError:
        raise ParameterError(f"left_width {left.shape} and right_width {right.shape} must "
                             f"broadcast to center {center.shape}") from None
    return lower, upper


def edge_weights(lower, upper, n_cols):
    """Fraction of each pixel inside ``[lower, upper]``.

    The weight of column ``c`` is the length of the overlap of ``[c - 0.5,
    c + 0.5]`` with ``[lower, upper]``, in [0, 1]: pixels wholly inside get
    exactly 1, edge pixels the fraction covered (exactly 0 or 1 when the
    edges are on pixel boundaries).  The frame clips the aperture: the part
    beyond ``-0.5`` or ``n_cols - 0.5`` holds no pixel.

    Parameters
    ----------
    lower, upper : array_like, broadcastable, shape (...)
        Edges in column coordinates (pixels), e.g. from :func:`aperture_edges`.
    n_cols : int
        Number of detector columns.

    Returns
    -------
    numpy.ndarray, shape (..., n_cols)
        float64 weights in [0, 1]; all 0 where an edge is not finite.

    Raises
    ------
    ParameterError
        If `n_cols` is not an integer >= 0 or the edges do not broadcast.

    Examples
    --------
    >>> edge_weights(33.75, 38.75, 72)[34:40]
    array([0.75, 1.  , 1.  , 1.  , 1.  , 0.25])
    """
    n_cols = whole("n_cols", n_cols)
    return _overlap(*_finite_edges(lower, upper), 0, n_cols)


def band_weights(lower, upper, n_cols):
    """:func:`edge_weights` on the band of columns that any weight > 0 touches.

    The band is the smallest run of columns ``[start, stop)`` holding every
    weight > 0 of every aperture given (e.g. a block of integrations and
    rows); outside it :func:`edge_weights` is 0.  Inside it the weights are
    those of :func:`edge_weights`, bit for bit, without computing the other
    columns.

    Parameters
    ----------
    lower, upper : array_like, broadcastable, shape (...)
        Edges in column coordinates (pixels), e.g. from :func:`aperture_edges`.
    n_cols : int
        Number of detector columns.

    Returns
    -------
    weights : numpy.ndarray, shape (..., stop - start)
        float64 weights in [0, 1] of the band's columns.
    columns : slice
        ``slice(start, stop)`` of the band; ``slice(0, n_cols)`` (and the
        weights of every column, all 0) when no weight is > 0.

    Raises
    ------
    ParameterError
        If `n_cols` is not an integer >= 0 or the edges do not broadcast.

    Examples
    --------
    >>> weights, columns = band_weights([33.75, 34.5], [38.75, 38.5], 72)
    >>> columns, weights.tolist()
    (slice(34, 40, None), [[0.75, 1.0, 1.0, 1.0, 1.0, 0.25], [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]])
    """
    n_cols = whole("n_cols", n_cols)
    lower, upper, finite = _finite_edges(lower, upper)
    if finite.any():  # a column c > max(upper) + 0.5 or < min(lower) - 0.5 holds no weight
        start = int(np.clip(np.floor(np.min(lower[finite])) - 1.0, 0, n_cols))
        stop = int(np.clip(np.ceil(np.max(upper[finite])) + 2.0, start, n_cols))
        weights = _overlap(lower, upper, finite, start, stop)
        touched = np.flatnonzero(np.any(weights > 0, axis=tuple(range(weights.ndim - 1))))
        if touched.size:
            return (weights[..., touched[0]:touched[-1] + 1],
                    slice(start + int(touched[0]), start + int(touched[-1]) + 1))
    return _overlap(lower, upper, finite, 0, n_cols), slice(0, n_cols)


def _finite_edges(lower, upper):
    """The edges broadcast to float64 arrays, and where both are finite."""
    try:
        lower, upper = np.broadcast_arrays(np.asarray(lower, dtype=np.float64),
                                           np.asarray(upper, dtype=np.float64))
    except ValueError:
        raise ParameterError(f"lower {np.shape(lower)} and upper {np.shape(upper)} edges do not "
                             f"broadcast") from None
    return lower, upper, np.isfinite(lower) & np.isfinite(upper)


def _overlap(lower, upper, finite, start, stop):
    """Weights of columns ``start .. stop - 1`` (:func:`edge_weights`' arithmetic, column by column)."""
    lower = np.where(finite, lower, 0.0)[..., np.newaxis]
    upper = np.where(finite, upper, 0.0)[..., np.newaxis]
    cols = np.arange(start, stop, dtype=np.float64)
    weights = np.minimum(cols + 0.5, upper) - np.maximum(cols - 0.5, lower)
    np.clip(weights, 0.0, 1.0, out=weights)
    weights *= finite[..., np.newaxis]
    return weights


def aperture_weights(center, n_cols, left_width, right_width):
    """Fraction of each pixel inside an aperture with sub-pixel edges centred on the trace.

    :func:`edge_weights` of :func:`aperture_edges` with ``whole_pixels=False``:
    the aperture of a row runs from ``center - left_width - 0.5`` to ``center
    + right_width + 0.5`` (``left_width + right_width + 1`` pixels wide, like
    ExoTiC-MIRI's whole-pixel aperture, and equal to it when the centre is a
    whole number), so it slides continuously with the centre.

    Parameters
    ----------
    center : array_like, shape (...)
        Aperture centre (column, pixels), e.g. (n_int, n_row) from
        :func:`~xmiri.kernels.tracefit.evaluate_trace`.
    n_cols : int
        Number of detector columns.
    left_width, right_width : float or array_like broadcastable to `center`
        Half-widths in pixels (>= 0; need not be integers, and may vary
        per row).

    Returns
    -------
    numpy.ndarray, shape center.shape + (n_cols,)
        float64 weights in [0, 1]; all 0 where `center` is not finite.
        Along a row they sum to ``left_width + right_width + 1`` (to
        rounding) unless the frame clips the aperture.

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
    n_cols = whole("n_cols", n_cols)
    return edge_weights(*aperture_edges(center, left_width, right_width, False), n_cols)


def aperture_mask(center, n_cols, left_width, right_width):
    """Columns inside ExoTiC-MIRI's whole-pixel aperture of each integration.

    The aperture holds columns ``[rint(center - left_width), rint(center +
    right_width + 1))`` (``rint`` rounds halves to even), clipped to ``[0,
    n_cols)``: the weights > 0 of :func:`edge_weights` with
    :func:`aperture_edges` (``whole_pixels=True``).

    Parameters
    ----------
    center : array_like, shape (...)
        Aperture centre, a (fractional) column index in pixels, e.g. one per
        integration from :func:`xmiri.kernels.trace.fit_trace_block`.
    n_cols : int
        Number of detector columns.
    left_width, right_width : int
        Aperture half-widths in pixels.

    Returns
    -------
    numpy.ndarray, shape center.shape + (n_cols,)
        bool, True inside the aperture; all False where `center` is NaN.

    Raises
    ------
    ParameterError
        If a width or `n_cols` is not a non-negative integer.

    Notes
    -----
    ExoTiC-MIRI slices with the edges, so a negative left edge wraps around
    to the right end of the row (usually giving an empty aperture); here the
    aperture is clipped at column 0 instead.

    Examples
    --------
    >>> aperture_mask(np.array([5.4, np.nan]), 10, 1, 2).astype(int)
    array([[0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    """
    left = whole("left_width", left_width)
    right = whole("right_width", right_width)
    n_cols = whole("n_cols", n_cols)
    return edge_weights(*aperture_edges(center, left, right, True), n_cols) > 0


# --------------------------------------------------------------------------
# aperture cut-outs (for a median profile over integrations)
def aperture_cutout(values, mask):
    """The aperture columns of each integration, side by side.

    Parameters
    ----------
    values : array_like, shape (n_int, n_row, n_col)
        Any per-pixel quantity (a profile, data in DN/s, ...).
    mask : array_like of bool, shape (n_int, n_col)
        Aperture columns per integration (:func:`aperture_mask`). Every
        non-empty aperture must hold the same number ``w`` of columns.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, w)
        float64 values of the aperture columns, left to right; all NaN for
        integrations with an empty aperture.

    Raises
    ------
    ParameterError
        If the shapes do not match or non-empty apertures differ in width.

    Examples
    --------
    >>> values = np.arange(12.0).reshape(1, 2, 6)
    >>> aperture_cutout(values, aperture_mask(np.array([2.0]), 6, 1, 1)).tolist()
    [[[1.0, 2.0, 3.0], [7.0, 8.0, 9.0]]]
    """
    values = np.asarray(values, dtype=np.float64)
    columns, counts, width = _aperture_columns(mask, values)
    cutout = np.take_along_axis(values, columns[:, np.newaxis, :], axis=2)
    return np.where((counts == 0)[:, np.newaxis, np.newaxis], np.nan, cutout)


def expand_cutout(cutout, mask):
    """Place a cut-out (one per row, shared by every integration) into each integration's aperture.

    The inverse of :func:`aperture_cutout` for a profile shared by all
    integrations, e.g. the median profile: column ``j`` of `cutout` goes to
    the ``j``-th aperture column of each integration; 0 outside the aperture.

    Parameters
    ----------
    cutout : array_like, shape (n_row, w)
        Values in aperture coordinates.
    mask : array_like of bool, shape (n_int, n_col)
        Aperture columns per integration; each non-empty aperture holds ``w``.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, n_col)
        float64; all 0 for integrations with an empty aperture.

    Raises
    ------
    ParameterError
        If the shapes do not match.

    Examples
    --------
    >>> mask = aperture_mask(np.array([2.0, 3.0]), 6, 1, 1)
    >>> expand_cutout(np.array([[1.0, 2.0, 1.0]]), mask)[:, 0].tolist()
    [[0.0, 1.0, 2.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0, 1.0, 0.0]]
    """
    cutout = np.asarray(cutout, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if cutout.ndim != 2 or mask.ndim != 2:
        raise ParameterError(f"cutout must be (n_row, w) and mask (n_int, n_col), got "
                             f"{cutout.shape} and {mask.shape}")
    values = np.empty((mask.shape[0], cutout.shape[0], mask.shape[1]))
    columns, counts, width = _aperture_columns(mask, values)
    if width not in (0, cutout.shape[1]):
        raise ParameterError(f"cutout has {cutout.shape[1]} columns but the apertures hold {width}")
    out = np.zeros(values.shape)
    if width:
        index = np.broadcast_to(columns[:, np.newaxis, :], (mask.shape[0], cutout.shape[0], width))
        np.put_along_axis(out, index, np.broadcast_to(cutout, index.shape), axis=2)
    return out * (counts > 0)[:, np.newaxis, np.newaxis]


def _aperture_columns(mask, values):
    """Indices of the aperture columns of each integration, their count and the common width."""
    if values.ndim != 3:
        raise ParameterError(f"values must be 3-D (integration, row, col), got shape {values.shape}")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (values.shape[0], values.shape[2]):
        raise ParameterError(f"mask must have shape (n_int, n_col) = "
                             f"{(values.shape[0], values.shape[2])}, got {mask.shape}")
    counts = np.count_nonzero(mask, axis=1)
    width = int(counts.max(initial=0))
    if np.any((counts != width) & (counts != 0)):
        raise ParameterError(f"apertures must all hold the same number of columns, got widths "
                             f"{sorted(set(counts.tolist()))}")
    # A stable sort of ~mask puts the aperture columns first, in order.
    return np.argsort(~mask, axis=1, kind="stable")[:, :width], counts, width


def gaussian_profile(center, sigma, n_cols):
    """Pixel-integrated Gaussian profile across the columns.

    ``P_c = (erf((c + 0.5 - center) / (sqrt(2) sigma)) -
    erf((c - 0.5 - center) / (sqrt(2) sigma))) / 2``, the fraction of a
    normalised Gaussian falling in column ``c``: a profile model for
    :func:`xmiri.kernels.extract.optimal_extract` that follows the fitted trace, and the
    flux fraction a Gaussian predicts for an aperture
    (``sum(aperture_weights * P)``).

    Parameters
    ----------
    center : array_like, shape (...)
        Centre (column, pixels), e.g. (n_int, n_row).
    sigma : array_like, broadcastable to `center`
        Standard deviation of the Gaussian before pixel integration, pixels
        (> 0), e.g. per row. A Gaussian fitted to pixel values
        (:func:`~xmiri.kernels.tracefit.row_centers`) is wider by the pixel, ``sqrt(sigma**2 +
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
    n_cols = whole("n_cols", n_cols)
    center = np.asarray(center, dtype=np.float64)[..., np.newaxis]
    sigma = np.asarray(sigma, dtype=np.float64)[..., np.newaxis]
    edges = np.arange(n_cols + 1, dtype=np.float64) - 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = erf((edges - center) / (np.sqrt(2.0) * sigma))
    return 0.5 * (cdf[..., 1:] - cdf[..., :-1])


# --------------------------------------------------------------------------
# wavelength at the trace
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
