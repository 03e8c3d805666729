"""Simulated MIRI LRS slitless exposures with a known truth.

:func:`simulate` builds a rateints-like :class:`xarray.Dataset` (the layout
of :func:`xmiri.open_rateints`) together with a *truth* Dataset holding every
ingredient that went into it: the per-integration pointing jitter, the
transit light curve, the stellar flux per row, the background, the
cosmic-ray hits and the hot pixels.  :func:`write_segments` writes such a
Dataset as JWST-layout ``*_rateints.fits`` segments, streaming it chunk by
chunk, so that a long lazy simulation never has to fit in memory.

The scene
---------
For integration :math:`k`, row :math:`r` and column :math:`c` the noiseless
count rate (DN/s) is

.. math::

    M_{krc} = F(r - y_k)\\,R_k(r)\\,P_c(x_0 + x_k) + B_{rc}

* :math:`F(r)` -- the stellar flux per row summed over columns: a
  Rayleigh-Jeans photon continuum (:math:`\\lambda^{-3}`) times a prism
  throughput peaking near 7.5 micron (cut on at 5 micron, off beyond 12.5
  micron) times the dispersion :math:`|d\\lambda/dr|` of the packaged
  wavelength solution.  It is a smooth function of the continuous row, so a
  dispersion-direction jitter :math:`y_k` is an exact sub-pixel shift.
* :math:`R_k` -- the transit: a trapezoid of depth ``transit_depth`` (or
  ``depth_spectrum(wavelength)``).
* :math:`P_c` -- a Gaussian of width ``psf_sigma`` integrated over each
  pixel (differences of error functions), centred at
  ``trace_center + x_k``, so cross-dispersion shifts are exact too.
* :math:`B_{rc}` -- a sky background plane with a gradient in row and column.

Noise is Poisson (through the ``gain`` and ``integration_time``) plus
Gaussian read noise; ``var_poisson`` and ``var_rnoise`` are the variances of
exactly that noise and ``err`` is the square root of their sum, as in a
JWST rateints file.  Cosmic-ray hits are single-pixel positive outliers of a
given signal-to-noise ratio; hot pixels carry garbage values and the DQ flag
HOT.

Determinism
-----------
Every random number of integration ``k`` (its jitter, its hits, its noise)
depends only on ``(seed, k)``: the truth comes from a counter-based hash of
``(seed, stream, k, ...)`` and the noise from
``numpy.random.default_rng([seed, stream, k])``.  A simulation is therefore
identical whatever its chunking, and a dask-backed one is built instantly
and computed block by block.
"""
import datetime
import io
import logging
import numbers
import os
import pathlib
import uuid

import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline
from scipy.special import erf, expit, pdtr

from . import dq as _dq
from ._version import __version__
from ._validate import integer, positive_number
from .exceptions import OutputExistsError, ParameterError
from .wavelength import default_wavelength_map, resolve_wavelength

__all__ = ["simulate", "write_segments", "default_spectrum", "transit_shape",
           "TFRAME", "HOT", "TDB_MINUS_UTC"]

log = logging.getLogger(__name__)

#: s, frame (= group) time of the SLITLESSPRISM subarray read with FASTR1.
TFRAME = 0.15904
#: JWST DQ flag HOT (bit 11).
HOT = np.uint32(_dq.FLAGS["HOT"])
#: s, TDB - UTC (32.184 s + 37 leap seconds); simulated UTC = TDB - this,
#: the barycentric light-time correction being taken as zero.
TDB_MINUS_UTC = 69.184
MJD_OFFSET = 2400000.5

# Random streams: (seed, stream, k, ...) keys never collide between uses.
_S_JITTER_X, _S_JITTER_Y, _S_NHITS, _S_HIT_POS, _S_HIT_SNR, _S_NOISE, _S_HOT = range(1, 8)

# Defaults chosen from the MIRISim NGTS-10 segment (SCI median 17.8 DN/s,
# trace peak ~121 DN/s, VAR_POISSON/SCI = 0.026 s/DN, VAR_RNOISE ~ 0.068).
DEFAULT_STELLAR_FLUX = 430.0     # DN/s, peak of the per-row flux summed over columns
DEFAULT_BACKGROUND = 17.8        # DN/s, mean sky level
DEFAULT_GRADIENT = (1e-3, 5e-3)  # DN/s per pixel along (row, col)
DEFAULT_READNOISE = 0.26         # DN/s, read-noise sigma of one integration's rate
DEFAULT_GAIN = 0.8               # e-/DN (effective, reproduces VAR_POISSON/SCI)
DEFAULT_INTEGRATION_TIME = 47.712  # s, EFFINTTM (300 groups of TFRAME)
DEFAULT_T0_BJD = 2459810.0       # BJD_TDB at the start of integration 1 (2022-08-18)
DEFAULT_N_HOT = 6

_AUTO_CHUNK_BYTES = 2 ** 25      # target bytes of one float32 variable's chunk
_EAGER_LIMIT_BYTES = 2 ** 30     # chunks=None: numpy-backed below this total size
_BATCH = 8                       # integrations computed together inside a block


