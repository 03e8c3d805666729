"""Box and optimal (Horne 1986) extraction inside aperture weights, with missing pixels.

One box kernel (:func:`box_extract`) and one optimal kernel
(:func:`optimal_extract`) serve every aperture: they take the fraction of
each pixel inside the aperture (:mod:`xmiri.kernels.aperture`: 0/1 for
ExoTiC-MIRI's whole-pixel apertures, fractional edges for traced ones) and a
spatial profile P.  With 0/1 weights and no missing pixel they reproduce
ExoTiC-MIRI's ``Extract1DBoxStep`` and ``Extract1DOptimalStep``.

A pixel is *missing* when its data or error is not finite or the caller
marks it unusable (e.g. by DQ).  A row is measured from its valid pixels:
the box scales their sum by the profile weight they hold, the optimal
extraction gives missing pixels zero weight (Horne's [1]_ estimator over
the valid pixels); a row is given up (NaN) only when the valid pixels hold
less than ``min_valid_weight`` of the aperture's profile weight.  Each
kernel also returns the fraction of the aperture's profile weight that was
missing or replaced and the linear weight of every pixel in the flux (for
error terms common to many pixels, e.g. the subtracted sky:
:func:`xmiri.kernels.noise.sky_flux_variance`).

Also here: the rows whose profile puts no weight in the aperture
(:func:`zero_profile_rows`), the scale of an optimal flux to the frame of
the trace (:func:`trace_frame_scale`), Horne's steps 4 and 6 and the
wavelength of a spectrum; the
profiles the kernels use are in :mod:`xmiri.kernels.profile`.  Pure numpy.

References
----------
.. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
   spectroscopy", PASP, 98, 609.
"""
from typing import NamedTuple

import numpy as np

from ..exceptions import ParameterError
from ._columns import _any_along_columns, _band, _distinct, _expand, _full_row_sum, _weighted_band
from ._validate import real
from .background import nanmedian

__all__ = [
    "Extraction",
    "box_extract",
    "optimal_extract",
    "trace_frame_scale",
    "zero_profile_rows",
    "wavelength_column",
    "standard_spectrum",
    "revised_variance",
]


class Extraction(NamedTuple):
    """What :func:`box_extract` and :func:`optimal_extract` return, per integration and row.

    Parameters
    ----------
    flux : numpy.ndarray, shape (n_int, n_row)
        Float64 flux in the aperture, unit of the data; NaN where the row is
        given up.
    flux_error : numpy.ndarray, shape (n_int, n_row)
        Float64 1-sigma error from the pixel variances, unit of the data.
    missing_fraction : numpy.ndarray, shape (n_int, n_row)
        Float64 fraction of the aperture's profile weight ``sum(w P)`` on
        pixels that were missing or replaced, in [0, 1]; NaN where the row
        has no aperture or no profile weight.
    linear_weights : numpy.ndarray, shape (n_int, n_row, n_col)
        Float64 coefficient of each pixel's data in the flux
        (``flux = sum(linear_weights * data)`` over the valid pixels); 0 for
        missing pixels, outside the aperture and in rows given up.
    """

    flux: np.ndarray
    flux_error: np.ndarray
    missing_fraction: np.ndarray
    linear_weights: np.ndarray


def _block(name, values, shape=None):
    """`values` as float64, 3-D (integration, row, col) or broadcast to `shape`; checked."""
    return _unconverted(name, np.asarray(values, dtype=np.float64), shape)


