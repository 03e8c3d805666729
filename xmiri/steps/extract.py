"""``extract``: one spectrum per integration, by box or optimal (Horne 1986) extraction."""
import warnings

import numpy as np
import xarray as xr

from ..kernels import _validate as v
from .. import defaults as d
from ..exceptions import SkyNotSubtractedWarning
from ..kernels import align as _align
from ..kernels import background as _stats
from ..kernels import extract as _extract
from ..kernels import profile as _profiles
from . import _traced
from ._extract_blocks import _box_block, _cutout_block, _optimal_block, _trace_block
from ._extract_checks import check_arguments
from ._common import (IMAGE, apply, call_repr, combine, exposure_q, over_sample,
                      sample_index, sample_reduction, with_history)

__all__ = ["extract"]


#: Integrations whose median frame gives the profile where nothing else does (the median
#: frame as the optimal profile itself uses :func:`sample_index`'s default).
_FALLBACK_SAMPLE = 64
#: Offset of the moving profile's frame from the sample's median trace centre, pixels.
_TEMPLATE_PHASE = 0.5


# --------------------------------------------------------------------------
# arguments
def _median_profile(profile, center, left, right):
    """ExoTiC-MIRI's median P: the median over the exposure's integrations
    (:func:`over_sample`) of P's whole-pixel aperture cut-outs, renormalised per row."""
    def build(profile, center=center):
        cut = apply(_cutout_block, profile, center,
                    core=[IMAGE, []], out_core=[["row", "aperture_col"]], dtypes=[np.float64],
                    sizes={"aperture_col": left + right + 1}, left=left, right=right)
        return sample_reduction(cut, _profiles.median_profile_from_cutouts)

    if "integration" in center.dims:
        return over_sample(build, profile, center)
    return over_sample(build, profile)


def _aligned_block(values, shift):
    return _profiles.align_profiles(_profiles.normalised_profiles(values), shift)


def _moving_median(sample, centers):
    """The median of the sampled profiles, each moved onto the reference centre; the reference."""
    reference = combine(_stats.nanmedian, centers, core=[["integration"]],
                        out_core=[[]], dtypes=[np.float64])
    # The template sits half a pixel from the sample's median centre: the interpolation's
    # error, 0 at whole-pixel shifts, is at its extremum there, so that it changes least
    # when the trace moves a little (docs/extract.rst, "Profiles that follow the trace").
    reference = reference + _TEMPLATE_PHASE
    aligned = apply(_aligned_block, sample, reference - centers,
                    core=[IMAGE, []], out_core=[IMAGE], dtypes=[np.float64])
    return sample_reduction(aligned, _profiles.median_profile_from_cutouts), reference


def _moving_profile(profile, center_fit):
    """The median P in the frame of the trace and each integration's shift from it.

    Each sampled integration's P (:func:`over_sample`) is moved by
    ``reference - centre`` (its measured trace centre onto the sample's
    median centre), the median taken and renormalised per row; an
    integration's profile is that median moved by ``centre - reference``.
    """
    median, reference = over_sample(_moving_median, profile, center_fit)
    return median, center_fit - reference


def _frame_profile(ds, cap=None):
    """The exposure's spatial profile: from the median frame over the first integrations
    (:func:`sample_index`, at most `cap`), completed where pixels are always missing.
    The full sample (`cap` None) is computed apart from the exposure's pass
    (:func:`over_sample`)."""
    if cap is None:
        frame = over_sample(sample_reduction, ds["data"])
    else:
        frame = sample_reduction(ds["data"].isel(integration=sample_index(ds.sizes["integration"], cap)))
    return apply(_profiles.profile_from_frame, frame, core=[IMAGE], out_core=[IMAGE],
                 dtypes=[np.float64])


def _sky_inputs(ds):
    """``subtract``'s sky estimate errors and coefficients, when it wrote both."""
    if "background_error" not in ds.variables or "background_coefficient" not in ds.variables:
        return {}
    error, coefficient = ds["background_error"], ds["background_coefficient"]
    if (set(error.dims) != {"integration", "row", "sky_component"}
            or set(coefficient.dims) != {"sky_component", "col"}):
        raise v.ParameterError(
            f"background_error dims {error.dims} / background_coefficient dims {coefficient.dims}: "
            "expected (integration, row, sky_component) and (sky_component, col)")
    return {"sky_error": (error, ["row", "sky_component"]),
            "sky_coefficient": (coefficient, ["sky_component", "col"])}


