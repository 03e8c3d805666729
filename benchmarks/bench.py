#!/usr/bin/env python
"""Benchmark xmiri against ExoTiC-MIRI 1.0.1 on the same simulated data.

One run:

1. simulates exposures of ``--sizes`` integrations with ``xmiri.simulate`` and
   writes them as JWST-layout rateints segments (1,000 integrations each);
2. times every stage-2 step of ExoTiC-MIRI and of xmiri on the first
   ``--n-ref`` integrations (same arrays, same parameters) and reports the
   per-integration cost and the ratio;
3. runs xmiri's full chain (open -> clean -> subtract -> box -> align ->
   netCDF) on each exposure in a fresh subprocess with the default scheduler,
   recording wall time, integrations per second and peak RSS;
4. runs the same chain on a 2-worker ``dask.distributed`` LocalCluster and
   compares the spectra with the local result;
5. profiles the chain (dask Profiler, time per task kind).

Usage::

    python benchmarks/bench.py --write benchmarks/RESULTS.md
    python benchmarks/bench.py --sizes 1000 --n-ref 5        # quicker

Nothing here runs in the test suite: timings belong in RESULTS.md, not in
tests.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CHAIN = dict(
    clean=dict(window_heights=[40], dq_bits_to_mask=[], poly_order=4, outlier_threshold=4.0),
    subtract=dict(method="row_wise"),
    extract=dict(method="box", trace_position="constant"),
    align=dict(align_spectra=True),
)


def peak_rss_mb():
    """Peak resident memory of this process image, MB.

    Linux's ``ru_maxrss`` survives ``exec``, so a child started by a large
    parent reports the parent's size; ``VmHWM`` belongs to the current image.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_exposure(n, folder, seed=0):
    import xmiri

    folder.mkdir(parents=True, exist_ok=True)
    paths = sorted(folder.glob("*_rateints.fits"))
    if len(paths) == int(np.ceil(n / 1000)):
        return paths, 0.0
    t0 = time.perf_counter()
    ds, _ = xmiri.simulate.simulate(n, seed=seed, chunks=250)
    paths = xmiri.simulate.write_segments(ds, folder, n_segments=int(np.ceil(n / 1000)),
                                          prefix=f"bench{n}", overwrite=True)
    return paths, time.perf_counter() - t0


def chain(ds):
    return (ds.lrs.clean(**CHAIN["clean"]).lrs.subtract(**CHAIN["subtract"])
              .lrs.extract(**CHAIN["extract"]).lrs.align(**CHAIN["align"]))


# ---------------------------------------------------------------------------
# 2. per-step comparison on the same arrays
# ---------------------------------------------------------------------------
def _timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - t0