# ---------------------------------------------------------------------------
# counter-based random numbers for the truth (vectorised, keyed by integration)
# ---------------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(z):
    """splitmix64 finaliser (Steele, Lea & Flood 2014) on a uint64 array."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _uniform(seed, stream, *keys):
    """Uniform (0, 1) numbers that depend only on ``(seed, stream, *keys)``."""
    with np.errstate(over="ignore"):
        h = _mix64(np.atleast_1d(np.uint64(seed % 2 ** 64)) + _GOLDEN)
        for key in (stream,) + keys:
            key = np.asarray(key).astype(np.uint64)
            h = _mix64((h ^ key) + _GOLDEN)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def _normal(seed, stream, *keys):
    """Standard normal numbers keyed like :func:`_uniform` (Box-Muller)."""
    u1 = _uniform(seed, stream, *keys, 0)
    u2 = _uniform(seed, stream, *keys, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# ---------------------------------------------------------------------------
# the scene
# ---------------------------------------------------------------------------
def _wavelength_of_row():
    """Continuous wavelength(row) of the packaged solution, and its derivative.

    A cubic spline through the calibrated rows (7-394 of the 416-row frame),
    continued linearly beyond them and floored at 0.5 micron, so that the
    spectrum is defined (and ~0) for any row.
    """
    wl = default_wavelength_map(416, 72)[:, 36]
    rows = np.flatnonzero(np.isfinite(wl))
    spline = CubicSpline(rows, wl[rows])
    lo, hi = float(rows[0]), float(rows[-1])
    wl_lo, wl_hi = float(spline(lo)), float(spline(hi))
    d_lo, d_hi = float(spline(lo, 1)), float(spline(hi, 1))

    def wavelength(r):
        r = np.asarray(r, dtype=float)
        inside = np.clip(r, lo, hi)
        out = spline(inside)
        out = np.where(r < lo, wl_lo + d_lo * (r - lo), out)
        out = np.where(r > hi, wl_hi + d_hi * (r - hi), out)
        return np.maximum(out, 0.5)

    def dispersion(r):
        r = np.asarray(r, dtype=float)
        return np.abs(spline(np.clip(r, lo, hi), 1))

    return wavelength, dispersion


_WAVELENGTH_OF_ROW, _DISPERSION_OF_ROW = _wavelength_of_row()


def _throughput(wavelength):
    """Dimensionless LRS-like prism throughput: log-normal peak at 7.5 micron."""
    lam = np.asarray(wavelength, dtype=float)
    peak = np.exp(-0.5 * (np.log(lam / 7.5) / 0.35) ** 2)
    return peak * expit((lam - 5.0) / 0.08) * expit((12.5 - lam) / 0.25)


def _default_shape(rows):
    lam = _WAVELENGTH_OF_ROW(rows)
    return lam ** -3 * _throughput(lam) * _DISPERSION_OF_ROW(rows)


_DEFAULT_SHAPE_PEAK = float(np.max(_default_shape(np.arange(416))))


def default_spectrum(rows, peak=DEFAULT_STELLAR_FLUX):
    """Default stellar flux per detector row (summed over columns).

    A Rayleigh-Jeans photon continuum (:math:`\\lambda^{-3}`) times an
    LRS-like prism throughput (peaking near 7.5 micron, cut on at 5 micron,
    falling off beyond 12.5 micron) times the dispersion
    :math:`|d\\lambda/d\\mathrm{row}|`, evaluated along the packaged
    wavelength solution.  Like the MIRISim NGTS-10 exposure, the flux per row
    is largest just longward of the 5-micron cut-on and ~15 times fainter at
    11 micron.

    Parameters
    ----------
    rows : array_like
        Row positions (pixels, may be fractional), on the 416-row
        SLITLESSPRISM grid.
    peak : float, optional
        DN/s, the maximum over the integer rows 0-415.

    Returns
    -------
    numpy.ndarray
        DN/s per row; ~0 outside the calibrated rows 7-394.

    Examples
    --------
    >>> import numpy as np
    >>> f = default_spectrum(np.arange(416))
    >>> round(float(f.max()), 6)
    430.0
    >>> bool(f[:7].max() < 1e-3 * f.max() and f[395:].max() < 1e-3 * f.max())
    True
    """
    return peak * _default_shape(rows) / _DEFAULT_SHAPE_PEAK


def transit_shape(phase, center=0.5, duration=0.3, ingress=0.1):
    """Trapezoidal transit shape: 0 out of transit, 1 at full depth.

    Parameters
    ----------
    phase : array_like
        Times as fractions of the exposure (0 = start, 1 = end).
    center, duration : float
        Mid-transit time and total duration (first to fourth contact), in
        fractions of the exposure.
    ingress : float
        Ingress (= egress) duration as a fraction of ``duration``.

    Returns
    -------
    numpy.ndarray
        Shape in [0, 1]; the relative flux is ``1 - depth * shape``.

    Examples
    --------
    >>> transit_shape([0.0, 0.365, 0.5], center=0.5, duration=0.3, ingress=0.1)
    array([0. , 0.5, 1. ])
    """
    phase = np.asarray(phase, dtype=float)
    half = 0.5 * duration
    tau = ingress * duration
    dist = np.abs(phase - center)
    if tau <= 0:
        return (dist < half).astype(float)
    return np.clip((half - dist) / tau, 0.0, 1.0)


class _Scene:
    """Everything the block function needs; cheap to pickle (a few arrays)."""

    def __init__(self, *, n_rows, n_cols, seed, trace_center, psf_sigma, stellar_flux,
                 background, depth, depth_spectrum, readnoise_var, gain, integration_time,
                 noise, hot_rows, hot_cols, hot_values):
        self.n_rows, self.n_cols = n_rows, n_cols
        self.seed = seed
        self.trace_center = trace_center
        self.psf_sigma = psf_sigma
        self.stellar_flux = stellar_flux
        self.background = background
        self.depth = depth
        self.depth_spectrum = depth_spectrum
        self.readnoise_var = readnoise_var
        self.gt = gain * integration_time  # e- per (DN/s)
        self.noise = noise
        self.hot_rows, self.hot_cols, self.hot_values = hot_rows, hot_cols, hot_values
        self._token = None

    def __dask_tokenize__(self):
        if self._token is None:
            from dask.base import tokenize

            self._token = tokenize(
                self.n_rows, self.n_cols, self.seed, self.trace_center, self.psf_sigma,
                self.stellar_flux, self.background, self.depth,
                self.depth_spectrum, self.readnoise_var, self.gt, self.noise,
                self.hot_rows, self.hot_cols, self.hot_values)
        return self._token

    # -- noiseless pieces ---------------------------------------------------
    def spectrum(self, rows):
        """Stellar DN/s per row (all columns) at fractional rows."""
        sf = self.stellar_flux
        if callable(sf):
            out = np.asarray(sf(_WAVELENGTH_OF_ROW(rows)), dtype=float)
            return np.broadcast_to(np.nan_to_num(out), np.shape(rows))
        if isinstance(sf, CubicSpline):
            return np.maximum(sf(rows), 0.0)
        return default_spectrum(rows, peak=sf)

    def profile(self, x_shift):
        """Pixel-integrated Gaussian, (n, n_cols), centred at trace_center + x."""
        edges = np.arange(self.n_cols + 1) - 0.5
        z = (edges[None, :] - (self.trace_center + np.asarray(x_shift)[:, None]))
        z /= np.sqrt(2.0) * self.psf_sigma
        cdf = erf(z)
        return 0.5 * (cdf[:, 1:] - cdf[:, :-1])

    def relative_flux(self, y_shift, shape):
        """Transit relative flux: (n, 1) for a grey depth, (n, n_rows) otherwise."""
        shape = np.asarray(shape, dtype=float)[:, None]
        if self.depth_spectrum is None:
            return 1.0 - self.depth * shape
        rows = np.arange(self.n_rows)[None, :] - np.asarray(y_shift)[:, None]
        depth = np.asarray(self.depth_spectrum(_WAVELENGTH_OF_ROW(rows)), dtype=float)
        return 1.0 - np.broadcast_to(depth, rows.shape) * shape

    def star(self, x_shift, y_shift, shape):
        """(n, n_rows) out-of-transit flux times the transit, and (n, n_cols) profile."""
        rows = np.arange(self.n_rows)[None, :] - np.asarray(y_shift)[:, None]
        flux = self.spectrum(rows) * self.relative_flux(y_shift, shape)
        return flux, self.profile(x_shift)

    def rate(self, x_shift, y_shift, shape):
        """Noiseless count rate (n, n_rows, n_cols), DN/s, hot pixels included."""
        flux, prof = self.star(x_shift, y_shift, shape)
        rate = flux[:, :, None] * prof[:, None, :]
        rate += self.background
        if self.hot_rows.size:
            rate[:, self.hot_rows, self.hot_cols] = self.hot_values
        return rate

    def rate_at(self, rows, cols, x_shift, y_shift, shape):
        """Noiseless rate at single pixels: one (row, col, shift, shape) per pixel.

        Same formula as :meth:`rate`, evaluated per pixel.
        """
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        flux = self.spectrum(rows - y_shift)
        if self.depth_spectrum is None:
            flux = flux * (1.0 - self.depth * shape)
        else:
            depth = self.depth_spectrum(_WAVELENGTH_OF_ROW(rows - y_shift))
            flux = flux * (1.0 - np.broadcast_to(depth, rows.shape) * shape)
        z = (np.stack([cols - 0.5, cols + 0.5]) - (self.trace_center + x_shift))
        z /= np.sqrt(2.0) * self.psf_sigma
        cdf = erf(z)
        out = flux * (0.5 * (cdf[1] - cdf[0])) + self.background[rows, cols]
        for r, c, v in zip(self.hot_rows, self.hot_cols, self.hot_values):
            out[(rows == r) & (cols == c)] = v
        return out

    def sigma(self, rate, rows=None, cols=None):
        """Noise sigma (DN/s) of a pixel of noiseless ``rate``."""
        rn = self.readnoise_var if rows is None else self.readnoise_var[rows, cols]
        return np.sqrt(np.maximum(rate, 0.0) / self.gt + rn)


_LONG_NAMES = {  # as xmiri.open_rateints names them
    "data": "count rate (SCI)",
    "err": "count-rate uncertainty, 1 sigma (ERR)",
    "dq": "JWST pixel data-quality bit field (DQ)",
    "var_poisson": "Poisson variance of the count rate (VAR_POISSON)",
    "var_rnoise": "read-noise variance of the count rate (VAR_RNOISE)",
}
_EXTNAMES = {"data": "SCI", "err": "ERR", "dq": "DQ", "var_poisson": "VAR_POISSON",
             "var_rnoise": "VAR_RNOISE"}


def _var_attrs(name):
    """Variable attributes matching those :func:`xmiri.open_rateints` gives a file's planes."""
    attrs = {"long_name": _LONG_NAMES[name], "fits_extension": _EXTNAMES[name]}
    if name == "dq":
        attrs["flag_masks"] = np.array(list(_dq.FLAGS.values()), dtype=np.uint32)
        attrs["flag_meanings"] = " ".join(_dq.FLAG_NAMES)
    else:
        attrs["units"] = "DN/s" if name in ("data", "err") else "(DN/s)^2"
    return attrs


