"""Apertures with sub-pixel edges that follow the trace, and extraction inside them.

An aperture ``[center - left_width - 0.5, center + right_width + 0.5]`` per
integration and row, whose partial edge pixels get fractional weights
(:func:`aperture_weights`), moves continuously with the trace
(:mod:`xmiri.kernels.tracefit`).  Inside it, a weighted box sum
(:func:`box_extract_weighted`) or Horne (1986) [1]_ optimal extraction
restricted to the same aperture (:func:`optimal_extract_weighted`, with
:func:`gaussian_profile` as a profile model); the wavelength is read at the
trace centre (:func:`wavelength_at_trace`).  Pixel ``c`` covers
``[c - 0.5, c + 0.5]``.  Pure numpy, no warnings machinery.

References
----------
.. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
   spectroscopy", PASP, 98, 609.
"""
import numpy as np
from scipy.special import erf

from ..exceptions import ParameterError
from ._args import frames, real, whole, widths
from .extract import revised_variance, standard_spectrum

__all__ = ["aperture_weights", "box_extract_weighted", "optimal_extract_weighted",
           "gaussian_profile", "wavelength_at_trace"]


# --------------------------------------------------------------------------
# fractional apertures and extraction
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
        :func:`~xmiri.kernels.tracefit.evaluate_trace`.
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
    n_cols = whole("n_cols", n_cols)
    left = widths("left_width", left_width)
    right = widths("right_width", right_width)
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
    data = frames("data", data, 3)
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
    data = frames("data", data, 3)
    if data.ndim != 3:
        raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
    q = real("q", q, minimum=0.0, strict=True)
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
        flux = standard_spectrum(w * d)  # step 4
        variance = np.where(inside, revised_variance(flux, p, variance0, q, sky), 1.0)  # step 6
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