def _flux(ds, center, inputs, *, method, left, right, whole_pixels, dq_mask, min_valid_weight,
          sky_error, shift_rows=None):
    """Flux, flux_error, missing_fraction (and sky_flux_error) from the blocks, lazily."""
    inputs = {"data": (ds["data"], IMAGE), "center": (center, ["row"]), **inputs}
    if "dq" in ds.variables:
        inputs["dq"] = (ds["dq"], IMAGE)
    if sky_error:
        inputs.update(_sky_inputs(ds))
    n_out = 4 if "sky_error" in inputs else 3
    block = _box_block if method == "box" else _optimal_block
    extra = {"shift_rows": shift_rows} if "moving_profile" in inputs else {}
    return apply(block, *[value for value, _ in inputs.values()],
                 core=[dims for _, dims in inputs.values()], out_core=[["row"]] * n_out,
                 dtypes=[np.float64] * n_out, names=tuple(inputs), left=left, right=right,
                 whole_pixels=whole_pixels, dq_mask=dq_mask, min_valid_weight=min_valid_weight,
                 **extra)


# --------------------------------------------------------------------------
def extract(ds, method="box", trace_position="constant", aperture_center=None,
            aperture_left_width=d.APERTURE_LEFT_WIDTH, aperture_right_width=d.APERTURE_RIGHT_WIDTH,
            median_spatial_profile=False, readnoise=None, trace_rows=None,
            trace_cols=None, sigma_guess=d.PSF_SIGMA_GUESS, horne_q="auto",
            trace_poly_order=d.TRACE_POLY_ORDER, min_valid_weight=d.MIN_VALID_WEIGHT, dq_bits_to_mask=None,
            profile_follows_trace=False, sky_error=True):
    """Extract one spectrum per integration, by box or optimal extraction.

    Every ``trace_position`` gives an aperture centre per integration and
    row; from it, aperture weights (:mod:`xmiri.kernels.aperture`: whole
    pixels as ExoTiC-MIRI, or sub-pixel edges); from the weights, the flux
    (:func:`xmiri.kernels.extract.box_extract`,
    :func:`xmiri.kernels.extract.optimal_extract`).

    Parameters
    ----------
    ds : xarray.Dataset
        Background-subtracted frames with ``data`` and ``err`` (DN/s); for
        ``method="optimal"`` also ``profile`` (from :func:`clean`; built from
        the median frame when absent) and ``var_rnoise`` (unless
        ``readnoise`` is given).  NaN pixels are missing (see Notes).
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
    aperture_center : int, optional
        Aperture centre column for ``trace_position="constant"``; None:
        from the file's subarray (SLITLESSPRISM: 36;
        :func:`xmiri.defaults.geometry`).
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
    trace_rows, trace_cols : (int, int), optional
        Rows and columns ``[start, stop)`` of the median cross-dispersion
        profile used for the Gaussian trace fit; None: from the file's
        subarray (SLITLESSPRISM: (200, 390) and (12, 68), ExoTiC-MIRI's
        values).
    sigma_guess : float, default 1.59
        Initial Gaussian sigma in pixels.
    horne_q : "auto", float or None, default "auto"
        Optimal extraction only: Horne's Q, detected electrons per DN/s, in
        the revised variance ``V = V0 + |f P + S| / Q`` (step 6), with ``S``
        the ``background`` that :func:`subtract` removed.  ``"auto"`` reads
        Q off the file, as the median of ``(data + background) /
        var_poisson`` over bright, unflagged pixels of the first 64
        integrations (:func:`xmiri.kernels.noise.estimate_q`); the value is
        in the output's ``horne_q``.  A number sets Q.  None reproduces
        ExoTiC-MIRI: ``Q = 1`` and ``S = 0``, which for rates in DN/s
        misstates the pixel variances, so the weights and ``flux_error``
        (measurements: docs/extract.rst, "Horne's Q").
    trace_poly_order : int, default 2
        ``trace_position="polynomial"`` only: degree of the polynomial in
        row fitted to the trace centre of the median frame.
    min_valid_weight : float, default 0.5
        A row is given up (NaN, reported) when its valid pixels hold less
        than this fraction of the aperture's profile weight ``sum(w P)``;
        rows with fewer missing pixels are measured from the valid ones
        (see Notes).  In [0, 1].
    dq_bits_to_mask : sequence of int or str, optional
        DQ bits (indices or JWST flag names) whose pixels count as missing
        although their data are finite, unless ``clean`` replaced them
        (OUTLIER bit set).  Default None: only NaN pixels are missing (jwst
        1.9 and later write NaN for DO_NOT_USE pixels).
    profile_follows_trace : bool, default False
        With ``method="optimal"`` and ``median_spatial_profile=True``: build
        the median profile in the frame of the trace (each integration's P
        moved onto the median trace centre before the median) and place it
        at each integration's own trace centre (the Gaussian fit of its
        cross-dispersion profile, as ``trace_position``), shifted by a
        sub-pixel, flux-conserving interpolation of its cumulative sum
        (:func:`xmiri.kernels.profile.shift_profile`), so that the profile
        follows the pointing; the shift is refined by a fit of that profile
        to the integration's frame over ``trace_rows``
        (:func:`xmiri.kernels.profile.fit_profile_shift`), and the flux is
        the flux inside the aperture in the trace's frame (scaled by
        ``sum(w T) / sum(w P)``, T the unmoved profile).  False: the median
        profile stays where it was measured (ExoTiC-MIRI).  See
        docs/extract.rst, "Profiles that follow the trace".
    sky_error : bool, default True
        Add the variance of the subtracted sky estimate (``background_error``
        and ``background_coefficient``, written by :func:`subtract`) to
        ``flux_error`` and write it as ``sky_flux_error``.  False: the
        pixels' variances only, as ExoTiC-MIRI (the ``exotic-miri`` presets);
        ``flux_error`` is then too small for sky-limited stars
        (docs/errors.rst).

    Returns
    -------
    xarray.Dataset
        Dims ``(integration, row)``: ``flux``, ``flux_error`` (DN/s);
        ``missing_fraction`` (the fraction of the aperture's profile weight
        on pixels that were missing or that ``clean`` replaced);
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
        convention, row in pixels).  When ``ds`` carries ``subtract``'s
        ``background_error`` and ``background_coefficient``, also
        ``sky_flux_error`` (integration, row, DN/s), the error the
        subtracted sky estimate adds to the flux, which ``flux_error``
        includes (in quadrature).

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
    **Missing pixels.**  A pixel is missing when its data (or error, or
    read-noise variance) is NaN or it has a ``dq_bits_to_mask`` bit.  The
    optimal flux is Horne's estimator over the valid pixels (weight 0 for
    missing ones); the box flux is the sum over the valid pixels scaled by
    ``sum(w P) / sum_valid(w P)``, with the error of that estimate.  The
    profile P is the optimal extraction's (box: the median frame's,
    completed along the rows where pixels are always missing).  See
    docs/extract.rst, "Missing and saturated pixels".

    **Sky error.**  With ``background_error`` and ``background_coefficient``
    present (:func:`subtract`), the subtracted sky's error, the same in
    every column of a row, enters with the linear weights of the estimator
    used (:func:`xmiri.kernels.noise.sky_flux_variance`); its
    ``row_correlation`` attribute is copied to ``sky_flux_error``.

    **Traced apertures** (``trace_position="polynomial"``).  The trace centre
    of the median frame (over the first 512 integrations) is fitted row by
    row with Gaussians and then as a polynomial of ``trace_poly_order`` in
    row, over the rows where the star is detected (S/N > 10), with 4-sigma
    clipping (:func:`xmiri.kernels.tracefit.fit_reference_trace`).  Each
    integration gets one cross-dispersion offset from a fit of that
    reference trace to its own frame
    (:func:`~xmiri.kernels.tracefit.integration_offsets`);
    ``trace_center = polynomial(row) + offset``.  The aperture of each
    row runs from ``trace_center - aperture_left_width - 0.5`` to
    ``trace_center + aperture_right_width + 0.5``; the pixels it covers
    partly count with the fraction covered, in the flux and (squared) in
    the error, so the aperture moves continuously with the trace
    (:mod:`xmiri.kernels.aperture`).  Optimal extraction weights the same
    aperture; its profile is ``clean``'s P when present (which follows each
    integration's trace), else -- and with ``median_spatial_profile=True`` --
    a Gaussian of the median frame's width in each row, centred on the
    integration's trace.  The wavelength of each row is read along the
    fitted trace.  Accuracy: docs/extract.rst, "Traced apertures".

    Order matters for optimal extraction.  ``clean`` builds P from the frames
    it is given; run after ``subtract`` (``ds.lrs.subtract().lrs.clean()``),
    P is the star's profile.  Run before it, as in ExoTiC-MIRI's examples,
    P carries the sky as a pedestal across the profile columns, which biases
    the optimal flux (measured in docs/defaults.rst, "Recommended defaults").

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
    aperture_center, trace_rows, trace_cols = d.resolve(
        ds, aperture_center=aperture_center, trace_rows=trace_rows, trace_cols=trace_cols)
    ds, args = check_arguments(ds, method, trace_position, aperture_center, aperture_left_width,
                      aperture_right_width, trace_rows, trace_cols, sigma_guess, horne_q,
                      trace_poly_order, readnoise, min_valid_weight, dq_bits_to_mask)
    subtracted = _sky_state(ds)
    q, sky = _horne_q(ds, method, args["horne_q"])
    center_fit, sigma = apply(_trace_block, ds["data"], core=[IMAGE], out_core=[[], []],
                              dtypes=[np.float64, np.float64], rows=args["rows"],
                              cols=args["cols"], sigma_guess=args["sigma_guess"])
    center, center_int, traced = _centres(ds, center_fit, trace_position, args)
    follows = _follows(profile_follows_trace, method, median_spatial_profile)
    inputs = _profile_inputs(ds, method, center, center_int, traced, args,
                             bool(median_spatial_profile), q, sky,
                             center_fit if follows else None)
    fluxes = _flux(ds, center["row"], inputs, method=method, left=args["left"],
                   right=args["right"], whole_pixels=traced is None, dq_mask=args["dq_mask"],
                   min_valid_weight=args["min_valid_weight"], sky_error=bool(sky_error),
                   shift_rows=tuple(args["rows"]))
    spec = _assemble(ds, method, trace_position, fluxes, center, center_int, traced, sigma,
                     subtracted, args)
    if method == "optimal" and horne_q == "auto":
        spec["horne_q"] = q
    return with_history(spec, call_repr(
        "extract", method=method, trace_position=trace_position, aperture_center=args["center0"],
        aperture_left_width=args["left"], aperture_right_width=args["right"],
        median_spatial_profile=bool(median_spatial_profile),
        readnoise=None if readnoise is None else ("scalar" if np.isscalar(readnoise) else "array"),
        trace_rows=list(args["rows"]), trace_cols=list(args["cols"]),
        sigma_guess=args["sigma_guess"], horne_q=horne_q,
        **({"trace_poly_order": args["poly_order"]} if traced is not None else {}),
        **({"min_valid_weight": args["min_valid_weight"]} if min_valid_weight != d.MIN_VALID_WEIGHT else {}),
        **({"dq_bits_to_mask": dq_bits_to_mask} if dq_bits_to_mask is not None else {}),
        **({"profile_follows_trace": True} if follows else {}),
        **({} if sky_error else {"sky_error": False})))


# --------------------------------------------------------------------------
# the stages of extract: check -> centre -> weights and flux (in the blocks) -> assemble
def _sky_state(ds):
    """The flux's ``background_subtracted`` attribute; warns when the sky is still in the frames."""
    subtracted = ds.attrs.get("background_subtracted")
    if subtracted is None and "background" not in ds.variables:
        subtracted = "no"
        warnings.warn(SkyNotSubtractedWarning(
            "extract: the frames carry no background variable and no background_subtracted "
            "attribute, so the sky is still in them and in the spectra (the flux too high, the "
            "transit too shallow): run ds.lrs.subtract() first, or set "
            "ds.attrs['background_subtracted'] = '<how>' if the sky was removed elsewhere"),
            stacklevel=4)
    return subtracted