def _simulate_block(scene, integrations, x_shift, y_shift, shape, hit_index, hit_row,
                    hit_col, hit_amplitude):
    """All five planes of a block of integrations (numpy kernel).

    ``hit_index`` is the position of each hit in this block.  Returns
    ``(data, err, dq, var_poisson, var_rnoise)``; integrations are computed
    in small batches so that the float64 temporaries stay in cache.
    """
    n = len(integrations)
    frame = (scene.n_rows, scene.n_cols)
    data = np.empty((n,) + frame, np.float32)
    err = np.empty((n,) + frame, np.float32)
    var_poisson = np.empty((n,) + frame, np.float32)
    rn_var = scene.readnoise_var
    rn_sd = np.sqrt(rn_var)
    inv_gt = 1.0 / scene.gt
    for i0 in range(0, n, _BATCH):
        i1 = min(n, i0 + _BATCH)
        rate = scene.rate(x_shift[i0:i1], y_shift[i0:i1], shape[i0:i1])
        np.maximum(rate, 0.0, out=rate)
        vp = rate / scene.gt
        var_poisson[i0:i1] = vp
        vp += rn_var
        np.sqrt(vp, out=vp)
        err[i0:i1] = vp
        if scene.noise:
            for j, k in enumerate(integrations[i0:i1]):
                rng = np.random.default_rng([scene.seed, _S_NOISE, int(k)])
                values = rng.poisson(rate[j] * scene.gt) * inv_gt
                values += rng.standard_normal(frame) * rn_sd
                rate[j] = values
        sel = (hit_index >= i0) & (hit_index < i1)
        np.add.at(rate, (hit_index[sel] - i0, hit_row[sel], hit_col[sel]), hit_amplitude[sel])
        data[i0:i1] = rate
    dq = np.zeros((n,) + frame, np.uint32)
    if scene.hot_rows.size:
        dq[:, scene.hot_rows, scene.hot_cols] |= HOT
    var_rnoise = np.empty((n,) + frame, np.float32)
    var_rnoise[...] = rn_var
    return data, err, dq, var_poisson, var_rnoise


