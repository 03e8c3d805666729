#!/usr/bin/env python
"""The step ``clean_temporal``: throughput, when to use it, and the figure of its docs page.

Three commands:

``bench``
    Simulates an exposure (``--n`` integrations, 1,000 per rateints
    segment, cached in ``--folder``) and runs, each in a fresh process with
    the default (threaded) scheduler, FITS -> chain -> netCDF for the chains
    of ``CHAINS``.  Reports wall time, integrations per second, CPU time and
    the peak RSS of the child (``VmHWM`` from ``/proc/self/status``, not
    ``ru_maxrss``, which a child inherits from a large parent), with the load
    average of the machine before and after.
``study``
    Compares the spatial ``clean`` with ``clean_temporal`` and their chains
    on a simulated exposure with known hits: recall by amplitude and place,
    false replacements, accuracy of the replaced values and the hits left in
    the box spectra.
``figure PATH``
    Draws one pixel's time series with its moving median, the threshold and
    the flagged samples (the PNG of ``docs/clean_temporal.rst``).

Usage (from the repository root)::

    PYTHONPATH=$PWD nice -n 10 python benchmarks/temporal_step.py bench --n 4000
    PYTHONPATH=$PWD nice -n 10 python benchmarks/temporal_step.py study
    PYTHONPATH=$PWD python benchmarks/temporal_step.py figure docs/_static/clean_temporal_pixel.png

Nothing here runs in the test suite.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHAINS = {
    # the chain: temporal outliers first, replaced by clean's spatial fits
    "temporal": [("clean_temporal", {}), ("clean", {"dq_bits_to_mask": [0, 4, 11]}),
                 ("subtract", {}), ("extract", {"method": "box"})],
    # the same without clean_temporal (what xmiri reduce runs by default)
    "spatial": [("clean", {}), ("subtract", {}), ("extract", {"method": "box"})],
}


def peak_rss_mb():
    """Peak resident memory of this process image (``VmHWM``), MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def run(ds, chain):
    for name, kwargs in chain:
        ds = getattr(ds.lrs, name)(**kwargs)
    return ds


# ---------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------
def make_exposure(n, folder, seed=0):
    import xmiri

    folder.mkdir(parents=True, exist_ok=True)
    paths = sorted(folder.glob(f"bench{n}_*_rateints.fits"))
    if len(paths) == int(np.ceil(n / 1000)):
        return paths
    ds, _ = xmiri.simulate.simulate(n, seed=seed, chunks=250)
    return xmiri.simulate.write_segments(ds, folder, n_segments=int(np.ceil(n / 1000)),
                                         prefix=f"bench{n}", overwrite=True)


def child(chain_name, out, paths, min_block_depths=None):
    """In a fresh process: open -> chain -> netCDF; prints one JSON line."""
    import xmiri
    from xmiri.steps import temporal

    if min_block_depths is not None:
        temporal.MIN_BLOCK_DEPTHS = int(min_block_depths)
    cpu0, t0 = os.times(), time.perf_counter()
    ds = xmiri.open_rateints(paths)
    spec = run(ds, CHAINS[chain_name])
    xmiri.to_netcdf(spec, out, overwrite=True)
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    print(json.dumps({
        "chain": chain_name, "n": int(ds.sizes["integration"]), "seconds": seconds,
        "per_second": ds.sizes["integration"] / seconds,
        "cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "peak_rss_mb": peak_rss_mb(), "input_chunks": int(ds.chunks["integration"][0]),
        "min_block_depths": temporal.MIN_BLOCK_DEPTHS}))


def bench(args):
    paths = make_exposure(args.n, Path(args.folder))
    rows = []
    for chain_name, depths in [("temporal", None), ("spatial", None), ("temporal", 4)] * args.repeat:
        load0 = os.getloadavg()
        cmd = [sys.executable, __file__, "child", chain_name, str(Path(args.folder) / "out.nc"),
               *map(str, paths)]
        if depths is not None:
            cmd += ["--min-block-depths", str(depths)]
        result = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if result.returncode:
            raise RuntimeError(result.stderr[-3000:])
        row = json.loads(result.stdout.strip().splitlines()[-1])
        row["load_before"], row["load_after"] = load0, os.getloadavg()
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| chain | working blocks | integrations | wall s | integrations/s | CPU s | peak RSS (VmHWM) MB "
          "| load avg (1 min) before / after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        blocks = ("-" if r["chain"] == "spatial" else
                  f">= {r['min_block_depths']} x 62 integrations")
        print(f"| {r['chain']} | {blocks} | {r['n']} | {r['seconds']:.1f} | {r['per_second']:.0f} "
              f"| {r['cpu_seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['load_before'][0]:.2f} / "
              f"{r['load_after'][0]:.2f} |")