def _unconverted(name, values, shape=None):
    """:func:`_block`'s checks without its float64 copy: convert after cutting to a band."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        values = values.astype(np.float64)
    if shape is None:
        if values.ndim != 3:
            raise ParameterError(f"{name} must be 3-D (integration, row, col), got shape {values.shape}")
        return values
    try:
        return np.broadcast_to(values, shape)
    except ValueError:
        raise ParameterError(f"{name} of shape {values.shape} does not broadcast to data {shape}") from None


def _flags(name, values, shape):
    if values is None:
        return None
    try:
        return np.broadcast_to(np.asarray(values, dtype=bool), shape)
    except ValueError:
        raise ParameterError(f"{name} of shape {np.shape(values)} does not broadcast to data {shape}") from None


def _valid_pixels(inside, usable, *values):
    """Pixels inside the aperture with finite values that the caller did not mark unusable."""
    good = inside.copy()
    for value in values:
        good &= np.isfinite(value)
    if usable is not None:
        good &= usable
    return good


def _missing_weight(wp, inside, good, replaced):
    """Profile weight of the pixels missing (or replaced) inside the aperture, summed per row."""
    lost = inside & ~good
    if replaced is not None:
        lost = lost | (inside & replaced)
    return np.sum(np.where(lost, wp, 0.0), axis=2)


def box_extract(data, err, weights, profile, usable, replaced, *, min_valid_weight):
    """Box extraction inside aperture weights, measuring rows with missing pixels.

    With ``w`` the aperture weights, ``P`` the profile and ``V`` the set of
    valid pixels (finite data and error, `usable`), per row:

    * ``flux = s * sum_V(w D)`` and ``flux_error = s * sqrt(sum_V(w**2 err**2))``,
    * with ``s = sum(w P) / sum_V(w P)``: the valid pixels' flux scaled by the
      profile weight they hold (``s = 1`` exactly when no pixel is missing, so
      that complete rows are ExoTiC-MIRI's ``sum(D)`` and
      ``sqrt(sum(err**2))``).

    A pixel half in the aperture contributes half its signal and a quarter
    of its variance (the flux is a linear combination of independent pixels
    with coefficients ``s w``).  Rows whose aperture holds no profile weight
    (``sum(w P) = 0``: no starlight, or no profile) weigh their pixels by
    ``w`` alone.  The profile is treated as exact: its own error is not in
    ``flux_error``.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images D, DN/s; NaN where missing.
    err : array_like, broadcastable to `data`
        1-sigma uncertainty of each pixel, DN/s.
    weights : array_like, broadcastable to `data`
        Aperture weights in [0, 1] (:mod:`xmiri.kernels.aperture`).
    profile : array_like, broadcastable to `data`
        Spatial profile P (any normalisation per row; negative values count
        as 0), e.g. :func:`xmiri.kernels.profile.median_frame_profile`.  NaN means unknown: a row
        with a missing pixel and an unknown P inside its aperture is given
        up (its valid pixels cannot be scaled); complete rows never need P.
    usable : array_like of bool broadcastable to `data`, or None
        False for pixels to leave out although finite (e.g. flagged in DQ);
        None: every finite pixel is usable.
    replaced : array_like of bool broadcastable to `data`, or None
        True for pixels whose value an earlier step replaced (used, but
        counted in ``missing_fraction``); None: none.
    min_valid_weight : float
        A row is given up (NaN) when its valid pixels hold less than this
        fraction of ``sum(w P)``, in [0, 1].

    Returns
    -------
    Extraction
        ``flux``, ``flux_error`` (n_int, n_row) DN/s, NaN for rows without
        aperture or given up; ``missing_fraction`` (n_int, n_row);
        ``linear_weights`` (n_int, n_row, n_col) ``s w`` on the valid pixels.

    Raises
    ------
    ParameterError
        If shapes do not broadcast or `min_valid_weight` is outside [0, 1].

    Examples
    --------
    A flat row of 1 DN/s, a 3-pixel aperture, its middle pixel missing:

    >>> data = np.array([[[0.0, 1.0, np.nan, 1.0, 0.0]]])
    >>> w = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    >>> out = box_extract(data, 0.1, w, np.ones(5), None, None, min_valid_weight=0.5)
    >>> out.flux, out.missing_fraction.round(4)
    (array([[3.]]), array([[0.3333]]))
    """
    data = _block("data", data)
    shape = data.shape
    err = _block("err", err, shape)
    weights = _block("weights", weights, shape)
    profile = _block("profile", profile, shape)
    usable = _flags("usable", usable, shape)
    replaced = _flags("replaced", replaced, shape)
    min_valid = real("min_valid_weight", min_valid_weight, minimum=0.0)
    if min_valid > 1.0:
        raise ParameterError(f"min_valid_weight must be in [0, 1], got {min_valid!r}")
    band = _band(weights)  # work only on the columns the apertures touch
    data, err, w, p = data[..., band], err[..., band], weights[..., band], profile[..., band]
    usable = None if usable is None else usable[..., band]
    replaced = None if replaced is None else replaced[..., band]
    inside = w > 0
    good = _valid_pixels(inside, usable, data, err)
    unknown = _any_along_columns(inside & np.isnan(p))  # no profile weight known for the scale
    with np.errstate(invalid="ignore", divide="ignore"):
        wp = np.where(inside & (p > 0), w * p, 0.0)  # NaN P compares False
        total = np.sum(wp, axis=2)
        flat = total <= 0  # no profile weight in the aperture: weigh by w alone
        if flat.any():  # those rows only (the same row sums)
            wp[flat] = np.where(inside[flat], w[flat], 0.0)
            total[flat] = np.sum(wp[flat], axis=-1)
        held = np.sum(np.where(good, wp, 0.0), axis=2)
        complete = ~_any_along_columns(inside & ~good)
        scale = np.where(complete, 1.0, total / held)
        flux = scale * np.sum(np.where(good, w * data, 0.0), axis=2)
        variance = scale**2 * np.sum(np.where(good, (w * err) ** 2, 0.0), axis=2)
        missing = _missing_weight(wp, inside, good, replaced) / total
        has_aperture = _any_along_columns(inside)
        given_up = (~has_aperture | ~complete & (~(held >= min_valid * total) | unknown)
                    | (held <= 0))
    flux = np.where(given_up, np.nan, flux)
    flux_error = np.where(given_up, np.nan, np.sqrt(variance))
    linear = np.where(good & ~given_up[..., np.newaxis], scale[..., np.newaxis] * w, 0.0)
    return Extraction(flux, flux_error, np.where(has_aperture & ~unknown, missing, np.nan),
                      _expand(linear, band, shape[-1]))


def optimal_extract(data, profile, variance0, weights, usable, replaced, *, q, sky,
                    min_valid_weight):
    """Optimal extraction (Horne 1986) inside aperture weights, over the valid pixels.

    With aperture weights ``w``, the profile P cut to the aperture and
    normalised so that ``sum(w P) = 1`` over the whole aperture, and ``V``
    the valid pixels (finite data, variance floor and profile, `usable`),
    following table 1 of Horne (1986) [1]_ once, without iteration or
    outlier rejection (as ExoTiC-MIRI):

    * step 4: ``f = sum_V(w D) / sum_V(w P)`` (:func:`standard_spectrum`;
      the plain ``sum(w D)`` when no pixel is missing);
    * step 6: ``Var = variance0 + |f P + sky| / q`` (:func:`revised_variance`);
    * step 8: with ``a = w P / Var`` on valid pixels (0 on missing ones),
      ``f_opt = sum(a D) / sum(a P)`` and ``var(f_opt) = sum(a**2 Var) /
      sum(a P)**2``.

    For 0/1 weights and no missing pixel this is Horne's (the variance is
    ``1 / sum(P**2 / Var)``).  If ``E[D] = F P_true`` and P is proportional
    to ``P_true``, ``E[f_opt] = F sum(w P_true)`` whatever pixels are
    missing: the flux inside the aperture, the same quantity the box
    estimates.  Partial pixels enter through the aperture weight on their
    optimal weight, so the estimate moves continuously with the trace.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images D, DN/s; NaN where missing.
    profile : array_like, broadcastable to `data`
        Spatial profile P (any positive normalisation), defined (finite) on
        every pixel of the aperture, missing ones included
        (:func:`xmiri.kernels.profile.fill_profile`).  It should follow the trace of each
        integration.
    variance0 : array_like, broadcastable to `data`
        Variance floor V0, (DN/s)**2 (read noise).
    weights : array_like, broadcastable to `data`
        Aperture weights in [0, 1].
    usable, replaced : array_like of bool broadcastable to `data`, or None
        As for :func:`box_extract`.
    q : float
        Horne's Q, electrons per unit of data (``gain * integration time``
        for rates in DN/s; ExoTiC-MIRI uses 1).
    sky : array_like broadcastable to `data`, or None
        The subtracted sky S, DN/s (None: 0, as ExoTiC-MIRI).
    min_valid_weight : float
        A row is given up (NaN) when its valid pixels hold less than this
        fraction of ``sum(w P)``, in [0, 1].

    Returns
    -------
    Extraction
        ``flux``, ``flux_error`` (n_int, n_row) DN/s, NaN for rows with an
        empty aperture, a profile summing to 0 over it, or given up;
        ``missing_fraction``; ``linear_weights`` ``a / sum(a P)``.

    Raises
    ------
    ParameterError
        If shapes do not broadcast, `q` is not positive or
        `min_valid_weight` is outside [0, 1].

    References
    ----------
    .. [1] Horne, K. 1986, PASP, 98, 609, table 1, steps 4, 6 and 8.

    Examples
    --------
    Noiseless data ``f P`` give back ``f`` with one pixel missing:

    >>> p = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    >>> data = 50.0 * p[None, None, :]
    >>> data[0, 0, 1] = np.nan
    >>> out = optimal_extract(data, p, 0.01, 1.0, None, None, q=10.0, sky=None,
    ...                       min_valid_weight=0.5)
    >>> out.flux.round(10), out.missing_fraction.round(10)
    (array([[50.]]), array([[0.2]]))
    """
    flux, flux_error, missing, linear, band = _optimal_band(
        data, profile, variance0, weights, usable, replaced, q=q, sky=sky,
        min_valid_weight=min_valid_weight)
    return Extraction(flux, flux_error, missing, _expand(linear, band, np.shape(data)[-1]))


#: Integrations per pass of :func:`_optimal_band`: its float64 buffers of
#: (integrations, rows, band columns) stay in cache (~0.5 MB each for 416 rows, 19 columns).
_OPTIMAL_PASS = 8


def _optimal_band(data, profile, variance0, weights, usable, replaced, *, q, sky,
                  min_valid_weight):
    """:func:`optimal_extract` on the band of columns its apertures touch.

    The same operations on the same values, a few integrations at a time in
    buffers reused from pass to pass (each temporary computed once, in
    place).  Returns ``flux``, ``flux_error``, ``missing_fraction``, the linear
    weights of the band's columns only (every other one is 0) and the band
    (a slice of the columns)."""
    data = _unconverted("data", data)
    shape = data.shape
    q = real("q", q, minimum=0.0, strict=True)
    min_valid = real("min_valid_weight", min_valid_weight, minimum=0.0)
    if min_valid > 1.0:
        raise ParameterError(f"min_valid_weight must be in [0, 1], got {min_valid!r}")
    weights = _block("weights", weights, shape)
    profile = _unconverted("profile", profile, shape)
    variance0 = _unconverted("variance0", variance0, shape)
    sky = None if sky is None else _unconverted("sky", sky, shape)
    usable = _flags("usable", usable, shape)
    replaced = _flags("replaced", replaced, shape)
    band = _band(weights)  # work only on the columns the apertures touch (float64 only there)
    data, profile, variance0 = data[..., band], profile[..., band], variance0[..., band]
    sky = None if sky is None else sky[..., band]
    usable = None if usable is None else usable[..., band]
    replaced = None if replaced is None else replaced[..., band]
    w = _distinct(weights[..., band])  # once per row for weights the same in every integration
    inside = w > 0
    w = np.where(inside, w, 0.0)
    n_int, n_row, n_col = data.shape
    has_aperture = np.broadcast_to(np.any(inside, axis=2), (n_int, n_row))
    total, held, box, numerator, denominator, square, missing = np.empty((7, n_int, n_row))
    incomplete = np.empty((n_int, n_row), bool)
    linear = np.empty((n_int, n_row, n_col))
    step = min(_OPTIMAL_PASS, n_int) or 1
    d, p, wp, variance, a, x = np.empty((6, step, n_row, n_col))  # d: D on valid pixels, 0 elsewhere
    good, lost, flag, zero = np.empty((4, step, n_row, n_col), bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, n_int, step):
            rows = slice(start, min(start + step, n_int))
            n = rows.stop - start
            d_, p_, wp_, v_, a_, x_, good_, lost_, flag_, zero_ = (
                buffer[:n] for buffer in (d, p, wp, variance, a, x, good, lost, flag, zero))
            w_, in_ = (_rows(value, rows) for value in (w, inside))
            np.isfinite(data[rows], out=good_)  # good: inside, finite data, V0, P (and S), usable
            good_ &= in_
            for value in (variance0, profile) if sky is None else (variance0, profile, sky):
                good_ &= np.isfinite(value[rows], out=flag_)
            if usable is not None:
                good_ &= usable[rows]
            np.logical_not(good_, out=lost_)
            lost_ &= in_  # inside the aperture, not valid
            incomplete[rows] = _any_along_columns(lost_)
            p_[...] = 0.0
            np.copyto(p_, profile[rows], where=in_)
            np.add.reduce(np.multiply(w_, p_, out=x_), axis=2, out=total[rows])
            np.divide(p_, total[rows, :, np.newaxis], out=p_)  # sum(w P) = 1
            np.multiply(w_, p_, out=wp_)
            x_[...] = 0.0
            np.copyto(x_, wp_, where=good_)
            np.add.reduce(x_, axis=2, out=held[rows])
            d_[...] = 0.0
            np.copyto(d_, data[rows], where=good_)
            np.add.reduce(np.multiply(w_, d_, out=x_), axis=2, out=box[rows])  # step 4
            flux = np.where(incomplete[rows], box[rows] / held[rows], box[rows])
            _revised_variance_into(v_, flux, p_, variance0[rows], q,
                                   None if sky is None else sky[rows])  # step 6
            np.logical_not(good_, out=flag_)
            np.copyto(v_, 1.0, where=flag_)
            np.divide(1.0, v_, out=a_)  # step 8: a = w P / Var on valid pixels with P != 0
            flag_ |= np.equal(p_, 0.0, out=zero_)
            np.copyto(a_, 0.0, where=flag_)
            np.multiply(wp_, a_, out=a_)
            np.add.reduce(np.multiply(a_, p_, out=x_), axis=2, out=denominator[rows])
            np.add.reduce(np.multiply(a_, d_, out=x_), axis=2, out=numerator[rows])
            np.multiply(a_, a_, out=x_)
            np.add.reduce(np.multiply(x_, v_, out=x_), axis=2, out=square[rows])
            np.divide(a_, denominator[rows, :, np.newaxis], out=linear[rows])
            if replaced is not None:  # missing or replaced
                lost_ |= np.logical_and(in_, replaced[rows], out=flag_)
            x_[...] = 0.0
            np.copyto(x_, wp_, where=lost_)
            np.add.reduce(x_, axis=2, out=missing[rows])
        flux_opt = numerator / denominator
        variance_opt = square / denominator**2
        given_up = (~has_aperture | ~np.isfinite(total) | (total == 0)
                    | incomplete & ~(held >= min_valid) | ~np.isfinite(flux_opt))
    flux_opt = np.where(given_up, np.nan, flux_opt)
    flux_error = np.where(given_up, np.nan, np.sqrt(variance_opt))
    missing = np.where(has_aperture & np.isfinite(total) & (total != 0), missing, np.nan)
    np.copyto(linear, 0.0, where=given_up[..., np.newaxis])
    return flux_opt, flux_error, missing, linear, band


def _revised_variance_into(out, flux, profile, variance0, q, sky):
    """:func:`revised_variance` written into `out` (no sky: None; ``+ 0.0`` would change
    nothing under the absolute value)."""
    np.multiply(flux[..., np.newaxis], profile, out=out)
    if sky is not None:
        np.add(out, sky, out=out)
    np.abs(out, out=out)
    np.divide(out, q, out=out)
    return np.add(variance0, out, out=out)


def _rows(values, rows):
    """`values`' integrations `rows`, or all of them when it holds one for every integration."""
    return values if values.shape[0] == 1 else values[rows]