def _horne_q(ds, method, horne_q):
    """Horne's Q (0-d DataArray) and the subtracted sky S (or None), checked before any fit."""
    q, sky = xr.DataArray(1.0), None  # ExoTiC-MIRI's Q = 1, S = 0 (horne_q=None, and box)
    if method == "optimal" and horne_q is not None:
        q = exposure_q(ds) if horne_q == "auto" else xr.DataArray(float(horne_q))
        if q is None:
            v.require(ds, ["var_poisson", "var_rnoise"],
                      "extract(method='optimal', horne_q='auto') (or pass horne_q=<electrons per "
                      "DN/s>, or horne_q=None for ExoTiC-MIRI's Q = 1)")
        if "background" in ds.variables:
            sky = ds["background"]
    return q, sky


def _centres(ds, center_fit, trace_position, args):
    """The aperture centre per (integration, row) for every ``trace_position``.

    Returns ``{"row": centre (integration?, row), "int": centre (integration,)}``
    as a dict, the centre per integration (or the constant column), and the
    reference trace ``(packed, coefficients)`` for ``"polynomial"`` (else None).
    """
    n_rows = ds.sizes["row"]
    if trace_position == "polynomial":
        packed, coefficients = _traced.reference_trace(
            ds["data"], order=args["poly_order"], cols=args["cols"],
            sigma_guess=args["sigma_guess"])
        center_row = _traced.trace_centers(ds["data"], packed, coefficients, args["cols"])
        center = center_row.isel(row=slice(*args["rows"])).mean("row")
        return {"row": center_row, "int": center}, None, (packed, coefficients)
    if trace_position == "constant":
        # Known now: numpy, no dask task per chunk.
        center = center_fit.copy(data=np.full(center_fit.shape, float(args["center0"])))
        center_row = xr.DataArray(np.full(n_rows, float(args["center0"])), dims=["row"])
        return {"row": center_row, "int": center}, args["center0"], None
    center_row = center_fit * xr.DataArray(np.ones(n_rows), dims=["row"])
    return {"row": center_row, "int": center_fit}, center_fit, None


