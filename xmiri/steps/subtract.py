"""``subtract``: the sky background, estimated from columns either side of the trace."""
import numpy as np

from .. import _validate as v
from .. import defaults as d
from ..kernels import background as _background
from ._common import IMAGE, apply, call_repr, prepare, with_history

__all__ = ["subtract"]


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
        gradient across the columns: with the simulator's 0.005 DN/s per
        column, ``row_wise`` biases the flux by -1.5 % and the transit depth
        by +82 ppm (box +128), ``col_wise`` by +0.05 % and -1.9 ppm, for 0.9 %
        more noise (``benchmarks/DEFAULTS.md``).
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
    background = apply(_background.background_block, ds["data"], core=[IMAGE], out_core=[IMAGE],
                       dtypes=[np.float64], method=method, left=left, right=right,
                       smoothing_length=smoothing_length)
    out = ds.copy()
    out["data"] = (ds["data"] - background).astype(ds["data"].dtype).assign_attrs(ds["data"].attrs)
    out["background"] = background.astype(np.float32).assign_attrs(
        long_name="sky background", units=ds["data"].attrs.get("units", "DN/s"), method=method)
    out.attrs["background_subtracted"] = method
    return with_history(out, call_repr(
        "subtract", method=method, bkg_col_left_start=left[0], bkg_col_left_end=left[1],
        bkg_col_right_start=right[0], bkg_col_right_end=right[1],
        smoothing_length=smoothing_length))