def trace_frame_scale(template, profile, weights):
    """Scale of an optimal flux extracted with a moved profile to the flux in the trace's frame.

    Optimal extraction with a profile P moved onto an integration's trace
    estimates ``F sum(w P)``, the flux P puts in the aperture, which changes
    as the trace moves toward one edge of a fixed aperture.  Multiplied by
    ``sum(w T) / sum(w P)``, T the unmoved template, it is ``F sum(w T)``:
    the flux inside the aperture placed where it is on the template,
    whatever the integration's shift (the scale is 1 when P is T).

    Parameters
    ----------
    template : array_like, broadcastable to `profile`, e.g. shape (n_row, n_col)
        Unmoved profile T, dimensionless; NaN counts as 0.
    profile : array_like, shape (n_int, n_row, n_col)
        Profile P the flux was extracted with (T moved onto each
        integration's trace), dimensionless; NaN pixels are left out.
    weights : array_like, shape (n_int, n_row, n_col)
        Aperture weights w in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row)
        float64 ``sum(w T) / sum(w P)`` of each integration and row,
        dimensionless; NaN where it is not finite or not positive.

    Raises
    ------
    ParameterError
        If `weights` is not 3-D, or `template` or `profile` does not broadcast to it.

    Examples
    --------
    >>> template = np.array([[0.0, 0.5, 0.5, 0.0]])
    >>> profile = np.array([[[0.0, 0.0, 0.5, 0.5]]])
    >>> trace_frame_scale(template, profile, np.array([[[0.0, 1.0, 1.0, 0.0]]])).tolist()
    [[2.0]]
    """
    return _trace_frame_scale(template, profile, weights)[0]