def _follows(profile_follows_trace, method, median_spatial_profile):
    """``profile_follows_trace`` checked: a bool, for the optimal median profile only."""
    if not isinstance(profile_follows_trace, (bool, np.bool_)):
        raise v.ParameterError(f"profile_follows_trace must be True or False, got "
                               f"{profile_follows_trace!r}")
    if profile_follows_trace and (method != "optimal" or not median_spatial_profile):
        raise v.ParameterError("profile_follows_trace=True moves the median spatial profile: it "
                               "needs method='optimal' and median_spatial_profile=True")
    return bool(profile_follows_trace)


def _profile_inputs(ds, method, center, center_int, traced, args, median_profile, q, sky,
                    follow_centers=None):
    """The block inputs beside data and centre: errors, profiles, variances, Q and the sky."""
    profile = ds["profile"] if "profile" in ds.variables else None
    # The median frame's profile weighs the pixels only in an optimal extraction without
    # clean's P; elsewhere it only stands in where missing pixels leave no other profile.
    weighs = method == "optimal" and profile is None and traced is None
    inputs = {"frame_profile": (_frame_profile(ds, None if weighs else _FALLBACK_SAMPLE), IMAGE)}
    if method == "box":
        inputs["err"] = (ds["err"], IMAGE)
        if profile is not None:
            inputs["profile"] = (profile, IMAGE)
        return inputs
    if follow_centers is not None:
        source = inputs["frame_profile"][0] if profile is None else profile
        moving, shift = _moving_profile(source.broadcast_like(ds["data"]), follow_centers)
        inputs["moving_profile"] = (moving, IMAGE)
        inputs["profile_shift"] = (shift, [])
    elif traced is not None and (median_profile or profile is None):
        inputs["model_sigma"] = (_traced.model_sigma(traced[0]), ["row"])
    elif median_profile:
        source = inputs["frame_profile"][0] if profile is None else profile
        centers = center["int"] if isinstance(center_int, xr.DataArray) else xr.DataArray(
            float(center_int))
        inputs["median_profile"] = (_median_profile(source.broadcast_like(ds["data"]), centers,
                                                    args["left"], args["right"]),
                                    ["row", "aperture_col"])
    elif profile is not None:
        inputs["profile"] = (profile, IMAGE)
    inputs.update(variance0=(args["variance0"], IMAGE), q=(q, []))
    if sky is not None:
        inputs["sky"] = (sky, IMAGE)
    return inputs


