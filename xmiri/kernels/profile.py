"""Spatial profiles P for extraction: median, from a frame, and for rows with missing pixels.

The profile weighs pixels in optimal extraction and tells how much of a
row's flux its missing pixels held (:mod:`xmiri.kernels.extract`):

* :func:`median_profile_from_cutouts`: ExoTiC-MIRI's median P over
  integrations, in aperture columns;
* :func:`profile_from_frame`, :func:`median_frame_profile`: the profile of
  the exposure's median frame, completed along the rows where pixels are
  always missing;
* :func:`neighbour_profile`: the profile of a row with missing pixels from
  the neighbouring rows of the same integration (which follow its pointing);
* :func:`fill_profile`: one profile completed with another;
  :func:`complete_profile`: a profile completed on the rows of an
  integration where aperture pixels are missing, from the neighbouring rows
  (both also on the aperture's band of columns only,
  :func:`fill_profile_columns`, :func:`complete_profile_columns`);
* :func:`normalised_profiles`: per-integration profiles with rows summing
  to 1; moving them by sub-pixel shifts (:func:`shift_profile`,
  :func:`align_profiles`, :func:`move_template`, :func:`fit_profile_shift`)
  is :mod:`xmiri.kernels.profileshift`, whose functions are re-exported here.

Pure numpy.
"""
import numpy as np

from ._validate import whole
from .background import nanmedian
from ._columns import _any_along_columns, _band
from .extract import _block, _flags
from .profileshift import align_profiles, fit_profile_shift, move_template, shift_profile  # re-exported

__all__ = ["median_profile_from_cutouts", "profile_from_frame", "median_frame_profile",
           "neighbour_profile", "fill_profile", "fill_profile_columns", "complete_profile",
           "complete_profile_columns", "shift_profile",
           "normalised_profiles", "align_profiles", "move_template", "fit_profile_shift"]


