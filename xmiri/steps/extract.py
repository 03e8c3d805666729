"""``extract``: one spectrum per integration, by box or optimal (Horne 1986) extraction."""
import warnings

import numpy as np
import xarray as xr

from .. import _validate as v
from .. import defaults as d
from .._diagnostics import report
from ..exceptions import SkyNotSubtractedWarning
from ..kernels import align as _align
from ..kernels import extract as _extract
from ..kernels import trace as _trace
from . import _traced
from ._common import (IMAGE, apply, call_repr, combine, exposure_q, prepare, report_optimal,
                      sample_index, scalar, with_history)

__all__ = ["extract"]


# --------------------------------------------------------------------------
# block functions (module level, so that dask.distributed can pickle them)
def _trace_block(data, **kwargs):
    center, sigma = _trace.fit_trace_block(data, **kwargs)
    report("extract", "trace_position", np.count_nonzero(~np.isfinite(center)), center.size,
           "the Gaussian fit of the cross-dispersion profile failed")
    return center, sigma


def _mask_block(center, *, n_cols, left_width, right_width):
    return _extract.aperture_mask(center, n_cols, left_width, right_width)


def _per_integration(mask, n_int):
    """The aperture `mask` as (n_int, n_col): a constant aperture arrives as one (1, n_col) row."""
    return np.broadcast_to(mask, (n_int, mask.shape[-1]))


def _report_flux(flux, mask, cause):
    has_aperture = mask.any(axis=-1)  # integrations without aperture are counted by the trace fit
    bad = ~np.isfinite(flux[has_aperture])
    report("extract", "flux", np.count_nonzero(bad), bad.size, cause)


def _box_block(data, err, mask):
    mask = _per_integration(mask, data.shape[0])
    flux, flux_error = _extract.box_extract_block(data, err, mask)
    _report_flux(flux, mask, "NaN data or errors inside the aperture")
    return flux, flux_error


def _optimal_block(data, profile, variance0, mask, q, *extra, has_median=False, has_sky=False):
    """Optimal extraction of one block; ``extra`` holds the median profile and/or the sky."""
    extra = list(extra)
    median_profile = extra.pop(0) if has_median else None
    sky = extra.pop(0) if has_sky else None
    mask = _per_integration(mask, data.shape[0])
    profile = np.broadcast_to(profile, data.shape)
    variance0 = np.broadcast_to(variance0, data.shape)
    flux, flux_error = _extract.optimal_extract_block(
        data, profile, variance0, mask, median_profile=median_profile, q=scalar(q), sky=sky)
    if median_profile is not None:
        profile_sum = np.asarray(median_profile).reshape(-1, *flux.shape[1:], median_profile.shape[-1])
        profile_sum = profile_sum[0].sum(axis=-1)
    else:
        profile_sum = np.where(mask[:, None, :], np.nan_to_num(profile), 0.0).sum(axis=-1)
    report_optimal(flux, profile_sum, mask.any(axis=-1)[:, None])
    return flux, flux_error


def _cutout_block(values, mask):
    return _extract.aperture_cutout(values, _per_integration(mask, values.shape[0]))


# --------------------------------------------------------------------------
# arguments
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


def _median_profile(profile, mask, width):
    """Horne's P median over the exposure's integrations (:func:`sample_index`), inside
    the aperture, renormalised per row."""
    index = sample_index(profile.sizes["integration"])
    if "integration" in mask.dims:
        mask = mask.isel(integration=index)
    cut = apply(_cutout_block, profile.isel(integration=index), mask,
                core=[IMAGE, ["col"]], out_core=[["row", "aperture_col"]], dtypes=[np.float64],
                sizes={"aperture_col": width})
    return combine(_extract.median_profile_from_cutouts, cut,
                   core=[["integration", "row", "aperture_col"]], out_core=[["row", "aperture_col"]],
                   dtypes=[np.float64])


