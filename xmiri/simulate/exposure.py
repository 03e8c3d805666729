"""``simulate``: a MIRI LRS slitless exposure and its truth, as Datasets."""
import datetime
import numbers
import warnings

import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline

from ..kernels._validate import integer, positive_number
from .._version import __version__
from ..exceptions import ParameterError, XmiriFutureWarning
from ..io.chunks import default_chunks, integration_chunks
from ..io.times import time_attrs
from ..dq import dq_mask
from ..layout import frames_dataset
from ..io.wavelength import packaged_wavelength
from ._random import _S_JITTER_X, _S_JITTER_Y, _normal
from .scene import (_WAVELENGTH_OF_ROW, DEFAULT_BACKGROUND, DEFAULT_GAIN, DEFAULT_GRADIENT,
                    DEFAULT_INTEGRATION_TIME, DEFAULT_N_HOT, DEFAULT_READNOISE,
                    DEFAULT_STELLAR_FLUX, DEFAULT_T0_BJD, MJD_OFFSET, TDB_MINUS_UTC, TFRAME,
                    Scene, _draw_hits, _draw_hot, _truth_flux_block, _truth_relative_block,
                    simulate_block, transit_shape)

__all__ = ["simulate"]

_EAGER_LIMIT_BYTES = 2 ** 30     # chunks=None: numpy-backed below this total size

