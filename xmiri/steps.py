"""The stage-2 steps as functions of xarray Datasets.

Each function checks its arguments before any work, maps a numpy kernel from
:mod:`xmiri.kernels` over integration chunks with :func:`xarray.apply_ufunc`
(``dask="parallelized"``), and returns a new Dataset: inputs are never
modified, coordinates and attributes are kept, and a line is appended to the
``history`` attribute.  On dask-backed input nothing is computed: results
stay lazy until ``.compute()`` or ``.to_netcdf()``.  Reductions over
integrations (median profile, alignment templates) are lazy dask reductions
whose results enter the per-chunk kernels as arguments.

The accessor :class:`xmiri.accessor.LRSAccessor` exposes these functions as
``ds.lrs.<step>``.
"""
import functools
import warnings

import numpy as np
import xarray as xr

from . import _validate as v
from . import dq as _dq
from ._version import __version__
from .kernels import align as _align
from .kernels import background as _background
from .kernels import clean as _clean
from .kernels import extract as _extract
from .kernels import lightcurves as _lc
from .kernels import trace as _trace

__all__ = ["clean", "subtract", "extract", "align", "light_curves"]

IMAGE = ["row", "col"]
OUTLIER = _dq.FLAGS["OUTLIER"]
UNUSABLE = _dq.dq_mask(["DO_NOT_USE", "NON_SCIENCE", "REFERENCE_PIXEL"])


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _call_repr(name, **kwargs):
    args = ", ".join(f"{k}={val!r}" for k, val in kwargs.items())
    return f"{name}({args})"


def _with_history(ds, line):
    history = ds.attrs.get("history", "")
    ds.attrs["history"] = (history + "\n" if history else "") + f"xmiri {__version__}: {line}"
    return ds


def _prepare(ds, names, step):
    """Check the variables a step needs; make row/col single chunks."""
    v.require(ds, names, step)
    if "integration" not in ds.dims:
        raise v.ParameterError(f"{step} needs an 'integration' dimension; the Dataset has dims {dict(ds.sizes)}")
    if ds.chunks:
        unchunk = {d: -1 for d in ("row", "col") if d in ds.chunks and len(ds.chunks[d]) > 1}
        if unchunk:
            ds = ds.chunk(unchunk)
    return ds


def _apply(func, *args, core, out_core, dtypes, sizes=None, **kwargs):
    """apply_ufunc over integration chunks with a picklable partial."""
    return xr.apply_ufunc(
        functools.partial(func, **kwargs) if kwargs else func,
        *args,
        input_core_dims=core,
        output_core_dims=out_core,
        dask="parallelized",
        output_dtypes=dtypes,
        dask_gufunc_kwargs={"output_sizes": sizes} if sizes else None,
        keep_attrs=False,
    )


def _warn_nan(values, what):
    n_bad = int(np.count_nonzero(~np.isfinite(values)))
    if n_bad:
        warnings.warn(f"{what}: {n_bad} of {np.size(values)} value(s) could not be measured "
                      "and are NaN", RuntimeWarning, stacklevel=3)


# --------------------------------------------------------------------------
# block wrappers (module level so that dask.distributed can pickle them)
# --------------------------------------------------------------------------
def _clean_block(data, dq, **kwargs):
    cleaned, replaced, profile = _clean.clean_block(data, dq, unfitted=np.nan, **kwargs)
    # Pixels the pipeline already declared unusable (e.g. whole DO_NOT_USE columns) are
    # expected to be unfittable; warn only about the others.
    unusable = (dq & UNUSABLE) != 0
    n_unfit = int(np.count_nonzero(replaced & np.isnan(cleaned) & ~unusable))
    if n_unfit:
        warnings.warn(f"clean: {n_unfit} of {cleaned.size} value(s) could not be measured (window "
                      "columns with fewer than 2 good pixels); they are NaN and flagged OUTLIER",
                      RuntimeWarning, stacklevel=2)
    return cleaned.astype(data.dtype), replaced, profile.astype(np.float32)


def _count_block(replaced, *, center):
    return _clean.count_replaced_near_trace(replaced, center=center, max_width=4).astype(np.int32)


def _trace_block(data, **kwargs):
    center, sigma = _trace.fit_trace_block(data, **kwargs)
    _warn_nan(center, "Gaussian trace fit")
    return center, sigma


def _mask_block(center, *, n_cols, left_width, right_width):
    return _extract.aperture_mask(center, n_cols, left_width, right_width)


def _warn_nan_flux(flux, mask):
    has_aperture = mask.any(axis=-1)  # integrations without aperture are counted by the trace fit
    n_bad = int(np.count_nonzero(~np.isfinite(flux[has_aperture])))
    if n_bad:
        warnings.warn(f"extract: {n_bad} of {flux[has_aperture].size} value(s) could not be measured "
                      "(NaN data or errors inside the aperture) and are NaN", RuntimeWarning, stacklevel=3)