def _frame_profile(ds):
    """Spatial profile from the median frame (when ``clean`` made no P), over the
    exposure's integrations (:func:`sample_index`)."""
    frames = ds["data"].isel(integration=sample_index(ds.sizes["integration"]))
    return combine(_extract.median_frame_profile, frames, core=[["integration", *IMAGE]],
                   out_core=[IMAGE], dtypes=[np.float64])


def _whole_pixel_aperture(ds, center, *, method, left, right, variance0, median_profile, q, sky):
    """Flux and error in ExoTiC-MIRI's whole-pixel aperture around ``center``.

    `center` is a DataArray over integration, or one column (int) for the
    same aperture in every integration: then the mask is a single numpy
    row that every block shares, not a dask task per chunk.
    """
    n_cols = ds.sizes["col"]
    if isinstance(center, (int, np.integer)):
        mask = xr.DataArray(_extract.aperture_mask(np.array([float(center)]), n_cols, left, right)[0],
                            dims=["col"])
    else:
        mask = apply(_mask_block, center, core=[[]], out_core=[["col"]], dtypes=[bool],
                     sizes={"col": n_cols}, n_cols=n_cols, left_width=left, right_width=right)
    if method == "box":
        return apply(_box_block, ds["data"], ds["err"], mask, core=[IMAGE, IMAGE, ["col"]],
                     out_core=[["row"], ["row"]], dtypes=[np.float64, np.float64])
    profile = ds["profile"] if "profile" in ds.variables else _frame_profile(ds)
    args = [ds["data"], profile, variance0, mask, q]
    core = [IMAGE, IMAGE, IMAGE, ["col"], []]
    if median_profile:
        args.append(_median_profile(profile.broadcast_like(ds["data"]), mask, left + right + 1))
        core.append(["row", "aperture_col"])
    if sky is not None:
        args.append(sky)
        core.append(IMAGE)
    return apply(_optimal_block, *args, core=core, out_core=[["row"], ["row"]],
                 dtypes=[np.float64, np.float64], has_median=median_profile,
                 has_sky=sky is not None)