def _assemble(ds, method, trace_position, fluxes, center, center_int, traced, sigma, subtracted,
              args):
    """The spectra Dataset: fluxes, trace, profile for align, coordinates and wavelength."""
    rows, cols = args["rows"], args["cols"]
    xprofile = apply(_align.cross_dispersion_profile, ds["data"], core=[IMAGE],
                     out_core=[["xd_col"]], dtypes=[np.float64],
                     sizes={"xd_col": cols[1] - cols[0]}, rows=rows, cols=cols)
    xprofile = xprofile.rename(xd_col="col").assign_coords(col=ds["col"].values[cols[0]:cols[1]])
    units = ds["data"].attrs.get("units", "DN/s")
    flux, flux_error, missing = fluxes[:3]
    spec = xr.Dataset(
        {
            "flux": flux.assign_attrs(long_name=f"{method}-extracted flux", units=units,
                                      background_subtracted=str(subtracted or "yes")),
            "flux_error": flux_error.assign_attrs(long_name="1-sigma flux error", units=units),
            "missing_fraction": missing.assign_attrs(
                long_name="fraction of the aperture's profile weight missing or replaced",
                units="1", description="sum of w P over the aperture's pixels that were NaN, "
                "DQ-masked or replaced by clean (OUTLIER bit), divided by sum of w P"),
            "trace_position": center["int"].assign_attrs(long_name="aperture centre",
                                                         units="pixel", method=trace_position),
            "psf_sigma": sigma.assign_attrs(
                long_name="Gaussian sigma of the cross-dispersion profile", units="pixel"),
            "cross_dispersion_profile": xprofile.assign_attrs(
                long_name="cross-dispersion profile", units=units,
                description=f"sum over rows [{rows[0]}, {rows[1]}) of data"),
        },
        attrs=dict(ds.attrs),
    )
    if len(fluxes) == 4:
        spec["sky_flux_error"] = fluxes[3].assign_attrs(
            long_name="1-sigma flux error from the subtracted sky estimate", units=units,
            row_correlation=ds["background_error"].attrs.get("row_correlation", "none"),
            description="included in flux_error (in quadrature); the same sky estimate enters "
                        "every column of a row, and neighbouring rows as row_correlation says")
    if traced is not None:
        spec["trace_center"] = center["row"].assign_attrs(
            long_name="trace centre (aperture centre) in each row", units="pixel",
            description="polynomial of the median frame's trace plus the integration's offset")
        spec["trace_coefficients"] = traced[1].assign_attrs(
            long_name="trace centre polynomial of the median frame", units="pixel",
            description="centre(row) = sum_k c[k] row**k (numpy.polynomial.polynomial), row "
                        "in pixels")
    coords = {c: ds.coords[c] for c in ("integration", "time", "row") if c in ds.coords}
    spec = spec.assign_coords(coords)
    if "wavelength" in ds.coords:
        if traced is not None:
            wavelength = _traced.wavelength_along(ds["wavelength"], traced[1])
        elif trace_position == "constant":
            wavelength = ds["wavelength"].isel(col=args["center0"], drop=True)
        else:
            wavelength = combine(_extract.wavelength_column, ds["wavelength"], center["int"],
                                 core=[IMAGE, ["integration"]], out_core=[["row"]],
                                 dtypes=[np.float64])
        wavelength = wavelength.drop_vars([c for c in wavelength.coords if c != "row"])
        spec = spec.assign_coords(wavelength=wavelength.assign_attrs(ds["wavelength"].attrs))
    return spec
