#!/usr/bin/env python
"""Does ``clean_temporal`` belong in the recommended chain?  (issue 23)

Simulated transits (``xmiri.simulate.simulate``, grey 1 % depth, known truth)
with many *faint* hits (``--hits`` per integration, 3-15 sigma, the ones a
spatial fit on the steep trace misses), reduced with the ``recommended``
preset as ``xmiri reduce`` runs it, with and without its ``[clean_temporal]``
section turned on.  For each seed it reports the white light curve's depth
error against the truth (in units of its own uncertainty), its
out-of-transit scatter (ppm, sample standard deviation of one integration)
and the median scatter of the 10 spectroscopic bins; then the medians over
seeds.

Usage::

    PYTHONPATH=$PWD python benchmarks/temporal_in_recommended.py --n 1000 --seeds 4

Nothing here runs in the test suite; the figures are in ``benchmarks/TEMPORAL.md``.
"""
import argparse
import time
import warnings

import numpy as np


def reduce(ds, temporal):
    """White and binned light curves of `ds` with the recommended preset (± clean_temporal)."""
    from xmiri.cli import run_chain
    from xmiri.config import load_config

    config = load_config(None, "recommended")
    if temporal:
        config["clean_temporal"] = {k: v for k, v in config["clean_temporal"].items() if k != "skip"}
    _, spec = run_chain(ds, config)
    lc = spec.lrs.light_curves(**config["light_curves"])
    return lc.compute()


def scatter(values, out):
    """Sample standard deviation of `values` / their mean over the out-of-transit integrations."""
    v = values[out]
    return np.nanstd(v / np.nanmean(v, axis=0), axis=0, ddof=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="integrations per exposure")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--hits", type=int, default=40, help="hits per integration")
    parser.add_argument("--snr", type=float, nargs=2, default=(3.0, 15.0), help="hit sizes in sigma")
    args = parser.parse_args(argv)

    import xmiri
    from xmiri.kernels.lightcurves import transit_depth

    rows = {False: [], True: []}
    print("| seed | clean_temporal | depth error (sigma) | white scatter ppm | median bin scatter ppm | s |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for seed in range(args.seeds):
        ds, truth = xmiri.simulate.simulate(args.n, seed=100 + seed, n_cosmic_rays=args.hits,
                                            cosmic_ray_snr=tuple(args.snr), chunks=100)
        relative = truth["relative_flux"].values
        out = relative >= 1 - 1e-12
        for temporal in (False, True):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lc = reduce(ds, temporal)
            seconds = time.perf_counter() - t0
            white = lc["white_flux"].values
            depth, sigma = transit_depth(white, relative)
            true_depth = 1 - relative.min()
            row = ((depth - true_depth) / sigma, 1e6 * scatter(white, out),
                   1e6 * np.nanmedian(scatter(lc["flux"].values, out)))
            rows[temporal].append(row)
            print(f"| {seed} | {'on' if temporal else 'off'} | {row[0]:+.2f} | {row[1]:.0f} | {row[2]:.0f} | "
                  f"{seconds:.1f} |", flush=True)
    print()
    print("| clean_temporal | median depth error (sigma) | rms depth error (sigma) | median white scatter ppm "
          "| median bin scatter ppm |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for temporal, values in rows.items():
        v = np.array(values)
        print(f"| {'on' if temporal else 'off'} | {np.median(v[:, 0]):+.2f} | {np.sqrt(np.mean(v[:, 0] ** 2)):.2f} | "
              f"{np.median(v[:, 1]):.0f} | {np.median(v[:, 2]):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