# --------------------------------------------------------------------------
def extract(ds, method="box", trace_position="constant", aperture_center=d.APERTURE_CENTER,
            aperture_left_width=d.APERTURE_LEFT_WIDTH, aperture_right_width=d.APERTURE_RIGHT_WIDTH,
            median_spatial_profile=False, readnoise=None, trace_rows=d.TRACE_ROWS,
            trace_cols=d.TRACE_COLUMNS, sigma_guess=d.PSF_SIGMA_GUESS, horne_q="auto",
            trace_poly_order=d.TRACE_POLY_ORDER):
    """Extract one spectrum per integration, by box or optimal extraction.

    The numerics are :mod:`xmiri.kernels.extract` (box, Horne 1986) and
    :func:`xmiri.kernels.trace.fit_trace_block` (trace position).

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
    trace_position : {"constant", "gaussian_fits", "polynomial"}, default "constant"
        How the aperture centre is chosen: ``constant``: column
        ``aperture_center``; ``gaussian_fits``: the centre of a Gaussian
        fitted to each integration's median cross-dispersion profile (both
        as ExoTiC-MIRI, with whole-pixel apertures); ``polynomial``: an
        aperture that follows the trace row by row, with fractional edge
        pixels (see Notes).
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
    trace_rows, trace_cols : (int, int), default (200, 390), (12, 68)
        Rows and columns ``[start, stop)`` of the median cross-dispersion
        profile used for the Gaussian trace fit (ExoTiC-MIRI's values).
    sigma_guess : float, default 1.59
        Initial Gaussian sigma in pixels.
    horne_q : "auto", float or None, default "auto"
        Optimal extraction only: Horne's Q, detected electrons per DN/s, in
        the revised variance ``V = V0 + |f P + S| / Q`` (step 6), with ``S``
        the ``background`` that :func:`subtract` removed.  ``"auto"`` reads
        Q off the file, as the median of ``(data + background) /
        var_poisson`` over bright, unflagged pixels of the first 64
        integrations (:func:`xmiri.kernels.noise.estimate_q`: within 0.1 %
        of the truth on simulations; 38.6 for the shared MIRISim segment);
        the value is in the output's ``horne_q``.  A number sets Q.  None
        reproduces ExoTiC-MIRI: ``Q = 1`` and ``S = 0``, which for rates in
        DN/s misstates the pixel variances (the Poisson term too large by
        gain x integration time, the sky's Poisson noise left out), so the
        weights and ``flux_error``: white-light scatter 2386 against 2071
        ppm with "auto", scatter/error 0.35 against 1.19 on simulations.
    trace_poly_order : int, default 2
        ``trace_position="polynomial"`` only: degree of the polynomial in
        row fitted to the trace centre of the median frame.

    Returns
    -------
    xarray.Dataset
        Dims ``(integration, row)``: ``flux``, ``flux_error`` (DN/s);
        ``trace_position`` (the aperture centre column; with
        ``"polynomial"`` the trace centre averaged over ``trace_rows``) and
        ``psf_sigma`` (integration; pixels); ``cross_dispersion_profile``
        (integration, col) over ``trace_cols``, which :func:`align` uses;
        coords ``integration``, ``time``, ``row``, ``wavelength(row)``
        (micron, at column ``int(median(trace_position))``, or along the
        fitted trace).  With ``trace_position="polynomial"`` also
        ``trace_center`` (integration, row), the aperture centre in every
        row, and ``trace_coefficients`` (power), the polynomial of the
        median frame's trace (:mod:`numpy.polynomial.polynomial`
        convention, row in pixels).

    Warns
    -----
    xmiri.SkyNotSubtractedWarning
        At call time, when ``ds`` has neither a ``background`` variable nor a
        ``background_subtracted`` attribute (set by :func:`subtract`): the
        sky would stay in the spectra.  The output's ``flux`` attribute
        ``background_subtracted`` records it ("no").
    xmiri.UnmeasuredWarning
        When computed, once per compute, counting the trace positions whose
        fit failed and the fluxes that are NaN, with their cause.

    Notes
    -----
    **Traced apertures** (``trace_position="polynomial"``).  The trace centre
    of the median frame (over the first 512 integrations) is fitted row by
    row with Gaussians and then as a polynomial of ``trace_poly_order`` in
    row, over the rows where the star is detected (S/N > 10), with 4-sigma
    clipping (:func:`xmiri.kernels.tracefit.fit_reference_trace`).  Each
    integration gets one cross-dispersion offset from a fit of that
    reference trace to its own frame
    (:func:`~xmiri.kernels.tracefit.integration_offsets`: 3 milli-pixel per
    integration on simulated frames, against 21 for ExoTiC-MIRI's Gaussian
    fit); ``trace_center = polynomial(row) + offset``.  The aperture of each
    row runs from ``trace_center - aperture_left_width - 0.5`` to
    ``trace_center + aperture_right_width + 0.5``; the pixels it covers
    partly count with the fraction covered, in the flux and (squared) in
    the error, so the aperture moves continuously with the trace
    (:mod:`xmiri.kernels.aperture`).  Optimal extraction weights the same
    aperture; its profile is ``clean``'s P when present (which follows each
    integration's trace), else -- and with ``median_spatial_profile=True`` --
    a Gaussian of the median frame's width in each row, centred on the
    integration's trace.  The wavelength of each row is read along the
    fitted trace.

    Order matters for optimal extraction.  ``clean`` builds P from the frames
    it is given; run after ``subtract`` (``ds.lrs.subtract().lrs.clean()``),
    P is the star's profile.  Run before it, as in ExoTiC-MIRI's examples,
    P carries the sky as a pedestal across the profile columns, which biases
    the optimal flux.  Measured on noiseless simulations (benchmarks/DEFAULTS.md,
    docs "Recommended defaults"): with P from unsubtracted frames and Horne's
    Q read off the file, the optimal flux is 6.2 % high and the white-light
    depth 2.2 % shallow (with ExoTiC-MIRI's Q = 1 the pedestal mostly hides:
    +0.27 % for an 8 + 8 column aperture); with P from subtracted frames
    the bias is 0.000 %.

    References
    ----------
    Horne, K. 1986, PASP, 98, 609.

    Examples
    --------
    >>> import xmiri
    >>> ds, truth = xmiri.simulate.simulate(3, seed=1)
    >>> spec = ds.lrs.subtract().lrs.clean().lrs.extract(method="optimal", horne_q=38.2)
    >>> spec.flux.dims, spec.sizes["row"]
    (('integration', 'row'), 416)
    >>> ratio = (spec.flux / truth.flux).sel(row=slice(250, 350)).median().item()
    >>> bool(0.97 < ratio < 1.0)   # a 9-column box holds ~98% of the trace
    True
    """
    method = v.choice("method", method, ("box", "optimal"))
    ds = prepare(ds, ["data", "err"], "extract")
    n_rows, n_cols = ds.sizes["row"], ds.sizes["col"]
    trace_position = v.choice("trace_position", trace_position,
                              ("constant", "gaussian_fits", "polynomial"))
    traced = trace_position == "polynomial"
    poly_order = v.integer("trace_poly_order", trace_poly_order, minimum=0, maximum=6)
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
    if isinstance(horne_q, str):
        v.choice("horne_q", horne_q, ("auto",))
    elif horne_q is not None:
        horne_q = v.positive_number("horne_q", horne_q)
    if method == "optimal":
        variance0 = _variance0(ds, readnoise)
        if "row" not in variance0.dims or "col" not in variance0.dims:
            variance0 = variance0.broadcast_like(ds["data"].isel(integration=0, drop=True))

    subtracted = ds.attrs.get("background_subtracted")
    if subtracted is None and "background" not in ds.variables:
        subtracted = "no"
        warnings.warn(SkyNotSubtractedWarning(
            "extract: the frames carry no background variable and no background_subtracted "
            "attribute, so the sky is still in them and in the spectra (on the demo exposure "
            "the median flux is 169 DN/s instead of 9.7 and the transit depth 0.30% instead "
            "of 0.94%): run ds.lrs.subtract() first, or set "
            "ds.attrs['background_subtracted'] = '<how>' if the sky was removed elsewhere"),
            stacklevel=4)

    # Q first: its variables are checked before any fit runs (numpy input computes at once).
    q, sky = xr.DataArray(1.0), None  # ExoTiC-MIRI's Q = 1, S = 0 (horne_q=None, and box)
    if method == "optimal" and horne_q is not None:
        q = exposure_q(ds) if horne_q == "auto" else xr.DataArray(float(horne_q))
        if q is None:
            v.require(ds, ["var_poisson", "var_rnoise"],
                      "extract(method='optimal', horne_q='auto') (or pass horne_q=<electrons per "
                      "DN/s>, or horne_q=None for ExoTiC-MIRI's Q = 1)")
        if "background" in ds.variables:
            sky = ds["background"]
    center_fit, sigma = apply(_trace_block, ds["data"], core=[IMAGE], out_core=[[], []],
                              dtypes=[np.float64, np.float64], rows=rows, cols=cols,
                              sigma_guess=sigma_guess)
    if traced:
        packed, coefficients = _traced.reference_trace(ds["data"], order=poly_order, cols=cols,
                                                          sigma_guess=sigma_guess)
        center_row = _traced.trace_centers(ds["data"], packed, coefficients, cols)
        center = center_row.isel(row=slice(*rows)).mean("row")
        profile = None
        if method == "optimal" and not median_spatial_profile and "profile" in ds.variables:
            profile = ds["profile"]
        flux, flux_error = _traced.extract_traced(
            ds, center_row, packed, method=method, left=left_w, right=right_w,
            variance0=variance0 if method == "optimal" else None, profile=profile, q=q, sky=sky)
    else:
        constant = trace_position == "constant"
        # A constant centre is known now: numpy, no dask task per chunk.
        center = center_fit.copy(data=np.full(center_fit.shape, float(center0))) if constant else center_fit
        flux, flux_error = _whole_pixel_aperture(
            ds, center0 if constant else center,
            method=method, left=left_w, right=right_w,
            variance0=variance0 if method == "optimal" else None,
            median_profile=bool(median_spatial_profile), q=q, sky=sky)

    xprofile = apply(_align.cross_dispersion_profile, ds["data"], core=[IMAGE],
                     out_core=[["xd_col"]], dtypes=[np.float64],
                     sizes={"xd_col": cols[1] - cols[0]}, rows=rows, cols=cols)
    xprofile = xprofile.rename(xd_col="col").assign_coords(col=ds["col"].values[cols[0]:cols[1]])

    units = ds["data"].attrs.get("units", "DN/s")
    spec = xr.Dataset(
        {
            "flux": flux.assign_attrs(long_name=f"{method}-extracted flux", units=units,
                                      background_subtracted=str(subtracted or "yes")),
            "flux_error": flux_error.assign_attrs(long_name="1-sigma flux error", units=units),
            "trace_position": center.assign_attrs(long_name="aperture centre", units="pixel",
                                                  method=trace_position),
            "psf_sigma": sigma.assign_attrs(
                long_name="Gaussian sigma of the cross-dispersion profile", units="pixel"),
            "cross_dispersion_profile": xprofile.assign_attrs(
                long_name="cross-dispersion profile", units=units,
                description=f"sum over rows [{rows[0]}, {rows[1]}) of data"),
        },
        attrs=dict(ds.attrs),
    )
    if method == "optimal" and horne_q == "auto":
        spec["horne_q"] = q
    if traced:
        spec["trace_center"] = center_row.assign_attrs(
            long_name="trace centre (aperture centre) in each row", units="pixel",
            description="polynomial of the median frame's trace plus the integration's offset")
        spec["trace_coefficients"] = coefficients.assign_attrs(
            long_name="trace centre polynomial of the median frame", units="pixel",
            description="centre(row) = sum_k c[k] row**k (numpy.polynomial.polynomial), row "
                        "in pixels")
    coords = {c: ds.coords[c] for c in ("integration", "time", "row") if c in ds.coords}
    spec = spec.assign_coords(coords)
    if "wavelength" in ds.coords:
        if traced:
            wavelength = _traced.wavelength_along(ds["wavelength"], coefficients)
        elif trace_position == "constant":
            wavelength = ds["wavelength"].isel(col=center0, drop=True)
        else:
            wavelength = combine(_extract.wavelength_column, ds["wavelength"], center,
                                 core=[IMAGE, ["integration"]], out_core=[["row"]],
                                 dtypes=[np.float64])
        wavelength = wavelength.drop_vars([c for c in wavelength.coords if c != "row"])
        spec = spec.assign_coords(wavelength=wavelength.assign_attrs(ds["wavelength"].attrs))
    return with_history(spec, call_repr(
        "extract", method=method, trace_position=trace_position, aperture_center=center0,
        aperture_left_width=left_w, aperture_right_width=right_w,
        median_spatial_profile=bool(median_spatial_profile),
        readnoise=None if readnoise is None else ("scalar" if np.isscalar(readnoise) else "array"),
        trace_rows=list(rows), trace_cols=list(cols), sigma_guess=sigma_guess, horne_q=horne_q,
        **({"trace_poly_order": poly_order} if traced else {})))