def _truth_flux_block(scene, x_shift, y_shift):
    """True out-of-transit stellar DN/s per row summed over all columns, (n, n_rows)."""
    rows = np.arange(scene.n_rows)[None, :] - np.asarray(y_shift)[:, None]
    return scene.spectrum(rows) * scene.profile(x_shift).sum(axis=1)[:, None]


def _truth_relative_block(scene, y_shift, shape):
    return np.broadcast_to(scene.relative_flux(y_shift, shape),
                           (len(shape), scene.n_rows)).copy()


# ---------------------------------------------------------------------------
# argument handling
# ---------------------------------------------------------------------------
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
    """``(integrations per chunk, eager)``; eager output is computed to numpy."""
    auto = max(1, _AUTO_CHUNK_BYTES // (4 * frame[0] * frame[1]))
    if chunks is None:
        return min(n, auto), n * frame[0] * frame[1] * 20 <= _EAGER_LIMIT_BYTES
    return _chunk_size(chunks, n, auto), False


def _chunk_size(chunks, n, auto):
    if isinstance(chunks, dict):
        unknown = set(chunks) - {"integration"}
        if unknown:
            raise ParameterError(f"chunks: only the 'integration' dimension is chunked, got {sorted(unknown)}")
        chunks = chunks.get("integration", "auto")
    if chunks == "auto" or chunks == -1:
        return min(n, auto) if chunks == "auto" else n
    return min(n, integer("chunks", chunks, minimum=1))


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


def _poisson_quantile(u, mean, maximum):
    """Smallest m with P(X <= m) >= u for X ~ Poisson(mean), capped at ``maximum``."""
    counts = np.zeros(u.shape, np.int64)
    todo = np.flatnonzero(u > pdtr(0, mean))
    while todo.size:
        counts[todo] += 1
        todo = todo[(u[todo] > pdtr(counts[todo], mean)) & (counts[todo] < maximum)]
    return counts


def _draw_hits(seed, integrations, mean, snr_range, frame):
    """Cosmic-ray hit table: integration index, row, col, snr (no repeats in a frame)."""
    n_pix = frame[0] * frame[1]
    if mean <= 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0)
    counts = _poisson_quantile(_uniform(seed, _S_NHITS, integrations), mean, n_pix)
    index = np.repeat(np.arange(len(integrations)), counts)
    j = np.arange(index.size) - np.repeat(np.cumsum(counts) - counts, counts)
    attempt = np.zeros(index.size, np.int64)
    k = integrations[index]
    flat = (_uniform(seed, _S_HIT_POS, k, j, attempt) * n_pix).astype(np.int64)
    for _ in range(100):  # redraw the (rare) repeated pixels of one integration
        _, first = np.unique(index * n_pix + flat, return_index=True)
        repeat = np.ones(index.size, bool)
        repeat[first] = False
        if not repeat.any():
            break
        attempt[repeat] += 1
        flat[repeat] = (_uniform(seed, _S_HIT_POS, k[repeat], j[repeat], attempt[repeat])
                        * n_pix).astype(np.int64)
    lo, hi = snr_range
    snr = lo * (hi / lo) ** _uniform(seed, _S_HIT_SNR, k, j)
    return index, flat // frame[1], flat % frame[1], snr


