#!/usr/bin/env python
"""Make the figures of the documentation (docs/_static/*.png) from simulated data.

    python scripts/make_doc_figures.py            # all figures
    python scripts/make_doc_figures.py traced     # one

Each figure is small (a few tens of kB) and committed; rerun this script
when the code that draws it changes.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import xmiri  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "docs" / "_static"


def traced():
    """A tilted, widening trace with its traced 9-pixel aperture, and the fitted centre."""
    ds, truth = xmiri.simulate.simulate(
        40, seed=5, trace_curve=(0.0, 1.6), psf_sigma=lambda lam: 1.2 + 0.08 * (lam - 5.0),
        jitter_x=0.15, transit_depth=0.0)
    sub = ds.lrs.subtract(method="col_wise")
    spec = sub.lrs.extract(trace_position="polynomial").compute()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4.2), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.6]})
    image = sub.lrs.plot.frame(integration=1, ax=left, trace=spec, vmin=-2, vmax=40,
                               background=None, add_colorbar=False)
    left.set(xlim=(26, 48), ylim=(140, 395), title="frame 1 and its traced aperture")
    spec.lrs.plot.trace(ax=right)
    true = truth.trace_center.values[0] - truth.x_shift.values[0] + truth.trace_offset.values
    right.plot(spec.row, true, color="tab:red", lw=1, ls="--", label="true centre (no jitter)")
    right.set(xlim=(140, 395), ylim=(35.5, 38.5))
    right.legend(loc="upper left")
    assert image is not None
    return fig


FIGURES = {"traced": traced}


def main(names):
    STATIC.mkdir(exist_ok=True)
    for name in names or FIGURES:
        fig = FIGURES[name]()
        path = STATIC / f"{name}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(f"wrote {path} ({path.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main(sys.argv[1:])
