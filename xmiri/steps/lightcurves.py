"""``light_curves``: spectra binned in wavelength, and the white light curve."""
import functools

import numpy as np
import xarray as xr

from ..kernels import _validate as v
from .. import defaults as d
from ._diagnostics import report
from ..kernels import background as _stats
from ..kernels import lightcurves as _lc
from ._common import apply, call_repr, combine, prepare, with_history

__all__ = ["light_curves", "REGRESSORS"]

#: Per-integration variables of the spectra that :func:`light_curves` carries
#: over, when present, as regressors for a light-curve fit (pixels).
REGRESSORS = ("x_shift", "y_shift", "psf_sigma", "trace_position")


def _bin_block(flux, flux_error, wavelength, *, edges):
    wavelength = np.asarray(wavelength).reshape(-1, np.shape(wavelength)[-1])[0]
    return _lc.bin_spectra(flux, flux_error, _lc.bin_index(wavelength, edges), len(edges) - 1)


def _bin_block_sky(flux, flux_error, sky_error, wavelength, *, edges, length):
    """:func:`_bin_block` with the sky's part of the errors summed as the correlated term it is."""
    wavelength = np.asarray(wavelength).reshape(-1, np.shape(wavelength)[-1])[0]
    index, n_bins = _lc.bin_index(wavelength, edges), len(edges) - 1
    sky_error = np.asarray(sky_error, dtype=np.float64)
    binned, error = _lc.bin_spectra(flux, flux_error, index, n_bins)
    _, sky_quadrature = _lc.bin_spectra(flux, sky_error, index, n_bins)
    correlated = _lc.bin_sky_variance(sky_error, index, n_bins, length)
    with np.errstate(invalid="ignore"):
        variance = np.maximum(error ** 2 - sky_quadrature ** 2, 0.0) + correlated
    return binned, np.sqrt(variance)


def _sky_length(spec):
    """The correlation length of the spectra's ``sky_flux_error`` (None without one)."""
    if "sky_flux_error" not in spec or spec["sky_flux_error"].dims != spec["flux_error"].dims:
        return None
    attrs = spec["sky_flux_error"].attrs
    if "row_correlation" not in attrs:
        raise v.ParameterError("sky_flux_error needs a 'row_correlation' attribute ('none', 'full' "
                               "or 'running median of N rows') to be summed over rows")
    return _lc.correlation_length(attrs["row_correlation"])


def _binned(spec, length, edges, dim, n):
    """flux and flux_error of ``spec`` summed over the bins `edges`, along new dimension `dim`."""
    kw = dict(out_core=[[dim], [dim]], dtypes=[np.float64, np.float64], sizes={dim: n}, edges=edges)
    if length is None:
        return apply(_bin_block, spec["flux"], spec["flux_error"], spec["wavelength"],
                     core=[["row"], ["row"], ["row"]], **kw)
    return apply(_bin_block_sky, spec["flux"], spec["flux_error"], spec["sky_flux_error"],
                 spec["wavelength"], core=[["row"]] * 4, length=length, **kw)


#: Second differences further than this many robust sigmas from their median
#: are left out of the measured scatter (hits, the corners of a transit).
NOISE_CLIP = 5.0


def _stacked(kernel, flux, *args, **kwargs):
    """Binned flux and error stacked along a last axis of 2: one output, one layer.

    The error is `kernel`'s; the flux is :func:`xmiri.kernels.lightcurves.bin_flux_sums`'
    row-by-row sums, not the kernel's matrix product, whose rounding depends on how
    many integrations a block holds: the ratio must not depend on the chunking.
    """
    wavelength = args[-1]
    _, error = kernel(flux, *args, **kwargs)
    edges = kwargs["edges"]
    index = _lc.bin_index(np.asarray(wavelength).reshape(-1, np.shape(wavelength)[-1])[0], edges)
    return np.stack([_lc.bin_flux_sums(flux, index, len(edges) - 1), error], axis=-1)


def _stacked_ratio(stacked, *, clip):
    return _lc.noise_ratio(stacked[..., 0], stacked[..., 1], clip)  # (..., integration)