def _draw_hot(seed, n_hot, frame, trace_center):
    """Hot pixels: the first half (rounded up) in the box aperture, the rest anywhere."""
    rng = np.random.default_rng([seed, _S_HOT])
    n_rows, n_cols = frame
    n_hot = min(n_hot, n_rows * n_cols)
    wl = default_wavelength_map(n_rows, n_cols)
    box_rows = np.flatnonzero(np.isfinite(wl).any(axis=1))
    c0 = int(np.clip(round(trace_center) - 4, 0, n_cols - 1))
    c1 = int(np.clip(round(trace_center) + 4, 0, n_cols - 1))
    chosen = []
    n_box = (n_hot + 1) // 2 if box_rows.size else 0
    while len(chosen) < n_hot:
        if len(chosen) < n_box:
            pix = (int(rng.choice(box_rows)), int(rng.integers(c0, c1 + 1)))
        else:
            pix = (int(rng.integers(n_rows)), int(rng.integers(n_cols)))
        if pix not in chosen:
            chosen.append(pix)
    rows = np.array([p[0] for p in chosen], np.int64)
    cols = np.array([p[1] for p in chosen], np.int64)
    values = 200.0 * 25.0 ** rng.random(len(chosen))  # garbage: 200-5000 DN/s
    return rows, cols, values


