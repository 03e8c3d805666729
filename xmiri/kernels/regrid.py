"""Re-sample 1D signals by sub-pixel shifts: the kernel that undoes :func:`xmiri.kernels.align.measure_shifts`.

Also reached as :func:`xmiri.kernels.align.resample`.
"""
import numpy as np

from ..exceptions import ParameterError

__all__ = ["resample", "resample_with_sky"]


def resample(values, errors, shifts):
    """Re-sample each signal onto the template's pixel grid.

    Computes ``out[i](x) = values[i](x + shifts[i])`` by linear interpolation
    between the two neighbouring samples, so that a signal measured with
    :func:`measure_shifts` to have shift ``s`` is moved back onto the
    template's grid.

    Parameters
    ----------
    values : array_like, shape (n, m)
        Signals, e.g. 1D spectra along the dispersion axis.
    errors : array_like, shape (n, m)
        One-sigma uncertainties of ``values``.
    shifts : array_like, shape (n,)
        Shift of each signal in pixels (as returned by
        :func:`measure_shifts`).

    Returns
    -------
    values : ndarray, shape (n, m), float64
        Re-sampled signals.  A sample that would need data beyond either end
        of the signal is NaN (no extrapolation); a row whose shift is NaN is
        all NaN.  A shift of exactly zero (or any integer) moves samples
        exactly.
    errors : ndarray, shape (n, m), float64
        Uncertainties whose squares sum over rows to the variance of the
        re-sampled signal summed over those rows: with ``p = x + shift``,
        ``k = floor(p)`` and weight ``f = p - k``, the linearly interpolated
        variance ``sqrt((1 - f) * e[k]**2 + f * e[k + 1]**2)`` (see Notes).
        NaN wherever ``values`` is.

    Raises
    ------
    xmiri.exceptions.ParameterError
        If the shapes do not match.

    See Also
    --------
    measure_shifts : Measures the shifts this function undoes.

    Notes
    -----
    Interpolation correlates neighbouring output samples: sample ``x``
    and ``x + 1`` share input ``k + 1``.  No per-sample error can make both
    the variance of one sample and that of a sum over samples right.  For
    independent inputs of errors ``e``, one re-sampled sample has variance
    ``(1 - f)**2 e[k]**2 + f**2 e[k + 1]**2`` (up to half the input variance
    at ``f = 0.5``), but a sum over samples ``a..b`` weighs every interior
    input by ``(1 - f) + f = 1``: its variance is the sum of the inputs'
    ``e**2``, as without re-sampling.  Light curves and every fit of a
    spectrum sum over rows, so the errors here are chosen to keep sums right:
    the squares of the returned errors, summed over any range of rows, equal
    the variance of the sum except for the two end inputs (weighted ``1 - f``
    and ``f`` rather than their squares, an overestimate of less than one
    row's variance).  Per sample they overestimate the variance by up to 2
    (at ``f = 0.5``).  Before this choice the independent-sample formula was
    used, which made the errors of a 40-row bin too small by up to
    ``sqrt(2)``.  ExoTiC-MIRI [1]_ interpolates the errors themselves
    linearly, the same for slowly varying errors.  For an error that is
    fully correlated between rows (a sky estimate shared by rows), resample
    it as ``values``: a linear interpolation keeps a coherent sum right.

    References
    ----------
    .. [1] Grant, D. ExoTiC-MIRI 1.0.1, ``exotic_miri.stage_2.AlignSpectraStep``,
       https://github.com/Exo-TiC/ExoTiC-MIRI.

    Examples
    --------
    >>> import numpy as np
    >>> values, errors = resample(np.array([[0.0, 10.0, 20.0]]), np.ones((1, 3)), np.array([0.5]))
    >>> values
    array([[ 5., 15., nan]])
    >>> errors.round(4)
    array([[ 1.,  1., nan]])
    """
    v = np.asarray(values, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    sh = np.asarray(shifts, dtype=np.float64)
    if v.ndim != 2 or e.shape != v.shape:
        raise ParameterError(
            f"values and errors must both have shape (n, m); got {v.shape} and {e.shape}")
    if sh.shape != (v.shape[0],):
        raise ParameterError(f"shifts must have shape ({v.shape[0]},); got {sh.shape}")
    n, m = v.shape
    if n == 0 or m == 0:
        return v.copy(), e.copy()
    finite_shift = np.isfinite(sh)
    p = np.arange(m)[None, :] + np.where(finite_shift, sh, 0.0)[:, None]
    k0f = np.floor(p)
    f = p - k0f
    k0 = k0f.astype(np.intp)
    k1 = k0 + (f > 0)  # an exact integer position needs only one sample
    inside = (k0 >= 0) & (k1 <= m - 1) & finite_shift[:, None]
    k0 = np.clip(k0, 0, m - 1)
    k1 = np.clip(k1, 0, m - 1)
    v0 = np.take_along_axis(v, k0, axis=1)
    v1 = np.take_along_axis(v, k1, axis=1)
    e0 = np.take_along_axis(e, k0, axis=1)
    e1 = np.take_along_axis(e, k1, axis=1)
    out_v = (1.0 - f) * v0 + f * v1
    out_e = np.sqrt((1.0 - f) * e0 ** 2 + f * e1 ** 2)  # interpolated variance: sums stay right
    out_v[~inside] = np.nan
    out_e[~inside] = np.nan
    out_e[np.isnan(out_v)] = np.nan
    return out_v, out_e


def resample_with_sky(values, errors, sky_errors, shifts):
    """:func:`resample` of spectra whose errors hold a sky part correlated between rows.

    The pixels' part of the error, ``sqrt(errors**2 - sky_errors**2)``
    (independent between rows), is re-sampled as a variance, like
    :func:`resample`; the sky's part (the same sky error shared by
    neighbouring rows) is interpolated linearly, which keeps its coherent
    sum over rows right.

    Parameters
    ----------
    values, errors, sky_errors : array_like, shape (n, m)
        Signals, their total one-sigma errors and the sky's part of them
        (same unit).
    shifts : array_like, shape (n,)
        Shift of each signal in pixels.

    Returns
    -------
    values : numpy.ndarray, shape (n, m)
        Re-sampled signals (:func:`resample`).
    errors : numpy.ndarray, shape (n, m)
        Quadrature sum of the re-sampled pixel and sky parts.
    sky_errors : numpy.ndarray, shape (n, m)
        The sky's part, interpolated linearly.

    Examples
    --------
    >>> v, e, s = resample_with_sky(np.ones((1, 3)), np.full((1, 3), 5.0), np.full((1, 3), 3.0), np.zeros(1))
    >>> e.tolist(), s.tolist()
    ([[5.0, 5.0, 5.0]], [[3.0, 3.0, 3.0]])
    """
    errors = np.asarray(errors, dtype=np.float64)
    sky_errors = np.asarray(sky_errors, dtype=np.float64)
    pixels = np.sqrt(np.maximum(errors ** 2 - sky_errors ** 2, 0.0))
    out_values, pixel_errors = resample(values, pixels, shifts)
    out_sky, _ = resample(sky_errors, sky_errors, shifts)  # linear: shifts a coherent error
    return out_values, np.sqrt(pixel_errors ** 2 + out_sky ** 2), out_sky
