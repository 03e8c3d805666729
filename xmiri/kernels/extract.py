"""Box and optimal (Horne 1986) extraction of 1-D spectra from a block.

The kernels reproduce ExoTiC-MIRI's ``Extract1DBoxStep`` and
``Extract1DOptimalStep`` for a block of integrations at once. An aperture is
a set of columns per integration (:func:`aperture_mask`); box extraction
sums the data over it, optimal extraction weights the pixels with a spatial
profile P following table 1 of Horne (1986) [1]_, steps 4, 6 and 8.

All functions here are pure numpy: arrays in, arrays out.

References
----------
.. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
   spectroscopy", PASP, 98, 609.
"""
import numpy as np

from ..exceptions import ParameterError
from .background import nanmedian

__all__ = [
    "aperture_mask",
    "aperture_cutout",
    "box_extract_block",
    "optimal_extract_block",
    "median_profile_from_cutouts",
    "profile_from_frame",
    "median_frame_profile",
    "wavelength_column",
    "standard_spectrum",
    "revised_variance",
    "optimal_spectrum",
]


def _check_width(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"{name} must be an integer >= 0 (pixels), got {value!r}")
    return int(value)


def aperture_mask(center, n_cols, left_width, right_width):
    """Columns inside the extraction aperture of each integration.

    The aperture holds columns ``[rint(center - left_width),
    rint(center + right_width + 1))``, as in ExoTiC-MIRI (``rint`` rounds
    halves to even), clipped to ``[0, n_cols)``.

    Parameters
    ----------
    center : array_like, shape (n_int,)
        Aperture centre of each integration, a (fractional) column index in
        pixels, e.g. from :func:`xmiri.kernels.trace.fit_trace_block` or a
        constant.
    n_cols : int
        Number of detector columns.
    left_width, right_width : int
        Aperture half-widths in pixels to the left and right of the centre;
        ``left_width + right_width + 1`` columns when the centre is interior.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_cols)
        bool, True inside the aperture. All False where `center` is NaN.

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
    left_width = _check_width("left_width", left_width)
    right_width = _check_width("right_width", right_width)
    n_cols = _check_width("n_cols", n_cols)
    center = np.asarray(center, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        lower = np.rint(center - left_width)[..., np.newaxis]
        upper = np.rint(center + right_width + 1)[..., np.newaxis]
        cols = np.arange(n_cols)
        return (cols >= lower) & (cols < upper)  # NaN compares False


def _check_block(name, values, ndim=3):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != ndim:
        raise ParameterError(f"{name} must be {ndim}-D, got shape {values.shape}")
    return values


def _check_mask(mask, n_int, n_cols):
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_int, n_cols):
        raise ParameterError(f"mask must have shape (n_int, n_col) = {(n_int, n_cols)}, got {mask.shape}")
    return mask


def box_extract_block(data, err, mask):
    """Box extraction: sum of the data over the aperture, row by row.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images in DN/s.
    err : array_like, broadcastable to `data`
        1-sigma uncertainty of each pixel in DN/s.
    mask : array_like of bool, shape (n_int, n_col)
        Aperture columns per integration (:func:`aperture_mask`).

    Returns
    -------
    flux : numpy.ndarray, shape (n_int, n_row)
        float64 summed flux per row in DN/s.
    flux_error : numpy.ndarray, shape (n_int, n_row)
        float64 ``sqrt(sum(err**2))`` over the aperture in DN/s.

        Both are NaN for integrations whose aperture is empty (e.g. a NaN
        trace centre); a NaN pixel inside the aperture makes its row NaN,
        as in ExoTiC-MIRI. Pixels outside the aperture never matter.

    Raises
    ------
    ParameterError
        If the shapes do not match.

    Examples
    --------
    >>> data = np.ones((1, 2, 6))
    >>> mask = aperture_mask(np.array([2.0]), 6, 1, 1)
    >>> flux, error = box_extract_block(data, 0.5 * data, mask)
    >>> flux.tolist(), error.round(4).tolist()
    ([[3.0, 3.0]], [[0.866, 0.866]])
    """
    data = _check_block("data", data)
    err = np.broadcast_to(np.asarray(err, dtype=np.float64), data.shape)
    mask = _check_mask(mask, data.shape[0], data.shape[2])
    inside = mask[:, np.newaxis, :]
    flux = np.sum(np.where(inside, data, 0.0), axis=2)
    flux_error = np.sqrt(np.sum(np.where(inside, err**2, 0.0), axis=2))
    empty = ~np.any(mask, axis=1)[:, np.newaxis]
    return np.where(empty, np.nan, flux), np.where(empty, np.nan, flux_error)


def aperture_cutout(values, mask):
    """The aperture columns of each integration, side by side.

    Parameters
    ----------
    values : array_like, shape (n_int, n_row, n_col)
        Any per-pixel quantity (data in DN/s, variance in (DN/s)**2, profile).
    mask : array_like of bool, shape (n_int, n_col)
        Aperture columns per integration. Every non-empty aperture must
        hold the same number ``w`` of columns (they need not be contiguous).

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, w)
        float64 values of the aperture columns, left to right. All NaN for
        integrations with an empty aperture. ``w`` is 0 if every aperture is
        empty or ``n_int`` is 0.

    Raises
    ------
    ParameterError
        If the shapes do not match or non-empty apertures differ in width
        (e.g. an aperture clipped at the detector edge).

    Examples
    --------
    >>> values = np.arange(12.0).reshape(1, 2, 6)
    >>> aperture_cutout(values, aperture_mask(np.array([2.0]), 6, 1, 1)).tolist()
    [[[1.0, 2.0, 3.0], [7.0, 8.0, 9.0]]]
    """
    values = _check_block("values", values)
    mask = _check_mask(mask, values.shape[0], values.shape[2])
    counts = np.count_nonzero(mask, axis=1)
    width = int(counts.max(initial=0))
    if np.any((counts != width) & (counts != 0)):
        raise ParameterError(
            f"apertures must all hold the same number of columns, got widths {sorted(set(counts.tolist()))}"
        )
    # Stable sort of ~mask puts the aperture columns first, in order.
    columns = np.argsort(~mask, axis=1, kind="stable")[:, :width]
    cutout = np.take_along_axis(values, columns[:, np.newaxis, :], axis=2)
    return np.where((counts == 0)[:, np.newaxis, np.newaxis], np.nan, cutout)


def _normalise_rows(profile):
    """Divide a profile by its sum along the last (column) axis."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return profile / np.sum(profile, axis=-1, keepdims=True)


