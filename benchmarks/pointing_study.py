#!/usr/bin/env python
"""How much the white-light flux moves when the trace moves across the dispersion.

A steady star (no transit, no hits, no hot pixels, 20x the simulator's
default stellar flux) whose trace jumps across the dispersion by ``--jump``
pixels halfway through the exposure (``xmiri.simulate.simulate(x_offset=...)``),
and the same star on a slow linear drift of ``--jump`` pixels over the
exposure.  Each chain reduces both (``xmiri.cli.run_chain``: subtract/clean,
extract, align) and the white light curve over 5-12 micron gives:

* jump: ``mean(after) / mean(before) - 1`` per 0.1 px of jump, ppm;
* drift: the slope of ``white / mean - 1`` against the true offset, per
  0.1 px, ppm;
* scatter: the white light curve's standard deviation on frames with the
  simulator's default jitter (0.05 px RMS both ways, no jump), ppm, after
  removing a linear trend in time.

``--bins`` also prints the recommended chains' step in every 7 bins of
5-12 micron.

Usage (from the repository root)::

    PYTHONPATH=$PWD python benchmarks/pointing_study.py --n 200 --jump 0.2
"""
import argparse
import copy
import platform
import warnings
from pathlib import Path

import numpy as np

import xmiri
from xmiri.cli import run_chain
from xmiri.config import load_config

BRIGHT = 20 * 430.0


def chains():
    """name -> config (the recommended preset and variants)."""
    rec = load_config(None, "recommended")
    out = {}
    for follows in (False, True):
        config = copy.deepcopy(rec)
        config["extract"]["profile_follows_trace"] = follows
        out[f"recommended, profile_follows_trace={follows}"] = config
    box = copy.deepcopy(rec)
    box["extract"] = {"method": "box", "aperture_left_width": 4, "aperture_right_width": 4}
    out["box 4+4 at column 36"] = box
    poly = copy.deepcopy(box)
    poly["extract"]["trace_position"] = "polynomial"
    out["polynomial box 4+4"] = poly
    return out


def white(config, ds):
    """The chain's white light curve (5-12 micron) and its 7 bins (integration, bin)."""
    _, spec = run_chain(ds, config)
    lc = spec.lrs.light_curves(wavelength_bins=7, wavelength_range=(5.0, 12.0)).compute()
    return lc["white_flux"].values, lc


def step(ratio, offset):
    """Slope of ``ratio - 1`` against the offset, ppm per 0.1 px.

    ``ratio`` is the flux over the flux of the same noise on a still trace,
    so the noise cancels: for a jump, the relative change after / before.
    """
    ratio, offset = np.asarray(ratio, float), np.asarray(offset, float)
    finite = np.isfinite(ratio)
    slope = np.polyfit(np.asarray(offset)[finite], ratio[finite] / np.nanmean(ratio[offset == 0])
                       - 1, 1)[0]
    return slope * 0.1 * 1e6


def simulate(n, offset, seed, jitter, psf="gaussian", core_sigma=1.25):
    """Frames of a steady bright star whose trace moves by `offset` (pixels, per integration).

    ``psf="gaussian"``: the simulator's straight trace (sigma 1.6 px at column
    36.3).  ``psf="wings"``: closer to the MIRISim trace: curved (column 37.0
    at row 200, 0.4 px to the right at the bottom rows), a core of sigma
    1.25 px holding 80 % of the flux and wings of sigma 3.5 px holding 20 %
    (the sum of two simulations with the same pointing; the wings' are
    noiseless and carry no sky).
    """
    if psf == "mirisim":
        return _mirisim_like(n, offset, seed, jitter)
    kwargs = dict(seed=seed, chunks=50, transit_depth=0.0, n_cosmic_rays=0, n_hot_pixels=0,
                  jitter_x=jitter, jitter_y=jitter, x_offset=offset)
    if psf == "gaussian":
        return xmiri.simulate.simulate(n, stellar_flux=BRIGHT, **kwargs)
    shape = dict(trace_center=37.0, trace_curve=(0.0, 0.3, 0.1))
    core, truth = xmiri.simulate.simulate(n, stellar_flux=0.8 * BRIGHT, psf_sigma=core_sigma,
                                          **shape, **kwargs)
    wings, _ = xmiri.simulate.simulate(n, stellar_flux=0.2 * BRIGHT, psf_sigma=3.5, noise=False,
                                       background=0.0, background_gradient=(0.0, 0.0),
                                       **shape, **kwargs)
    ds = core.copy()
    for name in ("data", "var_poisson"):
        ds[name] = core[name] + wings[name]
    ds["err"] = np.sqrt(ds["var_poisson"] + ds["var_rnoise"])
    return ds, truth


MIRISIM = Path(__file__).resolve().parents[2] / "shared" / "data" / "mirisim_ngts10_seg041_rateints.fits"


