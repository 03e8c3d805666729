"""Issue 21: scatter / error of the box and recommended chains on frames of known noise (docs/errors.rst).

Usage: PYTHONPATH=. python benchmarks/honest_errors.py [n_integrations]
"""
import sys
import warnings
from pathlib import Path

import xmiri

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_honest_errors import (SIM, STARS, box_chain, inflated,  # noqa: E402
                                recommended_chain, scatter_over_error, with_box_sky_term)


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


for star in ("faint", "bright"):
    kw = dict(SIM, seed=21, stellar_flux=STARS[star])
    noisy, _ = xmiri.simulate.simulate(N, **kw)
    nl, _ = xmiri.simulate.simulate(N, noise=False, **kw)
    box0 = box_chain(nl)[1].compute()
    sub, spec = box_chain(noisy)
    spec = spec.compute()
    print(star, "box, pixels only      ", fmt(*scatter_over_error(spec, box0)), flush=True)
    print(star, "box, with the sky term", fmt(*scatter_over_error(with_box_sky_term(sub, spec), box0)), flush=True)
    lc = with_box_sky_term(*box_chain(inflated(noisy, 2.5))).lrs.light_curves().compute()
    print(star, "box, sky term, ERR x2.5:", inflated_line(lc), flush=True)
    rec0 = recommended_chain(nl)[1].compute()
    rec = recommended_chain(noisy)[1].compute()
    print(star, "recommended (no sky term yet)", fmt(*scatter_over_error(rec, rec0)), flush=True)
    lc = recommended_chain(inflated(noisy, 2.5))[1].lrs.light_curves().compute()
    print(star, "recommended, ERR x2.5:", inflated_line(lc), flush=True)