def _in_frame(band, columns):
    """`band`, a slice of the columns of a band of the frame at `columns` (None: the frame), as
    a slice of the frame's columns."""
    if columns is None:
        return band
    return slice(columns.start + band.start, columns.start + band.stop)


def _trace_frame_scale(template, profile, weights, zero_rows=False, *, columns=None, n_cols=None):
    """:func:`trace_frame_scale`, and with `zero_rows` :func:`zero_profile_rows` of `weights`
    and `profile` (else None).

    The rows' ``sum(w T)`` is taken once where `weights` and `template` are the
    same in every integration (the same sums, broadcast), and the zero rows
    come from the scale's ``sum(w P)`` where it is their sum but for the sign
    of zeros (finite weights, no infinite P: a NaN ``w P`` is +0.0 there and
    ``w * 0.0`` in :func:`zero_profile_rows`).  The arrays may hold only the
    band ``columns`` (a slice) of frames `n_cols` wide, outside which every
    weight is 0: the results are those of the whole frames, bit for bit."""
    weights = _block("weights", weights)
    profile = _block("profile", profile, weights.shape)
    template = _block("template", np.nan_to_num(np.asarray(template, dtype=np.float64)), weights.shape)
    band = _weighted_band(weights)  # elsewhere w T is 0 and w P is 0 or NaN (left out)
    w, p = weights[..., band], profile[..., band]
    frame, n_cols = _in_frame(band, columns), n_cols or weights.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        wp = np.multiply(w, p)
        np.copyto(wp, 0.0, where=np.isnan(wp))
        held = _full_row_sum(wp, frame, n_cols)
        scale = _full_row_sum(_distinct(w) * _distinct(template[..., band]), frame, n_cols) / held
    zero = None
    if zero_rows:
        shared = np.isfinite(_distinct(w)).all() and not np.isinf(p).any()
        zero = ~(held != 0) if shared else _zero_profile_rows(weights, profile, columns, n_cols)
    return np.where(np.isfinite(scale) & (scale > 0), scale, np.nan), zero


