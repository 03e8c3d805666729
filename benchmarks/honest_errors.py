"""Issue 21: scatter / error of the box and recommended chains on frames of known noise (docs/errors.rst).

Usage: PYTHONPATH=. python benchmarks/honest_errors.py [n_integrations]
"""
import sys
import warnings
from pathlib import Path

import xmiri

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_honest_errors import (SIM, STARS, box_chain, inflated,  # noqa: E402
                                recommended_chain, scatter_over_error)


N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
SIM = dict(SIM, chunks=250)
warnings.simplefilter("ignore")


def fmt(white, bins, lc):
    nr = lc["noise_ratio"].values
    return (f"truth: white {white:.3f} bins {bins.min():.3f}-{bins.max():.3f} mean {bins.mean():.3f} | "
            f"noise_ratio: white {float(lc['white_noise_ratio']):.3f} "
            f"bins {nr.min():.3f}-{nr.max():.3f} mean {nr.mean():.3f}")


def inflated_line(lc):
    return (f"noise_ratio white {float(lc.white_noise_ratio):.3f} "
            f"bins {float(lc.noise_ratio.min()):.3f}-{float(lc.noise_ratio.max()):.3f}")


def pixels_only(spec):
    """The spectra with extract's sky term taken back out of flux_error (xmiri 0.2's errors)."""
    return spec.assign(flux_error=(spec["flux_error"] ** 2 - spec["sky_flux_error"] ** 2) ** 0.5).drop_vars(
        "sky_flux_error")


for star in ("faint", "bright"):
    kw = dict(SIM, seed=21, stellar_flux=STARS[star])
    noisy, _ = xmiri.simulate.simulate(N, **kw)
    nl, _ = xmiri.simulate.simulate(N, noise=False, **kw)
    for name, chain in (("box", box_chain), ("recommended", recommended_chain)):
        reference = chain(nl)[1].compute()
        spec = chain(noisy)[1].compute()
        print(star, name, "pixels only (0.2)   ", fmt(*scatter_over_error(pixels_only(spec), reference)), flush=True)
        print(star, name, "with the sky term   ", fmt(*scatter_over_error(spec, reference)), flush=True)
        lc = chain(inflated(noisy, 2.5))[1].lrs.light_curves().compute()
        print(star, name, "error planes x2.5:", inflated_line(lc), flush=True)