def median_profile_from_cutouts(cutouts):
    """Median spatial profile over integrations, renormalised per row.

    This is the profile ExoTiC-MIRI's ``Extract1DOptimalStep`` uses with
    ``median_spatial_profile=True``: the median over integrations of the
    aperture cut-outs of P, divided by its sum along each row.

    Parameters
    ----------
    cutouts : array_like, shape (n_int, n_row, w)
        Aperture cut-outs of the spatial profile P
        (:func:`xmiri.kernels.aperture.aperture_cutout`), dimensionless.

    Returns
    -------
    numpy.ndarray, shape (n_row, w)
        float64 profile whose rows sum to 1.

    Notes
    -----
    The median ignores NaN values (e.g. the all-NaN cut-out of an
    integration without a trace centre); ExoTiC-MIRI's :func:`numpy.median`
    would make the whole profile NaN.

    Examples
    --------
    >>> cutouts = np.array([[[1.0, 2.0, 1.0]], [[1.0, 4.0, 1.0]], [[1.0, 3.0, 1.0]]])
    >>> median_profile_from_cutouts(cutouts).tolist()
    [[0.2, 0.6, 0.2]]
    """
    cutouts = _block("cutouts", cutouts)
    median = nanmedian(cutouts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return median / np.sum(median, axis=-1, keepdims=True)


def profile_from_frame(frame):
    """Spatial profile from one frame (e.g. the median frame): clipped at 0, rows summing to 1.

    Used where no per-integration profile P is available (``clean`` was not
    run) and to scale box fluxes with missing pixels.  Pixels missing
    (NaN) in the frame get the profile of the nearest complete rows above
    and below (linear interpolation along the dispersion, where the profile
    changes slowly), scaled to the row's valid pixels; columns NaN in every
    row count as 0.

    Parameters
    ----------
    frame : array_like, shape (n_row, n_col)
        Background-subtracted frame, DN/s.

    Returns
    -------
    numpy.ndarray, shape (n_row, n_col)
        float64 ``max(frame, 0) / sum(max(frame, 0))`` per row; rows whose
        clipped sum is 0 are 0; NaN in columns that are NaN in every row.

    Examples
    --------
    >>> profile_from_frame(np.array([[1.0, 3.0, -2.0], [0.0, 0.0, 0.0]])).tolist()
    [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]]
    >>> frame = np.array([[1.0, 3.0], [2.0, np.nan], [1.0, 3.0]])
    >>> profile_from_frame(frame)[1].tolist()
    [0.25, 0.75]
    """
    frame = np.asarray(frame, dtype=np.float64)
    clipped = np.clip(frame, 0.0, None)
    dead_columns = ~np.any(np.isfinite(clipped), axis=0)
    missing = ~np.isfinite(clipped) & ~dead_columns
    if missing.any():
        clipped = _fill_from_neighbouring_rows(np.where(dead_columns, 0.0, clipped), missing)
    clipped = np.where(dead_columns | ~np.isfinite(clipped), 0.0, clipped)
    total = clipped.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(total > 0, clipped / np.where(total > 0, total, 1.0), 0.0)
    return np.where(dead_columns, np.nan, profile)


def _fill_from_neighbouring_rows(clipped, missing):
    """Missing pixels of a frame from the normalised profile of the nearest complete rows."""
    complete = ~np.any(missing, axis=1)
    if not complete.any():
        return clipped
    with np.errstate(invalid="ignore", divide="ignore"):
        shape = clipped / np.sum(np.where(complete[:, None], clipped, 0.0), axis=1, keepdims=True)
    rows = np.arange(clipped.shape[0])
    index = np.where(complete, rows, -1)
    below = np.maximum.accumulate(index)  # last complete row at or before each row
    above = np.minimum.accumulate(np.where(complete, rows, clipped.shape[0])[::-1])[::-1]
    below = np.where(below < 0, above, below)
    above = np.where(above >= clipped.shape[0], below, above)
    span = np.where(above > below, above - below, 1)
    t = ((rows - below) / span)[:, None]
    model = (1.0 - t) * shape[below] + t * shape[above]
    with np.errstate(invalid="ignore", divide="ignore"):
        level = (np.sum(np.where(missing, 0.0, clipped), axis=1, keepdims=True)
                 / np.sum(np.where(missing, 0.0, model), axis=1, keepdims=True))
    filled = np.where(missing, level * model, clipped)
    return np.where(missing & ~np.isfinite(filled), 0.0, filled)


def median_frame_profile(frames):
    """:func:`profile_from_frame` of the NaN-aware median of `frames` over integrations.

    Parameters
    ----------
    frames : array_like, shape (n_int, n_row, n_col)
        Background-subtracted frames, DN/s.

    Returns
    -------
    numpy.ndarray, shape (n_row, n_col)

    Examples
    --------
    >>> frames = np.array([[[1.0, 3.0]], [[1.0, 5.0]], [[3.0, 5.0]]])
    >>> median_frame_profile(frames).tolist()
    [[0.16666666666666666, 0.8333333333333334]]
    """
    return profile_from_frame(nanmedian(np.asarray(frames, dtype=np.float64), axis=0))


def neighbour_profile(data, valid, weights, rows, fallback, *, half_height):
    """Profile of rows with missing pixels, from neighbouring rows of the same integration.

    The PSF changes slowly along the dispersion and moves with each
    integration's pointing, so the profile of row ``r`` of integration ``i``
    is best estimated from rows ``r - half_height .. r + half_height`` of
    the same integration: the median of their profiles
    ``max(D, 0) / sum(max(D, 0))`` over the aperture's columns (the band of
    columns where any weight is non-zero), using rows whose aperture pixels
    are all valid.  Where no such row holds a value, `fallback` (e.g. the
    exposure's :func:`median_frame_profile`) scaled to the estimate over the
    pixels where both exist (:func:`fill_profile`).

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted frames, DN/s.
    valid : array_like of bool, broadcastable to `data`
        Usable pixels (finite, not masked).
    weights : array_like, broadcastable to `data`
        Aperture weights; only the band of columns they touch is used.
    rows : array_like of bool, shape (n_int, n_row)
        The rows to estimate (e.g. those with a missing pixel).
    fallback : array_like, broadcastable to `data`
        Profile used where the neighbouring rows have no value (NaN: unknown).
    half_height : int
        Rows on each side, >= 1.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, n_col)
        float64 profile (rows summing to about 1 over the band) for the rows
        asked, NaN elsewhere and outside the band.

    Raises
    ------
    ParameterError
        If the shapes do not broadcast or `half_height` is not an integer >= 1.

    Examples
    --------
    >>> data = np.tile([1.0, 2.0, 1.0], (1, 5, 1)); data[0, 2, 1] = np.nan
    >>> rows = np.zeros((1, 5), bool); rows[0, 2] = True
    >>> neighbour_profile(data, np.isfinite(data), 1.0, rows, 1.0, half_height=1)[0, 2].tolist()
    [0.25, 0.5, 0.25]
    """
    data = _block("data", data)
    shape = data.shape
    half = whole("half_height", half_height, minimum=1)
    valid = _flags("valid", valid, shape)
    weights = _block("weights", weights, shape)
    fallback = _block("fallback", fallback, shape)
    rows = np.broadcast_to(np.asarray(rows, dtype=bool), shape[:2])
    out = np.full(shape, np.nan)
    which = np.nonzero(rows)
    if which[0].size == 0:
        return out
    band = _band(weights)
    inside = np.any(weights[..., band] > 0, axis=(0, 1))
    d = np.clip(np.where(valid, data, np.nan)[..., band], 0.0, None)
    complete = np.all(np.isfinite(d) | ~inside, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        shape_rows = d / np.sum(np.where(inside, d, 0.0), axis=2, keepdims=True)
    shape_rows = np.where((complete[..., np.newaxis]) & inside, shape_rows, np.nan)
    padded = np.pad(shape_rows, ((0, 0), (half, half), (0, 0)), constant_values=np.nan)
    window = which[1][:, np.newaxis] + np.arange(2 * half + 1)  # padded row indices
    local = nanmedian(padded[which[0][:, np.newaxis], window], axis=1)  # (n_asked, n_band)
    filled = fill_profile(local, fallback[..., band][which])
    out[which[0], which[1], band] = filled
    return out


def fill_profile(profile, fallback):
    """`profile` where finite, else `fallback` scaled to it row by row.

    For a per-integration profile (e.g. ``clean``'s P) that is undefined
    where pixels are missing: the scale of each row is ``sum(profile) /
    sum(fallback)`` over the pixels where both are finite (1 when there are
    none).

    Parameters
    ----------
    profile : array_like, shape (..., n_col)
        Profile with NaN where undefined.
    fallback : array_like, broadcastable to `profile`
        A profile defined everywhere, e.g. :func:`median_frame_profile`.

    Returns
    -------
    numpy.ndarray, shape of `profile`
        float64; `profile` itself (as float64) where it is finite everywhere.

    Examples
    --------
    >>> fill_profile(np.array([[2.0, np.nan, 2.0]]), np.array([0.25, 0.5, 0.25])).tolist()
    [[2.0, 4.0, 2.0]]
    """
    profile = np.asarray(profile, dtype=np.float64)
    finite = np.isfinite(profile)
    if finite.all():
        return profile
    fallback = np.broadcast_to(np.asarray(fallback, dtype=np.float64), profile.shape)
    both = finite & np.isfinite(fallback)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = (np.sum(np.where(both, profile, 0.0), axis=-1, keepdims=True)
                 / np.sum(np.where(both, fallback, 0.0), axis=-1, keepdims=True))
    scale = np.where(np.isfinite(scale) & (scale != 0), scale, 1.0)
    return np.where(finite, profile, scale * fallback)


def complete_profile(profile, data, valid, weights, fallback, *, half_height):
    """`profile` with the rows whose aperture holds a missing pixel completed from their neighbours.

    A row of an integration is *incomplete* when a pixel with a non-zero
    aperture weight is not valid.  On such a row the profile keeps its
    values on the valid pixels and takes :func:`neighbour_profile` (the
    neighbouring rows of the same integration, which follow its pointing,
    completed with `fallback`) scaled to them on the others
    (:func:`fill_profile`).  Complete rows keep `profile`.

    Parameters
    ----------
    profile : array_like, shape (n_int, n_row, n_col)
        The method's spatial profile P, dimensionless.
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted frames, DN/s.
    valid : array_like of bool, broadcastable to `data`
        Usable pixels (finite, not masked).
    weights : array_like, shape (n_int, n_row, n_col)
        Aperture weights in [0, 1].
    fallback : array_like, broadcastable to `data`
        Profile of the exposure (e.g. :func:`median_frame_profile`), for
        rows whose neighbours have no value.
    half_height : int
        Rows on each side used by :func:`neighbour_profile`, >= 1.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, n_col)
        `profile` itself where no row is incomplete; else float64 with the
        incomplete rows completed.

    Raises
    ------
    ParameterError
        If `weights` is not 3-D, `valid`, `data` or `fallback` does not
        broadcast to it, or `half_height` is not an integer >= 1.

    Examples
    --------
    >>> frames = np.tile([1.0, 2.0, 1.0], (1, 3, 1)); frames[0, 1, 1] = np.nan
    >>> p = np.tile([0.25, 0.5, 0.25], (1, 3, 1)); p[0, 1] = [0.5, np.nan, 0.5]
    >>> complete_profile(p, frames, np.isfinite(frames), np.ones_like(frames), 1.0,
    ...                  half_height=1)[0, 1].tolist()
    [0.5, 1.0, 0.5]
    """
    n_cols = np.shape(weights)[-1]
    return complete_profile_columns(profile, data, valid, weights, fallback, half_height=half_height,
                                    columns=slice(0, n_cols), n_cols=n_cols)


def fill_profile_columns(profile, fallback, columns):
    """:func:`fill_profile` of whole rows, on a band of columns only.

    The same values as ``fill_profile(profile, fallback)[..., columns]``:
    a row's scale is taken over all its columns, but only for the rows with
    a value to fill inside the band (the other rows are `profile` there).

    Parameters
    ----------
    profile : array_like, shape (..., n_col)
        Profile with NaN where undefined.
    fallback : array_like, broadcastable to `profile`
        A profile defined everywhere, e.g. :func:`median_frame_profile`.
    columns : slice
        The band of columns to return.

    Returns
    -------
    numpy.ndarray, shape (..., band width)
        float64.

    Examples
    --------
    >>> fill_profile_columns(np.array([[2.0, np.nan, 2.0, 1.0]]), np.array([0.25, 0.5, 0.25, 0.0]),
    ...                      slice(1, 3)).tolist()
    [[5.0, 2.0]]
    """
    profile = np.asarray(profile)
    band = np.array(profile[..., columns], dtype=np.float64)
    unfilled = _any_along_columns(~np.isfinite(band))
    if not unfilled.any():
        return band
    rows = np.nonzero(unfilled)
    fallback = np.broadcast_to(np.asarray(fallback), profile.shape)
    band[rows] = fill_profile(profile[rows], fallback[rows])[..., columns]
    return band


def complete_profile_columns(profile, data, valid, weights, fallback, *, half_height, columns,
                             n_cols):
    """:func:`complete_profile` on the band of columns that holds every aperture weight.

    The inputs are the band ``columns`` of frames `n_cols` wide, outside
    which every weight is 0; the result is, bit for bit,
    ``complete_profile`` of the whole frames on the band (the scale of an
    incomplete row is summed over a row of the frame's width, as there,
    from that row's band only).

    Parameters
    ----------
    profile : array_like, broadcastable to `weights`
        The method's spatial profile P on the band, dimensionless.
    data : array_like, shape (n_int, n_row, band width)
        Background-subtracted frames on the band, DN/s.
    valid : array_like of bool, broadcastable to `data`
        Usable pixels (finite, not masked).
    weights : array_like, shape (n_int, n_row, band width)
        Aperture weights in [0, 1] (:func:`xmiri.kernels.aperture.band_weights`).
    fallback : array_like, broadcastable to `data`
        Profile of the exposure on the band (e.g. :func:`median_frame_profile`).
    half_height : int
        Rows on each side used by :func:`neighbour_profile`, >= 1.
    columns : slice
        ``slice(start, stop)``: where the band lies in the frame.
    n_cols : int
        Width of the frame, columns.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, band width)
        `profile` itself where no row is incomplete; else float64 with the
        incomplete rows completed.

    Raises
    ------
    ParameterError
        As :func:`complete_profile`.

    Examples
    --------
    >>> frames = np.tile([1.0, 2.0, 1.0], (1, 3, 1)); frames[0, 1, 1] = np.nan
    >>> p = np.tile([0.25, 0.5, 0.25], (1, 3, 1)); p[0, 1] = [0.5, np.nan, 0.5]
    >>> complete_profile_columns(p, frames, np.isfinite(frames), np.ones_like(frames), 1.0,
    ...                          half_height=1, columns=slice(2, 5), n_cols=8)[0, 1].tolist()
    [0.5, 1.0, 0.5]
    """
    weights = _block("weights", weights)
    valid = _flags("valid", valid, weights.shape)
    incomplete = np.any((weights > 0) & ~valid, axis=-1)
    if not incomplete.any():
        return profile
    local = neighbour_profile(data, valid, weights, incomplete, fallback, half_height=half_height)
    rows = np.nonzero(incomplete)
    out = np.array(np.broadcast_to(np.asarray(profile, dtype=np.float64), weights.shape))

    def frame_rows(values):  # the incomplete rows, NaN outside the band
        frame = np.full((rows[0].size, n_cols), np.nan)
        frame[:, columns] = values
        return frame

    filled = fill_profile(frame_rows(np.where(valid[rows], out[rows], np.nan)),
                          frame_rows(local[rows]))
    out[rows] = filled[:, columns]
    return out


def normalised_profiles(values):
    """Each row of each integration divided by its sum, NaN ignored in the sum.

    Parameters
    ----------
    values : array_like, shape (..., n_col)
        Spatial profiles P (dimensionless) or frames (DN/s), e.g. one block
        of integrations (n_int, n_row, n_col).

    Returns
    -------
    numpy.ndarray, shape of `values`
        float64 ``values / nansum(values)`` along the last axis,
        dimensionless; NaN where `values` is NaN, and where it is 0 on a
        row summing to 0 (the other values of such a row are +-inf).

    Examples
    --------
    >>> normalised_profiles(np.array([[[1.0, 3.0, np.nan], [0.0, 0.0, 0.0]]])).tolist()
    [[[0.25, 0.75, nan], [nan, nan, nan]]]
    """
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return values / np.nansum(values, axis=-1, keepdims=True)