def _noise_ratio(spec, length, edges, dim, n):
    """:func:`xmiri.kernels.lightcurves.noise_ratio` of the binned light curves, over the exposure.

    The bins are summed again by a kernel of their own (stacking flux and
    error in one output) rather than reusing the light curves' ``flux``:
    ``dask.compute`` of a Dataset drops the keys of a variable whose layer
    the optimiser fuses into the only other layer using it (see
    :mod:`xmiri.steps._blockwise`), which the exposure-wide reduction here
    would be.  Summing is cheap.
    """
    kw = dict(out_core=[[dim, "flux_and_error"]], dtypes=[np.float64],
              sizes={dim: n, "flux_and_error": 2}, edges=edges)
    if length is None:
        stacked = apply(functools.partial(_stacked, _bin_block), spec["flux"], spec["flux_error"],
                        spec["wavelength"], core=[["row"], ["row"], ["row"]], **kw)
    else:
        stacked = apply(functools.partial(_stacked, _bin_block_sky), spec["flux"], spec["flux_error"],
                        spec["sky_flux_error"], spec["wavelength"], core=[["row"]] * 4, length=length,
                        **kw)
    return combine(_stacked_ratio, stacked, core=[["integration", "flux_and_error"]],
                   out_core=[[]], dtypes=[np.float64], clip=NOISE_CLIP)


#: How ``noise_ratio`` is measured: the ``method`` attribute of the ratios.
NOISE_RATIO_METHOD = (
    f"std of the second differences flux[i+1] - 2 flux[i] + flux[i-1] of consecutive "
    f"integrations within {NOISE_CLIP:g} robust sigmas (1.4826 MAD) of their median, / sqrt(6) "
    "(white noise; straight trends such as a transit's ingress and egress cancel; noise "
    "correlated between integrations is not seen), divided by the median flux_error")


def _bin_counts(wavelength, *, edges):
    wavelength = np.asarray(wavelength).reshape(-1)[: np.shape(wavelength)[-1]]
    counts = _lc.bin_counts(_lc.bin_index(wavelength, edges), len(edges) - 1)
    report("light_curves", "bin", np.count_nonzero(counts == 0), counts.size,
           "no row has a wavelength in the bin")
    return counts


def _median_over_integrations(values):
    """NaN-aware median over ``integration`` (an exposure-wide reduction)."""
    return combine(_stats.nanmedian, values, core=[["integration"]], out_core=[[]],
                   dtypes=[np.float64])


def _background_level(background, spec):
    """The per-integration sky level, a Variable: ``background`` averaged over its other dims (lazy)."""
    if not isinstance(background, xr.DataArray):
        raise v.ParameterError(
            "background must be an xarray.DataArray with an 'integration' dimension (e.g. the "
            f"frames' background from subtract), got {type(background).__name__} {background!r:.60}")
    if "integration" not in background.dims:
        raise v.ParameterError(f"background must have an 'integration' dimension, got dims "
                               f"{background.dims}")
    if background.sizes["integration"] != spec.sizes["integration"] or (
            "integration" in background.coords and "integration" in spec.coords
            and not background.indexes["integration"].equals(spec.indexes["integration"])):
        raise v.ParameterError("background must have the same integrations as the spectra")
    other = [dim for dim in background.dims if dim != "integration"]
    level = background.astype(np.float64)
    if other:
        level = level.mean(other, skipna=True)
    attrs = {"long_name": "sky background level", "units": background.attrs.get("units", "DN/s")}
    if "method" in background.attrs:
        attrs["method"] = background.attrs["method"]
    if other:
        attrs["description"] = f"mean over {', '.join(other)} of {background.name or 'background'}"
    return xr.Variable(level.dims, level.data, attrs)


