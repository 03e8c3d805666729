"""``clean``: outliers and flagged pixels replaced by windowed spatial-profile fits."""
import numpy as np

from ..kernels import _validate as v
from .. import defaults as d
from .. import dq as _dq
from ._diagnostics import report
from ..kernels import clean as _clean
from ..kernels import noise as _noise
from ._common import (IMAGE, apply, call_repr, exposure_q, prepare, refuse_unknown, renamed,
                      scalar, with_history)

__all__ = ["clean"]

#: Smallest fraction of a row's interpolated profile weight that its good pixels
#: must hold for its missing pixels to be filled from the neighbouring rows (see
#: ``max_gap``); below it a long run stays missing, as extraction would give the row up.
FILL_MIN_WEIGHT = 0.5
#: Largest change (total variation, 0..2) of the profile between the rows that
#: bracket a long run for the run to be filled by interpolation (docs/clean.rst).
FILL_MAX_CHANGE = 0.5


def _read_noise(var_rnoise):
    """Median read-noise variance of each integration's frame, (n, 1, 1) float64.

    The same values as :func:`xmiri.kernels.background.nanmedian` over each
    frame (:func:`xmiri.kernels.noise.median_of`: one partition of a copy of
    the frame's non-NaN values, in their own dtype or as the integers of
    their bits).
    """
    flat = np.asarray(var_rnoise).reshape(var_rnoise.shape[0], -1)
    out = np.full(flat.shape[0], np.nan)
    for i, values in enumerate(flat):  # a loop over integrations, not pixels
        out[i] = _noise.median_of(values)
    return out[:, None, None]


def _clean_block(data, dq, *noise, err_threshold=None, repair=False, center, flag_missing,
                 **kwargs):
    """Clean one block; with ``noise`` = (err, var_rnoise, q[, sky]) apply the ERR rules.

    Returns (cleaned, dq, profile, n_outliers), followed by the repaired
    (err, var_rnoise) when `repair`: everything in one pass over the block,
    the flags and errors written only where pixels were replaced.
    """
    if noise:
        err, var_rnoise, q = noise[:3]
        sky = noise[3] if len(noise) > 3 else 0
        q = scalar(q)
        read = _read_noise(var_rnoise)
    outlying = None
    if err_threshold is not None:  # pixels with outlying ERR are bad, as NaN pixels
        outlying = _noise.outlying_errors(err, data, q, read, err_threshold,
                                          sky=sky if np.ndim(sky) else None)
    floating = np.issubdtype(data.dtype, np.floating)  # written in the output dtypes at once
    cleaned, replaced, profile = _clean.clean_block(
        data, dq, bad=outlying, unfitted=np.nan, fill_min_weight=FILL_MIN_WEIGHT,
        fill_max_change=FILL_MAX_CHANGE, cleaned_dtype=data.dtype if floating else np.float64,
        profile_dtype=np.float32, **kwargs)
    cleaned = cleaned.astype(data.dtype, copy=False)
    n_outliers = _clean.count_replaced_near_trace(
        replaced, center=center, max_width=d.N_OUTLIER_WIDTHS - 1).astype(np.int32)
    where = np.flatnonzero(replaced)  # a few per cent of the pixels at most
    del replaced, outlying  # freed before the outputs that follow are allocated
    values = cleaned.ravel()[where]
    lost = np.isnan(values)
    # Pixels the pipeline already declared unusable (e.g. whole DO_NOT_USE columns) are
    # expected to be unfittable; report only the others.
    where_lost = where[lost]  # few
    report("clean", "data",
           np.count_nonzero((dq.ravel()[where_lost] & _dq.UNUSABLE) == 0),
           cleaned.size, "window columns with fewer than 2 good pixels, or long runs without "
           "a measured profile; left NaN and flagged")
    dq_out = dq.copy()
    flat = dq_out.reshape(-1)
    flat[where] |= np.asarray(_dq.OUTLIER, dq.dtype)
    if flag_missing:  # what clean left missing is flagged DO_NOT_USE
        flat[where_lost] |= np.asarray(_dq.dq_mask(["DO_NOT_USE"]), dq.dtype)
    out = (cleaned, dq_out, profile, n_outliers)
    if not repair:
        return out
    # ERR of the replaced pixels from their replacement value: sqrt(max(D + S, 0) / Q + V_read)
    err, var_rnoise = err.copy(), var_rnoise.copy()
    rate = values + (sky.ravel()[where] if np.ndim(sky) else sky)
    # `where` is sorted: each integration's replaced pixels are one stretch of it
    per = cleaned.size // max(cleaned.shape[0], 1)
    bounds = np.searchsorted(where, per * np.arange(cleaned.shape[0] + 1))
    read = np.repeat(read[:, 0, 0], np.diff(bounds))
    err.reshape(-1)[where] = _noise.expected_error(rate, q, read)
    var_rnoise.reshape(-1)[where] = read
    return out + (err, var_rnoise)