def _box_block(data, err, mask):
    flux, flux_error = _extract.box_extract_block(data, err, mask)
    _warn_nan_flux(flux, mask)
    return flux, flux_error


def _optimal_block(data, profile, variance0, mask, *extra, q=1.0, has_median=False, has_sky=False):
    """Optimal extraction of one block; ``extra`` holds the median profile and/or the sky."""
    extra = list(extra)
    median_profile = extra.pop(0) if has_median else None
    sky = extra.pop(0) if has_sky else None
    profile = np.broadcast_to(profile, data.shape)
    variance0 = np.broadcast_to(variance0, data.shape)
    flux, flux_error = _extract.optimal_extract_block(data, profile, variance0, mask,
                                                      median_profile=median_profile, q=q, sky=sky)
    _warn_nan_flux(flux, mask)
    return flux, flux_error


def _cutout_block(values, mask):
    return _extract.aperture_cutout(values, mask)


def _shift_block(signals, template, *, what, **kwargs):
    shifts = _align.measure_shifts(signals, template, **kwargs)
    _warn_nan(shifts, what)
    return shifts


def _median_template(signals, dim):
    """Lazy :func:`xmiri.kernels.align.median_template`: median after matching scales.

    Three cheap passes over the (small) 1D signals: the plain median, each
    integration's least-squares scale against it, and the median of the
    rescaled signals.  The template's overall scale is left at that of the
    plain median's fit (the shift fit has a free scale, so it does not matter).
    """
    plain = signals.median("integration")
    finite = np.isfinite(signals) & np.isfinite(plain)
    num = (signals * plain).where(finite).sum(dim)
    den = (plain**2).where(finite).sum(dim)
    scale = num / den.where(den > 0)
    return (signals / scale.where(scale > 0)).median("integration")


