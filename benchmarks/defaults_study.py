#!/usr/bin/env python
"""Which reduction choices give the best science?  Measurements behind xmiri's defaults.

Every choice of the stage-2 chain that changes the science is measured here,
on simulated exposures with a known truth (:func:`xmiri.simulate.simulate`)
and on the shared MIRISim NGTS-10 segment:

``chain``       order of clean and subtract, variance model (``horne_q``),
                per-integration or median spatial profile, box or optimal
``q``           how to obtain Horne's Q (electrons per DN/s) and how accurate
                the estimate from ``data / var_poisson`` is; does the file's
                ERR match the scatter of its integrations?
``dq``          DQ bits to mask, a rule for pixels with outlying ERR, and what
                becomes of the ERR of replaced pixels
``robust``      ``clean(robust=...)`` against cosmic-ray hits
``background``  ``row_wise`` / ``col_wise`` / ``constant`` (and smoothing) with
                a sky gradient
``align``       ``align_spectra`` True / False with small and large jitter
``demo``        depth scatter of the 120-integration demo over seeds, and which
                error to print with it
``shared``      the shared MIRISim segment: pedestal in P, white-light errors,
                the high-ERR pixels and the light-curve bin errors

Metrics of a simulated exposure (7 bins over 5-12 micron and the white light
curve 5-12 micron, integrations of full depth against those out of transit):

* depth: ``1 - mean(in) / mean(out)``; the truth is the same estimator applied
  to the injected light curve (flux-weighted over the rows of the bin);
* scatter: standard deviation of ``flux / (c * model) - 1`` with the true
  transit model (ppm); ``ideal`` is the photon + read noise limit of optimal
  extraction with the true profile and variances (17 columns, no noise from the
  sky estimate), computed from the noiseless scene;
* calibration: scatter / median reported relative error (1 = errors right);
* chi2/dof of the 7 bin depths against the truth, with depth errors from the
  measured scatter, ``sigma * sqrt(1/N_in + 1/N_out)``;
* flux bias: extracted flux (before ``align``) against the true flux in the
  aperture, averaged over all integrations and seeds.

Numbers are mean +- standard error over seeds, except "depth - truth", whose
error is the expected one, rms(sigma(depth)) / sqrt(n_seeds).  Chains that are
compared share their simulations (same seeds, same noise), so differences
between rows of one table are more precise than the error bars suggest.

Nothing here changes xmiri.  Three rules xmiri does not have yet are
prototyped in this file: ``horne_q="auto"`` (:func:`estimate_q`), masking
pixels whose ERR is far above their own noise (:func:`flag_err`) and giving
replaced pixels a model ERR and var_rnoise (:func:`repair_err`).

Usage (from the repository root; all sections take ~16 min on 2 busy cores,
so run them in parts)::

    PYTHONPATH=$PWD python benchmarks/defaults_study.py --quick         # all sections, ~3 min
    PYTHONPATH=$PWD python benchmarks/defaults_study.py --sections chain --write-md chain.md --write-rst chain.rst
"""
import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import dask
import numpy as np
import xarray as xr
from scipy.special import erf

import xmiri
from xmiri import dq as xdq
from xmiri import simulate as xsim
from xmiri.kernels.lightcurves import bin_index