def _describe(value):
    """A str/int/float description of a parameter for attrs."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, tuple, list)) and np.ndim(np.asarray(value, dtype=object)) <= 1 \
            and len(value) < 10:
        return repr(value)
    if callable(value):
        return f"callable {getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    arr = np.asarray(value)
    return f"array shape {arr.shape} mean {float(np.nanmean(arr)):.6g}"


def _number(name, value, *, minimum=None, maximum=None, strict_min=False):
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, (bool, np.bool_)) or not np.isfinite(out):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (out < minimum or (strict_min and out == minimum)):
        raise ParameterError(f"{name} must be {'>' if strict_min else '>='} {minimum}, got {value!r}")
    if maximum is not None and out > maximum:
        raise ParameterError(f"{name} must be <= {maximum}, got {value!r}")
    return out


def _frame_map(name, value, frame, *, minimum=None):
    """A scalar or an (n_rows, n_cols) array as a float64 (n_rows, n_cols) array."""
    arr = np.asarray(value, dtype=float) if np.ndim(value) else None
    if arr is None:
        arr = np.full(frame, _number(name, value, minimum=minimum))
    elif arr.shape != frame:
        raise ParameterError(f"{name} must be a number or a {frame} array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or (minimum is not None and np.any(arr < minimum)):
        raise ParameterError(f"{name} must be finite and >= {minimum} everywhere")
    return arr


def _resolve_chunks(chunks, n, frame):
    """``(integrations per chunk, eager)``, with the meaning of :mod:`xmiri.io.chunks`.

    ``chunks=None`` also means numpy-backed output (eager) when the whole
    simulation takes at most ``_EAGER_LIMIT_BYTES``.
    """
    if chunks is None:
        return min(n, default_chunks(*frame)), n * frame[0] * frame[1] * 20 <= _EAGER_LIMIT_BYTES
    value = integration_chunks(chunks, *frame)
    if value == -1:
        return n, False
    if value == "auto":
        from dask.array.core import normalize_chunks

        return normalize_chunks(("auto", -1, -1), (n,) + tuple(frame), dtype=np.float32)[0][0], False
    return min(n, value), False


def _stellar_flux(value, n_rows):
    if callable(value):
        return value
    if np.ndim(value) == 0:
        return _number("stellar_flux", value, minimum=0)
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n_rows,) or not np.all(np.isfinite(arr)):
        raise ParameterError(
            f"stellar_flux must be a number (peak DN/s per row), a callable of wavelength "
            f"(micron) or a finite ({n_rows},) array of DN/s per row; got shape {arr.shape}")
    return CubicSpline(np.arange(n_rows), arr, extrapolate=True)



def simulate(n_integrations=50, *, seed=0, chunks=None, n_rows=416, n_cols=72,
             trace_center=36.3, psf_sigma=1.6, trace_curve=None, stellar_flux=DEFAULT_STELLAR_FLUX,
             background=DEFAULT_BACKGROUND, background_gradient=DEFAULT_GRADIENT,
             transit_depth=0.01, transit_center=0.5, transit_duration=0.3,
             transit_ingress=0.1, depth_spectrum=None,
             n_cosmic_rays=5, cosmic_ray_snr=(10, 100), jitter_x=0.05, jitter_y=0.05,
             x_offset=None, n_hot_pixels=DEFAULT_N_HOT, readnoise_sigma=DEFAULT_READNOISE, gain=DEFAULT_GAIN,
             integration_time=DEFAULT_INTEGRATION_TIME, noise=True, intstart=1,
             t0_bjd=DEFAULT_T0_BJD, subarray="SLITLESSPRISM", **deprecated):
    """Simulate a MIRI LRS slitless rateints exposure with known truth.

    Parameters
    ----------
    n_integrations : int, optional
        Number of integrations to simulate.
    seed : int, optional
        Random seed (>= 0).  Integration ``k`` draws its jitter, hits and
        noise from ``(seed, k)`` alone, so results do not depend on
        ``chunks``.
    chunks : int, "auto", dict or None, optional
        Integrations per dask chunk, as for :func:`xmiri.open_rateints`
        (:mod:`xmiri.io.chunks`).  With ``None`` the planes are numpy arrays
        when the whole simulation takes at most 1 GiB (about 1,700 full
        frames), and dask-backed with the reader's default chunks
        (:func:`xmiri.io.default_chunks`, 70 full frames) otherwise.
    n_rows, n_cols : int, optional
        Frame shape (rows along the dispersion axis, columns across).
    trace_center : float, optional
        Column (pixel, 0-based, pixel centres at integers) of the trace.
    psf_sigma : float or callable, optional
        Gaussian cross-dispersion width of the trace, pixels; a callable of
        wavelength (micron) gives a width per row (e.g. ``lambda lam: 1.2 +
        0.08 * (lam - 5)``, a PSF widening toward long wavelengths).
    trace_curve : sequence of float, optional
        Offset of the trace centre from ``trace_center`` along the rows, as
        polynomial coefficients in ``u = (row - 200) / 250``, constant term
        first (:mod:`numpy.polynomial.polynomial`): ``(0.0, 1.6)`` tilts the
        trace by 1.6 pixels over 250 rows.  None (default): a straight trace
        on ``trace_center``.
    stellar_flux : float, callable or array_like, optional
        DN/s.  A number scales :func:`default_spectrum` to that peak flux per
        row (summed over columns); a callable maps wavelength (micron) to
        DN/s per row; an ``(n_rows,)`` array gives DN/s per row directly
        (spline-interpolated for sub-pixel shifts).  The default 430 DN/s
        makes the peak pixel ~120 DN/s as in the MIRISim NGTS-10 exposure.
    background : float or array_like, optional
        DN/s, mean sky level (17.8, the MIRISim median), or an
        ``(n_rows, n_cols)`` map.
    background_gradient : (float, float), optional
        DN/s per pixel along (row, col), added about the frame centre.
    transit_depth : float, optional
        Fractional transit depth (grey).
    transit_center, transit_duration : float, optional
        Mid-transit time and first-to-fourth-contact duration, as fractions
        of the simulated span of integrations.
    transit_ingress : float, optional
        Ingress (= egress) duration as a fraction of ``transit_duration``.
    depth_spectrum : callable, optional
        Depth as a function of wavelength (micron); overrides the grey
        ``transit_depth`` in the data (``relative_flux`` then has a ``row``
        dimension).
    n_cosmic_rays : float, optional
        Mean number of cosmic-ray hits per integration (Poisson).
    cosmic_ray_snr : (float, float), optional
        Range of the hits' amplitudes in units of the pixel's noise sigma
        (log-uniform).
    jitter_x, jitter_y : float, optional
        RMS pointing jitter per integration, pixels, across (column) and
        along (row) the dispersion.
    x_offset : array_like, optional
        Cross-dispersion offset of the trace in each integration, pixels, an
        ``(n_integrations,)`` array added to the drawn ``jitter_x`` (e.g. a
        jump or a slow drift of the pointing); it is part of the truth's
        ``x_shift``.  None (default): no offset.
    n_hot_pixels : int, optional
        Hot pixels (DQ HOT, garbage values of 200-5000 DN/s); half of them
        (rounded up) land in the box aperture ``trace_center +- 4``.
    readnoise_sigma : float or array_like, optional
        DN/s, read-noise *sigma* of one integration's rate (scalar or
        ``(n_rows, n_cols)``); 0.26 = sqrt of the MIRISim median VAR_RNOISE.
        (``var_rnoise`` is its square.  The former name ``readnoise`` still
        works, with a FutureWarning: it read as the variance that
        :func:`xmiri.steps.extract` calls ``readnoise``).
    gain : float, optional
        Gain, e-/DN, used for the Poisson noise; 0.8 reproduces the MIRISim
        VAR_POISSON/SCI ratio of 0.026 s/DN with the default integration time.
    integration_time : float, optional
        Effective integration time (EFFINTTM), s.  Integrations follow each
        other every ``integration_time + TFRAME`` s (one reset frame).
    noise : bool, optional
        If False the data are the noiseless rates (hits and hot pixels
        included); the variance planes are unchanged.
    intstart : int, optional
        Integration number (1-based) of the first simulated integration.
    t0_bjd : float, optional
        BJD_TDB (days) of the start of integration 1.
    subarray : {"SLITLESSPRISM", "SLITLESSPRISM_IP", "SLITLESSPRISM_IPS"}, optional
        The subarray.  Another than SLITLESSPRISM is the SLITLESSPRISM scene
        cut the way that subarray sees the same star: its pixels
        (``SUBSIZE``), its place on the detector (``SUBSTRT``) and the star
        at its reference point (:data:`xmiri.defaults.SUBARRAYS`), so that
        pixel (row, col) of the cut is pixel (row + r0, col + c0) of the
        SLITLESSPRISM scene (``truth.attrs["subarray_offset"]``; half-pixel
        offsets round as :func:`xmiri.defaults.geometry` does).
        ``trace_center``, ``trace_curve`` and the hits and hot pixels are
        drawn in SLITLESSPRISM pixels; the truth is given in the cut's.
        ``n_rows`` and ``n_cols`` must keep their defaults.
    **deprecated
        ``readnoise``, the former name of `readnoise_sigma` (FutureWarning).

    Returns
    -------
    ds : xarray.Dataset
        ``data``, ``err``, ``var_poisson``, ``var_rnoise`` (float32, DN/s and
        (DN/s)^2) and ``dq`` (uint32) on ``(integration, row, col)``; coords
        ``integration``, ``time`` (mid-integration BJD_TDB), ``row``, ``col``
        and ``wavelength`` (micron).  Attributes mimic a JWST rateints
        primary header.
    truth : xarray.Dataset
        ``x_shift``, ``y_shift``, ``trace_center`` (px), ``transit_shape``,
        ``relative_flux`` (per integration, or per integration and row with
        ``depth_spectrum``), ``flux`` (integration, row; DN/s of the
        out-of-transit star summed over all columns), ``background`` (row,
        col; DN/s), the hit table on dim ``hit`` (``hit_integration``,
        ``hit_row``, ``hit_col``, ``hit_amplitude`` in DN/s, ``hit_snr``) and
        the hot pixels on dim ``hot`` (``hot_row``, ``hot_col``,
        ``hot_value``); ``attrs`` record every parameter.  For a noiseless
        frame without hits or hot pixels,
        ``data.sum("col") == flux * relative_flux + background.sum("col")``.

    Raises
    ------
    ParameterError
        On an invalid argument, before any work.

    Notes
    -----
    ``var_poisson`` is computed from the noiseless rate (``rate / (gain *
    integration_time)``) and ``err = sqrt(var_poisson + var_rnoise)``, so
    ``(data - noiseless) / err`` is standard normal away from hits.  Hit
    amplitudes are ``hit_snr`` times that ``err``.  Simulated UTC times are
    ``BJD_TDB - 69.184 s`` (no light-time correction).

    The jitter, hits and hot pixels do not depend on ``noise``, so the same
    call with ``noise=False`` gives the noiseless counterpart of a noisy
    simulation.  Integration ``k`` draws its noise from
    ``numpy.random.default_rng([seed, 6, k])`` and its jitter and hits from
    a splitmix64 hash of ``(seed, stream, k, ...)``; a dask-backed
    simulation computes each chunk's five planes in one task.

    Examples
    --------
    >>> ds, truth = simulate(4, seed=1)
    >>> ds.data.shape, ds.data.dtype.name, ds.dq.dtype.name
    ((4, 416, 72), 'float32', 'uint32')
    >>> ds.attrs["EXP_TYPE"], ds.attrs["NINTS"]
    ('MIR_LRS-SLITLESS', 4)
    >>> truth.relative_flux.values.round(4)
    array([1.    , 0.9917, 0.9917, 1.    ])
    >>> int(truth.sizes["hot"]), int((ds.dq.isel(integration=0) & 2048 > 0).sum())
    (6, 6)
    >>> lazy, _ = simulate(20_000, chunks=500)
    >>> lazy.data.chunks[0][:2]
    (500, 500)
    """
    if subarray != "SLITLESSPRISM":
        kwargs = {k: v for k, v in locals().items() if k not in ("subarray", "deprecated")}
        return _cut_subarray(subarray, kwargs, deprecated)
    # --- validation (before any work) --------------------------------------
    if "readnoise" in deprecated:
        if readnoise_sigma is not DEFAULT_READNOISE:
            raise ParameterError("simulate: give readnoise_sigma= or its old name readnoise=, "
                                 "not both")
        warnings.warn(XmiriFutureWarning(
            "simulate: readnoise= (a sigma, in DN/s) is renamed readnoise_sigma=; readnoise= "
            "will stop working in the next release", old="readnoise", new="readnoise_sigma"),
            stacklevel=2)
        readnoise_sigma = deprecated.pop("readnoise")
    if deprecated:
        raise TypeError(f"simulate() got an unexpected keyword argument {next(iter(deprecated))!r}")
    n = integer("n_integrations", n_integrations, minimum=1)
    seed = integer("seed", seed, minimum=0)
    n_rows = integer("n_rows", n_rows, minimum=1)
    n_cols = integer("n_cols", n_cols, minimum=1)
    frame = (n_rows, n_cols)
    chunk, eager = _resolve_chunks(chunks, n, frame)
    trace_center = _number("trace_center", trace_center)
    rows_all = np.arange(n_rows, dtype=float)
    if callable(psf_sigma):
        sigma_rows = np.asarray(psf_sigma(_WAVELENGTH_OF_ROW(rows_all)), dtype=float)
        if sigma_rows.shape not in ((), (n_rows,)) or not np.all(np.isfinite(sigma_rows) & (sigma_rows > 0)):
            raise ParameterError("psf_sigma(wavelength) must give finite widths > 0 pixels for "
                                 "every row")
        psf_sigma_arg, psf_sigma = "callable", np.broadcast_to(sigma_rows, (n_rows,)).copy()
    else:
        psf_sigma = psf_sigma_arg = positive_number("psf_sigma", psf_sigma)
    trace_offset = None
    if trace_curve is not None:
        try:
            coefficients = np.asarray(trace_curve, dtype=float).ravel()
        except (TypeError, ValueError):
            coefficients = np.array([np.nan])
        if coefficients.size == 0 or not np.all(np.isfinite(coefficients)):
            raise ParameterError(f"trace_curve must be finite polynomial coefficients (pixels), "
                                 f"got {trace_curve!r}")
        trace_offset = np.polynomial.polynomial.polyval((rows_all - 200.0) / 250.0, coefficients)
    stellar_flux_arg = stellar_flux
    stellar_flux = _stellar_flux(stellar_flux, n_rows)
    try:
        g_row, g_col = (float(v) for v in background_gradient)
    except (TypeError, ValueError):
        raise ParameterError(
            f"background_gradient must be a (row, col) pair of DN/s per pixel, got {background_gradient!r}") from None
    bkg = _frame_map("background", background, frame)
    rr, cc = np.meshgrid(np.arange(n_rows) - 0.5 * (n_rows - 1), np.arange(n_cols) - 0.5 * (n_cols - 1),
                         indexing="ij")
    bkg = bkg + g_row * rr + g_col * cc
    if np.any(bkg < 0):
        raise ParameterError("background plus background_gradient is negative somewhere; "
                             "raise background or reduce the gradient")
    transit_depth = _number("transit_depth", transit_depth, minimum=0, maximum=1)
    transit_center = _number("transit_center", transit_center)
    transit_duration = _number("transit_duration", transit_duration, minimum=0)
    transit_ingress = _number("transit_ingress", transit_ingress, minimum=0, maximum=0.5)
    if depth_spectrum is not None and not callable(depth_spectrum):
        raise ParameterError("depth_spectrum must be a callable of wavelength (micron) or None")
    n_cosmic_rays = _number("n_cosmic_rays", n_cosmic_rays, minimum=0)
    try:
        snr_lo, snr_hi = (float(v) for v in cosmic_ray_snr)
    except (TypeError, ValueError):
        raise ParameterError(f"cosmic_ray_snr must be a (min, max) pair, got {cosmic_ray_snr!r}") from None
    if not (0 < snr_lo <= snr_hi < np.inf):
        raise ParameterError(f"cosmic_ray_snr must satisfy 0 < min <= max, got {cosmic_ray_snr!r}")
    jitter_x = _number("jitter_x", jitter_x, minimum=0)
    jitter_y = _number("jitter_y", jitter_y, minimum=0)
    n_hot_pixels = integer("n_hot_pixels", n_hot_pixels, minimum=0)
    rn_var = _frame_map("readnoise_sigma", readnoise_sigma, frame, minimum=0) ** 2
    gain = positive_number("gain", gain)
    integration_time = positive_number("integration_time", integration_time)
    noise = bool(noise)
    intstart = integer("intstart", intstart, minimum=1)
    t0_bjd = _number("t0_bjd", t0_bjd)

    # --- truth, drawn up front (cheap, vectorised) -------------------------
    integrations = np.arange(intstart, intstart + n, dtype=np.int64)
    x_shift = jitter_x * _normal(seed, _S_JITTER_X, integrations)
    if x_offset is not None:
        offset = np.asarray(x_offset, dtype=float)
        if offset.shape != (n,) or not np.all(np.isfinite(offset)):
            raise ParameterError(f"x_offset must be a finite ({n},) array of pixels (one per "
                                 f"integration), got shape {offset.shape}")
        x_shift = x_shift + offset
    y_shift = jitter_y * _normal(seed, _S_JITTER_Y, integrations)
    phase = (np.arange(n) + 0.5) / n
    shape = transit_shape(phase, transit_center, transit_duration, transit_ingress)
    hot_rows, hot_cols, hot_values = _draw_hot(seed, n_hot_pixels, frame, trace_center)
    scene = Scene(n_rows=n_rows, n_cols=n_cols, seed=seed, trace_center=trace_center,
                  psf_sigma=psf_sigma, trace_offset=trace_offset, stellar_flux=stellar_flux,
                  background=bkg,
                  depth=transit_depth, depth_spectrum=depth_spectrum, readnoise_var=rn_var,
                  gain=gain, integration_time=integration_time, noise=noise,
                  hot_rows=hot_rows, hot_cols=hot_cols, hot_values=hot_values,
                  hot_flag=dq_mask("HOT"))
    hit_idx, hit_row, hit_col, hit_snr = _draw_hits(seed, integrations, n_cosmic_rays,
                                                    (snr_lo, snr_hi), frame)
    # amplitude = snr x the noise sigma (err) of the noiseless pixel hit
    hit_rate = scene.rate_at(hit_row, hit_col, x_shift[hit_idx], y_shift[hit_idx], shape[hit_idx])
    hit_amp = hit_snr * scene.sigma(hit_rate, hit_row, hit_col)

    # --- times ---------------------------------------------------------------
    cadence = integration_time + TFRAME
    start = t0_bjd + (integrations - 1) * cadence / 86400.0
    mid = start + 0.5 * integration_time / 86400.0

    # --- the planes ------------------------------------------------------------
    names = ("data", "err", "dq", "var_poisson", "var_rnoise")
    dtypes = (np.float32, np.float32, np.uint32, np.float32, np.float32)
    planes, flux, rel = _planes(scene, integrations, x_shift, y_shift, shape,
                                (hit_idx, hit_row, hit_col, hit_amp), chunk, frame, names, dtypes)
    if eager:
        import dask

        planes, flux, rel = dask.compute(planes, flux, rel)

    # --- the Dataset -----------------------------------------------------------
    # the scene is laid out on the packaged solution: it is the truth here (no warning)
    wmap, wattrs = packaged_wavelength(frame, {"SUBARRAY": "SLITLESSPRISM"}, warn=False)
    tattrs = time_attrs("INT_TIMES BJD_TDB", julian_date_offset=0.0,  # full Julian dates
                        source="xmiri.simulate")
    ds = frames_dataset(dict(zip(names, planes)), integrations=integrations, times=mid,
                        time_attrs=tattrs, wavelength=wmap, wavelength_attrs=wattrs,
                        attrs={}, bunit="DN/s")
    coords = {name: ds.coords[name] for name in ("integration", "time", "row", "col", "wavelength")}
    n_total = intstart + n - 1
    expstart = t0_bjd - MJD_OFFSET - TDB_MINUS_UTC / 86400.0  # MJD UTC
    t_start = datetime.datetime(1858, 11, 17) + datetime.timedelta(days=expstart)
    ds.attrs = {
        "TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE",
        "EXP_TYPE": "MIR_LRS-SLITLESS", "SUBARRAY": "SLITLESSPRISM", "FILTER": "P750L",
        "READPATT": "FASTR1", "TSOVISIT": 1, "TARGNAME": "xmiri simulation",
        "DATE-OBS": t_start.strftime("%Y-%m-%d"), "TIME-OBS": t_start.strftime("%H:%M:%S.%f")[:12],
        "EXPSTART": float(expstart),
        "EXPEND": float(expstart + n_total * cadence / 86400.0),
        "NINTS": int(n_total), "INTSTART": int(intstart), "INTEND": int(n_total),
        "NGROUPS": int(max(1, round(integration_time / TFRAME))), "NFRAMES": 1, "GROUPGAP": 0,
        "TFRAME": TFRAME, "TGROUP": TFRAME, "EFFINTTM": float(integration_time),
        "EFFEXPTM": float(integration_time * n_total), "DURATION": float(cadence * n_total),
        "NRESETS": 1,
        "SUBSTRT1": 1, "SUBSTRT2": 529, "SUBSIZE1": int(n_cols), "SUBSIZE2": int(n_rows),
        "FASTAXIS": 1, "SLOWAXIS": 2,
        "FILETYPE": "countrate",
        "history": (f"simulated by xmiri.simulate (xmiri {__version__}): seed={seed}, "
                    f"n_integrations={n}, intstart={intstart}, noise={noise}"),
    }

    # --- truth Dataset -----------------------------------------------------
    rel_dims = ("integration", "row") if depth_spectrum is not None else ("integration",)
    rel = rel if depth_spectrum is not None else 1.0 - transit_depth * shape
    tcoords = {k: coords[k] for k in ("integration", "time", "row", "col", "wavelength")}
    truth = xr.Dataset(
        {
            "x_shift": ("integration", x_shift, {"units": "pixel", "long_name": "cross-dispersion (column) shift"}),
            "y_shift": ("integration", y_shift, {"units": "pixel", "long_name": "dispersion (row) shift"}),
            "trace_center": ("integration", trace_center + x_shift,
                             {"units": "pixel", "long_name": "column of the trace centre",
                              "description": "add trace_offset(row) for the centre in each row"}),
            "trace_offset": ("row", np.zeros(n_rows) if trace_offset is None else trace_offset,
                             {"units": "pixel", "long_name": "offset of the trace centre in each row "
                                                             "(trace_curve)"}),
            "psf_sigma": ("row", np.broadcast_to(psf_sigma, (n_rows,)).copy(),
                          {"units": "pixel", "long_name": "Gaussian sigma of the trace in each row"}),
            "transit_shape": ("integration", shape, {"units": "1", "long_name": "0 out of transit, 1 at full depth"}),
            "relative_flux": (rel_dims, rel, {"units": "1", "long_name": "transit light curve"}),
            "flux": (("integration", "row"), flux,
                     {"units": "DN/s", "long_name": "out-of-transit stellar flux per row, summed over columns"}),
            "background": (("row", "col"), bkg, {"units": "DN/s", "long_name": "sky background"}),
            "hit_integration": ("hit", integrations[hit_idx], {"long_name": "integration number of the hit"}),
            "hit_row": ("hit", hit_row),
            "hit_col": ("hit", hit_col),
            "hit_amplitude": ("hit", hit_amp, {"units": "DN/s"}),
            "hit_snr": ("hit", hit_snr, {"units": "1", "long_name": "amplitude / err of the pixel"}),
            "hot_row": ("hot", hot_rows),
            "hot_col": ("hot", hot_cols),
            "hot_value": ("hot", hot_values, {"units": "DN/s"}),
        },
        coords=tcoords,
    )
    if depth_spectrum is not None:
        depth = np.asarray(depth_spectrum(_WAVELENGTH_OF_ROW(np.arange(n_rows))), dtype=float)
        truth["depth"] = ("row", np.broadcast_to(depth, (n_rows,)).copy(),
                          {"units": "1", "long_name": "transit depth at the row's wavelength"})
    params = dict(n_integrations=n, seed=seed, chunks=_describe(chunks), n_rows=n_rows, n_cols=n_cols,
                  trace_center=trace_center, psf_sigma=_describe(psf_sigma_arg),
                  trace_curve=_describe(None if trace_curve is None else list(np.ravel(trace_curve))),
                  stellar_flux=_describe(stellar_flux_arg),
                  background=_describe(background), background_gradient_row=g_row,
                  background_gradient_col=g_col, transit_depth=transit_depth,
                  transit_center=transit_center, transit_duration=transit_duration,
                  transit_ingress=transit_ingress, depth_spectrum=_describe(depth_spectrum),
                  n_cosmic_rays=n_cosmic_rays, cosmic_ray_snr_min=snr_lo, cosmic_ray_snr_max=snr_hi,
                  jitter_x=jitter_x, jitter_y=jitter_y,
                  x_offset=_describe(None if x_offset is None else "array"), n_hot_pixels=n_hot_pixels,
                  readnoise_sigma=_describe(readnoise_sigma), gain=gain, integration_time=integration_time,
                  noise=int(noise), intstart=intstart, t0_bjd=t0_bjd, frame_time=TFRAME,
                  cadence=cadence, xmiri_version=__version__)
    truth.attrs = params
    return ds, truth


def _planes(scene, integrations, x_shift, y_shift, shape, hits, chunk, frame, names, dtypes):
    """Dask-backed planes (one shared task per chunk) and truth flux/relative flux."""
    import dask
    import dask.array as da
    from dask.base import tokenize

    n = len(integrations)
    hit_idx, hit_row, hit_col, hit_amp = hits
    bounds = list(range(0, n, chunk)) + [n]
    token = tokenize(scene, integrations, x_shift, y_shift, shape, hit_idx, hit_row, hit_col, hit_amp, chunk)
    block = dask.delayed(simulate_block, pure=True, nout=len(names))
    flux_fn = dask.delayed(_truth_flux_block, pure=True)
    rel_fn = dask.delayed(_truth_relative_block, pure=True)
    parts = {name: [] for name in names}
    flux, rel = [], []
    for b, (i0, i1) in enumerate(zip(bounds[:-1], bounds[1:])):
        sel = (hit_idx >= i0) & (hit_idx < i1)
        out = block(scene, integrations[i0:i1], x_shift[i0:i1], y_shift[i0:i1], shape[i0:i1],
                    hit_idx[sel] - i0, hit_row[sel], hit_col[sel], hit_amp[sel],
                    dask_key_name=f"xmiri-simulate-{token}-{b}")
        for j, (name, dtype) in enumerate(zip(names, dtypes)):
            parts[name].append(da.from_delayed(out[j], (i1 - i0,) + frame, dtype=dtype,
                                               name=f"xmiri-simulate-{name}-{token}-{b}"))
        flux.append(da.from_delayed(flux_fn(scene, x_shift[i0:i1], y_shift[i0:i1]),
                                    (i1 - i0, frame[0]), dtype=float))
        if scene.depth_spectrum is not None:
            rel.append(da.from_delayed(rel_fn(scene, y_shift[i0:i1], shape[i0:i1]),
                                       (i1 - i0, frame[0]), dtype=float))
    planes = tuple(da.concatenate(parts[name], axis=0) for name in names)
    return planes, da.concatenate(flux, axis=0), (da.concatenate(rel, axis=0) if rel else None)


def subarray_offset(name):
    """(r0, c0): pixel (row, col) of subarray `name` is SLITLESSPRISM's (row + r0, col + c0).

    The star at the same place relative to each subarray's reference point
    (:data:`xmiri.defaults.SUBARRAYS`), rounded as
    :func:`xmiri.defaults.geometry` rounds.

    Examples
    --------
    >>> subarray_offset("SLITLESSPRISM_IP"), subarray_offset("SLITLESSPRISM")
    ((10, 4), (0, 0))
    """
    from ..defaults import SUBARRAYS, _round

    if name not in SUBARRAYS:
        raise ParameterError(f"subarray must be one of {', '.join(SUBARRAYS)}; got {name!r}")
    sub, sp = SUBARRAYS[name], SUBARRAYS["SLITLESSPRISM"]
    shift = [(sub.reference[k] - sp.reference[k]) - (sub.corner[k] - sp.corner[k]) for k in (0, 1)]
    return tuple(-_round(x) for x in shift)


def _cut_subarray(name, kwargs, deprecated):
    """simulate(subarray=name): the SLITLESSPRISM scene cut the way `name` sees the star."""
    from ..defaults import SUBARRAYS

    r0, c0 = subarray_offset(name)
    if (kwargs["n_rows"], kwargs["n_cols"]) != (416, 72):
        raise ParameterError(f"simulate(subarray={name!r}) takes the subarray's shape "
                             f"{SUBARRAYS[name].size}; leave n_rows and n_cols at their defaults")
    ds, truth = simulate(**kwargs, **deprecated)
    n_rows, n_cols = SUBARRAYS[name].size
    window = {"row": slice(r0, r0 + n_rows), "col": slice(c0, c0 + n_cols)}
    own = {"row": np.arange(n_rows, dtype=np.int64), "col": np.arange(n_cols, dtype=np.int64)}
    ds = ds.isel(window).assign_coords(own)
    ds["wavelength"].attrs.update(
        source="xmiri.simulate: the scene's SLITLESSPRISM solution, moved with the star",
        calibration_offset=f"{r0} {c0}")
    ds.attrs.update(SUBARRAY=name, SUBSTRT1=SUBARRAYS[name].corner[1],
                    SUBSTRT2=SUBARRAYS[name].corner[0], SUBSIZE1=n_cols, SUBSIZE2=n_rows)
    ds.attrs["history"] += f", subarray={name}"
    hit_in = ((truth.hit_row >= r0) & (truth.hit_row < r0 + n_rows)
              & (truth.hit_col >= c0) & (truth.hit_col < c0 + n_cols)).values
    hot_in = ((truth.hot_row >= r0) & (truth.hot_row < r0 + n_rows)
              & (truth.hot_col >= c0) & (truth.hot_col < c0 + n_cols)).values
    truth = truth.isel(window).isel(hit=hit_in, hot=hot_in).assign_coords(own)
    truth = truth.assign(hit_row=truth.hit_row - r0, hit_col=truth.hit_col - c0,
                         hot_row=truth.hot_row - r0, hot_col=truth.hot_col - c0,
                         trace_center=(truth.trace_center - c0).assign_attrs(truth.trace_center.attrs))
    truth.attrs.update(subarray=name, subarray_offset=[r0, c0], n_rows=n_rows, n_cols=n_cols)
    return ds, truth