def compare_steps(paths, n_ref):
    os.environ.setdefault("STPIPE_DISABLE_CRDS_STEPPARS", "true")
    if not hasattr(np, "RankWarning"):
        np.RankWarning = np.exceptions.RankWarning
    import logging

    import xmiri
    from exotic_miri import stage_2
    from stdatamodels.jwst import datamodels

    logging.disable(logging.WARNING)  # stpipe logs every step's configuration at INFO
    ds = xmiri.open_rateints([str(p) for p in paths]).isel(integration=slice(0, n_ref)).load()
    model = datamodels.CubeModel(data=ds["data"].values.copy(), err=ds["err"].values.copy(),
                                 dq=np.zeros(ds["dq"].shape, np.uint32))
    wmap = ds["wavelength"].values
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (cm, P, _), t_ex = _timed(stage_2.CleanOutliersStep().call, model, **CHAIN["clean"])
        x_clean, t_x = _timed(lambda: ds.assign(dq=ds["dq"] * 0).lrs.clean(**CHAIN["clean"]).compute())
        rows["clean"] = (t_ex, t_x)
        (bm, _), t_ex = _timed(stage_2.BackgroundSubtractStep().call, cm, **CHAIN["subtract"])
        x_sub, t_x = _timed(lambda: x_clean.lrs.subtract(**CHAIN["subtract"]).compute())
        rows["subtract"] = (t_ex, t_x)
        (_, f_box, e_box, _), t_ex = _timed(stage_2.Extract1DBoxStep().call, bm, wmap, trace_position="constant")
        x_box, t_x = _timed(lambda: x_sub.lrs.extract(**CHAIN["extract"]).compute())
        rows["box"] = (t_ex, t_x)
        rn = ds["var_rnoise"].values.astype(float)
        _, t_ex = _timed(stage_2.Extract1DOptimalStep().call, bm, wmap, np.asarray(P, float), rn,
                         aperture_left_width=8, aperture_right_width=8)
        _, t_x = _timed(lambda: x_sub.lrs.extract(method="optimal", aperture_left_width=8,
                                                  aperture_right_width=8).compute())
        rows["optimal"] = (t_ex, t_x)
        try:
            _, t_ex = _timed(stage_2.AlignSpectraStep().call, bm, f_box, e_box)
        except Exception as exc:  # ExoTiC-MIRI's align fails on some inputs
            t_ex = float("nan")
            rows["align_error"] = f"{type(exc).__name__}: {exc}"
        _, t_x = _timed(lambda: x_box.lrs.align(**CHAIN["align"]).compute())
        rows["align"] = (t_ex, t_x)
    diffs = {
        "clean data": _rel(x_clean["data"].values, cm.data),
        "box flux": _rel(x_box["flux"].values, f_box),
    }
    return rows, diffs


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(b), 1e-6 * np.nanmax(np.abs(b)))))


# ---------------------------------------------------------------------------
# 3. full chain in a fresh process
# ---------------------------------------------------------------------------
def run_chain(paths, out, scheduler="threads"):
    """Child-process entry: open -> chain -> netCDF; prints JSON timings."""
    import dask

    import xmiri

    t0 = time.perf_counter()
    if scheduler == "distributed":
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          memory_limit="2GiB", dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("xmiri"))  # workers' imports are start-up, not throughput
            t1 = time.perf_counter()
            ds = xmiri.open_rateints(paths)
            spec = chain(ds)
            xmiri.to_netcdf(spec, out, overwrite=True)
            t2 = time.perf_counter()
    else:
        with dask.config.set(scheduler=scheduler):
            t1 = time.perf_counter()
            ds = xmiri.open_rateints(paths)
            spec = chain(ds)
            xmiri.to_netcdf(spec, out, overwrite=True)
            t2 = time.perf_counter()
    print(json.dumps({"n": int(ds.sizes["integration"]), "seconds": t2 - t1,
                      "startup": t1 - t0, "peak_rss_mb": peak_rss_mb(),
                      "chunks": int(ds.chunks["integration"][0])}))


def chain_in_subprocess(paths, out, scheduler="threads"):
    cmd = [sys.executable, __file__, "--child", scheduler, str(out), *map(str, paths)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"chain failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def profile_chain(paths):
    """Seconds of task time per task kind for the chain on one exposure."""
    from dask.diagnostics import Profiler

    import xmiri

    ds = xmiri.open_rateints([str(p) for p in paths])
    spec = chain(ds)
    with Profiler() as prof:
        spec.compute()
    totals = {}
    for r in prof.results:
        key = r.key[0] if isinstance(r.key, tuple) else r.key
        kind = str(key).rsplit("-", 1)[0]
        totals[kind] = totals.get(kind, 0.0) + (r.end_time - r.start_time)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1])[:8])


def compare_distributed(local_nc, dist_nc):
    import xarray as xr

    with xr.open_dataset(local_nc) as a, xr.open_dataset(dist_nc) as b:
        return {v: _rel(b[v].values, a[v].values) for v in ("flux", "flux_error", "x_shift", "y_shift")}


