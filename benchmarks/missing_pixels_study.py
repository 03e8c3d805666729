"""Missing pixels in extraction (issue 22): every chain on frames with pixels removed.

A bright steady star (20x the default flux, 24 integrations, no hits), frames
background-subtracted (col_wise); pixels set to NaN as jwst >= 1.9 writes them:
1 % at random, column 37 over rows 200-260 (dead stretch), the 3 brightest columns
over rows 250-280 (saturated core).  Each chain is compared with itself on the
complete frames over rows 150-380: rows NaN there (nan) and rows given up and reported
anywhere in the frame (reported; faint rows outside 150-380 included), the largest
|flux - complete| / flux_error, the same for rows that lost nothing, and the largest
|median over time of flux / complete - 1|.  Run from the repository root:

    PYTHONPATH=. python benchmarks/missing_pixels_study.py > benchmarks/MISSING.md
"""
import warnings

import numpy as np

import xmiri
from xmiri import UnmeasuredWarning

print(__doc__)
print("```")
ds, truth = xmiri.simulate.simulate(24, seed=3, stellar_flux=430.0 * 20, transit_depth=0.0, n_cosmic_rays=0,
                                    n_hot_pixels=0)
sub = ds.lrs.subtract(method="col_wise").compute()
cl = sub.lrs.clean().compute()
rng = np.random.default_rng(5)
def holes(kind):
    mask = np.zeros(sub.data.shape, bool)
    if kind == "random":
        mask = rng.random(mask.shape) < 0.01
    elif kind == "dead":
        mask[:, 200:260, 37] = True
    elif kind == "core":
        prof = sub.data.isel(integration=0).values[250:280].sum(0)
        cols = np.argsort(prof)[-3:]
        mask[:, 250:280, cols] = True
    return mask
chains = {"box": (sub, dict(method="box")), "opt-frame": (sub, dict(method="optimal", horne_q=38.2)),
          "opt-clean": (cl, dict(method="optimal", horne_q=38.2)),
          "recommended": (cl, dict(method="optimal", median_spatial_profile=True, aperture_left_width=8,
                                   aperture_right_width=8)),
          "poly-box": (sub, dict(method="box", trace_position="polynomial")),
          "poly-opt": (cl, dict(method="optimal", trace_position="polynomial")),
          "gf-box": (sub, dict(method="box", trace_position="gaussian_fits"))}
rows = slice(150, 380)
warnings.simplefilter("ignore")
for kind in ["random", "dead", "core"]:
    m = holes(kind)
    for name, (base, kw) in chains.items():
        ref = base.lrs.extract(**kw).compute()
        bad = base.copy()
        bad["data"] = base.data.where(~m)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = bad.lrs.extract(**kw).compute()
        rep = sum(x.message.count for x in w if isinstance(x.message, UnmeasuredWarning)
                  and x.message.quantity == "flux" and "min_valid_weight" in x.message.cause)
        f, fr, e = out.flux.values[:, rows], ref.flux.values[:, rows], ref.flux_error.values[:, rows]
        z = (f - fr) / e
        touched = out.missing_fraction.values[:, rows] > 0
        nan = np.isnan(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rel = np.nanmedian(f / fr, axis=0) - 1 if np.isfinite(f).any() else np.zeros(1)
        print(f"{kind:7s} {name:12s} nan={nan.sum():4d} reported={rep:4d} max|z|={np.nanmax(abs(z)):.2f} "
              f"untouched max|z|={np.nanmax(abs(z[~touched])):.3f} max|rel|={np.nanmax(abs(rel)):.4f} "
              f"mf max={np.nanmax(out.missing_fraction.values[:, rows]):.3f}")
print("```")