EDGES = np.linspace(5.0, 12.0, 8)  # the demo's 7 bins
WHITE = (5.0, 12.0)
TRUE_Q = xsim.DEFAULT_GAIN * xsim.DEFAULT_INTEGRATION_TIME  # 38.17 e- per DN/s in the simulator
GAIN_GUESS = 3.1  # e-/DN, a gain quoted for MIRI; NOT the gain behind the MIRISim var_poisson
UNRELIABLE = ["UNRELIABLE_BIAS", "UNRELIABLE_DARK", "UNRELIABLE_SLOPE", "UNRELIABLE_FLAT"]
BIT_ERR_RULE = 30  # OTHER_BAD_PIXEL: carries this study's ERR-rule flags into clean()
OUTLIER = xdq.FLAGS["OUTLIER"]
REGION = (28, 45)  # columns kept for hit bookkeeping and the row-median ERR rule (8 + 8 aperture)
SHARED = Path(os.environ.get("XMIRI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RATEINTS = SHARED / "mirisim_ngts10_seg041_rateints.fits"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def depth_spectrum(lam):
    """Wavelength-dependent depth for the bin tests: 1% +- 0.2% over 5-12 micron."""
    return 0.01 + 0.002 * np.sin(2 * np.pi * (np.asarray(lam) - 5.0) / 7.0)


# ---------------------------------------------------------------------------
# chains
# ---------------------------------------------------------------------------
def chain(label, *, order="subtract_first", bits=(0, 11), robust=False, threshold=4.0, bkg="row_wise",
          smoothing=None, method="optimal", q="auto", median_p=True, width=4, align=True,
          err_rule=None, err_repair=False):
    """A reduction chain as a dict.

    order: "clean_first" (ExoTiC-MIRI's examples, xmiri's README and CLI) or
    "subtract_first"; q: None (ExoTiC-MIRI, Q=1 S=0), "true" (the simulator's
    gain x time), "auto" (median data/var_poisson of bright pixels) or a
    number; err_rule: None, ("row", k) or ("model", k); err_repair: give
    replaced pixels a model ERR / var_rnoise.
    """
    return dict(label=label, order=order, bits=list(bits), robust=robust, threshold=threshold, bkg=bkg,
                smoothing=smoothing, method=method, q=q, median_p=median_p, width=width, align=align,
                err_rule=err_rule, err_repair=err_repair)


EXOTIC_README = chain("README/ExoTiC order: clean>sub, optimal Q=1, per-int P", order="clean_first",
                      q=None, median_p=False)
CLI_DEFAULT = chain("CLI default: clean>sub, box", order="clean_first", method="box")
# The chain this study recommends (see DEFAULTS.md); sections vary one choice of it at a time.
RECOMMENDED = dict(order="subtract_first", bits=[0, 11] + UNRELIABLE, robust=False, bkg="col_wise",
                   method="optimal", q="auto", median_p=True, width=8, align=True,
                   err_rule=("model", 5.0), err_repair=True)


def rec(label, **changes):
    """The recommended chain with some changes; box extraction keeps its 4 + 4 columns."""
    if changes.get("method") == "box" and "width" not in changes:
        changes["width"] = 4
    return chain(label, **{**RECOMMENDED, **changes})


def describe(c):
    """One line describing a chain dict."""
    order = "subtract > clean" if c["order"] == "subtract_first" else "clean > subtract"
    bits = ", ".join(str(b) if isinstance(b, int) else b for b in c["bits"])
    rule = f", ERR > {c['err_rule'][1]:g} x {'row median' if c['err_rule'][0] == 'row' else 'own noise'} masked" \
        if c.get("err_rule") else ""
    repair = ", ERR repaired" if c.get("err_repair") else ""
    ext = c["method"] + (f" (horne_q={c['q']}, median P={c['median_p']})" if c["method"] == "optimal" else "")
    return (f"{order}; clean(bits [{bits}]{rule}{repair}, robust={c['robust']}); subtract({c['bkg']}); "
            f"extract {ext}, {c['width']}+{c['width']} columns; align_spectra={c['align']}")


def _frame_median(da):
    return da.median(("row", "col"))


def estimate_q(ds, n_max=50, rule="snr"):
    """Horne's Q from a file: median of data / var_poisson over bright, unflagged pixels.

    rule "top1": pixels at or above the 99th percentile of data; "snr": data
    above 20 sqrt(median var_rnoise).
    """
    sub = ds.isel(integration=slice(0, n_max))
    d, vp, dq, vr = dask.compute(sub["data"].values, sub["var_poisson"].values, sub["dq"].values,
                                 sub["var_rnoise"].values)
    bad = xdq.dq_mask(["DO_NOT_USE", "SATURATED", "HOT", "NON_SCIENCE", "REFERENCE_PIXEL"] + UNRELIABLE)
    ok = np.isfinite(d) & np.isfinite(vp) & (vp > 0) & ((dq & bad) == 0)
    if rule == "top1":
        ok &= d >= np.percentile(d[ok], 99)
    else:
        ok &= d > 20 * np.sqrt(np.median(vr))
    return float(np.median(d[ok] / vp[ok]))


def resolve_q(q, ds, q_true):
    if q is None:
        return None
    if q == "true":
        return q_true
    if q == "auto":
        return estimate_q(ds)
    return float(q)


def flag_err(ds, rule, q):
    """Set BIT_ERR_RULE where ERR is far above what it should be (prototype of a clean() option)."""
    kind, k = rule
    if kind == "row":  # > k x the row's median ERR over the 17 central columns
        inside = (ds["col"] >= REGION[0]) & (ds["col"] < REGION[1])
        med = ds["err"].where(inside).median("col")
        bad = (ds["err"] > k * med) & inside
    else:  # > k x the noise the pixel's own rate implies: sqrt(max(data, 0) / Q + median var_rnoise)
        expected = np.sqrt(np.maximum(ds["data"], 0) / q + _frame_median(ds["var_rnoise"]))
        bad = ds["err"] > k * expected
    return ds.assign(dq=ds["dq"] | (bad.astype(np.uint32) * np.uint32(1 << BIT_ERR_RULE)))


def repair_err(before, cleaned, q):
    """Replaced pixels get the ERR and var_rnoise of their replacement value (prototype)."""
    replaced = ((cleaned["dq"] & OUTLIER) > 0) & ((before["dq"] & OUTLIER) == 0)
    sky = cleaned["background"] if "background" in cleaned else 0.0
    vr_med = _frame_median(before["var_rnoise"])
    model = np.maximum(cleaned["data"] + sky, 0) / q + vr_med
    err = xr.where(replaced, np.sqrt(model), cleaned["err"]).astype(np.float32)
    vr = xr.where(replaced, vr_med, cleaned["var_rnoise"]).astype(np.float32)
    return cleaned.assign(err=err.transpose(*cleaned["err"].dims), var_rnoise=vr.transpose(*cleaned["err"].dims))


def reduce(ds, c, q_true=None, truth=None):
    """Run chain ``c`` on ``ds``: (spectra before align, aligned spectra, replaced map, Q used).

    ``c["bkg"] == "truth"`` subtracts the simulation's true sky (needs ``truth``).
    """
    q = resolve_q(c["q"], ds, q_true)
    q_err = q if q is not None else estimate_q(ds)  # Q for the ERR rule / repair only
    bits = list(c["bits"])
    if c["err_rule"]:
        ds = flag_err(ds, c["err_rule"], q_err)
        bits.append(BIT_ERR_RULE)
    clean_kw = dict(dq_bits_to_mask=bits, robust=c["robust"], outlier_threshold=c["threshold"])
    sub_kw = dict(method=c["bkg"], smoothing_length=c["smoothing"])
    if c["bkg"] == "truth":
        sky = truth["background"].astype(np.float32).broadcast_like(ds["data"]).chunk(ds["data"].chunks)
        sub = ds.assign(data=(ds["data"] - sky).astype(np.float32), background=sky)
        frames = sub.lrs.clean(**clean_kw)
        if c["err_repair"]:
            frames = repair_err(sub, frames, q_err)
    elif c["order"] == "clean_first":
        frames = ds.lrs.clean(**clean_kw)
        if c["err_repair"]:
            frames = repair_err(ds, frames, q_err)
        frames = frames.lrs.subtract(**sub_kw)
    else:
        sub = ds.lrs.subtract(**sub_kw)
        frames = sub.lrs.clean(**clean_kw)
        if c["err_repair"]:
            frames = repair_err(sub, frames, q_err)
    ext = dict(method=c["method"], aperture_left_width=c["width"], aperture_right_width=c["width"])
    if c["method"] == "optimal":
        ext.update(median_spatial_profile=c["median_p"], horne_q=q)
    spec = frames.lrs.extract(**ext)
    replaced = ((frames["dq"] & OUTLIER) > 0).isel(col=slice(*REGION)).rename(col="region_col")
    # one .compute() of one Dataset: dask.compute(spec, ...) fails on these Datasets under dask
    # 2026.8 ("Missing dependency ('full_like-...')"), Dataset.compute() does not
    both = spec.assign(replaced=replaced.drop_vars([k for k in replaced.coords if k not in replaced.dims]))
    both = both.compute()
    replaced = both["replaced"].values
    spec = both.drop_vars(["replaced", "region_col"], errors="ignore")
    aligned = spec.lrs.align(align_spectra=c["align"])  # on the small computed spectra
    return spec, aligned, replaced, q


# ---------------------------------------------------------------------------
# truth and metrics
# ---------------------------------------------------------------------------
def aperture_fraction(x_shift, width, center, sigma, aperture_center=36):
    mu = center + np.asarray(x_shift)
    lo = (aperture_center - width - 0.5 - mu) / (np.sqrt(2) * sigma)
    hi = (aperture_center + width + 0.5 - mu) / (np.sqrt(2) * sigma)
    return 0.5 * (erf(hi) - erf(lo))


def relative_2d(truth):
    rel = truth["relative_flux"].values
    return rel if rel.ndim == 2 else np.repeat(rel[:, None], truth.sizes["row"], axis=1)


def row_sets(wavelength):
    wl = np.asarray(wavelength, dtype=float)
    idx = bin_index(wl, EDGES)
    white = np.isfinite(wl) & (wl >= WHITE[0]) & (wl <= WHITE[1])
    return [idx == k for k in range(len(EDGES) - 1)], white


def truth_models(truth, wavelength):
    """Injected light curves (relative), white and per bin, flux-weighted over the rows."""
    f0 = truth["flux"].values.mean(axis=0)
    rel = relative_2d(truth)
    bins, white = row_sets(wavelength)

    def model(rows):
        return (rel[:, rows] * f0[rows]).sum(axis=1) / f0[rows].sum()

    return model(white), np.stack([model(b) for b in bins], axis=1)


def lc_metrics(F, E, m, shape):
    full = shape >= 1 - 1e-9
    out = shape <= 1e-9
    nf, no = int(full.sum()), int(out.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        d = 1 - np.nanmean(F[full]) / np.nanmean(F[out])
        dt = 1 - np.mean(m[full]) / np.mean(m[out])
        ratio = F / m
        r = ratio / np.nanmean(ratio) - 1
        sig = np.nanstd(r, ddof=1)
        ptp = np.nanstd(np.diff(r), ddof=1) / np.sqrt(2)
        e = E / F
        err = np.nanmedian(e)
        sd_sc = sig * np.sqrt(1 / nf + 1 / no)
        sd_rep = np.sqrt(np.nanmean(e[full] ** 2) / nf + np.nanmean(e[out] ** 2) / no)
    return dict(depth=d, depth_true=dt, bias=d - dt, scatter=sig, ptp=ptp, err=err, cal=sig / err,
                sd_scatter=sd_sc, sd_rep=sd_rep)


def ideal_noise(truth, wavelength, width=8):
    """Relative photon + read noise of ideal optimal and box extraction (white, and per bin)."""
    a = truth.attrs
    q = a["gain"] * a["integration_time"]
    rn2 = float(a["readnoise"]) ** 2 if not isinstance(a["readnoise"], str) else 0.26 ** 2
    out = truth["transit_shape"].values <= 1e-9
    f0 = truth["flux"].values[out].mean(axis=0)  # all columns
    cols = np.arange(36 - width, 36 + width + 1)
    z = (np.stack([cols - 0.5, cols + 0.5]) - a["trace_center"]) / (np.sqrt(2) * a["psf_sigma"])
    p = 0.5 * (erf(z[1]) - erf(z[0]))  # fraction of the row's flux in each column
    bkg = truth["background"].values[:, cols]
    var = (f0[:, None] * p[None, :] + bkg) / q + rn2
    pn = p / p.sum()
    f_ap = f0 * p.sum()
    var_opt = 1.0 / (pn[None, :] ** 2 / var).sum(axis=1)
    box = np.arange(36 - 4, 36 + 5) - (36 - width)
    var_box = var[:, box].sum(axis=1)
    f_box = f0 * p[box].sum()
    bins, white = row_sets(wavelength)

    def rel(v, f, rows):
        return np.sqrt(v[rows].sum()) / f[rows].sum()

    return dict(opt=rel(var_opt, f_ap, white), box=rel(var_box, f_box, white),
                opt_bins=np.array([rel(var_opt, f_ap, b) for b in bins]),
                box_bins=np.array([rel(var_box, f_box, b) for b in bins]))


def flux_bias(spec, truth, width):
    """Extracted flux / true aperture flux - 1: white, and the worst of the 7 bins."""
    a = truth.attrs
    frac = aperture_fraction(truth["x_shift"].values, width, a["trace_center"], a["psf_sigma"])
    true = truth["flux"].values * relative_2d(truth) * frac[:, None]
    f = spec["flux"].values
    bins, white = row_sets(spec["wavelength"].values)
    wb = np.nanmean(f[:, white].sum(1)) / true[:, white].sum(1).mean() - 1
    bb = np.array([np.nanmean(f[:, b].sum(1)) / true[:, b].sum(1).mean() - 1 for b in bins])
    return wb, bb


def evaluate(spec, aligned, truth, c):
    """All metrics of one reduced simulation."""
    lc = aligned.lrs.light_curves(wavelength_bins=EDGES, wavelength_range=WHITE)
    m_white, m_bins = truth_models(truth, aligned["wavelength"].values)
    shape = truth["transit_shape"].values
    white = lc_metrics(lc["white_flux"].values, lc["white_flux_error"].values, m_white, shape)
    bins = [lc_metrics(lc["flux"].values[:, k], lc["flux_error"].values[:, k], m_bins[:, k], shape)
            for k in range(m_bins.shape[1])]
    fb_white, fb_bins = flux_bias(spec, truth, c["width"])
    chi2 = np.mean([(b["bias"] / b["sd_scatter"]) ** 2 for b in bins])
    return dict(white=white, bins=bins, chi2=chi2, flux_bias=fb_white, flux_bias_bins=fb_bins,
                bin_cal=np.array([b["cal"] for b in bins]), bin_scatter=np.array([b["scatter"] for b in bins]),
                bin_bias=np.array([b["bias"] for b in bins]))


# ---------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------
def ms(values, scale=1.0, digits=2, sign=False):
    """'mean +- sem' of a list of numbers times scale."""
    v = np.asarray(values, dtype=float) * scale
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "nan"
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    if v.size == 1:
        return fmt.format(v[0])
    return f"{fmt.format(v.mean())} ± {v.std(ddof=1) / np.sqrt(v.size):.{digits}f}"


def depth_bias(results):
    """'mean ± error' of the white depth − truth (ppm) over seeds.

    The error is the expected one, rms(σ(depth)) / sqrt(n_seeds) with σ(depth)
    from each seed's scatter: with 5 seeds the spread of the depths is itself
    too uncertain (±35 %) to serve as the error bar.
    """
    d = np.array([m["white"]["bias"] for m in results]) * 1e6
    s = np.array([m["white"]["sd_scatter"] for m in results]) * 1e6
    if d.size == 1:
        return f"{d[0]:+.0f}"
    return f"{d.mean():+.0f} ± {np.sqrt(np.mean(s ** 2) / d.size):.0f}"


def rng(values, digits=2):
    v = np.asarray(values, dtype=float)
    return f"{np.nanmin(v):.{digits}f}–{np.nanmax(v):.{digits}f}"


class Table:
    def __init__(self, key, title, header, notes=""):
        self.key, self.title, self.header, self.notes, self.rows = key, title, header, notes, []

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])
        log("   ", " | ".join(self.rows[-1]))

    def markdown(self):
        lines = [f"### {self.title}", ""]
        if self.notes:
            lines += [self.notes, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "|".join("---" for _ in self.header) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def rst(self):
        title = self.title
        lines = [title, "^" * len(title), ""]
        if self.notes:
            lines += [self.notes.replace("`", "``").replace("````", "``"), ""]
        lines += [".. list-table::", "   :header-rows: 1", ""]
        for row in [self.header] + self.rows:
            lines.append("   * - " + row[0].replace("|", "\\|"))
            lines += ["     - " + (cell.replace("|", "\\|") or "..") for cell in row[1:]]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# simulations
# ---------------------------------------------------------------------------
def sim(n, seed, chunk, **kw):
    ds, truth = xsim.simulate(n, seed=seed, chunks=chunk, **kw)
    return ds.persist(), truth.compute()


def run_configs(configs, sims_factory, seeds, keep_replaced=False):
    """{label: [metrics per seed]} for every chain, one simulation per seed shared by all chains."""
    results = {c["label"]: [] for c in configs}
    for seed in seeds:
        ds, truth = sims_factory(seed)
        for c in configs:
            spec, aligned, replaced, q = reduce(ds, c, q_true=truth.attrs["gain"] * truth.attrs["integration_time"],
                                                truth=truth)
            m = evaluate(spec, aligned, truth, c)
            m["q"] = q
            m["ideal"] = ideal_noise(truth, spec["wavelength"].values)
            m["replaced_per_int"] = replaced[:, :, 36 - c["width"] - REGION[0]: 36 + c["width"] + 1 - REGION[0]][
                :, row_sets(spec["wavelength"].values)[1]].sum() / replaced.shape[0]
            if keep_replaced:
                m["replaced"] = replaced
                m["wavelength"] = spec["wavelength"].values
                m["truth"] = truth
            results[c["label"]].append(m)
        del ds
    return results


def sec_chain(args):
    n, seeds, chunk = args.n, args.seeds, args.chunk
    configs = [
        EXOTIC_README,
        chain("ExoTiC-MIRI optimal 8+8: clean>sub, Q=1, per-int P", order="clean_first", q=None,
              median_p=False, width=8),
        chain("clean>sub, optimal Q=auto, median P", order="clean_first", q="auto"),
        chain("sub>clean, optimal Q=1, per-int P", q=None, median_p=False),
        chain("sub>clean, optimal Q=1, median P", q=None),
        chain("sub>clean, optimal Q=auto, per-int P", q="auto", median_p=False),
        chain("sub>clean, optimal Q=auto, median P", q="auto"),
        chain("sub>clean, optimal Q=true, median P", q="true"),
        chain(f"sub>clean, optimal Q=gain {GAIN_GUESS} x EFFINTTM, median P", q=GAIN_GUESS * 47.712),
        chain("sub>clean, optimal Q=auto, median P, 8+8", q="auto", width=8),
        CLI_DEFAULT,
        chain("sub>clean, box", method="box"),
        rec("RECOMMENDED (optimal)"),
        rec("RECOMMENDED, box", method="box"),
    ]
    flat = dict(background_gradient=(0.0, 0.0))  # flat sky as in the MIRISim file; gradients: see background
    log(f"[chain] grey 1% transit, {n} integrations, seeds {seeds}")
    grey = run_configs(configs, lambda s: sim(n, s, chunk, transit_depth=0.01, **flat), seeds)
    log(f"[chain] depth spectrum, {n} integrations, seeds {seeds}")
    spec = run_configs(configs, lambda s: sim(n, s, chunk, depth_spectrum=depth_spectrum, **flat), seeds)
    log("[chain] noiseless (no hits, no jitter), seed 1")
    nl = run_configs([dict(c, threshold=1e3) for c in configs], lambda s: sim(
        n, s, chunk, transit_depth=0.01, noise=False, n_cosmic_rays=0, jitter_x=0, jitter_y=0, **flat), [1])
    ideal = grey[configs[0]["label"]][0]["ideal"]

    t1 = Table("chain", "Order, variance model, profile, box or optimal (simulations)",
               ["chain", "white depth − truth (ppm)", "σ(depth) from scatter (ppm)", "white scatter (ppm)",
                "scatter / ideal", "scatter / reported error", "bin error calibration (min–max)",
                "bin-depth χ²/dof", "flux bias (%)"],
               notes=(f"{n} integrations, seeds {list(seeds)}; default scene (hits 5/int, 6 hot pixels, jitter "
                      f"0.05 px) with a flat sky of 17.8 DN/s (as in the MIRISim file; gradients: see the "
                      f"background table); depth, scatter and calibration from a grey 1% transit, bin χ² from "
                      f"the depth spectrum 1% ± 0.2%. Ideal white scatter (photon + read noise, true profile): "
                      f"optimal {ideal['opt'] * 1e6:.0f} ppm, box (9 columns) {ideal['box'] * 1e6:.0f} ppm. "
                      f"'>' is the order of the steps; Q=true is {TRUE_Q:.2f}, Q=auto is estimated from "
                      f"var_poisson. RECOMMENDED = {describe(RECOMMENDED)}."))
    for c in configs:
        g, s = grey[c["label"]], spec[c["label"]]
        t1.add(c["label"], depth_bias(g),
               ms([m["white"]["sd_scatter"] for m in g], 1e6, 0),
               ms([m["white"]["scatter"] for m in g], 1e6, 0),
               ms([m["white"]["scatter"] / m["ideal"]["opt"] for m in g], 1, 3),
               ms([m["white"]["cal"] for m in g], 1, 2),
               rng(np.mean([m["bin_cal"] for m in g], axis=0)),
               ms([m["chi2"] for m in s], 1, 2),
               ms([m["flux_bias"] for m in g], 100, 3, True))
    t2 = Table("chain_noiseless", "Biases without noise, hits or jitter (flat sky, 1% grey transit)",
               ["chain", "flux bias, white (%)", "flux bias, worst bin (%)", "white depth − truth (ppm)",
                "worst bin depth − truth (ppm)"],
               notes=("noise=False, n_cosmic_rays=0, jitter 0, outlier_threshold=1e3 (nothing but the hot pixels "
                      "to replace); flux against the true flux inside the aperture."))
    for c in configs:
        z = nl[c["label"]][0]
        wb = z["flux_bias_bins"][np.argmax(np.abs(z["flux_bias_bins"]))]
        bb = z["bin_bias"][np.argmax(np.abs(z["bin_bias"]))]
        t2.add(c["label"], f"{z['flux_bias'] * 100:+.3f}", f"{wb * 100:+.3f}", f"{z['white']['bias'] * 1e6:+.1f}",
               f"{bb * 1e6:+.1f}")
    t3 = Table("chain_scatter", "Per-bin scatter relative to the ideal (grey transit)",
               ["chain"] + [f"{a:.0f}–{b:.0f} µm" for a, b in zip(EDGES[:-1], EDGES[1:])],
               notes="measured scatter / ideal optimal-extraction scatter of each bin, mean over seeds")
    for c in configs:
        sc = np.mean([m["bin_scatter"] / m["ideal"]["opt_bins"] for m in grey[c["label"]]], axis=0)
        t3.add(c["label"], *[f"{v:.3f}" for v in sc])
    return [t1, t2, t3]


def sec_q(args):
    seeds = args.seeds
    t = Table("q", "Horne's Q from the file: median data / var_poisson of bright pixels (simulations)",
              ["scene", "true Q", "Q estimate, top 1 % of pixels", "Q estimate, data > 20 σ_read",
               "estimate (> 20 σ_read) / true"],
              notes=f"50 integrations per seed, seeds {list(seeds)}")
    scenes = [("default (peak pixel ~120 DN/s)", {}), ("faint star (stellar_flux=100)", dict(stellar_flux=100.0)),
              ("bright star (stellar_flux=4000)", dict(stellar_flux=4000.0)), ("gain 2.0", dict(gain=2.0)),
              ("integration_time 10 s", dict(integration_time=10.0)), ("30 hits / integration", dict(n_cosmic_rays=30))]
    for name, kw in scenes:
        est1, est2, qt = [], [], None
        for s in seeds:
            ds, truth = sim(50, s, 50, **kw)
            qt = truth.attrs["gain"] * truth.attrs["integration_time"]
            est1.append(estimate_q(ds, rule="top1"))
            est2.append(estimate_q(ds, rule="snr"))
        t.add(name, f"{qt:.3f}", ms(est1, 1, 3), ms(est2, 1, 3), ms(np.array(est2) / qt, 1, 4))

    # sensitivity of the optimal chain to a wrong Q
    t2 = Table("q_sens", "Optimal extraction with a wrong Q (recommended chain otherwise; simulations)",
               ["Q / true Q", "white scatter (ppm)", "scatter / reported error", "white depth − truth (ppm)"],
               notes=f"{args.n} integrations, seeds {list(seeds)}")
    factors = [0.25, 0.5, 1.0, 2.0, 4.0]
    configs = [rec(f"{f:g}", q=f * TRUE_Q) for f in factors] + [rec("Q=1, S=0 (ExoTiC-MIRI)", q=None)]
    res = run_configs(configs, lambda s: sim(args.n, s, args.chunk), seeds)
    for c in configs:
        r = res[c["label"]]
        t2.add(c["label"], ms([m["white"]["scatter"] for m in r], 1e6, 0), ms([m["white"]["cal"] for m in r], 1, 3),
               depth_bias(r))

    # where does the excess of the scatter over the reported error come from?
    t4 = Table("q_budget", "Error budget: scatter / reported error of the recommended optimal chain",
               ["sky subtracted", "jitter 0, no hits: white scatter / ideal", "jitter 0, no hits: scatter / error",
                "default scene: white scatter / ideal", "default scene: scatter / error"],
               notes=(f"{args.n} integrations, seeds {list(seeds)}. 'true sky' subtracts the simulation's noiseless "
                      "background: what remains is photon and read noise, which flux_error describes. The estimate of "
                      "the sky from 25 columns per row adds noise, the same in every aperture column, that "
                      "flux_error leaves out; jitter adds more."))
    configs = [rec("true sky (noiseless)", bkg="truth"), rec("col_wise", bkg="col_wise"),
               rec("row_wise", bkg="row_wise"), rec("constant", bkg="constant")]
    quiet = run_configs(configs, lambda s: sim(args.n, s, args.chunk, jitter_x=0, jitter_y=0, n_cosmic_rays=0), seeds)
    default = run_configs(configs, lambda s: sim(args.n, s, args.chunk), seeds)
    for c in configs:
        a, b = quiet[c["label"]], default[c["label"]]
        t4.add(c["label"], ms([m["white"]["scatter"] / m["ideal"]["opt"] for m in a], 1, 3),
               ms([m["white"]["cal"] for m in a], 1, 3),
               ms([m["white"]["scatter"] / m["ideal"]["opt"] for m in b], 1, 3),
               ms([m["white"]["cal"] for m in b], 1, 3))

    # does ERR describe the scatter between integrations?  (the shared file has 4)
    t3 = Table("q_file", "Does ERR match the integration-to-integration scatter of pixels?",
               ["data", "Q from data/var_poisson", "⟨s² / (D/Q + var_rnoise)⟩, bright pixels",
                "same with Q = 3.1 e-/DN × EFFINTTM", "Q that matches the scatter (bright / sky pixels)"],
               notes=("s² is the variance of each pixel over 4 integrations (unbiased), averaged over pixels "
                      "with mean > 30 DN/s and var_rnoise < 1 (bright), or 10-25 DN/s (sky); 1 means ERR is right."))
    for name, ds in [("MIRISim NGTS-10 segment (4 ints)", xmiri.open_rateints(RATEINTS)),
                     ("simulation, 4 ints, seed 1 (no jitter, transit or hits)",
                      sim(4, 1, 4, jitter_x=0, jitter_y=0, transit_depth=0, n_cosmic_rays=0)[0])]:
        d, vr = dask.compute(ds["data"].values, ds["var_rnoise"].values)
        q = estimate_q(ds)
        mean, s2, vrm = d.mean(0), d.var(0, ddof=1), vr.mean(0)
        bright = (mean > 30) & (vrm < 1)
        sky = (mean > 10) & (mean < 25) & (vrm < 1)
        r1 = np.mean(s2[bright] / (mean[bright] / q + vrm[bright]))
        r2 = np.mean(s2[bright] / (mean[bright] / (GAIN_GUESS * 47.712) + vrm[bright]))
        qb = mean[bright].mean() / (s2[bright] - vrm[bright]).mean()
        qs = mean[sky].mean() / (s2[sky] - vrm[sky]).mean()
        t3.add(name, f"{q:.2f}", f"{r1:.3f}", f"{r2:.3f}", f"{qb:.0f} / {qs:.0f}")
    return [t, t2, t4, t3]


def with_real_map(ds, static_dq, vr_map):
    """The shared file's static DQ flags and its var_rnoise where it is huge (> 1), on a simulation.

    The data stay those of the simulation: the pixels carry flags and a wild
    ERR, but their values are fine, as in the MIRISim file.
    """
    huge = vr_map > 1
    vr = ds["var_rnoise"].where(~huge, vr_map.astype(np.float32))
    err = np.sqrt(ds["var_poisson"] + vr).astype(np.float32)
    return ds.assign(dq=ds["dq"] | static_dq.astype(np.uint32), var_rnoise=vr.astype(np.float32), err=err)


def load_shared():
    ds = xmiri.open_rateints(RATEINTS).compute()
    static = ds["dq"].values[0] & ~np.uint32(xdq.FLAGS["JUMP_DET"])
    return ds, xr.DataArray(static, dims=("row", "col")), xr.DataArray(ds["var_rnoise"].values[0], dims=("row", "col"))


DQ_OPTIONS = [
    ("[0, 11] (current default)", dict(bits=[0, 11], err_rule=None, err_repair=False)),
    ("[0, 11] + UNRELIABLE_*", dict(bits=[0, 11] + UNRELIABLE, err_rule=None, err_repair=False)),
    ("[0, 11] + UNRELIABLE_* + ERR repair", dict(bits=[0, 11] + UNRELIABLE, err_rule=None, err_repair=True)),
    ("[0, 11] + ERR rule (5 × row median) + repair", dict(bits=[0, 11], err_rule=("row", 5.0), err_repair=True)),
    ("[0, 11] + ERR rule (5 × own noise) + repair", dict(bits=[0, 11], err_rule=("model", 5.0), err_repair=True)),
    ("[0, 11] + UNRELIABLE_* + ERR rule (5 × own noise) + repair",
     dict(bits=[0, 11] + UNRELIABLE, err_rule=("model", 5.0), err_repair=True)),
]


def sec_dq(args):
    shared, static, vr_map = load_shared()
    configs = []
    for method in ("box", "optimal"):
        for name, kw in DQ_OPTIONS:
            configs.append(rec(f"{method}: {name}", method=method, **kw))
    log(f"[dq] simulations with the shared file's DQ and var_rnoise maps, seeds {args.seeds}")
    res = run_configs(configs, lambda s: (lambda d, t: (with_real_map(d, static, vr_map).persist(), t))(
        *sim(args.n, s, args.chunk)), args.seeds)
    t = Table("dq_sim", "DQ bits, ERR rule and ERR repair on simulations carrying the shared file's DQ/ERR maps",
              ["chain", "replaced pixels / int in aperture", "white scatter (ppm)", "white scatter / reported error",
               "bin error calibration (min–max)", "white depth − truth (ppm)"],
              notes=("The MIRISim segment's static DQ flags (all but JUMP_DET) and its var_rnoise where it exceeds 1 "
                     "(ERR up to 52.8 DN/s) are put on simulated frames whose values are fine. Rest of the chain "
                     f"as recommended. {args.n} integrations, seeds {list(args.seeds)}."))
    for c in configs:
        r = res[c["label"]]
        t.add(c["label"], ms([m["replaced_per_int"] for m in r], 1, 2), ms([m["white"]["scatter"] for m in r], 1e6, 0),
              ms([m["white"]["cal"] for m in r], 1, 2), rng(np.mean([m["bin_cal"] for m in r], axis=0)),
              depth_bias(r))
    # false positives of the two ERR rules on plain simulations, default and bright star
    t2 = Table("dq_false", "Pixels flagged by the ERR rules on simulations without bad ERR (false positives)",
               ["scene", "rule: 5 × row median ERR (17 central columns)", "rule: 5 × own noise"],
               notes=("flagged pixels per integration in the 9 central columns, 5-12 µm rows, hot pixels (HOT) "
                      "excluded"))
    for name, kw in [("default", {}), ("bright star (stellar_flux=4000)", dict(stellar_flux=4000.0)),
                     ("very bright star (stellar_flux=20000)", dict(stellar_flux=20000.0))]:
        ds, truth = sim(50, 1, 50, **kw)
        q = estimate_q(ds)
        wl = ds["wavelength"].values[:, 36]
        rows = np.isfinite(wl) & (wl >= 5) & (wl <= 12)
        counts = []
        for rule in (("row", 5.0), ("model", 5.0)):
            dq = flag_err(ds, rule, q)["dq"].values
            flagged = ((dq & (1 << BIT_ERR_RULE)) > 0) & ((dq & xdq.FLAGS["HOT"]) == 0)
            counts.append(flagged[:, rows][:, :, 32:41].sum() / dq.shape[0])
        t2.add(name, f"{counts[0]:.2f}", f"{counts[1]:.2f}")
    return [t, t2]


def sec_robust(args):
    configs = []
    for method in ("optimal", "box"):
        for robust in (False, True):
            configs.append(rec(f"{method}, robust={robust}", method=method, robust=robust))
    tables = []
    t = Table("robust", "clean(robust=...) against cosmic-ray hits (simulations)",
              ["hits / int", "chain", "hits recovered in aperture (%)", "false replacements / int in aperture",
               "white scatter (ppm)", "scatter / reported error", "white depth − truth (ppm)"],
              notes=(f"hits of SNR 10-100 (log-uniform); aperture = 9 central columns, 5-12 µm rows; "
                     f"{args.n} integrations, seeds {list(args.seeds)}; rest of the chain as recommended."))
    for n_hits in (5, 30):
        res = run_configs(configs, lambda s: sim(args.n, s, args.chunk, n_cosmic_rays=n_hits), args.seeds,
                          keep_replaced=True)
        for c in configs:
            rec_frac, false = [], []
            for m in res[c["label"]]:
                truth, rep = m["truth"], m["replaced"]
                _, white = row_sets(m["wavelength"])
                i = truth["hit_integration"].values - int(truth["integration"].values[0])
                r, col = truth["hit_row"].values, truth["hit_col"].values
                inside = (col >= 32) & (col <= 40) & white[r]
                rec_frac.append(rep[i[inside], r[inside], col[inside] - REGION[0]].mean())
                mask = np.zeros_like(rep)  # hits and hot pixels inside REGION
                keep = (col >= REGION[0]) & (col < REGION[1])
                mask[i[keep], r[keep], col[keep] - REGION[0]] = True
                hot_r, hot_c = truth["hot_row"].values, truth["hot_col"].values
                keep = (hot_c >= REGION[0]) & (hot_c < REGION[1])
                mask[:, hot_r[keep], hot_c[keep] - REGION[0]] = True
                region = np.zeros(rep.shape[1:], bool)
                region[white, 32 - REGION[0]:41 - REGION[0]] = True
                false.append((rep & ~mask & region[None]).sum() / rep.shape[0])
            r = res[c["label"]]
            t.add(n_hits, c["label"], ms(rec_frac, 100, 1), ms(false, 1, 2),
                  ms([m["white"]["scatter"] for m in r], 1e6, 0),
                  ms([m["white"]["cal"] for m in r], 1, 2), depth_bias(r))
    tables.append(t)
    return tables


def sec_background(args):
    configs = []
    for method in ("optimal", "box"):
        for bkg, smooth in (("row_wise", None), ("col_wise", None), ("constant", None), ("row_wise", 11),
                            ("col_wise", 11)):
            if method == "box" and smooth:
                continue
            lab = f"{method}, {bkg}" + (f", smoothing_length={smooth}" if smooth else "")
            configs.append(rec(lab, method=method, bkg=bkg, smoothing=smooth))
    t = Table("background", "Background method with a sky gradient (simulations)",
              ["sky gradient (row, col) DN/s/px", "chain", "white scatter (ppm)", "scatter / reported error",
               "white depth − truth (ppm)", "noiseless flux bias white (%)", "noiseless white depth − truth (ppm)"],
              notes=(f"{args.n} integrations, seeds {list(args.seeds)}; noiseless: noise=False, no hits, no jitter, "
                     "outlier_threshold=1e3; rest of the chain as recommended. The MIRISim file's sky is flat "
                     "(left-right difference 1.5e-5 DN/s per column)."))
    for grad in ((1e-3, 5e-3), (1e-3, 3e-2)):
        res = run_configs(configs, lambda s: sim(args.n, s, args.chunk, background_gradient=grad), args.seeds)
        nl = run_configs([dict(c, threshold=1e3) for c in configs], lambda s: sim(
            args.n, s, args.chunk, background_gradient=grad, noise=False, n_cosmic_rays=0, jitter_x=0, jitter_y=0), [1])
        for c in configs:
            r, z = res[c["label"]], nl[c["label"]][0]
            t.add(str(grad), c["label"], ms([m["white"]["scatter"] for m in r], 1e6, 0),
                  ms([m["white"]["cal"] for m in r], 1, 2), depth_bias(r),
                  f"{z['flux_bias'] * 100:+.3f}", f"{z['white']['bias'] * 1e6:+.1f}")
    return [t]


def sec_align(args):
    configs = [rec("optimal, median P, align_spectra=True"), rec("optimal, median P, align_spectra=False", align=False),
               rec("optimal, per-int P, align_spectra=True", median_p=False),
               rec("box, align_spectra=True", method="box"), rec("box, align_spectra=False", method="box", align=False)]
    t = Table("align", "align_spectra, and the median profile, against pointing jitter (simulations)",
              ["jitter x and y (px rms)", "chain", "white scatter (ppm)", "white scatter / ideal",
               "mean bin scatter / ideal", "5–6 µm bin scatter / ideal", "scatter / reported error (white)",
               "white depth − truth (ppm)"],
              notes=(f"{args.n} integrations, seeds {list(args.seeds)}, grey 1% transit; rest of the chain as "
                     "recommended. The median profile P is fixed while the trace moves across the columns."))
    for jit in (0.02, 0.05, 0.1, 0.2):
        res = run_configs(configs, lambda s: sim(args.n, s, args.chunk, jitter_x=jit, jitter_y=jit), args.seeds)
        for c in configs:
            r = res[c["label"]]
            bs = np.mean([m["bin_scatter"] / m["ideal"]["opt_bins"] for m in r], axis=0)
            t.add(jit, c["label"], ms([m["white"]["scatter"] for m in r], 1e6, 0),
                  ms([m["white"]["scatter"] / m["ideal"]["opt"] for m in r], 1, 3), f"{bs.mean():.3f}",
                  f"{bs[0]:.3f}", ms([m["white"]["cal"] for m in r], 1, 2),
                  depth_bias(r))
    return [t]


def sec_demo(args):
    seeds = list(range(1, args.demo_seeds + 1))
    configs = [CLI_DEFAULT, rec("recommended (optimal)"), rec("recommended, box", method="box")]
    res = run_configs(configs, lambda s: sim(120, s, 30, transit_depth=0.01), seeds)
    t = Table("demo", "The demo (120 integrations, 1% grey transit): depth and its error, seeds 1-5",
              ["chain", "seed", "depth (%)", "σ from reported errors (%)", "σ from out-of-transit scatter (%)"])
    t2 = Table("demo_summary", f"The demo over seeds 1-{len(seeds)}: which error describes the spread of depths?",
               ["chain", "mean depth − 1% (ppm)", "std of depths over seeds (ppm)",
                "mean σ from reported errors (ppm)",
                "mean σ from scatter (ppm)", "rms pull, reported σ", "rms pull, scatter σ"])
    for c in configs:
        r = res[c["label"]]
        for s, m in zip(seeds[:5], r[:5]):
            w = m["white"]
            t.add(c["label"], s, f"{w['depth'] * 100:.4f}", f"{w['sd_rep'] * 100:.4f}", f"{w['sd_scatter'] * 100:.4f}")
        d = np.array([m["white"]["depth"] for m in r])
        sr = np.array([m["white"]["sd_rep"] for m in r])
        ss = np.array([m["white"]["sd_scatter"] for m in r])
        t2.add(c["label"], ms(d - 0.01, 1e6, 0, True), f"{np.std(d, ddof=1) * 1e6:.0f}", f"{sr.mean() * 1e6:.0f}",
               f"{ss.mean() * 1e6:.0f}", f"{np.sqrt(np.mean(((d - 0.01) / sr) ** 2)):.2f}",
               f"{np.sqrt(np.mean(((d - 0.01) / ss) ** 2)):.2f}")
    return [t, t2]


def sec_shared(args):
    ds = xmiri.open_rateints(RATEINTS)
    q = estimate_q(ds)
    wl = ds["wavelength"].values[:, 36]
    t = Table("shared_chain", "The shared MIRISim segment (4 integrations): pedestal in P and white-light errors",
              ["chain", "flux / box flux of the same width, 5–12 µm (median over rows)", "white flux (DN/s)",
               "white flux_error (DN/s)",
               "white error / white flux (ppm)", "std of the 4 white fluxes (ppm)"],
              notes=(f"Q=auto is {q:.2f} (median data/var_poisson of unflagged pixels above 20 σ_read). "
                     "The last column "
                     "(3 degrees of freedom) is the only scatter this file offers; no align."))
    box = {}
    for order in ("clean_first", "subtract_first"):
        for width in (4, 8):
            box[order, width], _, _, _ = reduce(ds, chain("box", order=order, method="box", align=False, q=None,
                                                           width=width))
    for c in [EXOTIC_README,
              chain("ExoTiC-MIRI optimal 8+8: clean>sub, Q=1, per-int P", order="clean_first", q=None,
                    median_p=False, width=8),
              chain("clean>sub, optimal Q=auto, median P", order="clean_first"),
              chain("sub>clean, optimal Q=1, per-int P", q=None, median_p=False),
              chain("sub>clean, optimal Q=auto, median P", q="auto"),
              chain("sub>clean, optimal Q=auto, median P, 8+8", q="auto", width=8),
              rec("RECOMMENDED (optimal)"),
              CLI_DEFAULT, chain("sub>clean, box", method="box"), rec("RECOMMENDED, box", method="box")]:
        spec, _, _, _ = reduce(ds, dict(c, align=False))
        _, white = row_sets(spec["wavelength"].values)
        ratio = np.median((spec["flux"].values / box[c["order"], c["width"]]["flux"].values)[:, white])
        wf = spec["flux"].values[:, white].sum(1)
        we = np.sqrt((spec["flux_error"].values[:, white] ** 2).sum(1))
        t.add(c["label"], f"{ratio:.4f}", f"{wf.mean():.0f}", f"{we.mean():.1f}", f"{(we / wf).mean() * 1e6:.0f}",
              f"{np.std(wf, ddof=1) / wf.mean() * 1e6:.0f}")

    # clean(robust=True) on a real-format trace
    t4 = Table("shared_robust", "clean(robust=...) on the shared segment",
               ["chain", "pixels replaced / int in the 9 central columns, 5–12 µm",
                "white flux (DN/s), 4 integrations",
                "std of the 4 white fluxes (ppm)"],
               notes="recommended chain without align, only robust changed")
    for method in ("optimal", "box"):
        for robust in (False, True):
            c = rec(f"{method}, robust={robust}", method=method, robust=robust, align=False)
            spec, _, rep, _ = reduce(ds, c)
            _, white = row_sets(spec["wavelength"].values)
            wf = spec["flux"].values[:, white].sum(1)
            t4.add(c["label"], f"{rep[:, white][:, :, 32 - REGION[0]:41 - REGION[0]].sum() / rep.shape[0]:.2f}",
                   " ".join(f"{v:.0f}" for v in wf), f"{np.std(wf, ddof=1) / wf.mean() * 1e6:.0f}")

    # which pixels have a wild ERR, and their flags
    d = ds.compute()
    err, dq, vr = d["err"].values[0], d["dq"].values[0], d["var_rnoise"].values[0]
    ap = err[:, 28:45]
    hi = np.argwhere(ap > 5 * np.median(ap, axis=1, keepdims=True))
    t2 = Table("shared_pixels",
               "Pixels of the 17 central columns whose ERR exceeds 5 × the row median (integration 1)",
               ["row", "col", "wavelength (µm)", "ERR (DN/s)", "var_rnoise", "data (DN/s)", "DQ flags"])
    for r, c in hi:
        c = c + 28
        names = ", ".join(xdq.flag_names(int(dq[r, c]))) or "none"
        t2.add(r, c, f"{wl[r]:.2f}" if np.isfinite(wl[r]) else "—", f"{err[r, c]:.1f}", f"{vr[r, c]:.0f}",
               f"{d['data'].values[0, r, c]:.1f}", names)
    total = (vr > 100).sum()
    flagged = ((vr > 100) & ((dq & xdq.dq_mask(UNRELIABLE)) > 0)).sum()
    t2.notes = (f"In the whole frame {total} pixels have var_rnoise > 100 (ERR > 10 DN/s); {flagged} of them carry an "
                f"UNRELIABLE_* flag. The UNRELIABLE_* bits flag {((dq & xdq.dq_mask(UNRELIABLE)) > 0).sum()} pixels.")

    # bin errors per DQ option
    t3 = Table("shared_bins",
               "Light-curve bin errors on the shared segment per DQ option (DN/s, mean of 4 integrations)",
               ["chain"] + [f"{a:.0f}–{b:.0f} µm" for a, b in zip(EDGES[:-1], EDGES[1:])] + ["white"],
               notes=(f"Recommended chain with only the DQ handling changed: {describe(RECOMMENDED)}; "
                      "7 bins as in the demo."))
    for method in ("box", "optimal"):
        for name, kw in DQ_OPTIONS:
            _, aligned, _, _ = reduce(ds, rec(f"{method}: {name}", method=method, **kw))
            lc = aligned.lrs.light_curves(wavelength_bins=EDGES, wavelength_range=WHITE)
            e = lc["flux_error"].values.mean(0)
            t3.add(f"{method}: {name}", *[f"{v:.1f}" for v in e], f"{lc['white_flux_error'].values.mean():.1f}")
    return [t, t4, t2, t3]


SECTIONS = dict(chain=sec_chain, q=sec_q, dq=sec_dq, robust=sec_robust, background=sec_background,
                align=sec_align, demo=sec_demo, shared=sec_shared)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 integrations, 2 seeds, 6 demo seeds")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    parser.add_argument("--n", type=int, default=300, help="integrations per simulation")
    parser.add_argument("--n-seeds", type=int, default=5)
    parser.add_argument("--demo-seeds", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--write-md", help="write the markdown tables here")
    parser.add_argument("--write-rst", help="write the tables as RST here")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.n_seeds, args.demo_seeds = 100, 2, 6
    args.seeds = list(range(1, args.n_seeds + 1))
    warnings.simplefilter("ignore")
    tables = []
    t0 = time.time()
    for name in args.sections.split(","):
        t = time.time()
        log(f"== {name}")
        tables += SECTIONS[name](args)
        log(f"== {name}: {time.time() - t:.0f} s")
    header = (f"xmiri {xmiri.__version__}, numpy {np.__version__}, dask {dask.__version__}, "
              f"Python {platform.python_version()}, {os.cpu_count()} CPUs; total {time.time() - t0:.0f} s; "
              f"command: python benchmarks/defaults_study.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    md = header + "\n\n" + "\n".join(t.markdown() for t in tables)
    print(md)
    if args.write_md:
        Path(args.write_md).write_text(md)
    if args.write_rst:
        Path(args.write_rst).write_text("\n".join(t.rst() for t in tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