def light_curves(spec, wavelength_bins=d.WAVELENGTH_BINS, wavelength_range=d.WAVELENGTH_RANGE,
                 normalise=False, clip_sigma=None, clip_window=d.CLIP_WINDOW, background=None):
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
    background : xarray.DataArray, optional
        The sky removed by :func:`subtract`, to export as the regressor
        ``background`` (a DataArray only, so it cannot be set from the
        configuration file).  Pass the frames' ``background`` (integration,
        row, col): every dimension but ``integration`` is averaged over
        (NaN skipped), lazily.  By default, a ``background`` variable of
        ``spec`` is used when it has one (spectra from :func:`extract` do not:
        the sky stays in the frames).

    Returns
    -------
    xarray.Dataset
        Dims ``(integration, bin)``: ``flux``, ``flux_error`` summed per bin
        (errors in quadrature; a NaN row makes its bin NaN for that
        integration); ``wavelength_low``, ``wavelength_high``,
        ``wavelength_center`` (bin, micron); ``n_rows`` (bin); ``white_flux``,
        ``white_flux_error`` (integration) over ``wavelength_range``;
        ``flagged`` (integration) when clipping was asked for.  The noise
        diagnostics ``noise_ratio`` (bin) and ``white_noise_ratio`` (no
        dims): the measured white-noise scatter of each light curve (the
        clipped standard deviation of its second differences over
        ``sqrt(6)``, insensitive to the transit and slow trends:
        :func:`xmiri.kernels.lightcurves.noise_ratio`) divided by its median
        ``flux_error``; 1
        when the errors are honest, below 1 when they overstate the noise,
        above 1 when there is noise they leave out (``docs/errors.rst``).
        When ``spec`` carries ``sky_flux_error`` (integration, row), the
        sky's part of each row's error, its attribute ``row_correlation``
        says how it is summed over the rows of a bin: coherently for
        ``"full"``, with the triangular correlation of a ``"running median
        of N rows"`` (:func:`xmiri.kernels.lightcurves.row_correlation_matrix`),
        in quadrature for ``"none"``; the pixels' part is summed in
        quadrature.  The
        regressors of a light-curve fit, per integration, when available:
        ``x_shift``, ``y_shift``, ``psf_sigma``, ``trace_position`` carried
        over from ``spec`` with their attributes, and ``background`` (the sky
        level, DN/s; see ``background``).  Lazy on
        dask-backed input (even when the wavelength coordinate is itself
        lazy, as after ``extract(trace_position="gaussian_fits")``).

    Warns
    -----
    xmiri.UnmeasuredWarning
        When computed, if some bins hold no row (those bins are NaN).

    Examples
    --------
    >>> import xmiri
    >>> ds, truth = xmiri.simulate.simulate(20, seed=2, transit_depth=0.01)
    >>> spec = ds.lrs.subtract().lrs.extract().lrs.align()
    >>> lc = spec.lrs.light_curves(wavelength_bins=4, normalise=True).compute()
    >>> lc.flux.dims, lc.wavelength_center.values.round(3).tolist()
    (('integration', 'bin'), [5.875, 7.625, 9.375, 11.125])
    >>> depth = 1 - lc.white_flux.where(truth.transit_shape == 1).mean().item()
    >>> bool(0.005 < depth < 0.015)
    True
    """
    spec = prepare(spec, ["flux", "flux_error"], "light_curves")
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
    if background is None and "integration" in spec.get("background", xr.DataArray()).dims:
        background = spec["background"]
    sky = None if background is None else _background_level(background, spec)
    n_bins = edges.size - 1
    wavelength = spec["wavelength"]

    length = _sky_length(spec)
    flux, flux_error = _binned(spec, length, edges, "bin", n_bins)
    white, white_error = _binned(spec, length, np.array([lo, hi]), "wbin", 1)
    white, white_error = white.isel(wbin=0, drop=True), white_error.isel(wbin=0, drop=True)
    ratio = _noise_ratio(spec, length, edges, "bin", n_bins)
    white_ratio = _noise_ratio(spec, length, np.array([lo, hi]), "wbin", 1).isel(wbin=0, drop=True)
    counts = apply(_bin_counts, wavelength, core=[["row"]], out_core=[["bin"]], dtypes=[np.int32],
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
            "noise_ratio": ratio.assign_attrs(
                long_name="measured point-to-point scatter / median propagated error",
                units="1", method=NOISE_RATIO_METHOD),
            "white_noise_ratio": white_ratio.assign_attrs(
                long_name="white light curve: measured point-to-point scatter / median "
                          "propagated error", units="1", method=NOISE_RATIO_METHOD),
        },
        coords={c: spec.coords[c] for c in ("integration", "time") if c in spec.coords},
        attrs=dict(spec.attrs),
    )
    out = out.assign_coords(bin=np.arange(n_bins))
    for name in REGRESSORS:
        if name in spec.data_vars and spec[name].dims == ("integration",):
            out[name] = spec[name].variable.copy(deep=False)  # lazy data, own attrs, no stray coords
    if sky is not None:
        out["background"] = sky
    if clip_sigma is not None:
        flagged = combine(_lc.running_median_clip, out["white_flux"], core=[["integration"]],
                          out_core=[["integration"]], dtypes=[bool], window=clip_window,
                          threshold=clip_sigma)
        if flagged.chunks:  # the running median needed one chunk; back to the others' chunks
            flagged = flagged.chunk({"integration": out["white_flux"].chunks[0]})
        out["flagged"] = flagged.assign_attrs(
            long_name="time-domain outlier in the white light curve",
            description=f"|white - running median({clip_window})| > {clip_sigma} robust sigma")
    return with_history(out, call_repr(
        "light_curves", wavelength_bins=edges.tolist(), wavelength_range=[lo, hi],
        normalise=bool(normalise), clip_sigma=clip_sigma,
        background=None if sky is None else sky.attrs.get("description", "background")))