# ---------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--n-ref", type=int, default=10, help="integrations for the per-step comparison")
    parser.add_argument("--workdir", default=None, help="keep simulated data here (default: a temp dir)")
    parser.add_argument("--write", default=None, help="write the Markdown table to this file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        scheduler, out, *paths = args.child
        return run_chain(paths, out, scheduler)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="xmiri-bench-"))
    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))  # noqa: E731

    exposures = {}
    for n in args.sizes:
        paths, secs = make_exposure(n, work / str(n))
        exposures[n] = paths
        if secs:
            print(f"simulated and wrote {n} integrations in {secs:.1f} s ({n / secs:.0f} int/s)")

    smallest = exposures[min(args.sizes)]
    rows, diffs = compare_steps(smallest, args.n_ref)
    say(f"### Per step, {args.n_ref} integrations of 416 x 72 (same arrays, same parameters)\n")
    say("| step | ExoTiC-MIRI s/int | xmiri s/int | speed-up |")
    say("| --- | ---: | ---: | ---: |")
    for step in ("clean", "subtract", "box", "optimal", "align"):
        t_ex, t_x = rows[step]
        say(f"| {step} | {t_ex / args.n_ref:.4g} | {t_x / args.n_ref:.3g} | "
            f"{(t_ex / t_x) if np.isfinite(t_ex) else float('nan'):.0f}x |")
    if "align_error" in rows:
        say(f"\nExoTiC-MIRI align failed: `{rows['align_error']}`")
    say("\nWorst relative difference xmiri vs ExoTiC-MIRI: "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))

    say("\n### Full chain (open -> clean -> subtract -> box -> align -> netCDF), default scheduler\n")
    say("| integrations | wall s | int/s | s per 1k int | peak RSS MB | chunk |")
    say("| ---: | ---: | ---: | ---: | ---: | ---: |")
    results = {}
    for n, paths in exposures.items():
        r = chain_in_subprocess(paths, work / f"spec{n}.nc")
        results[n] = r
        say(f"| {n} | {r['seconds']:.1f} | {n / r['seconds']:.0f} | {1000 * r['seconds'] / n:.2f} | "
            f"{r['peak_rss_mb']:.0f} | {r['chunks']} |")
    if len(results) > 1:
        lo, hi = min(results), max(results)
        change = (results[hi]["seconds"] / hi) / (results[lo]["seconds"] / lo) - 1
        ns = np.array(sorted(results), float)
        per_int, fixed = np.polyfit(ns, [results[int(n)]["seconds"] for n in ns], 1)
        say(f"\nPer-integration cost {hi} vs {lo} integrations: {change:+.1%} (wall time = "
            f"{fixed:.2f} s fixed + {1000 * per_int:.2f} ms per integration; a least-squares "
            "line through the sizes above)")

    n = min(args.sizes)
    r = chain_in_subprocess(exposures[n], work / f"spec{n}_dist.nc", "distributed")
    d = compare_distributed(work / f"spec{n}.nc", work / f"spec{n}_dist.nc")
    say(f"\n### dask.distributed LocalCluster (2 worker processes x 1 thread), {n} integrations\n")
    say(f"wall {r['seconds']:.1f} s ({n / r['seconds']:.0f} int/s, cluster start-up {r['startup']:.1f} s "
        "excluded); worst relative difference from the local result: "
        + ", ".join(f"{k} {v:.1e}" for k, v in d.items()))

    say(f"\n### Where the time goes ({n} integrations, task seconds summed over 2 threads)\n")
    say("| task | seconds |")
    say("| --- | ---: |")
    for kind, secs in profile_chain(exposures[n]).items():
        say(f"| `{kind}` | {secs:.2f} |")

    if args.write:
        import dask
        import xarray

        import xmiri

        header = [
            "# Benchmark results", "",
            f"Command: `python benchmarks/bench.py {' '.join(argv or sys.argv[1:])}`", "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}, dask {dask.__version__}, xarray {xarray.__version__}, "
            f"xmiri {xmiri.__version__}; date {time.strftime('%Y-%m-%d')}", "",
            "Data: `xmiri.simulate.simulate(n, seed=0)` written as 1,000-integration rateints segments;",
            f"chain parameters: `{CHAIN}`.", "",
        ]
        Path(args.write).write_text("\n".join(header + lines) + "\n")
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