# ---------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------
def simulate(n_integrations=50, *, seed=0, chunks=None, n_rows=416, n_cols=72,
             trace_center=36.3, psf_sigma=1.6, stellar_flux=DEFAULT_STELLAR_FLUX,
             background=DEFAULT_BACKGROUND, background_gradient=DEFAULT_GRADIENT,
             transit_depth=0.01, transit_center=0.5, transit_duration=0.3,
             transit_ingress=0.1, depth_spectrum=None,
             n_cosmic_rays=5, cosmic_ray_snr=(10, 100), jitter_x=0.05, jitter_y=0.05,
             n_hot_pixels=DEFAULT_N_HOT, readnoise=DEFAULT_READNOISE, gain=DEFAULT_GAIN,
             integration_time=DEFAULT_INTEGRATION_TIME, noise=True, intstart=1,
             t0_bjd=DEFAULT_T0_BJD):
    """Simulate a MIRI LRS slitless (SLITLESSPRISM) rateints exposure with known truth.

    Parameters
    ----------
    n_integrations : int, optional
        Number of integrations to simulate.
    seed : int, optional
        Random seed (>= 0).  Integration ``k`` draws its jitter, hits and
        noise from ``(seed, k)`` alone, so results do not depend on
        ``chunks``.
    chunks : int, "auto", dict or None, optional
        Integrations per dask chunk (``{"integration": n}`` is accepted too).
        With ``None`` the planes are numpy arrays when the whole simulation
        takes at most 1 GiB (about 1,700 full frames) and dask-backed with
        ``"auto"`` chunks (32 MiB per variable, 280 full frames) otherwise.
    n_rows, n_cols : int, optional
        Frame shape (rows along the dispersion axis, columns across).
    trace_center : float, optional
        Column (pixel, 0-based, pixel centres at integers) of the trace.
    psf_sigma : float, optional
        Gaussian cross-dispersion width of the trace, pixels.
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
    n_hot_pixels : int, optional
        Hot pixels (DQ HOT, garbage values of 200-5000 DN/s); half of them
        (rounded up) land in the box aperture ``trace_center +- 4``.
    readnoise : float or array_like, optional
        DN/s, read-noise sigma of one integration's rate (scalar or
        ``(n_rows, n_cols)``); 0.26 = sqrt of the MIRISim median VAR_RNOISE.
    gain : float, optional
        e-/DN used for the Poisson noise; 0.8 reproduces the MIRISim
        VAR_POISSON/SCI ratio of 0.026 s/DN with the default integration time.
    integration_time : float, optional
        s, effective integration time (EFFINTTM).  Integrations follow each
        other every ``integration_time + TFRAME`` s (one reset frame).
    noise : bool, optional
        If False the data are the noiseless rates (hits and hot pixels
        included); the variance planes are unchanged.
    intstart : int, optional
        Integration number (1-based) of the first simulated integration.
    t0_bjd : float, optional
        BJD_TDB (days) of the start of integration 1.

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
    # --- validation (before any work) --------------------------------------
    n = integer("n_integrations", n_integrations, minimum=1)
    seed = integer("seed", seed, minimum=0)
    n_rows = integer("n_rows", n_rows, minimum=1)
    n_cols = integer("n_cols", n_cols, minimum=1)
    frame = (n_rows, n_cols)
    chunk, eager = _resolve_chunks(chunks, n, frame)
    trace_center = _number("trace_center", trace_center)
    psf_sigma = positive_number("psf_sigma", psf_sigma)
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
    rn_var = _frame_map("readnoise", readnoise, frame, minimum=0) ** 2
    gain = positive_number("gain", gain)
    integration_time = positive_number("integration_time", integration_time)
    noise = bool(noise)
    intstart = integer("intstart", intstart, minimum=1)
    t0_bjd = _number("t0_bjd", t0_bjd)

    # --- truth, drawn up front (cheap, vectorised) -------------------------
    integrations = np.arange(intstart, intstart + n, dtype=np.int64)
    x_shift = jitter_x * _normal(seed, _S_JITTER_X, integrations)
    y_shift = jitter_y * _normal(seed, _S_JITTER_Y, integrations)
    phase = (np.arange(n) + 0.5) / n
    shape = transit_shape(phase, transit_center, transit_duration, transit_ingress)
    hot_rows, hot_cols, hot_values = _draw_hot(seed, n_hot_pixels, frame, trace_center)
    scene = _Scene(n_rows=n_rows, n_cols=n_cols, seed=seed, trace_center=trace_center,
                   psf_sigma=psf_sigma, stellar_flux=stellar_flux, background=bkg,
                   depth=transit_depth, depth_spectrum=depth_spectrum, readnoise_var=rn_var,
                   gain=gain, integration_time=integration_time, noise=noise,
                   hot_rows=hot_rows, hot_cols=hot_cols, hot_values=hot_values)
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
    wmap, wattrs = resolve_wavelength(frame)
    dims = ("integration", "row", "col")
    coords = {
        "integration": ("integration", integrations,
                        {"long_name": "integration number within the exposure (1-based)"}),
        "time": ("integration", mid, {"long_name": "mid-integration time, barycentric Julian date (BJD_TDB)",
                                      "units": "d", "time_scale": "TDB", "source": "xmiri.simulate"}),
        "row": ("row", np.arange(n_rows), {"long_name": "detector row in the subarray (dispersion axis)"}),
        "col": ("col", np.arange(n_cols),
                {"long_name": "detector column in the subarray (cross-dispersion axis)"}),
        "wavelength": (("row", "col"), wmap, wattrs),
    }
    var_attrs = {name: _var_attrs(name) for name in names}
    ds = xr.Dataset({name: (dims, arr, var_attrs[name]) for name, arr in zip(names, planes)},
                    coords=coords)
    n_total = intstart + n - 1
    t_start = datetime.datetime(1858, 11, 17) + datetime.timedelta(
        days=t0_bjd - MJD_OFFSET - TDB_MINUS_UTC / 86400.0)
    expstart = t0_bjd - MJD_OFFSET - TDB_MINUS_UTC / 86400.0
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
                             {"units": "pixel", "long_name": "column of the trace centre"}),
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
                  trace_center=trace_center, psf_sigma=psf_sigma,
                  stellar_flux=_describe(stellar_flux_arg),
                  background=_describe(background), background_gradient_row=g_row,
                  background_gradient_col=g_col, transit_depth=transit_depth,
                  transit_center=transit_center, transit_duration=transit_duration,
                  transit_ingress=transit_ingress, depth_spectrum=_describe(depth_spectrum),
                  n_cosmic_rays=n_cosmic_rays, cosmic_ray_snr_min=snr_lo, cosmic_ray_snr_max=snr_hi,
                  jitter_x=jitter_x, jitter_y=jitter_y, n_hot_pixels=n_hot_pixels,
                  readnoise=_describe(readnoise), gain=gain, integration_time=integration_time,
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
    block = dask.delayed(_simulate_block, pure=True, nout=len(names))
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


# ---------------------------------------------------------------------------
# FITS writer
# ---------------------------------------------------------------------------
_EXTENSIONS = (  # (EXTNAME, variable, big-endian on-disk dtype, BUNIT)
    ("SCI", "data", ">f4", "DN/s"),
    ("ERR", "err", ">f4", "DN/s"),
    ("DQ", "dq", ">u4", None),
    ("VAR_POISSON", "var_poisson", ">f4", None),  # jwst writes no BUNIT for these
    ("VAR_RNOISE", "var_rnoise", ">f4", None),
)
_INT_TIMES_COLUMNS = ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
                      "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")
_FITS_BLOCK = 2880
#: Logical keywords of JWST headers (netCDF attrs store them as 0/1).
_BOOLEAN_KEYWORDS = {"TSOVISIT", "ZEROFRAM", "DATAPROB", "HGA_MOVE", "PWFSEET", "NRSTSTRT", "NRS_NORM",
                     "DRPFRMS1", "DRPFRMS3", "ENG_QUAL", "EXPRIPAR", "FILLED", "TARGOOPP"}


def _padded(nbytes):
    return -(-nbytes // _FITS_BLOCK) * _FITS_BLOCK


def _image_header(extname, shape, bunit, is_dq):
    from astropy.io import fits

    n_int, n_rows, n_cols = shape
    cards = [("XTENSION", "IMAGE", "Image extension"),
             ("BITPIX", 32 if is_dq else -32, "array data type"),
             ("NAXIS", 3, "number of array dimensions"),
             ("NAXIS1", n_cols, ""), ("NAXIS2", n_rows, ""), ("NAXIS3", n_int, ""),
             ("PCOUNT", 0, "number of parameters"), ("GCOUNT", 1, "number of groups")]
    if is_dq:
        cards += [("BSCALE", 1, ""), ("BZERO", 2 ** 31, "data are uint32 offset by 2**31")]
    cards += [("EXTNAME", extname, "extension name"), ("EXTVER", 1, "extension value")]
    if bunit:
        cards.append(("BUNIT", bunit, "physical units of the array values"))
    return fits.Header(cards)


def _primary_header(attrs, seg_attrs):
    from astropy.io import fits

    hdr = fits.Header([("SIMPLE", True, "conforms to FITS standard"), ("BITPIX", 8, "array data type"),
                       ("NAXIS", 0, "number of array dimensions"), ("EXTEND", True, "")])
    keys = {}
    for key, value in attrs.items():
        if (isinstance(key, str) and key == key.upper() and len(key) <= 8
                and all(ch.isalnum() or ch in "-_" for ch in key)
                and isinstance(value, (str, bool, numbers.Real, np.bool_)) and not isinstance(value, complex)):
            keys[key] = value
    keys.update(seg_attrs)
    for key, value in keys.items():
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            continue
        if key in _BOOLEAN_KEYWORDS and isinstance(value, int) and value in (0, 1):
            value = bool(value)
        hdr[key] = value
    history = attrs.get("history")
    if isinstance(history, str):
        for line in history.splitlines():
            hdr.add_history(line)
    return hdr


def _int_times_bytes(ds, effinttm):
    """The INT_TIMES binary-table HDU (header + data) as bytes."""
    from astropy.io import fits

    n = ds.sizes["integration"]
    mid = np.asarray(ds["time"].values, dtype=float) if "time" in ds.coords else np.full(n, np.nan)
    half = 0.5 * effinttm / 86400.0 if np.isfinite(effinttm) else 0.0
    utc = MJD_OFFSET + TDB_MINUS_UTC / 86400.0
    default = {"int_start_BJD_TDB": mid - half, "int_mid_BJD_TDB": mid, "int_end_BJD_TDB": mid + half}
    for which in ("start", "mid", "end"):
        default[f"int_{which}_MJD_UTC"] = default[f"int_{which}_BJD_TDB"] - utc
    cols = [fits.Column(name="integration_number", format="J",
                        array=np.asarray(ds["integration"].values, dtype=np.int32))]
    for name in _INT_TIMES_COLUMNS:
        values = ds[name].values if (name in ds.variables and ds[name].dims == ("integration",)) \
            else default[name]
        cols.append(fits.Column(name=name, format="D", array=np.asarray(values, dtype=float)))
    return _table_bytes(fits.BinTableHDU.from_columns(cols, name="INT_TIMES"))


def _asdf_bytes():
    """An ASDF extension holding an empty tree; metadata then come from the headers.

    jwst steps called on a file name read their CRDS parameters from the
    ASDF extension; with no ``_fits_hash`` in the tree, stdatamodels reads
    every keyword and array from the FITS headers and HDUs.  The document
    is written out here rather than with the asdf library, whose first use
    takes seconds (schema loading).
    """
    from astropy.io import fits

    text = ("#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n"
            "--- !core/asdf-1.1.0\n"
            f"asdf_library: !core/software-1.0.0 {{name: xmiri, version: '{__version__}'}}\n"
            "...\n")
    data = np.frombuffer(text.encode("ascii"), dtype=np.uint8)[None, :]
    column = fits.Column(name="ASDF_METADATA", format=f"{data.shape[1]}B", array=data)
    return _table_bytes(fits.BinTableHDU.from_columns([column], name="ASDF"))


def _table_bytes(table):
    """Header and data of a binary-table HDU as they appear in a file."""
    from astropy.io import fits

    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    raw = buf.getvalue()
    buf.seek(0)
    with fits.open(buf) as hdul:
        offset = hdul[1].fileinfo()["hdrLoc"]
    return raw[offset:]


def _write_blocks(ds, target_bytes=2 ** 28):
    """(start, stop) integration slices to compute at once while writing.

    Slices follow the dask chunks of ``ds`` (several chunks per slice, up to
    ``target_bytes`` of output, so that dask computes them in parallel), or
    hold ~64 MiB for numpy-backed data.
    """
    n = ds.sizes["integration"]
    frame_bytes = 20 * ds.sizes["row"] * ds.sizes["col"]
    chunks = ds.chunks.get("integration") if ds.chunks else None
    if not chunks:
        step = max(1, (2 ** 26) // frame_bytes)
        edges = np.append(np.arange(0, n, step), n)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    blocks, start, stop = [], 0, 0
    for size in chunks:
        if stop > start and (stop - start + size) * frame_bytes > target_bytes:
            blocks.append((start, stop))
            start = stop
        stop += size
    if stop > start:
        blocks.append((start, stop))
    return blocks


def _write_one(ds, path, seg_attrs):
    """Stream one segment into a temporary file, then move it into place."""
    present = [(ext, var, dt, unit) for ext, var, dt, unit in _EXTENSIONS if var in ds.data_vars]
    shape = tuple(ds.sizes[d] for d in ("integration", "row", "col"))
    frame_pix = shape[1] * shape[2]
    attrs = dict(ds.attrs)
    effinttm = float(attrs.get("EFFINTTM", np.nan))
    pieces = [_primary_header(attrs, seg_attrs).tostring(padding=True).encode("ascii")]
    offsets = {}
    pos = len(pieces[0])
    for ext, var, dt, unit in present:
        hdr = _image_header(ext, shape, unit, ext == "DQ").tostring(padding=True).encode("ascii")
        offsets[var] = pos + len(hdr)
        pieces.append(hdr)
        nbytes = _padded(4 * frame_pix * shape[0])
        pieces.append(nbytes)  # data region, filled below
        pos += len(hdr) + nbytes
        if ext == "DQ":  # INT_TIMES follows DQ, as in files written by jwst
            tbl = _int_times_bytes(ds, effinttm)
            pieces.append(tbl)
            pos += len(tbl)
    if "dq" not in offsets:
        tbl = _int_times_bytes(ds, effinttm)
        pieces.append(tbl)
        pos += len(tbl)
    tail = _asdf_bytes()
    pieces.append(tail)
    pos += len(tail)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "xb") as fh:
            for piece in pieces:
                if isinstance(piece, int):
                    fh.seek(piece, os.SEEK_CUR)
                else:
                    fh.write(piece)
            fh.truncate(pos)
            names = [var for _, var, _, _ in present]
            for i0, i1 in _write_blocks(ds):
                block = ds[names].isel(integration=slice(i0, i1)).compute()
                for _, var, dt, _ in present:
                    values = np.asarray(block[var].values)
                    if var == "dq":
                        values = np.asarray(values, dtype=np.uint32) ^ np.uint32(2 ** 31)
                    fh.seek(offsets[var] + 4 * frame_pix * i0)
                    fh.write(np.ascontiguousarray(values, dtype=dt).data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_segments(ds, directory, n_segments=1, *, prefix="xmiri_sim", overwrite=False):
    """Write a rateints Dataset as JWST-layout FITS segments.

    Each segment ``{prefix}_seg{NNN}_rateints.fits`` holds a primary header
    (the Dataset's upper-case attributes plus ``DATAMODL = 'CubeModel'``,
    ``INTSTART``/``INTEND``, ``NINTS``, ``EXSEGNUM``/``EXSEGTOT``), the image
    extensions SCI (BUNIT DN/s), ERR, DQ (uint32 stored as int32 with
    ``BZERO = 2**31``, as jwst writes it), VAR_POISSON and VAR_RNOISE when
    present, and an INT_TIMES table (``integration_number`` and
    start/mid/end times in MJD_UTC and BJD_TDB).  The files open with
    :mod:`astropy.io.fits` and as a ``CubeModel`` with
    ``stdatamodels.jwst.datamodels.open``.

    The data are streamed one dask chunk (or, for numpy-backed data, about
    64 MiB) at a time into a temporary file in ``directory``, which is
    moved into place only when complete: memory stays bounded and no
    half-written segment is ever left behind.

    Parameters
    ----------
    ds : xarray.Dataset
        ``data``, ``err`` and ``dq`` on ``(integration, row, col)``
        (``var_poisson``/``var_rnoise`` optional); coords ``integration`` and
        ``time`` (mid-integration BJD_TDB, days).  INT_TIMES start and end
        times are ``time -+ EFFINTTM / 2``, and UTC is ``BJD_TDB - 69.184 s``,
        unless ``ds`` has variables named like the INT_TIMES columns.
    directory : str or path-like
        Output directory (created if missing).
    n_segments : int, optional
        Number of segments; integrations are split as evenly as possible.
    prefix : str, optional
        File-name prefix.
    overwrite : bool, optional
        Replace existing files of the same names.

    Returns
    -------
    list of pathlib.Path
        The segment paths, in segment order.

    Raises
    ------
    OutputExistsError
        If a segment file exists and ``overwrite`` is False (nothing is
        written then).
    ParameterError
        If ``ds`` lacks a needed variable or ``n_segments`` is out of range.

    Examples
    --------
    >>> import tempfile
    >>> from astropy.io import fits
    >>> ds, _ = simulate(6, seed=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_segments(ds, tmp, n_segments=2)
    ...     with fits.open(paths[1]) as hdul:
    ...         [p.name for p in paths], hdul[0].header["INTSTART"], hdul["DQ"].data.dtype.name
    (['xmiri_sim_seg001_rateints.fits', 'xmiri_sim_seg002_rateints.fits'], 4, 'uint32')
    """
    for name in ("data", "err", "dq"):
        if name not in ds.data_vars:
            raise ParameterError(f"write_segments: the Dataset has no {name!r} variable")
        if ds[name].dims != ("integration", "row", "col"):
            raise ParameterError(f"write_segments: {name!r} must have dims (integration, row, col), "
                                 f"got {ds[name].dims}")
    n = ds.sizes["integration"]
    n_segments = integer("n_segments", n_segments, minimum=1, maximum=n)
    if not isinstance(prefix, str) or not prefix or os.sep in prefix:
        raise ParameterError(f"prefix must be a non-empty file-name prefix, got {prefix!r}")
    directory = pathlib.Path(directory)
    paths = [directory / f"{prefix}_seg{i + 1:03d}_rateints.fits" for i in range(n_segments)]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{', '.join(existing)} already exist(s); pass overwrite=True to replace")
    directory.mkdir(parents=True, exist_ok=True)
    integ = np.asarray(ds["integration"].values) if "integration" in ds.coords else np.arange(1, n + 1)
    nints = int(ds.attrs.get("NINTS", integ.max()))
    edges = np.linspace(0, n, n_segments + 1).round().astype(int)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
    for i, path in enumerate(paths):
        a, b = int(edges[i]), int(edges[i + 1])
        seg = ds.isel(integration=slice(a, b))
        seg_attrs = {"DATE": now, "ORIGIN": "xmiri", "FILENAME": path.name, "FILETYPE": "countrate",
                     "DATAMODL": "CubeModel", "NINTS": nints, "INTSTART": int(integ[a]),
                     "INTEND": int(integ[b - 1]), "EXSEGNUM": i + 1, "EXSEGTOT": n_segments}
        _write_one(seg, path, seg_attrs)
        log.info("wrote %s (integrations %d-%d)", path, integ[a], integ[b - 1])
    return paths
