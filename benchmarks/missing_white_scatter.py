"""White-light scatter with 1 % of the pixels missing in the rateints (issue 22's acceptance).

A bright steady star (20x the simulator's default flux, no hits, no hot
pixels), 300 integrations; 1 % of the pixels set to NaN at random before
subtract and clean, as jwst >= 1.9 writes DO_NOT_USE pixels.  Prints the
point-to-point scatter of the white light curve (5-12 um) of the complete
and the holed frames for the recommended chain and a box chain.

Usage: ``PYTHONPATH=. python benchmarks/missing_white_scatter.py``
"""
import warnings

import numpy as np

import xmiri


def main():
    warnings.simplefilter("ignore")
    ds, _ = xmiri.simulate.simulate(300, seed=31, stellar_flux=430.0 * 20, transit_depth=0.0,
                                    n_cosmic_rays=0, n_hot_pixels=0, chunks=100)
    ds = ds.compute()
    holed = ds.copy()
    holed["data"] = ds["data"].where(np.random.default_rng(7).random(ds["data"].shape) >= 0.01)
    p = xmiri.config.preset("recommended")
    chains = {
        "recommended": lambda f: (f.lrs.subtract(**p["subtract"]).lrs.clean(**p["clean"])
                                  .lrs.extract(**p["extract"]).lrs.align(**p["align"])),
        "box": lambda f: f.lrs.subtract().lrs.clean().lrs.extract(method="box"),
    }
    for name, chain in chains.items():
        scatter = []
        for frames in (ds, holed):
            white = chain(frames).lrs.light_curves()["white_flux"].values
            scatter.append(np.std(np.diff(white)) / np.sqrt(2) / np.mean(white))
        print(f"{name}: white scatter complete {scatter[0] * 1e6:.1f} ppm, 1 % missing "
              f"{scatter[1] * 1e6:.1f} ppm, ratio {scatter[1] / scatter[0]:.4f}")


if __name__ == "__main__":
    main()
