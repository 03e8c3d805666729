"""Simulated MIRI LRS slitless exposures with a known truth.

- :mod:`xmiri.simulate.scene`: the scene (spectrum, trace, transit, noise, hits),
- :mod:`xmiri.simulate.exposure`: :func:`simulate`, an exposure and its truth,
- :mod:`xmiri.simulate.writer`: :func:`write_segments`, JWST-layout FITS files,
- :mod:`xmiri.simulate._random`: counter-based random numbers.


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

Subarrays
---------
``simulate(subarray="SLITLESSPRISM_IP")`` (or ``"SLITLESSPRISM_IPS"``) gives
the SLITLESSPRISM scene cut the way that subarray sees the same star: its
pixels, its ``SUBSTRT`` and the star at its SIAF reference point
(:data:`xmiri.defaults.SUBARRAYS`).  xmiri's packaged wavelength solution
does not serve those subarrays, so open their segments with
``wavelength=write_wavelength(ds, path)`` (the simulated map).

Determinism
-----------
Every random number of integration ``k`` (its jitter, its hits, its noise)
depends only on ``(seed, k)``: the truth comes from a counter-based hash of
``(seed, stream, k, ...)`` and the noise from
``numpy.random.default_rng([seed, stream, k])``.  A simulation is therefore
identical whatever its chunking, and a dask-backed one is built instantly
and computed block by block.
"""
from .exposure import simulate
from .scene import (DEFAULT_BACKGROUND, DEFAULT_GAIN, DEFAULT_INTEGRATION_TIME, DEFAULT_N_HOT,
                    DEFAULT_READNOISE, DEFAULT_STELLAR_FLUX, MJD_OFFSET, TDB_MINUS_UTC, TFRAME,
                    default_spectrum, transit_shape)
from .writer import write_segments, write_wavelength

__all__ = ["simulate", "write_segments", "write_wavelength", "default_spectrum", "transit_shape",
           "TFRAME", "HOT", "TDB_MINUS_UTC", "MJD_OFFSET", "DEFAULT_BACKGROUND", "DEFAULT_GAIN",
           "DEFAULT_INTEGRATION_TIME", "DEFAULT_N_HOT", "DEFAULT_READNOISE", "DEFAULT_STELLAR_FLUX"]


def __getattr__(name):
    if name == "HOT":  # JWST DQ flag HOT (bit 11), from the stdatamodels table on first use
        import numpy as np

        from ..dq import FLAGS

        return np.uint32(FLAGS["HOT"])
    if name == "default_wavelength_map":
        from ..io.wavelength import default_wavelength_map

        return default_wavelength_map
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
