"""``subtract``: the sky background, estimated from columns either side of the trace."""
import numpy as np

from ..kernels import _validate as v
from .. import defaults as d
from ..kernels import background as _background
from ..kernels import skyerror as _skyerror
from ._common import IMAGE, apply, call_repr, prepare, with_history

__all__ = ["subtract"]


def _pixel_variance(ds):
    """The block function and planes of the sky error, and where the pixels' variance comes from.

    ``err**2`` (the total the box extraction uses); else ``var_poisson +
    var_rnoise`` (both squared or summed in :func:`_error_block`, on the
    background regions' columns only); else, for frames without either, a
    robust sigma of the data themselves, one value per integration
    (:func:`xmiri.kernels.skyerror.difference_variance`), as a variance plane.
    """
    if "err" in ds:
        return _error_block, [ds["err"]], "err**2"
    if "var_poisson" in ds and "var_rnoise" in ds:
        return _error_block, [ds["var_poisson"], ds["var_rnoise"]], "var_poisson + var_rnoise"
    variance = apply(_skyerror.difference_variance, ds["data"], core=[IMAGE], out_core=[[]],
                     dtypes=[np.float64])
    return _background.background_error_block, [
        variance.broadcast_like(ds["data"]).astype(np.float64)], (
        "measured: (1.4826 median |difference of neighbouring pixels| / sqrt(2))**2 per "
        "integration (no err or var_* planes)")


def _sky_block(data, *, method, left, right, smoothing_length):
    """:func:`xmiri.kernels.background.subtract_block` of one block: the data less the sky
    (in the data's dtype) and the sky (float32), in one task."""
    return _background.subtract_block(data, method=method, left=left, right=right,
                                      smoothing_length=smoothing_length)


def _error_block(data, *planes, method, left, right, smoothing_length):
    """:func:`xmiri.kernels.background.background_error_block` of one block, on the background
    regions' columns only: the variance there is ``err**2`` (one plane) or ``var_poisson +
    var_rnoise`` (two), in float64."""
    data = np.asarray(data)
    planes = [np.asarray(plane) for plane in planes]
    n_left, n_right = left[1] - left[0], right[1] - right[0]
    # the left region's columns, then the right one's; the variance computed straight into them
    variance = np.empty(data.shape[:-1] + (n_left + n_right,))
    for source, target in ((slice(*left), slice(0, n_left)),
                           (slice(*right), slice(n_left, n_left + n_right))):
        if len(planes) == 1:
            np.square(planes[0][..., source], out=variance[..., target], dtype=np.float64)
        else:
            np.add(planes[0][..., source], planes[1][..., source], out=variance[..., target],
                   dtype=np.float64)
    regions = np.concatenate([data[..., slice(*left)], data[..., slice(*right)]], axis=-1)
    return _background.background_error_block(regions, variance, method=method,
                                              left=(0, n_left), right=(n_left, n_left + n_right),
                                              smoothing_length=smoothing_length)