# ---------------------------------------------------------------------------
# study
# ---------------------------------------------------------------------------
CONFIGS = {
    "clean": [("clean", {})],
    "clean robust": [("clean", {"robust": True})],
    "clean_temporal": [("clean_temporal", {})],
    "clean_temporal -> clean": [("clean_temporal", {}), ("clean", {})],
    "clean_temporal -> clean [0, 4, 11]": [("clean_temporal", {}),
                                           ("clean", {"dq_bits_to_mask": [0, 4, 11]})],
}
SNR_BINS = [5, 8, 15, 30, 100]


def study(args):
    import xmiri

    n, seed = args.n_study, 3
    common = dict(seed=seed, n_cosmic_rays=args.hits, cosmic_ray_snr=(5, 100), chunks=100)
    hits_ds, truth = xmiri.simulate.simulate(n, **common)
    clean_ds, _ = xmiri.simulate.simulate(n, **{**common, "n_cosmic_rays": 0})
    model, _ = xmiri.simulate.simulate(n, **{**common, "n_cosmic_rays": 0}, noise=False)
    hits_ds, clean_ds = hits_ds.persist(), clean_ds.persist()
    model_data = model["data"].values
    hit_free = clean_ds["data"].values
    err = hits_ds["err"].values
    dq_in = hits_ds["dq"].values
    idx = (truth.hit_integration.values - int(hits_ds.integration[0]), truth.hit_row.values,
           truth.hit_col.values)
    snr = truth.hit_snr.values
    masked = (dq_in & xmiri.dq.dq_mask([0, 11])) != 0
    usable = ~masked[idx]
    # several hits on one sample count once
    _, first = np.unique(np.ravel_multi_index(idx, dq_in.shape), return_index=True)
    keep = np.zeros(snr.size, bool)
    keep[first] = True
    keep &= usable
    in_aperture = (np.abs(idx[2] - 36) <= 4) & (idx[1] >= 50) & (idx[1] < 390)
    hit_mask = np.zeros(dq_in.shape, bool)
    hit_mask[idx] = True
    aperture = np.zeros(dq_in.shape[1:], bool)
    aperture[50:390, 32:41] = True
    print(f"{n} integrations, seed {seed}, {keep.sum()} hits on unmasked samples "
          f"({in_aperture[keep].sum()} in the aperture, rows 50-389, cols 32-40), amplitude 5-100 x "
          f"err (log-uniform); jitter 0.05 px, 1% transit")
    recall_rows, other_rows, flux_rows = [], [], []
    for name, chain in CONFIGS.items():
        t0 = time.perf_counter()
        out = run(hits_ds, chain)
        spec = out.lrs.subtract().lrs.extract(method="box")
        out, spec = out.compute(), spec.compute()
        ref = run(clean_ds, chain)
        ref_spec = ref.lrs.subtract().lrs.extract(method="box").compute()
        ref = ref.compute()
        seconds = time.perf_counter() - t0
        flagged = (out["dq"].values & 16) != 0
        found = flagged[idx]
        cells = []
        for lo, hi in zip(SNR_BINS[:-1], SNR_BINS[1:]):
            sel = keep & (snr >= lo) & (snr < hi)
            cells.append(f"{found[sel].mean():.3f}")
        cells.append(f"{found[keep & in_aperture].mean():.3f}")
        cells.append(f"{found[keep & ~in_aperture].mean():.3f}")
        recall_rows.append(f"| {name} | " + " | ".join(cells) + " |")
        # false replacements: flags on the hit-free exposure, unmasked samples
        false = ((ref["dq"].values & 16) != 0) & ~masked
        frac_ap = false[:, aperture].mean()
        frac_all = false.mean()
        # replaced values at the hits found, against the noiseless model, units of err
        sel = keep & found
        diff = (out["data"].values[idx][sel] - model_data[idx][sel]) / err[idx][sel]
        noise = (hit_free[idx][sel] - model_data[idx][sel]) / err[idx][sel]
        other_rows.append(f"| {name} | {frac_all:.1e} | {frac_ap:.1e} | {np.sqrt(np.mean(diff**2)):.2f} "
                          f"| {np.median(np.abs(diff)):.2f} | {np.sqrt(np.mean(noise**2)):.2f} |")
        # hits left in the spectra: box flux with hits minus box flux of the same chain on
        # the hit-free exposure, in units of the flux error, rows 50-389
        delta = ((spec["flux"] - ref_spec["flux"]) / ref_spec["flux_error"]).values[:, 50:390]
        flux_rows.append(f"| {name} | {np.mean(np.abs(delta) > 1):.1e} | {np.mean(np.abs(delta) > 3):.1e} "
                         f"| {np.nanmax(np.abs(delta)):.1f} | {seconds:.1f} |")
    print("\nRecall (OUTLIER bit set on the hit's sample), by amplitude in units of err, and by place:\n")
    print("| chain | [5, 8) | [8, 15) | [15, 30) | [30, 100) | in the aperture | elsewhere |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(recall_rows))
    print("\nFalse replacements (OUTLIER on the hit-free exposure, unmasked samples) and the replaced "
          "values at the hits found, minus the noiseless model, in units of err (a perfect "
          "replacement would leave only the noise: last column):\n")
    print("| chain | false, all | false, aperture | replaced: rms | median abs | hit-free sample: rms |")
    print("|---|---|---|---|---|---|")
    print("\n".join(other_rows))
    print("\nHits left in the box spectra (subtract -> extract box): flux with hits minus flux of "
          "the same chain on the hit-free exposure, in units of flux_error, rows 50-389:\n")
    print("| chain | fraction > 1 sigma | fraction > 3 sigma | worst (sigma) | seconds (both runs) |")
    print("|---|---|---|---|---|")
    print("\n".join(flux_rows))
    none = hits_ds.lrs.subtract().lrs.extract(method="box").compute()
    none_ref = clean_ds.lrs.subtract().lrs.extract(method="box").compute()
    delta = ((none["flux"] - none_ref["flux"]) / none_ref["flux_error"]).values[:, 50:390]
    print(f"| no outlier step | {np.mean(np.abs(delta) > 1):.1e} | {np.mean(np.abs(delta) > 3):.1e} "
          f"| {np.nanmax(np.abs(delta)):.1f} | - |")


# ---------------------------------------------------------------------------
# figure
# ---------------------------------------------------------------------------
def figure(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import xmiri
    from xmiri.kernels.temporal import temporal_outliers

    n, row, col = 300, 330, 36
    ds, _ = xmiri.simulate.simulate(n, seed=12, n_cosmic_rays=0, n_hot_pixels=0, transit_depth=0.05,
                                    transit_duration=0.4, chunks=None)
    data = ds["data"].values[:, row - 1:row + 2, col - 1:col + 2].astype(np.float32).copy()
    sigma = float(np.std(np.diff(data[:, 1, 1])) / np.sqrt(2))
    hits = {40: 12, 95: -8, 150: 7, 200: -6, 240: 4, 288: 15}  # amplitudes in sigma
    for i, k in hits.items():
        data[i, 1, 1] += k * sigma
    median, flagged, scatter = temporal_outliers(
        data, window_width=xmiri.steps.temporal.WINDOW_WIDTH, scale_width=xmiri.defaults.TEMPORAL_SCALE_WIDTH,
        outlier_threshold=xmiri.steps.temporal.OUTLIER_THRESHOLD, return_scatter=True)
    x = np.arange(n)
    y, m, s, f = data[:, 1, 1], median[:, 1, 1], scatter[:, 1, 1], flagged[:, 1, 1]
    fig, ax = plt.subplots(figsize=(7.5, 3.0), dpi=110)
    ax.fill_between(x, m - 5 * s, m + 5 * s, color="0.88", lw=0, label="median ± 5 s (moving MAD)")
    ax.plot(x, y, ".", ms=3, color="0.35", label="data")
    ax.plot(x, m, "-", color="tab:blue", lw=1.2, label="moving median (25)")
    ax.plot(x[f], y[f], "o", mfc="none", mec="tab:red", ms=7, mew=1.3, label="flagged")
    for i, k in hits.items():
        ax.annotate(f"{k:+d}σ", (i, y[i]), textcoords="offset points",
                    xytext=(0, 7 if k > 0 else -13), ha="center", fontsize=7)
    ax.set_xlabel("integration")
    ax.set_ylabel("DN/s")
    ax.set_title(f"one pixel (row {row}, col {col}) of a simulated exposure: 5% transit, "
                 f"injected hits (sigma = its noise)", fontsize=9)
    low, high = np.nanmin(y), np.nanmax(y)
    ax.set_ylim(low - 0.45 * (high - low), high + 0.12 * (high - low))
    ax.legend(fontsize=7, ncol=4, loc="lower center", frameon=False)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(args.path, dpi=110)
    print(f"wrote {args.path} ({Path(args.path).stat().st_size / 1024:.0f} kB); flagged at "
          f"{np.flatnonzero(f).tolist()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--n", type=int, default=4000)
    b.add_argument("--folder", default="/tmp/xmiri_temporal_bench")
    b.add_argument("--repeat", type=int, default=1)
    c = sub.add_parser("child")
    c.add_argument("chain")
    c.add_argument("out")
    c.add_argument("paths", nargs="+")
    c.add_argument("--min-block-depths", default=None)
    s = sub.add_parser("study")
    s.add_argument("--n-study", type=int, default=1000)
    s.add_argument("--hits", type=float, default=20.0, help="mean hits per integration")
    f = sub.add_parser("figure")
    f.add_argument("path")
    args = parser.parse_args(argv)
    if args.command == "child":
        child(args.chain, args.out, args.paths, args.min_block_depths)
    else:
        {"bench": bench, "study": study, "figure": figure}[args.command](args)


if __name__ == "__main__":
    main()
