#!/usr/bin/env python
"""Measurements behind the defaults of ``xmiri.kernels.temporal``.

Reproduces every table of ``benchmarks/TEMPORAL.md``:

A. precision of the moving-MAD scale on white Gaussian noise, and the false
   flags its scatter causes at 5 sigma, for several ``scale_width``;
B. recall of hits injected at known positions into a simulated MIRI LRS
   exposure (1% transit, 0.05 px jitter, independent noise per
   integration), by amplitude in units of each pixel's temporal scatter,
   for every scale choice, with the false-flag fraction and the accuracy of
   the replaced values;
C. false flags on hit-free simulations with and without a 1% transit and
   with 0, 0.05 and 0.1 px of jitter;
D. recall and false flags in the first and last ``h`` integrations (clipped
   windows) against the rest;
E. kernel timing in ms per integration (416 x 72 float32 frames, one core).

Run from the repository root (about 3 minutes on 2 shared cores)::

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python benchmarks/temporal_study.py

``--quick`` uses 200 integrations and fewer timing repeats.  Nothing here
runs in the test suite.
"""
import argparse
import os
import threading
import time

import numpy as np

from xmiri.kernels.background import nanmedian
from xmiri.defaults import TEMPORAL_SCALE_WIDTH
from xmiri.kernels.temporal import MAD_TO_SIGMA, halo_depth
from xmiri.kernels.temporal import temporal_outliers as kernel_outliers
from xmiri.simulate import simulate

WINDOW = 25
THRESHOLD = 5.0
#: The kernel's parameters where a section does not vary them: the step's defaults.
DEFAULTS = dict(window_width=WINDOW, scale_width=TEMPORAL_SCALE_WIDTH, outlier_threshold=THRESHOLD)
BINS = [(6, 7), (7, 8), (8, 10), (10, 15), (15, 30.001)]
#: (label, scale, scale_width) of the scale choices compared
CHOICES = [
    ("mad, scale_width=25", "mad", 25),
    ("mad, scale_width=51", "mad", 51),
    ("mad, scale_width=101", "mad", 101),
    ("mad, scale_width=201", "mad", 201),
    ("mad over the exposure", "exposure", None),
    ("err (jwst)", "err", None),
]
TRACE_HALF_WIDTH = 4  # hits go to columns round(trace_center) +- 4


def table(header, rows):
    """A markdown table as a string."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def temporal_outliers(data, *args, **kwargs):
    """The kernel with :data:`DEFAULTS` for the parameters not given."""
    return kernel_outliers(data, *args, **{**DEFAULTS, **kwargs})


def outliers(data, valid, err, scale, scale_width, window=WINDOW):
    """(median, scatter, flagged) of the whole exposure for one scale choice."""
    if scale == "exposure":  # exact exposure-wide MAD of the residuals: comparison only
        median, _ = temporal_outliers(data, valid, window_width=window, scale="err",
                                      err=np.ones(data.shape, np.float32))
        with np.errstate(invalid="ignore"):
            absolute = np.where(valid, np.abs(data - median), np.nan)
        scatter = MAD_TO_SIGMA * nanmedian(absolute, axis=0)[np.newaxis]
        with np.errstate(invalid="ignore"):
            flagged = valid & (np.abs(data - median) > THRESHOLD * scatter)
        return median, np.broadcast_to(scatter, data.shape), flagged
    median, flagged, scatter = temporal_outliers(
        data, valid, err, window_width=window, scale=scale, scale_width=scale_width or TEMPORAL_SCALE_WIDTH,
        outlier_threshold=THRESHOLD, return_scatter=True)
    return median, scatter, flagged


# --------------------------------------------------------------------------
# A. white noise
# --------------------------------------------------------------------------
def section_white_noise(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, 24, 72)).astype(np.float32)
    valid = np.ones(data.shape, bool)
    rows = []
    for label, scale, width in CHOICES[:-1]:
        median, scatter, flagged = outliers(data, valid, None, scale, width)
        residual = data - median
        s = scatter[..., :] if scale != "exposure" else np.broadcast_to(scatter, data.shape)
        rows.append([label, f"{s.mean():.3f}", f"{s.std() / s.mean():.3f}",
                     f"{residual.std():.3f}", f"{flagged.mean():.1e}"])
    gaussian = 2 * 0.5 * __import__("math").erfc(THRESHOLD / np.sqrt(2))
    text = table(["scale", "mean s / sigma", "relative scatter of s", "std(residual) / sigma",
                  "false-flag fraction"], rows)
    return (f"White Gaussian noise (sigma = 1), {n} integrations x 24 x 72 pixels, window 25, "
            f"threshold 5 (a perfect sigma would flag {gaussian:.1e}):\n\n" + text)


# --------------------------------------------------------------------------
# simulated MIRI LRS data
# --------------------------------------------------------------------------
def simulated(n, seed, *, transit_depth=0.01, jitter=0.05):
    """Hit-free noisy data, valid mask, err and each pixel's temporal scatter (DN/s)."""
    kwargs = dict(seed=seed, n_cosmic_rays=0, n_hot_pixels=0, transit_depth=transit_depth,
                  jitter_x=jitter, jitter_y=jitter)
    ds, truth = simulate(n, **kwargs)
    noiseless, _ = simulate(n, noise=False, **kwargs)
    model = noiseless.data.values.astype(np.float64)
    err = ds.err.values
    # temporal scatter: photon + read noise (err) and the white jitter term,
    # the latter from the noiseless model's integration-to-integration steps
    jitter_var = 0.5 * np.mean(np.diff(model, axis=0) ** 2, axis=0)
    sigma = np.sqrt(np.mean(err.astype(np.float64) ** 2, axis=0) + jitter_var)
    return ds.data.values, err, sigma, model, truth


