#!/usr/bin/env python
"""Exposure-wide samples from the first integrations or spread across the exposure.

Simulated frames (``xmiri.simulate.simulate``, default star and noise, a 1 %
grey transit centred at mid-exposure, 100-integration chunks) whose trace
settles: a cross-dispersion offset of ``--ramp-px`` pixels at the first
integration decaying linearly to 0 over the first ``--ramp`` integrations
(``x_offset``), the rest still.  The recommended chain (and the 4+4 box)
reduces them twice, with ``xmiri.defaults.EXPOSURE_SAMPLING = "first"`` (the
first 512 integrations) and ``"spread"`` (512 spread across the exposure).
The white light curve (5-12 micron) after the ramp is fitted by least
squares with ``c0 + c1 t - c0 d shape`` (the simulator's transit shape) and
gives the depth ``d`` (truth 10,000 ppm) and the residual RMS, ppm.
``--timing`` instead times one chain on ``--n`` integrations in a fresh
process per sampling and reports wall time and peak RSS.

Usage (from the repository root)::

    PYTHONPATH=$PWD python benchmarks/exposure_sample.py --n 1500 --ramp 300
    PYTHONPATH=$PWD python benchmarks/exposure_sample.py --timing --n 3000
"""
import argparse
import copy
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

import xmiri
from xmiri import defaults
from xmiri.cli import run_chain
from xmiri.config import load_config


def chains():
    rec = load_config(None, "recommended")
    box = copy.deepcopy(rec)
    box["extract"] = {"method": "box", "aperture_left_width": 4, "aperture_right_width": 4}
    return {"recommended": rec, "box 4+4": box}


def frames(n, ramp, ramp_px, seed):
    k = np.arange(n)
    offset = np.where(k < ramp, ramp_px * (1 - k / max(ramp, 1)), 0.0)
    return xmiri.simulate.simulate(n, seed=seed, chunks=100, x_offset=offset)


def fit(white, shape, keep):
    t = np.linspace(-1, 1, white.size)
    y = white / np.nanmedian(white[keep])
    ok = keep & np.isfinite(y)
    a = np.column_stack([np.ones(ok.sum()), t[ok], -shape[ok]])
    coef, *_ = np.linalg.lstsq(a, y[ok], rcond=None)
    resid = y[ok] - a @ coef
    return coef[2] / coef[0] * 1e6, np.std(resid) * 1e6


def white(config, ds):
    _, spec = run_chain(ds, config)
    lc = spec.lrs.light_curves(wavelength_bins=1, wavelength_range=(5.0, 12.0)).compute()
    return lc["white_flux"].values


def effect(args):
    ds, truth = frames(args.n, args.ramp, args.ramp_px, args.seed)
    shape = np.asarray(truth["transit_shape"].values, float)
    keep = np.arange(args.n) >= args.ramp
    print(f"n={args.n}, ramp {args.ramp_px} px -> 0 over the first {args.ramp}, seed {args.seed}")
    print("| chain | sample | depth (ppm, truth 10000) | RMS after ramp (ppm) |")
    print("|---|---|---|---|")
    for name, config in chains().items():
        for mode in ("first", "spread"):
            defaults.EXPOSURE_SAMPLING = mode
            d, rms = fit(white(config, ds), shape, keep)
            print(f"| {name} | {mode} | {d:.0f} | {rms:.0f} |", flush=True)


def timing_one(args):
    defaults.EXPOSURE_SAMPLING = args.mode
    ds, _ = frames(args.n, args.ramp, args.ramp_px, args.seed)
    config = chains()[args.chain]
    start = time.perf_counter()
    white(config, ds)
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "rss": rss}))


def timing(args):
    print(f"n={args.n} in 100-integration chunks; wall time and peak RSS of one process")
    print("| chain | sample | wall (s) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for chain in chains():
        for mode in ("first", "spread"):
            out = subprocess.run([sys.executable, __file__, "--timing-one", "--mode", mode,
                                  "--chain", chain, "--n", str(args.n), "--ramp", str(args.ramp)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {chain} | {mode} | {r['wall']:.1f} | {r['rss']:.0f} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1500)
    p.add_argument("--ramp", type=int, default=300)
    p.add_argument("--ramp-px", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timing", action="store_true")
    p.add_argument("--timing-one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="spread", help=argparse.SUPPRESS)
    p.add_argument("--chain", default="recommended", help=argparse.SUPPRESS)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    if args.timing_one:
        timing_one(args)
    elif args.timing:
        timing(args)
    else:
        effect(args)


if __name__ == "__main__":
    main()