def _mirisim_like(n, offset, seed, jitter):
    """The MIRISim NGTS-10 star, 20x brighter, moved by `offset` (+ jitter) on the simulator's sky.

    The star is the median of the MIRISim exposure's sky-subtracted frames
    within 10 columns of the trace (the real trace shape: curved, with its
    own wings), moved across the dispersion by a monotone (PCHIP)
    interpolation of each row's cumulative sum -- not the cubic Lagrange of
    :func:`xmiri.kernels.profile.shift_profile` --, plus the simulator's sky
    (``stellar_flux`` ~0) and Gaussian noise of the variance
    ``rate * VAR_POISSON / SCI + VAR_RNOISE``.
    """
    from scipy.interpolate import PchipInterpolator

    sky, truth = xmiri.simulate.simulate(n, seed=seed, stellar_flux=1e-9, transit_depth=0.0,
                                         n_cosmic_rays=0, n_hot_pixels=0, jitter_x=0.0,
                                         jitter_y=0.0, noise=False)
    real = xmiri.open_rateints(MIRISIM).lrs.subtract()
    star = np.nanmedian(real["data"].values, axis=0)
    cols = np.arange(star.shape[1])
    star = np.where(np.abs(cols - 37) <= 10, np.nan_to_num(star), 0.0) * 20
    edges = np.concatenate([np.zeros((star.shape[0], 1)), np.cumsum(star, axis=1)], axis=1)
    x = np.arange(star.shape[1] + 1) - 0.5
    spline = PchipInterpolator(x, edges, axis=1, extrapolate=False)
    shifts = np.zeros(n) if offset is None else np.asarray(offset, float)
    shifts = shifts + jitter * np.random.default_rng([seed, 1]).standard_normal(n)
    rng = np.random.default_rng([seed, 2])
    ratio = float(np.nanmedian(real["var_poisson"].values / real["data"].values))
    data = np.empty(sky["data"].shape, np.float32)
    var = np.empty_like(data)
    rn = sky["var_rnoise"].values[0]
    for k in range(n):
        moved = np.nan_to_num(spline(x - shifts[k]), nan=0.0)
        moved[:, x - shifts[k] > x[-1]] = edges[:, -1:]
        rate = np.diff(moved, axis=1) + sky["data"].values[k]
        var[k] = np.clip(rate, 0, None) * ratio + rn
        data[k] = rate + np.sqrt(var[k]) * rng.standard_normal(rate.shape)
    ds = sky.copy()
    ds["data"] = sky["data"].copy(data=data)
    ds["var_poisson"] = sky["var_poisson"].copy(data=(var - rn).astype(np.float32))
    ds["err"] = sky["err"].copy(data=np.sqrt(var).astype(np.float32))
    return ds.chunk(integration=50), truth


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="integrations per exposure")
    parser.add_argument("--jump", type=float, default=0.2, help="pixels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bins", action="store_true")
    parser.add_argument("--only", nargs="*", help="chain names (substrings)")
    parser.add_argument("--psf", choices=("gaussian", "wings", "mirisim"), default="wings")
    parser.add_argument("--core-sigma", type=float, default=1.25,
                        help="psf='wings': sigma of the core, pixels")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    n = args.n
    jump = np.where(np.arange(n) < n // 2, 0.0, args.jump)
    drift = np.linspace(0.0, args.jump, n)
    frames = {"still": simulate(n, np.zeros(n), args.seed, 0.0, args.psf, args.core_sigma)[0],
              "jump": simulate(n, jump, args.seed, 0.0, args.psf, args.core_sigma)[0],
              "drift": simulate(n, drift, args.seed, 0.0, args.psf, args.core_sigma)[0],
              "jitter": simulate(n, None, args.seed, 0.05, args.psf, args.core_sigma)[0]}
    print(f"xmiri {xmiri.__version__}, numpy {np.__version__}, python {platform.python_version()}; "
          f"n={n}, jump={args.jump} px, seed={args.seed}, stellar_flux={BRIGHT:g}, psf={args.psf}"
          + (f", core sigma {args.core_sigma} px" if args.psf == "wings" else ""))
    print("| chain | jump: step per 0.1 px (ppm) | drift: step per 0.1 px (ppm) "
          "| white scatter with jitter (ppm) |")
    print("| --- | ---: | ---: | ---: |")
    per_bin = []
    for name, config in chains().items():
        if args.only and not any(o in name for o in args.only):
            continue
        still, bins_still = white(config, frames["still"])
        wj, bins_jump = white(config, frames["jump"])
        wd, _ = white(config, frames["drift"])
        wt, _ = white(config, frames["jitter"])
        t = np.arange(n)
        rel = wt / np.nanmean(wt) - 1
        rel = rel - np.polyval(np.polyfit(t, rel, 1), t)
        print(f"| {name} | {step(wj / still, jump):+,.0f} | {step(wd / still, drift):+,.0f} "
              f"| {np.nanstd(rel, ddof=1) * 1e6:,.0f} |", flush=True)
        if args.bins and name.startswith("recommended"):
            a = bins_jump["flux"].transpose("integration", ...).values
            b = bins_still["flux"].transpose("integration", ...).values
            per_bin.append((name, [step(a[:, k] / b[:, k], jump) for k in range(a.shape[1])],
                            bins_jump))
    for name, steps, binned in per_bin:
        print(f"\nJump step per 0.1 px in each bin, {name}:\n")
        low, high = binned["wavelength_low"].values, binned["wavelength_high"].values
        print("| bin (micron) | " + " | ".join(f"{a:.2f}-{b:.2f}" for a, b in zip(low, high)) + " |")
        print("| --- |" + " ---: |" * len(steps))
        print("| step (ppm) | " + " | ".join(f"{v:+,.0f}" for v in steps) + " |")


if __name__ == "__main__":
    main()