def hit_sites(truth, n_cols):
    """Rows with at least 5% of the peak flux, columns on and beside the trace core."""
    flux = truth.flux.values.mean(axis=0)
    rows = np.flatnonzero(flux > 0.05 * flux.max())
    center = int(round(float(truth.attrs["trace_center"])))
    cols = np.arange(max(center - TRACE_HALF_WIDTH, 0), min(center + TRACE_HALF_WIDTH + 1, n_cols))
    return rows, cols


def inject(data, sigma, rows, cols, n_hits, rng, low=6.0, high=30.0):
    """Hits of +-k sigma (k log-uniform in [low, high]) at distinct random samples."""
    n = data.shape[0]
    sites = n * rows.size * cols.size
    flat = rng.choice(sites, size=n_hits, replace=False)
    i, rest = np.divmod(flat, rows.size * cols.size)
    r, c = rows[rest // cols.size], cols[rest % cols.size]
    k = np.exp(rng.uniform(np.log(low), np.log(high), n_hits))
    sign = rng.choice([-1.0, 1.0], n_hits)
    hit = data.copy()
    hit[i, r, c] += (sign * k * sigma[r, c]).astype(data.dtype)
    return hit, (i, r, c, k, sign)


def recall_rows(flagged, hits):
    i, r, c, k, _ = hits
    found = flagged[i, r, c]
    cells = []
    for lo, hi in BINS:
        sel = (k >= lo) & (k < hi)
        cells.append(f"{found[sel].mean():.3f}")
    cells.append(f"{found[k < 10].mean():.3f}")
    cells.append(f"{found[k >= 8].mean():.3f}")
    cells.append(f"{found.mean():.3f}")
    return cells, found


def section_recall(n, seed):
    data, err, sigma, model, truth = simulated(n, seed)
    rows, cols = hit_sites(truth, data.shape[2])
    rng = np.random.default_rng(seed + 1000)
    hit_data, hits = inject(data, sigma, rows, cols, 5 * n, rng)
    i, r, c, k, sign = hits
    valid = np.ones(data.shape, bool)
    is_hit = np.zeros(data.shape, bool)
    is_hit[i, r, c] = True
    recall, accuracy, false = [], [], []
    for label, scale, width in CHOICES:
        median, scatter, flagged = outliers(hit_data, valid, err, scale, width)
        cells, found = recall_rows(flagged, hits)
        recall.append([label] + cells)
        false.append(f"{flagged[~is_hit].mean():.1e}")
        if scale == "mad" and width == 101:
            # replaced values against the hit-free data and the noiseless model
            s = sigma[r, c]
            d_data = (median[i, r, c] - data[i, r, c]) / s
            d_model = (median[i, r, c] - model[i, r, c]) / s
            accuracy = [["median - hit-free data", f"{np.sqrt(np.mean(d_data**2)):.2f}",
                         f"{np.median(np.abs(d_data)):.2f}", f"{np.mean(np.abs(d_data) < 1):.3f}"],
                        ["median - noiseless model", f"{np.sqrt(np.mean(d_model**2)):.2f}",
                         f"{np.median(np.abs(d_model)):.2f}", f"{np.mean(np.abs(d_model) < 1):.3f}"]]
    header = ["scale"] + [f"[{lo}, {hi:.0f})" for lo, hi in BINS] + ["[6, 10)", ">= 8", "all >= 6"]
    for row, f in zip(recall, false):
        row.append(f)
    header.append("false flags (hit-free samples)")
    counts = [int(((k >= lo) & (k < hi)).sum()) for lo, hi in BINS]
    text = (f"{n} integrations, seed {seed}, 1% transit, jitter 0.05 px, {k.size} hits "
            f"(+ and -, log-uniform 6-30 sigma_pix; per bin {counts}) on rows {rows[0]}-{rows[-1]}, "
            f"columns {cols[0]}-{cols[-1]}; window 25, threshold 5. Recall by amplitude "
            "(units of each pixel's temporal scatter):\n\n" + table(header, recall))
    text += ("\n\nReplaced values (default scale) at the hits, in units of sigma_pix "
             f"({k.size} hits):\n\n" + table(["difference", "rms", "median |d|", "fraction |d| < 1"],
                                             accuracy))
    positive = recall_by_sign(hit_data, valid, err, hits)
    text += "\n\nRecall by sign (default scale): " + positive
    return text


def recall_by_sign(hit_data, valid, err, hits):
    _, flagged = temporal_outliers(hit_data, valid, err)
    i, r, c, k, sign = hits
    found = flagged[i, r, c]
    return (f"positive hits {found[sign > 0].mean():.3f} ({(sign > 0).sum()}), "
            f"negative hits {found[sign < 0].mean():.3f} ({(sign < 0).sum()}).")


# --------------------------------------------------------------------------
# C. false flags on hit-free data
# --------------------------------------------------------------------------
def section_false_flags(n, seed):
    rows = []
    for depth in (0.0, 0.01):
        for jitter in (0.0, 0.05, 0.1):
            data, err, sigma, model, truth = simulated(n, seed + 7, transit_depth=depth, jitter=jitter)
            valid = np.ones(data.shape, bool)
            cells = [f"{depth:.0%}", f"{jitter:.2f}"]
            for _label, scale, width in [CHOICES[0], CHOICES[2], CHOICES[3], CHOICES[4], CHOICES[5]]:
                _, _, flagged = outliers(data, valid, err, scale, width)
                cells.append(f"{flagged.mean():.1e}")
            # recall of hits in units of the temporal scatter (which includes the jitter)
            hit_rows, hit_cols = hit_sites(truth, data.shape[2])
            hit_data, hits = inject(data, sigma, hit_rows, hit_cols, 3 * n,
                                    np.random.default_rng(seed + 3000))
            for _label, scale, width in [CHOICES[2], CHOICES[5]]:
                _, _, flagged = outliers(hit_data, valid, err, scale, width)
                cells.append(f"{recall_rows(flagged, hits)[1].mean():.3f}")
            rows.append(cells)
    header = ["transit", "jitter (px)", "false: mad 25", "mad 101", "mad 201", "mad exposure", "err",
              "recall >= 6: mad 101", "err"]
    return (f"False flags: fraction of all {n} x 416 x 72 samples flagged without hits; recall: "
            f"{3 * n} hits of 6-30 sigma_pix (sigma_pix includes the jitter) injected into the "
            "same data; window 25, threshold 5:\n\n" + table(header, rows))


# --------------------------------------------------------------------------
# D. exposure ends
# --------------------------------------------------------------------------
def section_ends(n, seed):
    data, err, sigma, model, truth = simulated(n, seed + 11)
    rows, cols = hit_sites(truth, data.shape[2])
    rng = np.random.default_rng(seed + 2000)
    hit_data, hits = inject(data, sigma, rows, cols, 5 * n, rng)
    i, r, c, k, _ = hits
    h = WINDOW // 2
    valid = np.ones(data.shape, bool)
    _, flagged_free = temporal_outliers(data, valid, err)
    _, flagged = temporal_outliers(hit_data, valid, err)
    found = flagged[i, r, c]
    edge = (i < h) | (i >= n - h)
    ends = np.r_[0:h, n - h : n]
    middle = np.s_[h : n - h]
    table_rows = [
        [f"first and last {h}", f"{found[edge].mean():.3f} ({edge.sum()})",
         f"{found[edge & (k >= 8)].mean():.3f}", f"{flagged_free[ends].mean():.1e}"],
        ["the others", f"{found[~edge].mean():.3f} ({(~edge).sum()})",
         f"{found[~edge & (k >= 8)].mean():.3f}", f"{flagged_free[middle].mean():.1e}"],
    ]
    return ("Default scale; recall of hits (all >= 6 sigma, and >= 8) and false flags of the "
            "hit-free exposure, by position:\n\n"
            + table(["integrations", "recall (hits)", "recall >= 8", "false flags"], table_rows))


# --------------------------------------------------------------------------
# E. timing
# --------------------------------------------------------------------------
def _best(run, repeats):
    """Best wall-clock and CPU (process) time of `repeats` calls, s."""
    wall = cpu = np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def section_timing(repeats, seed, core=500):
    rng = np.random.default_rng(seed)
    rows = []
    configs = [(25, "err", None), (25, "mad", 25), (25, "mad", 51), (25, "mad", 101),
               (25, "mad", 201), (5, "mad", 101), (51, "mad", 201)]
    for window, scale, width in configs:
        depth = halo_depth(window, scale, width or TEMPORAL_SCALE_WIDTH)
        n = core + 2 * depth
        data = (100.0 + rng.standard_normal((n, 416, 72))).astype(np.float32)
        err = np.ones(data.shape, np.float32)
        wall, cpu = _best(lambda: temporal_outliers(data, None, err, window_width=window, scale=scale,
                                                    scale_width=width or TEMPORAL_SCALE_WIDTH,
                                                    halo=(depth, depth)),
                          repeats)
        rows.append([window, scale, width or "-", depth, f"{1e3 * cpu / core:.2f}",
                     f"{1e3 * wall / core:.2f}"])
    # the default with masks, and on the block at the start of an exposure
    depth = halo_depth(WINDOW, "mad", TEMPORAL_SCALE_WIDTH)
    n = core + 2 * depth
    data = (100.0 + rng.standard_normal((n, 416, 72))).astype(np.float32)
    dead = np.broadcast_to(rng.random((416, 72)) < 0.04, data.shape)
    cases = [("default, 4% of the pixels masked throughout", ~dead, (depth, depth)),
             ("default, 0.1% of the samples masked at random", rng.random(data.shape) > 1e-3,
              (depth, depth)),
             ("default, 1% of the samples masked at random", rng.random(data.shape) > 1e-2,
              (depth, depth)),
             ("default, first block of an exposure (halo 0, 62)", None, (0, 2 * depth)),
             ("default, return_scatter=True", None, (depth, depth))]
    for label, valid, halo in cases:
        wall, cpu = _best(lambda: temporal_outliers(data, valid, halo=halo,
                                                    return_scatter="scatter" in label), repeats)
        rows.append([25, label, 101, depth, f"{1e3 * cpu / core:.2f}", f"{1e3 * wall / core:.2f}"])
    # two blocks at once in two threads, as dask's threaded scheduler runs them
    other = data[::-1].copy()
    threads = []
    for label, runs in [("default, 1 thread, 2 blocks one after the other", 1),
                        ("default, 2 threads, 1 block each", 2)]:
        def both():
            if runs == 1:
                temporal_outliers(data, halo=(depth, depth))
                temporal_outliers(other, halo=(depth, depth))
            else:
                pool = [threading.Thread(target=temporal_outliers, args=(block,),
                                         kwargs=dict(halo=(depth, depth))) for block in (data, other)]
                [t.start() for t in pool]
                [t.join() for t in pool]
        wall, cpu = _best(both, repeats)
        threads.append([label, f"{1e3 * wall / (2 * core):.2f}", f"{1e3 * cpu / (2 * core):.2f}"])
    load = os.getloadavg()
    return (f"Kernel time, 416 x 72 float32 frames, blocks of {core} output integrations plus "
            f"halos, best of {repeats}, one thread. CPU = process time (what one core spends), "
            f"wall = elapsed (inflated by the other jobs sharing the machine; load average at "
            f"the end {load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} cores):\n\n"
            + table(["window", "scale", "scale_width", "halo depth", "CPU ms / integration",
                     "wall ms / integration"], rows)
            + "\n\nThroughput of two blocks (scipy's 1-D rank filter holds the GIL, so threads "
            "overlap only the numpy part):\n\n"
            + table(["run", "wall ms / integration", "CPU ms / integration"], threads))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="integrations of the simulations")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 integrations, 1 timing repeat")
    parser.add_argument("--sections", default="ABCDE", help="which sections to run, e.g. AE")
    args = parser.parse_args()
    n = 200 if args.quick else args.n
    repeats = 1 if args.quick else 3
    sections = {
        "A": ("A. Scale precision on white noise", lambda: section_white_noise(4 * n, args.seed)),
        "B": ("B. Recall on simulated MIRI LRS data", lambda: section_recall(n, args.seed)),
        "C": ("C. False flags on hit-free data", lambda: section_false_flags(n, args.seed)),
        "D": ("D. Exposure ends", lambda: section_ends(n, args.seed)),
        "E": ("E. Kernel timing", lambda: section_timing(repeats, args.seed)),
    }
    for key in args.sections:
        title, run = sections[key]
        t0 = time.perf_counter()
        text = run()
        print(f"### {title}\n\n{text}\n\n({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