def clean(ds, window_heights=d.WINDOW_HEIGHTS, dq_bits_to_mask=d.DQ_BITS_TO_MASK,
          poly_order=d.POLY_ORDER, outlier_threshold=d.CLEAN_OUTLIER_THRESHOLD,
          spatial_profile_left_idx=None, spatial_profile_right_idx=None, robust=False,
          aperture_center=None, err_threshold=d.ERR_THRESHOLD, repair_errors=True,
          max_gap=d.MAX_GAP, fill_span=d.FILL_SPAN, **deprecated):
    """Replace outliers and flagged pixels by windowed spatial-profile fits.

    Frame by frame, the rows are cut into windows (``window_heights`` cycled
    until every row is covered).  In every window and column a polynomial of
    ``poly_order`` along the rows is fitted to the good pixels (finite and
    carrying none of the ``dq_bits_to_mask``); the worst pixel is dropped
    while its residual exceeds ``outlier_threshold`` times the scatter of the
    residuals, and the fit is repeated.  Bad pixels are replaced by the fit.
    The fits, clipped at zero and normalised across the profile columns, are
    the spatial profile P of Horne (1986), table 1, step 5.  The numerics are
    :func:`xmiri.kernels.clean.clean_block`.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data`` (DN/s) and ``dq``, dims ``(integration, row, col)``.
    window_heights : sequence of int, default (40,)
        Window heights in rows, cycled from row 0 until all rows are covered
        (in a subarray other than SLITLESSPRISM, from the row where
        SLITLESSPRISM's row 0 would be: :func:`xmiri.defaults.anchored_windows`).
    dq_bits_to_mask : sequence of int or str, default (0, 11, 22, 23, 24, 25)
        DQ bit indices or JWST flag names whose pixels are replaced: by
        default DO_NOT_USE, HOT and the four UNRELIABLE_* flags (BIAS, DARK,
        SLOPE, FLAT).  ``[0, 11]`` is xmiri 0.1's choice; ``[]`` masks none.
    poly_order : int, default 4
        Order of the polynomial along the rows; below every window height.
    outlier_threshold : float, default 4.0
        Residual, in units of the residual scatter, above which a pixel is an
        outlier.
    spatial_profile_left_idx, spatial_profile_right_idx : int, optional
        Columns ``[left, right)`` over which P is normalised (zero outside);
        None: from the file's subarray (SLITLESSPRISM: 26, 47;
        :func:`xmiri.defaults.geometry`).
    robust : bool, default False
        False: the scatter is the standard deviation of the residuals, as in
        ExoTiC-MIRI.  True: 1.4826 times their median absolute deviation, so
        that several hits in one window are all found.
    aperture_center : int, optional
        Column around which ``n_outliers`` counts replaced pixels (the
        aperture centre of :func:`extract`); None: from the file's subarray
        (SLITLESSPRISM: 36).  Its former name
        ``trace_center`` still works, with a FutureWarning.
    err_threshold : float or None, default 5.0
        Also replace pixels whose ``err`` is more than this many times the
        error their own rate implies, ``sqrt(max(D + S, 0) / Q + V_read)``
        (:func:`xmiri.kernels.noise.outlying_errors`; Q from the file's
        ``var_poisson``, V_read the frame's median ``var_rnoise``, S the sky
        already subtracted).  None: no such rule (ExoTiC-MIRI).  Skipped
        when ``ds`` lacks ``err``, ``var_poisson`` or ``var_rnoise``.
    repair_errors : bool, default True
        Give every replaced pixel the ``err`` (and ``var_rnoise``) of its
        replacement value instead of keeping the pipeline's: otherwise the
        ERR of a replaced bad pixel (e.g. an UNRELIABLE_DARK pixel,
        docs/clean.rst) still dominates the error of every spectrum and
        light-curve bin that sums it.  False: ExoTiC-MIRI.
        Skipped without ``var_poisson`` and ``var_rnoise`` (the ``err``
        attribute ``repaired`` then says so), and without ``err``.
    max_gap : int or None, default 3
        Missing pixels (NaN, as jwst >= 1.9 writes DO_NOT_USE and saturated
        pixels, or DQ-masked) in the profile columns are filled from the
        neighbouring rows: the data of the complete rows on both sides,
        interpolated in row and scaled to the row's good pixels.  Where that
        is not possible, a run of at most ``max_gap`` rows in a column takes
        its column's polynomial fit, and a longer run (a dead stretch, a
        saturated core) stays NaN, flagged DO_NOT_USE.  None: every bad pixel
        is replaced by its column's fit (ExoTiC-MIRI).
    fill_span : int or None, default 40
        Longest stretch of rows with missing pixels that the neighbouring
        rows may bridge; longer runs stay NaN.  0 or None: no filling from
        the neighbouring rows.
    **deprecated
        ``trace_center``, the former name of `aperture_center`
        (FutureWarning); any other keyword raises TypeError.

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with cleaned ``data``; ``dq`` with the OUTLIER bit
        (2**4) set where a pixel was replaced; ``err`` and ``var_rnoise``
        repaired where a pixel was replaced (``repair_errors``); ``profile`` (integration, row,
        col), the spatial profile P; ``n_outliers`` (integration, row,
        region_width), the number of replaced pixels within
        ``0..4`` columns of ``aperture_center``.

    Raises
    ------
    xmiri.ParameterError
        On an invalid argument, before any work.
    xmiri.MissingVariableError
        If ``data`` or ``dq`` is missing.

    Warns
    -----
    xmiri.UnmeasuredWarning
        When computed, with the number of bad pixels that could not be
        replaced (window columns with fewer than 2 good pixels, long runs
        without a measured profile, see ``max_gap``): they are NaN and
        flagged OUTLIER (and DO_NOT_USE when ``max_gap`` is set).  Pixels the pipeline already flagged DO_NOT_USE,
        NON_SCIENCE or REFERENCE_PIXEL (e.g. the DO_NOT_USE columns 4-5 of
        the MIRISim files) are not counted.  One warning per compute.

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
    flux); with ``max_gap`` (default), long runs of bad pixels in the profile
    columns are not bridged by the column's polynomial (ExoTiC-MIRI fits
    across them, whatever their length).

    ``err_threshold`` and ``repair_errors`` need Horne's Q, which is read off
    the file (:func:`xmiri.steps._common.exposure_q`: the median of
    ``rate / var_poisson`` over bright pixels of the first 64 integrations),
    so they need ``err``, ``var_poisson`` and ``var_rnoise``; without them
    they are skipped (the output's ``err`` attribute ``repaired`` says so
    when only the variances are missing).  What they change on the shared
    MIRISim file and on simulations: docs/defaults.rst ("DQ bits, ERR rule
    and ERR repair") and ``benchmarks/DEFAULTS.md``.

    References
    ----------
    Horne, K. 1986, PASP, 98, 609.

    Examples
    --------
    >>> import xmiri
    >>> ds, truth = xmiri.simulate.simulate(2, seed=1, n_cosmic_rays=3)
    >>> cleaned = ds.lrs.clean(robust=True)
    >>> replaced = (cleaned.dq & 16) > 0
    >>> bool(replaced.sel(integration=truth.hit_integration[0], row=truth.hit_row[0],
    ...                   col=truth.hit_col[0]))
    True
    >>> round(cleaned.profile.isel(integration=0, row=300).sum().item(), 6)  # P: rows sum to 1
    1.0
    """
    aperture_center = renamed(deprecated, "trace_center", "aperture_center", aperture_center,
                              None, "clean")
    refuse_unknown(deprecated, "clean")
    spatial_profile_left_idx, spatial_profile_right_idx, aperture_center = d.resolve(
        ds, spatial_profile_left_idx=spatial_profile_left_idx,
        spatial_profile_right_idx=spatial_profile_right_idx, aperture_center=aperture_center)
    ds = prepare(ds, ["data", "dq"], "clean")
    n_cols = ds.sizes["col"]
    heights = v.integer_list("window_heights", window_heights, minimum=1)
    order = v.integer("poly_order", poly_order, minimum=0)
    heights = d.anchored_windows(ds, heights, minimum=order + 1)  # same star rows in every subarray
    if order >= min(heights):
        raise v.ParameterError(
            f"poly_order={order} must be below every window height (smallest: {min(heights)})")
    threshold = v.positive_number("outlier_threshold", outlier_threshold)
    left, right = v.column_range("spatial_profile_left_idx", spatial_profile_left_idx,
                                 "spatial_profile_right_idx", spatial_profile_right_idx, n_cols)
    center = v.integer("aperture_center", aperture_center, minimum=0, maximum=n_cols - 1)
    mask = _dq.dq_mask(dq_bits_to_mask)
    robust = bool(robust)
    if err_threshold is not None:
        err_threshold = v.positive_number("err_threshold", err_threshold)
    repair_errors = bool(repair_errors)
    if max_gap is not None:
        max_gap = v.integer("max_gap", max_gap, minimum=0)
    fill_span = 0 if fill_span is None else v.integer("fill_span", fill_span, minimum=0)
    # Both error rules need err, var_poisson and var_rnoise (Q); without them they are skipped.
    has_err = "err" in ds.variables
    q = exposure_q(ds) if has_err and (err_threshold is not None or repair_errors) else None
    noise = []
    if q is not None:
        noise = [ds["err"], ds["var_rnoise"], q]
        if "background" in ds.variables:
            noise.append(ds["background"])
    rule = err_threshold if q is not None else None
    repair = repair_errors and q is not None

    widths = d.N_OUTLIER_WIDTHS
    outputs = apply(
        _clean_block, ds["data"], ds["dq"], *noise,
        core=[IMAGE] * 4 + [[]] + [IMAGE] * (len(noise) - 3) if noise else [IMAGE] * 2,
        out_core=[IMAGE] * 3 + [["row", "region_width"]] + [IMAGE] * (2 * repair),
        dtypes=[ds["data"].dtype, ds["dq"].dtype, np.float32, np.int32]
        + ([ds["err"].dtype, ds["var_rnoise"].dtype] if repair else []),
        sizes={"region_width": widths}, err_threshold=rule, repair=repair, center=center,
        flag_missing=max_gap is not None, window_heights=heights, dq_mask=mask,
        poly_order=order, outlier_threshold=threshold, profile_left=left, profile_right=right,
        robust=robust, max_gap=max_gap, fill_span=fill_span)
    cleaned, dq_out, profile, n_outliers = outputs[:4]

    out = ds.copy()
    out["data"] = cleaned.assign_attrs(ds["data"].attrs)
    if repair:
        err, var_rnoise = outputs[4:]
        out["err"] = err.assign_attrs(ds["err"].attrs, repaired="replaced pixels: "
                                      "sqrt(max(D + S, 0) / Q + median var_rnoise)")
        out["var_rnoise"] = var_rnoise.assign_attrs(ds["var_rnoise"].attrs)
    elif repair_errors and has_err:
        out["err"] = ds["err"].assign_attrs(
            repaired="no: needs var_poisson and var_rnoise to estimate Q")
    if q is not None:
        out["horne_q"] = q
    out["dq"] = dq_out.assign_attrs(ds["dq"].attrs)
    out["profile"] = profile.assign_attrs(
        long_name="spatial profile P (Horne 1986)", units="1",
        description=f"normalised over columns [{left}, {right}) in every row")
    out["n_outliers"] = n_outliers.assign_coords(region_width=np.arange(widths)).assign_attrs(
        long_name="pixels replaced by clean", units="1",
        description=f"replaced pixels in columns {center}-w..{center}+w, w = region_width")
    return with_history(out, call_repr(
        "clean", window_heights=heights,
        dq_bits_to_mask=list(np.atleast_1d(dq_bits_to_mask).tolist()),
        poly_order=order, outlier_threshold=threshold, spatial_profile_left_idx=left,
        spatial_profile_right_idx=right, robust=robust, aperture_center=center,
        err_threshold=err_threshold, repair_errors=repair_errors, max_gap=max_gap,
        fill_span=fill_span))