def _pick_column(wavelength, center):
    """Wavelength along the rows at column int(nanmedian(center)) (ExoTiC-MIRI's choice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(center)
    if not np.isfinite(median):
        return np.full(wavelength.shape[:-1], np.nan)
    return wavelength[..., int(median)]


# --------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------
def clean(ds, window_heights=(40,), dq_bits_to_mask=(0, 11), poly_order=4, outlier_threshold=4.0,
          spatial_profile_left_idx=26, spatial_profile_right_idx=47, robust=False, trace_center=36):
    """Replace outliers and flagged pixels by windowed spatial-profile fits.

    Frame by frame, the rows are cut into windows (``window_heights`` cycled
    until every row is covered).  In every window and column a polynomial of
    ``poly_order`` along the rows is fitted to the good pixels (finite and
    carrying none of the ``dq_bits_to_mask``); the worst pixel is dropped
    while its residual exceeds ``outlier_threshold`` times the scatter of the
    residuals, and the fit is repeated.  Bad pixels are replaced by the fit.
    The fits, clipped at zero and normalised across the profile columns, are
    the spatial profile P of Horne (1986), table 1, step 5.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data`` (DN/s) and ``dq``, dims ``(integration, row, col)``.
    window_heights : sequence of int, default (40,)
        Window heights in rows, cycled from row 0 until all rows are covered.
    dq_bits_to_mask : sequence of int or str, default (0, 11)
        DQ bit indices (0 = DO_NOT_USE, 11 = HOT, ...) or JWST flag names
        whose pixels are replaced.  ``[]`` masks none.
    poly_order : int, default 4
        Order of the polynomial along the rows; below every window height.
    outlier_threshold : float, default 4.0
        Residual, in units of the residual scatter, above which a pixel is an
        outlier.
    spatial_profile_left_idx, spatial_profile_right_idx : int, default 26, 47
        Columns ``[left, right)`` over which P is normalised (zero outside).
    robust : bool, default False
        False: the scatter is the standard deviation of the residuals, as in
        ExoTiC-MIRI.  True: 1.4826 times their median absolute deviation, so
        that several hits in one window are all found.
    trace_center : int, default 36
        Column around which ``n_outliers`` counts replaced pixels.

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with cleaned ``data``; ``dq`` with the OUTLIER bit
        (2**4) set where a pixel was replaced; ``profile`` (integration, row,
        col), the spatial profile P; ``n_outliers`` (integration, row,
        region_width), the number of replaced pixels within
        ``0..4`` columns of ``trace_center``.

    Raises
    ------
    xmiri.ParameterError
        On an invalid argument, before any work.
    xmiri.MissingVariableError
        If ``data`` or ``dq`` is missing.

    Notes
    -----
    Differences from ExoTiC-MIRI's ``CleanOutliersStep``: DQ bits are tested
    with integer masks (ExoTiC-MIRI's string decoding flags every bit under
    numpy >= 2); the OUTLIER bit is set with a bitwise OR (ExoTiC-MIRI adds
    16, which carries into bit 5 on pixels already flagged OUTLIER);
    ``n_outliers`` counts pixels replaced by this step, as ExoTiC-MIRI
    documents, whereas ExoTiC-MIRI counts every pixel with any DQ bit set;
    the input is never modified (ExoTiC-MIRI edits the caller's arrays);
    bad pixels of a window column with fewer than 2 good pixels cannot be
    fitted and become NaN (ExoTiC-MIRI writes 0, which later reads as zero
    flux).  A ``RuntimeWarning`` counts such pixels, leaving out those the
    pipeline already flagged DO_NOT_USE, NON_SCIENCE or REFERENCE_PIXEL (for
    instance the two DO_NOT_USE columns 4-5 of the MIRISim files).  Warnings
    are raised per chunk, when the chunk is computed.

    References
    ----------
    Horne, K. 1986, PASP, 98, 609.
    """
    ds = _prepare(ds, ["data", "dq"], "clean")
    n_cols = ds.sizes["col"]
    heights = v.integer_list("window_heights", window_heights, minimum=1)
    order = v.integer("poly_order", poly_order, minimum=0)
    if order >= min(heights):
        raise v.ParameterError(
            f"poly_order={order} must be below every window height (smallest: {min(heights)})")
    threshold = v.positive_number("outlier_threshold", outlier_threshold)
    left, right = v.column_range("spatial_profile_left_idx", spatial_profile_left_idx,
                                 "spatial_profile_right_idx", spatial_profile_right_idx, n_cols)
    center = v.integer("trace_center", trace_center, minimum=0, maximum=n_cols - 1)
    mask = _dq.dq_mask(dq_bits_to_mask)
    robust = bool(robust)

    cleaned, replaced, profile = _apply(
        _clean_block, ds["data"], ds["dq"], core=[IMAGE, IMAGE], out_core=[IMAGE] * 3,
        dtypes=[ds["data"].dtype, bool, np.float32],
        window_heights=heights, dq_mask=mask, poly_order=order, outlier_threshold=threshold,
        profile_left=left, profile_right=right, robust=robust)
    n_outliers = _apply(_count_block, replaced, core=[IMAGE], out_core=[["row", "region_width"]],
                        dtypes=[np.int32], sizes={"region_width": 5}, center=center)

    out = ds.copy()
    out["data"] = cleaned.assign_attrs(ds["data"].attrs)
    out["dq"] = (ds["dq"] | (replaced.astype(ds["dq"].dtype) * np.asarray(OUTLIER, ds["dq"].dtype))
                 ).assign_attrs(ds["dq"].attrs)
    out["profile"] = profile.assign_attrs(
        long_name="spatial profile P (Horne 1986)", units="1",
        description=f"normalised over columns [{left}, {right}) in every row")
    out["n_outliers"] = n_outliers.assign_coords(region_width=np.arange(5)).assign_attrs(
        long_name="pixels replaced by clean", units="1",
        description=f"replaced pixels in columns {center}-w..{center}+w, w = region_width")
    return _with_history(out, _call_repr(
        "clean", window_heights=heights, dq_bits_to_mask=list(np.atleast_1d(dq_bits_to_mask).tolist()),
        poly_order=order, outlier_threshold=threshold, spatial_profile_left_idx=left,
        spatial_profile_right_idx=right, robust=robust))


def subtract(ds, method="row_wise", bkg_col_left_start=8, bkg_col_left_end=17,
             bkg_col_right_start=56, bkg_col_right_end=72, smoothing_length=None):
    """Subtract the sky background estimated from columns either side of the trace.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data`` (DN/s), dims ``(integration, row, col)``.
    method : {"row_wise", "constant", "col_wise"}, default "row_wise"
        ``constant``: the median of both regions, one value per integration;
        ``row_wise``: the median of both regions in every row; ``col_wise``:
        in every row, the straight line through the medians of the left and
        right regions (placed at their mid columns), evaluated at every column.
    bkg_col_left_start, bkg_col_left_end : int, default 8, 17
        Left background region, columns ``[start, end)``.
    bkg_col_right_start, bkg_col_right_end : int, default 56, 72
        Right background region, columns ``[start, end)``.
    smoothing_length : int, optional
        If given, the row-wise or column-wise background is median-smoothed
        along the rows over this many rows (truncated at the frame edges).

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with the background subtracted from ``data`` and a
        new ``background`` (integration, row, col) in DN/s.

    Notes
    -----
    Medians ignore NaN pixels (ExoTiC-MIRI's ``np.median`` returns NaN for a
    whole row if one pixel is NaN).
    """
    ds = _prepare(ds, ["data"], "subtract")
    n_cols = ds.sizes["col"]
    method = v.choice("method", method, ("constant", "row_wise", "col_wise"))
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
    background = _apply(_background.background_block, ds["data"], core=[IMAGE], out_core=[IMAGE],
                        dtypes=[np.float64], method=method, left=left, right=right,
                        smoothing_length=smoothing_length)
    out = ds.copy()
    out["data"] = (ds["data"] - background).astype(ds["data"].dtype).assign_attrs(ds["data"].attrs)
    out["background"] = background.astype(np.float32).assign_attrs(
        long_name="sky background", units=ds["data"].attrs.get("units", "DN/s"), method=method)
    return _with_history(out, _call_repr(
        "subtract", method=method, bkg_col_left_start=left[0], bkg_col_left_end=left[1],
        bkg_col_right_start=right[0], bkg_col_right_end=right[1], smoothing_length=smoothing_length))


def _median_frame_profile(ds):
    """Spatial profile from the median frame: clipped at zero, normalised per row."""
    median = ds["data"].median("integration").clip(min=0)
    total = median.sum("col")
    return (median / total.where(total > 0)).fillna(0.0)


def _variance0(ds, readnoise):
    """The read-noise variance V0 as a DataArray on (integration,) row, col; checked."""
    if readnoise is None:
        v.require(ds, ["var_rnoise"], "extract(method='optimal') without readnoise=")
        return ds["var_rnoise"]
    frame = {d: ds.sizes[d] for d in ("integration", "row", "col")}
    if isinstance(readnoise, (str, bytes)):
        raise v.ParameterError(f"readnoise must be a variance (number or array), got {readnoise!r}")
    if isinstance(readnoise, xr.DataArray):
        if not set(readnoise.dims) <= set(frame) or any(readnoise.sizes[d] != frame[d] for d in readnoise.dims):
            raise v.ParameterError(f"readnoise DataArray of shape {readnoise.shape} (dims "
                                   f"{readnoise.dims}) does not match the frames {frame}")
        return readnoise
    try:
        arr = np.asarray(readnoise, dtype=float)
    except (TypeError, ValueError):
        raise v.ParameterError(f"readnoise must be a variance (number or array), got {readnoise!r}") from None
    dims = ("integration", "row", "col")[3 - arr.ndim:] if arr.ndim <= 3 else None
    if dims is None or any(arr.shape[i] != frame[d] for i, d in enumerate(dims)):
        raise v.ParameterError(f"readnoise array of shape {arr.shape} does not match the frames "
                               f"{tuple(frame.values())}")
    if arr.size and not (np.all(np.isfinite(arr)) and arr.min() >= 0):
        raise v.ParameterError(f"readnoise must be a finite variance >= 0 everywhere; got minimum "
                               f"{np.nanmin(arr) if np.isfinite(arr).any() else arr.flat[0]!r}")
    return xr.DataArray(arr, dims=dims)


def extract(ds, method="box", trace_position="constant", aperture_center=36, aperture_left_width=4,
            aperture_right_width=4, median_spatial_profile=False, readnoise=None,
            trace_rows=(200, 390), trace_cols=(12, 68), sigma_guess=1.59, horne_q=None):
    """Extract one spectrum per integration, by box or optimal extraction.

    Parameters
    ----------
    ds : xarray.Dataset
        Background-subtracted frames with ``data`` and ``err`` (DN/s); for
        ``method="optimal"`` also ``profile`` (from :func:`clean`; built from
        the median frame when absent) and ``var_rnoise`` (unless
        ``readnoise`` is given).
    method : {"box", "optimal"}, default "box"
        ``box`` sums ``data`` and adds ``err`` in quadrature over the
        aperture; ``optimal`` follows Horne (1986), table 1, steps 4, 6, 8.
    trace_position : {"constant", "gaussian_fits"}, default "constant"
        ``constant``: the aperture is centred on ``aperture_center``;
        ``gaussian_fits``: on the centre of a Gaussian fitted to each
        integration's median cross-dispersion profile.
    aperture_center : int, default 36
        Aperture centre column for ``trace_position="constant"``.
    aperture_left_width, aperture_right_width : int, default 4, 4
        Columns included left and right of the centre: the aperture is
        ``[rint(c - left), rint(c + right + 1))``.
    median_spatial_profile : bool, default False
        Optimal extraction only: use the median over integrations of P
        (inside the aperture, renormalised per row) for every integration.
    readnoise : float or array_like, optional
        Optimal extraction only: the per-pixel read-noise *variance* V0 in
        (DN/s)**2 of Horne's step 6, used exactly as ExoTiC-MIRI uses its
        ``readnoise`` argument.  Default: the file's ``var_rnoise``.
    horne_q : float, optional
        Optimal extraction only: Horne's Q, detected electrons per unit of
        data, in the revised variance ``V = V0 + |f P + S| / Q`` (step 6).
        None (default) reproduces ExoTiC-MIRI: ``Q = 1`` and ``S = 0``,
        which for rates in DN/s misstates the pixel variances (the Poisson
        term is too large by the factor gain x integration time, the sky's
        Poisson noise is left out) and so the weights and ``flux_error``.
        Given a number, ``S`` is the ``background`` that :func:`subtract`
        removed (when the Dataset has it).  Q is gain x effective
        integration time (electrons per DN/s); it can be read off a file as
        the median of ``data / var_poisson`` over bright pixels: 38 for the
        shared MIRISim segment.
    trace_rows, trace_cols : (int, int), default (200, 390), (12, 68)
        Rows and columns ``[start, stop)`` of the median cross-dispersion
        profile used for the Gaussian trace fit (ExoTiC-MIRI's values).
    sigma_guess : float, default 1.59
        Initial Gaussian sigma in pixels.

    Returns
    -------
    xarray.Dataset
        Dims ``(integration, row)``: ``flux``, ``flux_error`` (DN/s);
        ``trace_position`` and ``psf_sigma`` (integration; pixels);
        ``cross_dispersion_profile`` (integration, col) over ``trace_cols``,
        which :func:`align` uses; coords ``integration``, ``time``, ``row``,
        ``wavelength(row)`` (micron, at column ``int(median(trace_position))``).

    Notes
    -----
    Order matters for optimal extraction.  ``clean`` builds P from the frames
    it is given; run after ``subtract`` (``ds.lrs.subtract().lrs.clean()``),
    P is the star's profile.  Run before it, as in ExoTiC-MIRI's examples,
    P carries the sky as a pedestal across the profile columns, which biases
    the optimal flux: on noiseless simulated frames (sky 17.8 DN/s, trace
    peak ~114 DN/s, col_wise sky, 8+8 column aperture) the optimal flux was
    0.6 % high (up to 1.2 % in faint rows) with P from unsubtracted frames,
    and equal to the box flux (0.1 % from the truth) with P from subtracted
    frames.

    References
    ----------
    Horne, K. 1986, PASP, 98, 609.
    """
    method = v.choice("method", method, ("box", "optimal"))
    ds = _prepare(ds, ["data", "err"], "extract")
    n_rows, n_cols = ds.sizes["row"], ds.sizes["col"]
    trace_position = v.choice("trace_position", trace_position, ("constant", "gaussian_fits"))
    center0 = v.integer("aperture_center", aperture_center, minimum=0, maximum=n_cols - 1)
    left_w = v.integer("aperture_left_width", aperture_left_width, minimum=0)
    right_w = v.integer("aperture_right_width", aperture_right_width, minimum=0)
    if left_w + right_w + 1 > n_cols:
        raise v.ParameterError(
            f"aperture_left_width={left_w} + aperture_right_width={right_w} + 1 columns do not fit "
            f"in the frame's n_cols={n_cols}")
    if trace_position == "constant" and (center0 - left_w < 0 or center0 + right_w >= n_cols):
        raise v.ParameterError(
            f"aperture [{center0 - left_w}, {center0 + right_w}] (aperture_center={center0}, "
            f"aperture_left_width={left_w}, aperture_right_width={right_w}) is outside the "
            f"{n_cols} columns of the frame")
    rows = v.index_range("trace_rows", trace_rows, n_rows, "row")
    cols = v.index_range("trace_cols", trace_cols, n_cols, "column")
    sigma_guess = v.positive_number("sigma_guess", sigma_guess)
    if horne_q is not None:
        horne_q = v.positive_number("horne_q", horne_q)
    if method == "optimal":
        variance0 = _variance0(ds, readnoise)
        if "row" not in variance0.dims or "col" not in variance0.dims:
            variance0 = variance0.broadcast_like(ds["data"].isel(integration=0, drop=True))

    center_fit, sigma = _apply(_trace_block, ds["data"], core=[IMAGE], out_core=[[], []],
                               dtypes=[np.float64, np.float64], rows=rows, cols=cols,
                               sigma_guess=sigma_guess)
    if trace_position == "constant":
        center = xr.full_like(center_fit, float(center0))
    else:
        center = center_fit
    mask = _apply(_mask_block, center, core=[[]], out_core=[["col"]], dtypes=[bool],
                  sizes={"col": n_cols}, n_cols=n_cols, left_width=left_w, right_width=right_w)

    if method == "box":
        flux, flux_error = _apply(_box_block, ds["data"], ds["err"], mask,
                                  core=[IMAGE, IMAGE, ["col"]], out_core=[["row"], ["row"]],
                                  dtypes=[np.float64, np.float64])
    else:
        profile = ds["profile"] if "profile" in ds.variables else _median_frame_profile(ds)
        args, core = [ds["data"], profile, variance0, mask], [IMAGE, IMAGE, IMAGE, ["col"]]
        if median_spatial_profile:
            width = left_w + right_w + 1
            cut = _apply(_cutout_block, profile.broadcast_like(ds["data"]), mask,
                         core=[IMAGE, ["col"]], out_core=[["row", "aperture_col"]],
                         dtypes=[np.float64], sizes={"aperture_col": width})
            med = cut.median("integration")
            args.append(med / med.sum("aperture_col"))
            core.append(["row", "aperture_col"])
        has_sky = horne_q is not None and "background" in ds.variables
        if has_sky:
            args.append(ds["background"])
            core.append(IMAGE)
        flux, flux_error = _apply(
            _optimal_block, *args, core=core, out_core=[["row"], ["row"]],
            dtypes=[np.float64, np.float64], q=1.0 if horne_q is None else horne_q,
            has_median=bool(median_spatial_profile), has_sky=has_sky)

    xprofile = _apply(_align.cross_dispersion_profile, ds["data"], core=[IMAGE],
                      out_core=[["xd_col"]], dtypes=[np.float64],
                      sizes={"xd_col": cols[1] - cols[0]}, rows=rows, cols=cols)
    xprofile = xprofile.rename(xd_col="col").assign_coords(col=ds["col"].values[cols[0]:cols[1]])

    if "wavelength" in ds.coords:
        if trace_position == "constant":
            wavelength = ds["wavelength"].isel(col=center0, drop=True)
        else:
            wavelength = xr.apply_ufunc(
                _pick_column, ds["wavelength"], center, input_core_dims=[IMAGE, ["integration"]],
                output_core_dims=[["row"]], dask="parallelized", output_dtypes=[np.float64],
                dask_gufunc_kwargs={"allow_rechunk": True})
        wavelength = wavelength.drop_vars([c for c in wavelength.coords if c != "row"])
        wavelength.attrs = dict(ds["wavelength"].attrs)
    units = ds["data"].attrs.get("units", "DN/s")
    spec = xr.Dataset(
        {
            "flux": flux.assign_attrs(long_name=f"{method}-extracted flux", units=units),
            "flux_error": flux_error.assign_attrs(long_name="1-sigma flux error", units=units),
            "trace_position": center.assign_attrs(long_name="aperture centre", units="pixel",
                                                  method=trace_position),
            "psf_sigma": sigma.assign_attrs(long_name="Gaussian sigma of the cross-dispersion profile",
                                            units="pixel"),
            "cross_dispersion_profile": xprofile.assign_attrs(
                long_name="cross-dispersion profile", units=units,
                description=f"sum over rows [{rows[0]}, {rows[1]}) of data"),
        },
        attrs=dict(ds.attrs),
    )
    coords = {c: ds.coords[c] for c in ("integration", "time", "row") if c in ds.coords}
    spec = spec.assign_coords(coords)
    if "wavelength" in ds.coords:
        spec = spec.assign_coords(wavelength=wavelength)
    return _with_history(spec, _call_repr(
        "extract", method=method, trace_position=trace_position, aperture_center=center0,
        aperture_left_width=left_w, aperture_right_width=right_w,
        median_spatial_profile=bool(median_spatial_profile),
        readnoise=None if readnoise is None else ("scalar" if np.isscalar(readnoise) else "array"),
        trace_rows=list(rows), trace_cols=list(cols), sigma_guess=sigma_guess, horne_q=horne_q))


def align(spec, align_spectra=True, max_shift=5.0):
    """Measure and optionally correct the trace's drifts between integrations.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra from :func:`extract`: ``flux``, ``flux_error`` (integration,
        row) and ``cross_dispersion_profile`` (integration, col).
    align_spectra : bool, default True
        Re-sample ``flux`` and ``flux_error`` onto the median spectrum's row
        grid by linear interpolation at ``row + y_shift``.
    max_shift : float, default 5.0
        Largest shift in pixels accepted as measured; larger ones are NaN.

    Returns
    -------
    xarray.Dataset
        ``spec`` with ``x_shift`` (cross-dispersion) and ``y_shift``
        (dispersion) in pixels per integration, relative to the median
        profile and median spectrum; flux and flux_error re-sampled when
        ``align_spectra``.  A shift that cannot be measured is NaN, with a
        ``RuntimeWarning`` when computed.

    Notes
    -----
    ExoTiC-MIRI's ``AlignSpectraStep`` is not reproduced: its unnormalised
    cross-correlation is biased whenever the spectrum is still bright at an
    end of the row range (measured slopes of -0.05 and 2.0 against known
    shifts), and it raises 'zero-size array' on a spectrum holding one NaN
    and on the all-zero frames its own DQ decoding makes of the shared
    MIRISim data.  xmiri fits a shifted, scaled template instead (see
    :mod:`xmiri.kernels.align`).  Re-sampled
    samples that would need data beyond the ends are NaN (ExoTiC-MIRI
    extrapolates), and errors are propagated through the interpolation
    weights rather than interpolated.
    """
    spec = _prepare(spec, ["flux", "flux_error", "cross_dispersion_profile"], "align")
    max_shift = v.positive_number("max_shift", max_shift)
    margin = 2 * (int(np.ceil(max_shift)) + 2)  # samples the shift fit leaves out at both ends
    for name, size in (("row", spec.sizes["row"]), ("col", spec["cross_dispersion_profile"].sizes["col"])):
        if size - margin < 10:
            raise v.ParameterError(
                f"max_shift={max_shift} leaves fewer than 10 of the {size} samples along {name!r} "
                f"to measure shifts on; use a smaller max_shift")
    template_y = _median_template(spec["flux"], "row")
    template_x = _median_template(spec["cross_dispersion_profile"], "col")
    y_shift = _apply(_shift_block, spec["flux"], template_y, core=[["row"], ["row"]], out_core=[[]],
                     dtypes=[np.float64], what="y_shift (dispersion)", max_shift=max_shift)
    x_shift = _apply(_shift_block, spec["cross_dispersion_profile"], template_x,
                     core=[["col"], ["col"]], out_core=[[]], dtypes=[np.float64],
                     what="x_shift (cross-dispersion)", max_shift=max_shift)
    out = spec.copy()
    if align_spectra:
        flux, flux_error = _apply(_align.resample, spec["flux"], spec["flux_error"], y_shift,
                                  core=[["row"], ["row"], []], out_core=[["row"], ["row"]],
                                  dtypes=[np.float64, np.float64])
        out["flux"] = flux.assign_attrs(spec["flux"].attrs, aligned="True")
        out["flux_error"] = flux_error.assign_attrs(spec["flux_error"].attrs)
    out["y_shift"] = y_shift.assign_attrs(long_name="dispersion-axis shift from the median spectrum",
                                          units="pixel")
    out["x_shift"] = x_shift.assign_attrs(
        long_name="cross-dispersion shift from the median profile", units="pixel")
    return _with_history(out, _call_repr("align", align_spectra=bool(align_spectra), max_shift=max_shift))


def _bin_block(flux, flux_error, wavelength, *, edges):
    wavelength = np.asarray(wavelength).reshape(-1, np.shape(wavelength)[-1])[0]
    return _lc.bin_spectra(flux, flux_error, _lc.bin_index(wavelength, edges), len(edges) - 1)


def _bin_counts(wavelength, *, edges):
    index = _lc.bin_index(np.asarray(wavelength).reshape(-1)[: np.shape(wavelength)[-1]], edges)
    counts = np.bincount(index[index >= 0], minlength=len(edges) - 1).astype(np.int32)
    if np.any(counts == 0):
        warnings.warn(f"light_curves: {int(np.sum(counts == 0))} of {counts.size} bin(s) contain no "
                      "row and are NaN", RuntimeWarning, stacklevel=2)
    return counts


def _nanmedian_last(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=-1)


def _median_over_integrations(da):
    """NaN-aware median over ``integration`` that also works on 1-D dask arrays."""
    return xr.apply_ufunc(_nanmedian_last, da, input_core_dims=[["integration"]], dask="parallelized",
                          output_dtypes=[np.float64], dask_gufunc_kwargs={"allow_rechunk": True})


def light_curves(spec, wavelength_bins=10, wavelength_range=(5.0, 12.0), normalise=False,
                 clip_sigma=None, clip_window=31):
    """Bin spectra into spectroscopic light curves and a white light curve.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra with ``flux``, ``flux_error`` (integration, row) and a
        ``wavelength(row)`` coordinate in micron.
    wavelength_bins : int or sequence of float, default 10
        Number of equal-width bins over ``wavelength_range``, or the bin
        edges in micron (increasing).  Bin ``k`` holds the rows whose
        wavelength lies in ``[edges[k], edges[k+1])`` (the last bin includes
        its upper edge).
    wavelength_range : (float, float), default (5.0, 12.0)
        Range of the white light curve and of equal-width bins, micron.
    normalise : bool, default False
        Divide every light curve (and its error) by its median over
        integrations.
    clip_sigma : float, optional
        If given, flag integrations whose white flux deviates from a running
        median (``clip_window`` integrations) by more than ``clip_sigma``
        robust standard deviations.  Flagged integrations are kept and marked
        in ``flagged``; nothing is dropped.
    clip_window : int, default 31
        Running-median window in integrations.

    Returns
    -------
    xarray.Dataset
        Dims ``(integration, bin)``: ``flux``, ``flux_error`` summed per bin
        (errors in quadrature; a NaN row makes its bin NaN for that
        integration); ``wavelength_low``, ``wavelength_high``,
        ``wavelength_center`` (bin, micron); ``n_rows`` (bin); ``white_flux``,
        ``white_flux_error`` (integration) over ``wavelength_range``;
        ``flagged`` (integration) when clipping was asked for.  Lazy on
        dask-backed input (even when the wavelength coordinate is itself
        lazy, as after ``extract(trace_position="gaussian_fits")``).
    """
    spec = _prepare(spec, ["flux", "flux_error"], "light_curves")
    if "wavelength" not in spec.coords:
        raise v.MissingVariableError("light_curves needs a 'wavelength' coordinate on the rows")
    try:
        lo, hi = (float(x) for x in wavelength_range)
    except (TypeError, ValueError):
        raise v.ParameterError(f"wavelength_range must be (low, high) in micron, got {wavelength_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise v.ParameterError(f"wavelength_range must have low < high, got {wavelength_range!r}")
    if np.ndim(wavelength_bins) == 0 and not isinstance(wavelength_bins, (str, bytes)):
        n = v.integer("wavelength_bins", wavelength_bins, minimum=1, maximum=spec.sizes["row"])
        edges = np.linspace(lo, hi, n + 1)
    else:
        try:
            edges = np.asarray(wavelength_bins, dtype=float)
        except (TypeError, ValueError):
            edges = np.array([np.nan])
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise v.ParameterError(
                f"wavelength_bins edges must be >= 2 finite increasing values, got {wavelength_bins!r}")
    if clip_sigma is not None:
        clip_sigma = v.positive_number("clip_sigma", clip_sigma)
        clip_window = v.integer("clip_window", clip_window, minimum=1)
    n_bins = edges.size - 1
    wavelength = spec["wavelength"]

    flux, flux_error = _apply(_bin_block, spec["flux"], spec["flux_error"], wavelength,
                              core=[["row"], ["row"], ["row"]], out_core=[["bin"], ["bin"]],
                              dtypes=[np.float64, np.float64], sizes={"bin": n_bins}, edges=edges)
    white, white_error = _apply(_bin_block, spec["flux"], spec["flux_error"], wavelength,
                                core=[["row"], ["row"], ["row"]], out_core=[["wbin"], ["wbin"]],
                                dtypes=[np.float64, np.float64], sizes={"wbin": 1},
                                edges=np.array([lo, hi]))
    white, white_error = white.isel(wbin=0, drop=True), white_error.isel(wbin=0, drop=True)
    counts = _apply(_bin_counts, wavelength, core=[["row"]], out_core=[["bin"]], dtypes=[np.int32],
                    sizes={"bin": n_bins}, edges=edges)
    if normalise:
        norm, wnorm = _median_over_integrations(flux), _median_over_integrations(white)
        flux, flux_error = flux / norm, flux_error / norm
        white, white_error = white / wnorm, white_error / wnorm
    units = "1" if normalise else spec["flux"].attrs.get("units", "DN/s")
    out = xr.Dataset(
        {
            "flux": flux.assign_attrs(long_name="binned flux", units=units),
            "flux_error": flux_error.assign_attrs(long_name="1-sigma binned flux error", units=units),
            "white_flux": white.assign_attrs(long_name=f"white-light flux {lo}-{hi} micron", units=units),
            "white_flux_error": white_error.assign_attrs(long_name="1-sigma white-light flux error",
                                                         units=units),
            "wavelength_low": ("bin", edges[:-1], {"units": "micron"}),
            "wavelength_high": ("bin", edges[1:], {"units": "micron"}),
            "wavelength_center": ("bin", 0.5 * (edges[:-1] + edges[1:]), {"units": "micron"}),
            "n_rows": counts.assign_attrs(long_name="rows summed per bin"),
        },
        coords={c: spec.coords[c] for c in ("integration", "time") if c in spec.coords},
        attrs=dict(spec.attrs),
    )
    out = out.assign_coords(bin=np.arange(n_bins))
    if clip_sigma is not None:
        flagged = xr.apply_ufunc(
            _lc.running_median_clip, out["white_flux"], input_core_dims=[["integration"]],
            output_core_dims=[["integration"]], dask="parallelized", output_dtypes=[bool],
            dask_gufunc_kwargs={"allow_rechunk": True},
            kwargs={"window": clip_window, "threshold": clip_sigma}, keep_attrs=False)
        out["flagged"] = flagged.assign_attrs(
            long_name="time-domain outlier in the white light curve",
            description=f"|white - running median({clip_window})| > {clip_sigma} robust sigma")
    return _with_history(out, _call_repr(
        "light_curves", wavelength_bins=edges.tolist(), wavelength_range=[lo, hi],
        normalise=bool(normalise), clip_sigma=clip_sigma))
