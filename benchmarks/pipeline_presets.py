#!/usr/bin/env python
"""xmiri's presets side by side on simulated exposures with a known transit.

For each seed, one exposure (1 % white-light transit, the simulator's sky
gradient, jitter, hot pixels and cosmic-ray hits) is reduced with each preset
through ``xmiri.cli.run_chain`` (what ``xmiri reduce --preset NAME`` runs), and
the white light curve over 5-12 micron is compared with the truth:

* depth - injected: ``1 - mean(full depth) / mean(out of transit)`` minus the
  same estimator on the true light curve, in ppm;
* scatter: standard deviation of ``white / (c * true model) - 1`` in ppm;
* scatter / error: that scatter over the median relative ``white_flux_error``
  (1 when the errors are honest).

Usage (from the repository root)::

    PYTHONPATH=$PWD python benchmarks/pipeline_presets.py --n 200 --seeds 1 2 3
"""
import argparse
import platform
import warnings

import numpy as np

import xmiri
from xmiri.cli import run_chain
from xmiri.config import load_config

PRESETS = ("recommended", "exotic-miri-pipeline", "exotic-miri")


def measure(name, ds, truth):
    frames, spec = run_chain(ds, load_config(None, name))
    lc = spec.lrs.light_curves(wavelength_bins=7, wavelength_range=(5.0, 12.0)).compute()
    white, error = lc["white_flux"].values, lc["white_flux_error"].values
    model = truth["relative_flux"].values
    finite = np.isfinite(white)
    full = (model <= model.min() + 1e-12) & finite
    out = (model >= 1 - 1e-12) & finite
    depth = 1 - white[full].mean() / white[out].mean()
    true_depth = 1 - model[full].mean() / model[out].mean()
    c = np.nanmean(white / model)
    residual = white[finite] / (c * model[finite]) - 1
    scatter = residual.std(ddof=1)
    return dict(bias=(depth - true_depth) * 1e6, scatter=scatter * 1e6,
                calibration=scatter / np.nanmedian(error / white))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="integrations per exposure")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = {name: [] for name in PRESETS}
    for seed in args.seeds:
        ds, truth = xmiri.simulate.simulate(args.n, seed=seed, chunks=50, transit_depth=0.01)
        for name in PRESETS:
            rows[name].append(measure(name, ds, truth))
    print(f"xmiri {xmiri.__version__}, numpy {np.__version__}, python {platform.python_version()}; "
          f"{args.n} integrations, seeds {args.seeds}")
    print("| preset | depth - injected (ppm) | white scatter (ppm) | scatter / error |")
    print("| --- | --- | --- | --- |")
    for name, results in rows.items():
        cells = []
        for key, digits in (("bias", 0), ("scatter", 0), ("calibration", 2)):
            values = np.array([r[key] for r in results])
            err = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            cells.append(f"{values.mean():.{digits}f} ± {err:.{digits}f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