def median_profile_from_cutouts(cutouts):
    """Median spatial profile over integrations, renormalised per row.

    This is the profile ExoTiC-MIRI's ``Extract1DOptimalStep`` uses with
    ``median_spatial_profile=True``: the median over integrations of the
    aperture cut-outs of P, divided by its sum along each row.

    Parameters
    ----------
    cutouts : array_like, shape (n_int, n_row, w)
        Aperture cut-outs of the spatial profile P
        (:func:`aperture_cutout`), dimensionless.

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
    cutouts = _check_block("cutouts", cutouts)
    return _normalise_rows(nanmedian(cutouts, axis=0))


def profile_from_frame(frame):
    """Spatial profile from one frame (e.g. the median frame): clipped at 0, rows summing to 1.

    Used for optimal extraction when no per-integration profile P is
    available (``clean`` was not run).

    Parameters
    ----------
    frame : array_like, shape (n_row, n_col)
        Background-subtracted frame, DN/s.

    Returns
    -------
    numpy.ndarray, shape (n_row, n_col)
        float64 ``max(frame, 0) / sum(max(frame, 0))`` per row; rows whose
        clipped sum is 0 (or NaN) are 0.  NaN pixels count as 0.

    Examples
    --------
    >>> profile_from_frame(np.array([[1.0, 3.0, -2.0], [0.0, 0.0, 0.0]])).tolist()
    [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]]
    """
    clipped = np.clip(np.nan_to_num(np.asarray(frame, dtype=np.float64), nan=0.0), 0.0, None)
    total = clipped.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, clipped / np.where(total > 0, total, 1.0), 0.0)


def median_frame_profile(frames):
    """:func:`profile_from_frame` of the NaN-aware median of `frames` over integrations.

    Parameters
    ----------
    frames : array_like, shape (n_int, n_row, n_col)
        Background-subtracted frames, DN/s.

    Returns
    -------
    numpy.ndarray, shape (n_row, n_col)
        Spatial profile P: each row non-negative and summing to 1 (or all 0).

    Examples
    --------
    >>> frames = np.array([[[1.0, 3.0]], [[1.0, 5.0]], [[3.0, 5.0]]])
    >>> median_frame_profile(frames).tolist()
    [[0.16666666666666666, 0.8333333333333334]]
    """
    return profile_from_frame(nanmedian(np.asarray(frames, dtype=np.float64), axis=0))


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


def revised_variance(flux, profile, variance0, q=1.0, sky=0.0):
    """Horne (1986) table 1, step 6: revised pixel variances.

    Parameters
    ----------
    flux : numpy.ndarray, shape (...)
        Spectrum f of the previous step, DN/s.
    profile : numpy.ndarray, shape (..., w)
        Spatial profile P, rows summing to 1.
    variance0 : numpy.ndarray, shape (..., w)
        Variance floor V0 (read noise), (DN/s)**2.
    q : float, optional
        Horne's Q: detected photo-electrons per unit of data.  ExoTiC-MIRI
        uses 1 (the default here); for rates in DN/s the Poisson variance of
        a pixel is ``f P / Q`` with ``Q = gain * effective integration time``
        (electrons per DN/s).
    sky : float or numpy.ndarray broadcastable to (..., w), optional
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
    >>> revised_variance(np.array([10.0]), np.array([[0.2, 0.6, 0.2]]), np.full((1, 3), 0.5), q=2.0)
    array([[1.5, 3.5, 1.5]])
    """
    return variance0 + np.abs(flux[..., np.newaxis] * profile + sky) / q


def optimal_spectrum(data, profile, variance):
    """Horne (1986) table 1, step 8: the optimal spectrum and its variance.

    Parameters
    ----------
    data : numpy.ndarray, shape (..., w)
        Sky-subtracted data D of the aperture columns, DN/s.
    profile : numpy.ndarray, shape (..., w)
        Spatial profile P, rows summing to 1.
    variance : numpy.ndarray, shape (..., w)
        Pixel variances V from step 6, (DN/s)**2.

    Returns
    -------
    flux : numpy.ndarray, shape (...)
        ``sum(P D / V) / sum(P**2 / V)``, DN/s.
    variance : numpy.ndarray, shape (...)
        ``sum(P) / sum(P**2 / V)``, (DN/s)**2.

    Notes
    -----
    A pixel with ``P = 0`` carries no weight whatever its variance, so a zero
    variance there (``V0 = 0`` where the pipeline's ``var_rnoise`` is 0 and
    the profile vanishes) does not turn the row into 0/0 = NaN.  NaN data or
    variances still propagate.

    References
    ----------
    .. [1] Horne, K. 1986, PASP, 98, 609, table 1, step 8.

    Examples
    --------
    Noiseless data equal to f P give back f:

    >>> profile = np.array([[0.2, 0.6, 0.2]])
    >>> flux, variance = optimal_spectrum(50.0 * profile, profile, np.ones((1, 3)))
    >>> flux.round(12).tolist(), variance.round(4).tolist()
    ([50.0], [2.2727])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_var = np.where(profile != 0, 1.0 / variance, 0.0 * variance)
        weight = np.sum(profile**2 * inv_var, axis=-1)
        flux = np.sum(profile * data * inv_var, axis=-1) / weight
        return flux, np.sum(profile, axis=-1) / weight


