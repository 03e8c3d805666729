"""The simulated scene: stellar spectrum, trace profile, transit, sky, noise, hits, hot pixels.

For integration :math:`k`, row :math:`r` and column :math:`c` the noiseless
count rate (DN/s) is :math:`M_{krc} = F(r - y_k) R_k(r) P_c(x_0 + x_k) +
B_{rc}` (see :mod:`xmiri.simulate`); :class:`Scene` evaluates it and
:func:`simulate_block` turns it into the five planes of a rateints file.
"""
import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import erf, expit, pdtr

from ..io.times import MJD_OFFSET as MJD_OFFSET  # re-exported: the simulator's modules take it from here
from ..io.times import TT_MINUS_UTC
from ..io.wavelength import default_wavelength_map
from ._random import _S_HIT_POS, _S_HIT_SNR, _S_HOT, _S_NHITS, _S_NOISE, _uniform

#: s, frame (= group) time of the SLITLESSPRISM subarray read with FASTR1.
TFRAME = 0.15904
#: s, TDB - UTC, taken as TT - UTC (32.184 s + 37 leap seconds; TDB - TT < 2 ms);
#: simulated UTC = TDB - this, the barycentric light-time correction being taken as zero.
TDB_MINUS_UTC = TT_MINUS_UTC

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

_BATCH = 8                       # integrations computed together inside a block


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


class Scene:
    """Everything the block function needs; cheap to pickle (a few arrays)."""

    def __init__(self, *, n_rows, n_cols, seed, trace_center, psf_sigma, stellar_flux,
                 background, depth, depth_spectrum, readnoise_var, gain, integration_time,
                 noise, hot_rows, hot_cols, hot_values, hot_flag, trace_offset=None):
        self.n_rows, self.n_cols = n_rows, n_cols
        self.seed = seed
        self.trace_center = trace_center
        # per-row geometry: the trace centre's offset from trace_center and the PSF
        # sigma, (n_rows,) arrays, or None / a scalar for a straight trace and a
        # constant width (the fast path, profiles of shape (n, 1, n_cols))
        self.trace_offset = None if trace_offset is None else np.asarray(trace_offset, float)
        self.psf_sigma = psf_sigma if np.ndim(psf_sigma) == 0 else np.asarray(psf_sigma, float)
        self.stellar_flux = stellar_flux
        self.background = background
        self.depth = depth
        self.depth_spectrum = depth_spectrum
        self.readnoise_var = readnoise_var
        self.gt = gain * integration_time  # e- per (DN/s)
        self.noise = noise
        self.hot_rows, self.hot_cols, self.hot_values = hot_rows, hot_cols, hot_values
        self.hot_flag = int(hot_flag)  # the DQ value of a hot pixel (HOT, 2**11)
        self._token = None

    def __dask_tokenize__(self):
        if self._token is None:
            from dask.base import tokenize

            self._token = tokenize(
                self.n_rows, self.n_cols, self.seed, self.trace_center, self.psf_sigma,
                self.trace_offset,
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

    def center_and_sigma(self, rows=None):
        """Trace centre offset and PSF sigma per row, ``(R,)`` each (R = 1 if uniform)."""
        uniform = self.trace_offset is None and np.ndim(self.psf_sigma) == 0
        if uniform:
            return np.zeros(1), np.full(1, float(self.psf_sigma))
        index = slice(None) if rows is None else rows
        offset = np.zeros(self.n_rows) if self.trace_offset is None else self.trace_offset
        sigma = np.broadcast_to(self.psf_sigma, (self.n_rows,))
        return offset[index], sigma[index]

    def profile(self, x_shift):
        """Pixel-integrated Gaussian, (n, R, n_cols), centred at trace_center + offset(row) + x.

        R is 1 for a straight trace of constant width, ``n_rows`` otherwise.
        """
        offset, sigma = self.center_and_sigma()
        edges = np.arange(self.n_cols + 1) - 0.5
        centers = self.trace_center + offset[None, :] + np.asarray(x_shift, float)[:, None]
        z = (edges[None, None, :] - centers[:, :, None]) / (np.sqrt(2.0) * sigma[None, :, None])
        cdf = erf(z)
        return 0.5 * (cdf[..., 1:] - cdf[..., :-1])

    def relative_flux(self, y_shift, shape):
        """Transit relative flux: (n, 1) for a grey depth, (n, n_rows) otherwise."""
        shape = np.asarray(shape, dtype=float)[:, None]
        if self.depth_spectrum is None:
            return 1.0 - self.depth * shape
        rows = np.arange(self.n_rows)[None, :] - np.asarray(y_shift)[:, None]
        depth = np.asarray(self.depth_spectrum(_WAVELENGTH_OF_ROW(rows)), dtype=float)
        return 1.0 - np.broadcast_to(depth, rows.shape) * shape

    def star(self, x_shift, y_shift, shape):
        """(n, n_rows) out-of-transit flux times the transit, and (n, R, n_cols) profile."""
        rows = np.arange(self.n_rows)[None, :] - np.asarray(y_shift)[:, None]
        flux = self.spectrum(rows) * self.relative_flux(y_shift, shape)
        return flux, self.profile(x_shift)

    def rate(self, x_shift, y_shift, shape):
        """Noiseless count rate (n, n_rows, n_cols), DN/s, hot pixels included."""
        flux, prof = self.star(x_shift, y_shift, shape)
        rate = flux[:, :, None] * prof
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
        offset, sigma = self.center_and_sigma(rows if self.trace_offset is not None
                                              or np.ndim(self.psf_sigma) else None)
        z = (np.stack([cols - 0.5, cols + 0.5]) - (self.trace_center + offset + x_shift))
        z /= np.sqrt(2.0) * sigma
        cdf = erf(z)
        out = flux * (0.5 * (cdf[1] - cdf[0])) + self.background[rows, cols]
        for r, c, v in zip(self.hot_rows, self.hot_cols, self.hot_values):
            out[(rows == r) & (cols == c)] = v
        return out

    def sigma(self, rate, rows=None, cols=None):
        """Noise sigma (DN/s) of a pixel of noiseless ``rate``."""
        rn = self.readnoise_var if rows is None else self.readnoise_var[rows, cols]
        return np.sqrt(np.maximum(rate, 0.0) / self.gt + rn)


def simulate_block(scene, integrations, x_shift, y_shift, shape, hit_index, hit_row,
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
        dq[:, scene.hot_rows, scene.hot_cols] |= np.uint32(scene.hot_flag)
    var_rnoise = np.empty((n,) + frame, np.float32)
    var_rnoise[...] = rn_var
    return data, err, dq, var_poisson, var_rnoise


def _truth_flux_block(scene, x_shift, y_shift):
    """True out-of-transit stellar DN/s per row summed over all columns, (n, n_rows)."""
    rows = np.arange(scene.n_rows)[None, :] - np.asarray(y_shift)[:, None]
    return scene.spectrum(rows) * scene.profile(x_shift).sum(axis=-1)


def _truth_relative_block(scene, y_shift, shape):
    return np.broadcast_to(scene.relative_flux(y_shift, shape),
                           (len(shape), scene.n_rows)).copy()



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