def zero_profile_rows(weights, profile):
    """Rows on which the profile puts no weight in the aperture: ``sum(w P) == 0``.

    Such rows hold no starlight to measure (their flux is NaN for that
    reason, not for missing pixels).

    Parameters
    ----------
    weights : array_like, shape (n_int, n_row, n_col)
        Aperture weights w in [0, 1].
    profile : array_like, broadcastable to `weights`
        Spatial profile P, dimensionless; NaN counts as 0.

    Returns
    -------
    numpy.ndarray of bool, shape (n_int, n_row)
        True where ``sum(w P)`` over the columns is 0.

    Raises
    ------
    ParameterError
        If `weights` is not 3-D or `profile` does not broadcast to it.

    Examples
    --------
    >>> weights = np.array([[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]])
    >>> zero_profile_rows(weights, np.array([[[0.0, np.nan, 1.0], [0.0, 0.5, 0.5]]])).tolist()
    [[True, False]]
    """
    return _zero_profile_rows(weights, profile)


def _zero_profile_rows(weights, profile, columns=None, n_cols=None):
    """:func:`zero_profile_rows`; the arrays may hold only the band ``columns`` (a slice) of
    frames `n_cols` wide, outside which every weight is 0 (the same rows, bit for bit)."""
    weights = _block("weights", weights)
    profile = _block("profile", profile, weights.shape)
    band = _weighted_band(weights)  # elsewhere w P is 0
    p = profile[..., band]
    wp = weights[..., band] * p
    unknown = ~np.isfinite(p)
    if unknown.any():  # w * nan_to_num(P) there
        wp[unknown] = (weights[..., band] * np.nan_to_num(p))[unknown]
    with np.errstate(invalid="ignore"):
        return ~(_full_row_sum(wp, _in_frame(band, columns), n_cols or weights.shape[-1]) != 0)