def optimal_extract_block(data, profile, variance0, mask, *, median_profile=None, q=1.0, sky=None):
    """Optimal extraction (Horne 1986) inside the aperture, row by row.

    Follows ExoTiC-MIRI's ``Extract1DOptimalStep``: the data, the spatial
    profile P and the variance floor are cut down to the aperture columns
    (:func:`aperture_cutout`); P is renormalised to sum to 1 along each row
    of the aperture (or `median_profile` is used for every integration);
    then, per row,

    * step 4: ``f = sum(D)`` (:func:`standard_spectrum`),
    * step 6: ``V = variance0 + |f P + sky| / q`` (:func:`revised_variance`),
    * step 8: ``f_opt = sum(P D / V) / sum(P**2 / V)`` and
      ``var_f_opt = sum(P) / sum(P**2 / V)`` (:func:`optimal_spectrum`).

    Steps 6 and 8 are applied once, without iteration or outlier rejection,
    as in ExoTiC-MIRI.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted rate images D in DN/s.
    profile : array_like, shape (n_int, n_row, n_col), or None
        Spatial profile P (any normalisation; non-negative). May be None
        when `median_profile` is given.
    variance0 : array_like, broadcastable to `data`
        Variance floor V0 in (DN/s)**2. ExoTiC-MIRI passes its ``readnoise``
        cube here and adds it unchanged, i.e. as a variance.
    mask : array_like of bool, shape (n_int, n_col)
        Aperture columns (:func:`aperture_mask`); all non-empty apertures
        must have the same width w.
    median_profile : array_like, shape (n_row, w), optional
        A profile shared by all integrations, already the median over all
        integrations of the aperture cut-outs of P and renormalised per row
        (:func:`median_profile_from_cutouts`); used instead of `profile`.
    q : float, optional
        Horne's Q, electrons per unit of data (see :func:`revised_variance`);
        1, as in ExoTiC-MIRI, by default.
    sky : array_like broadcastable to `data`, optional
        Horne's S, the subtracted sky in DN/s; None (ExoTiC-MIRI) is 0.

    Returns
    -------
    flux : numpy.ndarray, shape (n_int, n_row)
        float64 optimally extracted flux in DN/s.
    flux_error : numpy.ndarray, shape (n_int, n_row)
        float64 ``sqrt(var_f_opt)`` in DN/s.

        Both are NaN for integrations with an empty aperture and for rows
        where the profile sums to 0 or a value in the aperture is NaN.

    Raises
    ------
    ParameterError
        If shapes do not match, apertures differ in width, or neither
        `profile` nor `median_profile` is given.

    References
    ----------
    .. [1] Horne, K. 1986, "An optimal extraction algorithm for CCD
       spectroscopy", PASP, 98, 609, table 1, steps 4, 6 and 8.

    Examples
    --------
    Noiseless frames of 80 DN/s per row in a 7-column aperture:

    >>> cols = np.arange(10.0)
    >>> profile = np.where(abs(cols - 5) <= 3, np.exp(-0.5 * (cols - 5.0) ** 2), 0.0)
    >>> profile = np.broadcast_to(profile / profile.sum(), (1, 3, 10))
    >>> mask = aperture_mask(np.array([5.0]), 10, 3, 3)
    >>> flux, error = optimal_extract_block(80.0 * profile, profile, np.full((1, 3, 10), 0.1),
    ...                                     mask, q=40.0)
    >>> flux.round(9).tolist()
    [[80.0, 80.0, 80.0]]
    """
    data = _check_block("data", data)
    mask = _check_mask(mask, data.shape[0], data.shape[2])
    try:
        variance0 = np.broadcast_to(np.asarray(variance0, dtype=np.float64), data.shape)
    except ValueError:
        raise ParameterError(
            f"variance0 of shape {np.shape(variance0)} does not broadcast to data {data.shape}"
        ) from None
    cut_data = aperture_cutout(data, mask)
    cut_variance0 = aperture_cutout(variance0, mask)
    cut_sky = 0.0 if sky is None else aperture_cutout(
        np.broadcast_to(np.asarray(sky, dtype=np.float64), data.shape), mask)
    width = cut_data.shape[2]
    if median_profile is not None:
        median_profile = np.asarray(median_profile, dtype=np.float64)
        if data.shape[0] == 0 or width == 0:
            width = median_profile.shape[-1] if median_profile.ndim == 2 else width
            cut_data = np.full(data.shape[:2] + (width,), np.nan)
            cut_variance0 = cut_data
            cut_sky = 0.0 if sky is None else cut_data
        if median_profile.shape != (data.shape[1], width):
            raise ParameterError(
                f"median_profile must have shape (n_row, aperture width) = {(data.shape[1], width)}, "
                f"got {median_profile.shape}"
            )
        cut_profile = median_profile[np.newaxis]
    elif profile is None:
        raise ParameterError("optimal extraction needs a profile or a median_profile")
    else:
        profile = _check_block("profile", profile)
        if profile.shape != data.shape:
            raise ParameterError(f"profile must have the shape of data {data.shape}, got {profile.shape}")
        cut_profile = _normalise_rows(aperture_cutout(profile, mask))

    with np.errstate(invalid="ignore", divide="ignore"):
        flux = standard_spectrum(cut_data)
        variance = revised_variance(flux, cut_profile, cut_variance0, q, cut_sky)
        flux_opt, variance_opt = optimal_spectrum(cut_data, cut_profile, variance)
        flux_error = np.sqrt(variance_opt)
    return flux_opt, flux_error