def subtract(ds, method="col_wise", bkg_col_left_start=None, bkg_col_left_end=None,
             bkg_col_right_start=None, bkg_col_right_end=None, smoothing_length=None):
    """Subtract the sky background estimated from columns either side of the trace.

    The numerics are :func:`xmiri.kernels.background.background_block`.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data`` (DN/s), dims ``(integration, row, col)``.
    method : {"col_wise", "row_wise", "constant"}, default "col_wise"
        ``col_wise``: in every row, the straight line through the medians of
        the left and right regions (placed at their mid columns), evaluated
        at every column; ``row_wise``: the median of both regions in every
        row (ExoTiC-MIRI's default); ``constant``: the median of both
        regions, one value per integration.  ``col_wise`` follows a sky
        gradient across the columns, which ``row_wise`` leaves in the flux
        and the transit depth (measured: docs/subtract.rst, "Parameters").
    bkg_col_left_start, bkg_col_left_end : int, optional
        Left background region, columns ``[start, end)``; None: from the
        file's subarray (SLITLESSPRISM: 8, 17; :func:`xmiri.defaults.geometry`).
    bkg_col_right_start, bkg_col_right_end : int, optional
        Right background region, columns ``[start, end)``; None: from the
        file's subarray (SLITLESSPRISM: 56, 72).
    smoothing_length : int, optional
        If given, the row-wise or column-wise background is median-smoothed
        along the rows over this many rows (truncated at the frame edges).

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with the background subtracted from ``data``, a new
        ``background`` (integration, row, col) in DN/s, and the attribute
        ``background_subtracted`` (the method), which :func:`extract` checks.
        The error of the subtracted sky, for the extraction's error budget:
        ``background_error`` (integration, row, sky_component), float32
        DN/s, the standard error of each independent sky estimate of a row
        (:func:`~xmiri.kernels.background.background_error_block`), with
        attrs ``row_correlation`` (``"none"``, ``"full"`` or ``"running
        median of N rows"``), ``smoothing_length`` and ``pixel_variance``
        (where the pixels' sigma came from); ``background_coefficient``
        (sky_component, col), float64, such that the subtracted sky at
        ``(row, col)`` is ``sum_k background_coefficient[k, col] *
        estimate[row, k]`` (:func:`~xmiri.kernels.background.background_coefficients`).
        ``row_wise`` and ``constant`` have one component, ``col_wise`` two
        (the left and the right region's median).  See ``docs/errors.rst``.

    Notes
    -----
    Medians ignore NaN pixels (ExoTiC-MIRI's ``np.median`` returns NaN for a
    whole row if one pixel is NaN).

    Examples
    --------
    >>> import xmiri
    >>> ds, truth = xmiri.simulate.simulate(2, seed=1, n_cosmic_rays=0, n_hot_pixels=0)
    >>> sub = ds.lrs.subtract(method="col_wise")
    >>> sky = sub.background.isel(integration=0, row=300, col=36).item()
    >>> round(sky, 1), round(float(truth.background[300, 36]), 1)
    (17.9, 17.9)
    """
    bkg_col_left_start, bkg_col_left_end, bkg_col_right_start, bkg_col_right_end = d.resolve(
        ds, bkg_col_left_start=bkg_col_left_start, bkg_col_left_end=bkg_col_left_end,
        bkg_col_right_start=bkg_col_right_start, bkg_col_right_end=bkg_col_right_end)
    ds = prepare(ds, ["data"], "subtract")
    n_cols = ds.sizes["col"]
    method = v.choice("method", method, ("col_wise", "row_wise", "constant"))
    left = v.column_range("bkg_col_left_start", bkg_col_left_start,
                          "bkg_col_left_end", bkg_col_left_end, n_cols)
    right = v.column_range("bkg_col_right_start", bkg_col_right_start,
                           "bkg_col_right_end", bkg_col_right_end, n_cols)
    if method == "col_wise" and sum(left) == sum(right):
        raise v.ParameterError(
            f"method='col_wise' needs background regions with different mid columns; got "
            f"bkg_col_left_start={left[0]}, bkg_col_left_end={left[1]}, "
            f"bkg_col_right_start={right[0]}, bkg_col_right_end={right[1]}")
    if smoothing_length is not None:
        smoothing_length = v.integer("smoothing_length", smoothing_length, minimum=1)
    subtracted, background = apply(_sky_block, ds["data"], core=[IMAGE], out_core=[IMAGE, IMAGE],
                                   dtypes=[ds["data"].dtype, np.float32], method=method, left=left,
                                   right=right, smoothing_length=smoothing_length)
    out = ds.copy()
    out["data"] = subtracted.assign_attrs(ds["data"].attrs)
    out["background"] = background.assign_attrs(
        long_name="sky background", units=ds["data"].attrs.get("units", "DN/s"), method=method)
    out.attrs["background_subtracted"] = method
    kernel, planes, source = _pixel_variance(ds)
    error = apply(kernel, ds["data"], *planes,
                  core=[IMAGE] * (1 + len(planes)), out_core=[["row", "sky_component"]],
                  dtypes=[np.float64],
                  sizes={"sky_component": 2 if method == "col_wise" else 1}, method=method,
                  left=left, right=right, smoothing_length=smoothing_length)
    out["background_error"] = error.astype(np.float32).assign_attrs(
        long_name="standard error of each sky estimate of a row",
        units=ds["data"].attrs.get("units", "DN/s"),
        row_correlation=_background.row_correlation(method, smoothing_length),
        smoothing_length=0 if smoothing_length is None else smoothing_length,
        pixel_variance=source,
        description="median of n pixels: median_variance_factor(n) x sigma**2, sigma from "
                    "pixel_variance (docs/errors.rst)")
    coefficient = _background.background_coefficients(method, left, right, n_cols)
    out["background_coefficient"] = (("sky_component", "col"), coefficient, {
        "long_name": "coefficient of each sky estimate in the sky of a column",
        "units": "1",
        "description": "sky[row, col] = sum over sky_component of "
                       "background_coefficient[k, col] * estimate[row, k]"})
    return with_history(out, call_repr(
        "subtract", method=method, bkg_col_left_start=left[0], bkg_col_left_end=left[1],
        bkg_col_right_start=right[0], bkg_col_right_end=right[1],
        smoothing_length=smoothing_length))
