"""``extract``'s argument checks: every argument checked before any work, naming it."""
import numpy as np
import xarray as xr

from ..kernels import _validate as v
from .. import dq as _dq
from ._common import prepare

__all__ = ["check_arguments"]


def check_arguments(ds, method, trace_position, aperture_center, aperture_left_width,
           aperture_right_width, trace_rows, trace_cols, sigma_guess, horne_q,
           trace_poly_order, readnoise, min_valid_weight, dq_bits_to_mask):
    """Every argument checked before any work; the prepared Dataset and the checked values."""
    v.choice("method", method, ("box", "optimal"))
    ds = prepare(ds, ["data", "err"], "extract")
    n_rows, n_cols = ds.sizes["row"], ds.sizes["col"]
    v.choice("trace_position", trace_position, ("constant", "gaussian_fits", "polynomial"))
    args = {"poly_order": v.integer("trace_poly_order", trace_poly_order, minimum=0, maximum=6),
            "center0": v.integer("aperture_center", aperture_center, minimum=0, maximum=n_cols - 1),
            "left": v.integer("aperture_left_width", aperture_left_width, minimum=0),
            "right": v.integer("aperture_right_width", aperture_right_width, minimum=0)}
    left, right, center0 = args["left"], args["right"], args["center0"]
    if left + right + 1 > n_cols:
        raise v.ParameterError(
            f"aperture_left_width={left} + aperture_right_width={right} + 1 columns do not fit "
            f"in the frame's n_cols={n_cols}")
    if trace_position == "constant" and (center0 - left < 0 or center0 + right >= n_cols):
        raise v.ParameterError(
            f"aperture [{center0 - left}, {center0 + right}] (aperture_center={center0}, "
            f"aperture_left_width={left}, aperture_right_width={right}) is outside the "
            f"{n_cols} columns of the frame")
    args["rows"] = v.index_range("trace_rows", trace_rows, n_rows, "row")
    args["cols"] = v.index_range("trace_cols", trace_cols, n_cols, "column")
    args["sigma_guess"] = v.positive_number("sigma_guess", sigma_guess)
    if isinstance(horne_q, str):
        v.choice("horne_q", horne_q, ("auto",))
    elif horne_q is not None:
        horne_q = v.positive_number("horne_q", horne_q)
    args["horne_q"] = horne_q
    if isinstance(min_valid_weight, (bool, np.bool_, str, bytes)) or not (
            np.ndim(min_valid_weight) == 0 and 0.0 <= float(min_valid_weight) <= 1.0):
        raise v.ParameterError(f"min_valid_weight must be a number in [0, 1] (a fraction of the "
                               f"aperture's profile weight), got {min_valid_weight!r}")
    args["min_valid_weight"] = float(min_valid_weight)
    args["dq_mask"] = _dq.dq_mask(dq_bits_to_mask)
    if method == "optimal":
        variance0 = _variance0(ds, readnoise)
        if "row" not in variance0.dims or "col" not in variance0.dims:
            variance0 = variance0.broadcast_like(ds["data"].isel(integration=0, drop=True))
        args["variance0"] = variance0
    return ds, args


def _variance0(ds, readnoise):
    """The read-noise variance V0 as a DataArray on (integration,) row, col; checked."""
    if readnoise is None:
        v.require(ds, ["var_rnoise"], "extract(method='optimal') without readnoise=")
        return ds["var_rnoise"]
    frame = {dim: ds.sizes[dim] for dim in ("integration", "row", "col")}
    if isinstance(readnoise, (str, bytes)):
        raise v.ParameterError(f"readnoise must be a variance (number or array), got {readnoise!r}")
    if isinstance(readnoise, xr.DataArray):
        if not set(readnoise.dims) <= set(frame) or any(readnoise.sizes[k] != frame[k]
                                                        for k in readnoise.dims):
            raise v.ParameterError(f"readnoise DataArray of shape {readnoise.shape} (dims "
                                   f"{readnoise.dims}) does not match the frames {frame}")
        return readnoise
    try:
        arr = np.asarray(readnoise, dtype=float)
    except (TypeError, ValueError):
        raise v.ParameterError(
            f"readnoise must be a variance (number or array), got {readnoise!r}") from None
    dims = ("integration", "row", "col")[3 - arr.ndim:] if arr.ndim <= 3 else None
    if dims is None or any(arr.shape[i] != frame[k] for i, k in enumerate(dims)):
        raise v.ParameterError(f"readnoise array of shape {arr.shape} does not match the frames "
                               f"{tuple(frame.values())}")
    if arr.size and not (np.all(np.isfinite(arr)) and arr.min() >= 0):
        raise v.ParameterError(f"readnoise must be a finite variance >= 0 everywhere; got minimum "
                               f"{np.nanmin(arr) if np.isfinite(arr).any() else arr.flat[0]!r}")
    return xr.DataArray(arr, dims=dims)