def wavelength_column(wavelength, centers):
    """Wavelengths along the rows at column ``int(nanmedian(centers))``.

    ExoTiC-MIRI's choice for the wavelength of a spectrum extracted around
    fitted trace centres: the column of the median centre, truncated.

    Parameters
    ----------
    wavelength : array_like, shape (..., n_row, n_col)
        Wavelength map, micron.
    centers : array_like, shape (n_int,)
        Trace centres, pixels (NaN allowed).

    Returns
    -------
    numpy.ndarray, shape (..., n_row)
        Micron; all NaN when no centre is finite.

    Examples
    --------
    >>> wavelength_column(np.arange(6.0).reshape(2, 3), np.array([1.2, 1.9, np.nan])).tolist()
    [1.0, 4.0]
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    median = nanmedian(np.asarray(centers, dtype=np.float64).ravel())
    if not np.isfinite(median):
        return np.full(wavelength.shape[:-1], np.nan)
    return wavelength[..., int(median)]


def standard_spectrum(data):
    """Horne (1986) table 1, step 4: the standard (box) spectrum.

    Parameters
    ----------
    data : numpy.ndarray, shape (..., w)
        Sky-subtracted data D of the aperture columns, DN/s.

    Returns
    -------
    numpy.ndarray, shape (...)
        ``f = sum(D)`` over the aperture, DN/s.

    References
    ----------
    .. [1] Horne, K. 1986, PASP, 98, 609, table 1, step 4.

    Examples
    --------
    >>> standard_spectrum(np.array([[1.0, 2.0, 3.0]])).tolist()
    [6.0]
    """
    return np.sum(data, axis=-1)


def revised_variance(flux, profile, variance0, q, sky):
    """Horne (1986) table 1, step 6: revised pixel variances.

    Parameters
    ----------
    flux : numpy.ndarray, shape (...)
        Spectrum f of the previous step, DN/s.
    profile : numpy.ndarray, shape (..., w)
        Spatial profile P, rows summing to 1.
    variance0 : numpy.ndarray, shape (..., w)
        Variance floor V0 (read noise), (DN/s)**2.
    q : float
        Horne's Q: detected photo-electrons per unit of data.  ExoTiC-MIRI
        uses 1; for rates in DN/s the Poisson variance of
        a pixel is ``f P / Q`` with ``Q = gain * effective integration time``
        (electrons per DN/s).
    sky : float or numpy.ndarray broadcastable to (..., w)
        Horne's S, the sky that was subtracted from the data (DN/s); 0 in
        ExoTiC-MIRI.

    Returns
    -------
    numpy.ndarray, shape (..., w)
        ``V = V0 + |f P + S| / Q``.

    References
    ----------
    .. [1] Horne, K. 1986, PASP, 98, 609, table 1, step 6.

    Examples
    --------
    >>> revised_variance(np.array([10.0]), np.array([[0.2, 0.6, 0.2]]), np.full((1, 3), 0.5), 2.0, 0.0)
    array([[1.5, 3.5, 1.5]])
    """
    return variance0 + np.abs(flux[..., np.newaxis] * profile + sky) / q
