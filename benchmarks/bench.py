#!/usr/bin/env python
"""Benchmark xmiri against ExoTiC-MIRI 1.0.1 on the same simulated data.

One run:

1. simulates exposures of ``--sizes`` integrations with ``xmiri.simulate`` and
   writes them as JWST-layout rateints segments (1,000 integrations per
   segment up to 4,000 integrations, then 4 segments);
2. times every stage-2 step of ExoTiC-MIRI and of xmiri on the first
   ``--n-ref`` integrations (same arrays, same parameters; best of two calls
   in a warm process) and reports the per-integration cost and the ratio;
3. runs three chains, FITS to netCDF, on each exposure in a fresh subprocess
   with the default (threaded) scheduler, recording wall time, integrations
   per second and peak memory (VmHWM of the child):

   - *box*: clean -> subtract (row_wise) -> box -> align;
   - *full*: clean(robust=True) -> subtract (row_wise) -> optimal extraction
     with Gaussian trace fits and the median spatial profile -> align with
     resampling -> netCDF, then the light curves from the written file;
   - *temporal*: clean_temporal -> clean -> subtract -> box;

4. times ``import xmiri`` beyond xarray, dask.array and astropy.io.fits,
   and ``xarray.backends.list_engines()`` (run by every ``open_dataset``);
5. runs the box chain on 2,000 integrations in 100-integration chunks
   (median of computes 2-4) on the threaded scheduler and on ``dask.distributed``
   LocalClusters of 1 and 2 single-threaded worker processes, with and
   without :func:`xmiri.parallel.tune_workers`;
6. profiles the full chain (dask Profiler, task seconds per task kind).

7. with ``--realistic``, measures instead on frames that carry the shared
   MIRISim file's DQ and ERR maps and ~20 hits per integration
   (``benchmarks/realistic.py``) as well as on ``simulate()`` frames: the
   cost of the default ``clean`` against the ExoTiC-equal ``clean``
   (interleaved repeats in one process, so that the ratio survives a
   loaded machine), then the chains FITS to netCDF on realistic segments.

Usage::

    python benchmarks/bench.py --write benchmarks/RESULTS.md
    python benchmarks/bench.py --sizes 1000 --n-ref 5        # quicker
    python benchmarks/bench.py --realistic --sizes 2000 --write benchmarks/REALISTIC.md

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

#: ExoTiC-MIRI's parameters for the per-step comparison.
CHAIN = dict(
    clean=dict(window_heights=[40], dq_bits_to_mask=[], poly_order=4, outlier_threshold=4.0),
    subtract=dict(method="row_wise"),
    extract=dict(method="box", trace_position="constant"),
    align=dict(align_spectra=True),
)
#: xmiri's own additions to clean, switched off (as in the "exotic-miri" preset).
XMIRI_ONLY = dict(err_threshold=None, repair_errors=False)
#: The chains timed FITS -> netCDF: section -> keyword arguments.
CHAINS = {
    "box": {**CHAIN, "clean": {**CHAIN["clean"], **XMIRI_ONLY}},
    "full": dict(
        clean=dict(robust=True),
        subtract=dict(method="row_wise"),
        extract=dict(method="optimal", trace_position="gaussian_fits", median_spatial_profile=True),
        align=dict(align_spectra=True),
    ),
    # issue 10's chain: outliers along time first (FITS -> box spectra, no align)
    "temporal": dict(
        clean_temporal=dict(),
        clean=dict(dq_bits_to_mask=[0, 4, 11]),
        subtract=dict(),
        extract=dict(method="box"),
    ),
}
#: The ExoTiC-equal clean (the "exotic-miri" preset's) and the default clean compared on
#: realistic frames; max_gap=None only where clean has it (xmiri >= 0.3).
EXOTIC_CLEAN = dict(dq_bits_to_mask=[0, 11], err_threshold=None, repair_errors=False)
#: The chains timed on realistic frames (issue 23's table), sky subtracted first.
REALISTIC_CHAINS = {
    "box": dict(subtract={}, clean={}, extract=dict(method="box")),
    # what `xmiri reduce` runs: the recommended preset, through the CLI's own chain
    "recommended": "preset:recommended",
    # the science chain: robust clean, optimal with fitted trace and median profile,
    # align, then light curves from the written spectra
    "science": dict(clean=dict(robust=True), subtract={}, extract=dict(
        method="optimal", trace_position="gaussian_fits", median_spatial_profile=True), align={}),
    "temporal": dict(clean_temporal={}, clean={}, subtract={}, extract=dict(method="box")),
}
#: Light curves made from the full chain's netCDF file.
LIGHT_CURVES = dict(wavelength_bins=10, normalise=True)
#: Modules the xmiri backend entry point must not import before a file is opened.
HEAVY = ("xmiri.steps", "xmiri.kernels", "stdatamodels", "jwst", "matplotlib", "scipy")


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


def segment_size(n):
    """Integrations per segment file: 1,000 up to 4,000 integrations, 4,000 above (real segments hold 1-10 GB)."""
    return n if n < 1000 else (1000 if n <= 4000 else 4000)


def make_exposure(n, folder, seed=0):
    """The segment files of ``simulate(n, seed=seed)`` in `folder`, written unless already there.

    Files are reused only when `folder`'s stamp says this xmiri version wrote
    them with the same `n` and `seed` (the RESULTS.md header states both).
    """
    import xmiri

    folder.mkdir(parents=True, exist_ok=True)
    n_segments = int(np.ceil(n / segment_size(n)))
    stamp = folder / "bench_stamp.json"
    wanted = {"n": n, "seed": seed, "segments": n_segments, "xmiri": xmiri.__version__}
    paths = sorted(folder.glob(f"bench{n}_*_rateints.fits"))
    if len(paths) == n_segments and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return paths, 0.0
    t0 = time.perf_counter()
    ds, _ = xmiri.simulate.simulate(n, seed=seed, chunks=250)
    paths = xmiri.simulate.write_segments(ds, folder, n_segments=n_segments,
                                          prefix=f"bench{n}", overwrite=True)
    stamp.write_text(json.dumps(wanted))
    return paths, time.perf_counter() - t0


def warm_page_cache(paths):
    """Read `paths` once so that every chain on them starts from the page cache.

    Returns False, reading nothing, when they would fill more than half of
    the memory the system has available: then every run reads from disk.
    """
    sizes = [os.path.getsize(p) for p in paths]
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable"))
    except (OSError, StopIteration):  # not Linux: assume the files fit
        available = float("inf")
    if sum(sizes) > available / 2:
        return False
    for p in paths:
        with open(p, "rb") as f:
            while f.read(64 * 2**20):
                pass
    return True


def chain(ds, name="box", chains=None):
    """The steps of ``CHAINS[name]`` (or ``chains[name]``), in order, on `ds` (lazy)."""
    for step, kwargs in (chains or CHAINS)[name].items():
        ds = getattr(ds.lrs, step)(**kwargs)
    return ds


# ---------------------------------------------------------------------------
# 2. per-step comparison on the same arrays
# ---------------------------------------------------------------------------
def _timed(func, *args, repeat=2, **kwargs):
    """Output of ``func(*args, **kwargs)`` and its best wall time over `repeat` calls.

    The first call of a step pays one-off costs (imports, caches); the best
    of two is the cost per call of a warm process.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return out, best


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
        x_clean, t_x = _timed(lambda: ds.assign(dq=ds["dq"] * 0).lrs.clean(**CHAINS["box"]["clean"]).compute())
        rows["clean"] = (t_ex, t_x)
        (bm, _), t_ex = _timed(stage_2.BackgroundSubtractStep().call, cm, **CHAIN["subtract"])
        x_sub, t_x = _timed(lambda: x_clean.lrs.subtract(**CHAIN["subtract"]).compute())
        rows["subtract"] = (t_ex, t_x)
        (_, f_box, e_box, _), t_ex = _timed(stage_2.Extract1DBoxStep().call, bm, wmap, trace_position="constant")
        x_box, t_x = _timed(lambda: x_sub.lrs.extract(**CHAIN["extract"]).compute())
        rows["box"] = (t_ex, t_x)
        rn = ds["var_rnoise"].values.astype(float)
        (_, f_opt, _, _), t_ex = _timed(stage_2.Extract1DOptimalStep().call, bm, wmap, np.asarray(P, float),
                                        rn, aperture_left_width=8, aperture_right_width=8)
        # horne_q=None: ExoTiC-MIRI's Q = 1 and S = 0 (xmiri's default reads Q off the file)
        x_opt, t_x = _timed(lambda: x_sub.lrs.extract(method="optimal", aperture_left_width=8,
                                                      aperture_right_width=8, horne_q=None).compute())
        rows["optimal"] = (t_ex, t_x)
        # xmiri stores P as float32: with ExoTiC-MIRI's float64 P the same arrays give the same flux
        x_opt64 = x_sub.assign(profile=(x_sub["profile"].dims, np.asarray(P, float))).lrs.extract(
            method="optimal", aperture_left_width=8, aperture_right_width=8, horne_q=None).compute()
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
        "optimal flux": _rel(x_opt["flux"].values, f_opt),
        "optimal flux with ExoTiC-MIRI's float64 P": _rel(x_opt64["flux"].values, f_opt),
    }
    return rows, diffs


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(b), 1e-6 * np.nanmax(np.abs(b)))))


# ---------------------------------------------------------------------------
# 3. the chains in a fresh process
# ---------------------------------------------------------------------------
def run_chain(name, out, paths):
    """Child-process entry: open -> chain -> netCDF (-> light curves); prints JSON timings.

    A name ``realistic:<chain>`` runs ``REALISTIC_CHAINS[<chain>]``.
    """
    import xarray as xr

    import xmiri

    t0 = time.perf_counter()
    ds = xmiri.open_rateints(paths)
    if name.startswith("realistic:"):
        key = name.split(":", 1)[1]
        if isinstance(REALISTIC_CHAINS[key], str):  # a preset, run as `xmiri reduce` runs it
            from xmiri.cli import run_chain as preset_chain
            from xmiri.config import load_config

            spec = preset_chain(ds, load_config(None, REALISTIC_CHAINS[key].split(":", 1)[1]))[1]
        else:
            spec = chain(ds, key, REALISTIC_CHAINS)
        xmiri.to_netcdf(spec, out, overwrite=True)
    else:
        xmiri.to_netcdf(chain(ds, name), out, overwrite=True)
    if name in ("full", "realistic:science"):
        with xr.open_dataset(out, chunks={}) as spec:
            lc = spec.lrs.light_curves(**LIGHT_CURVES)
            xmiri.to_netcdf(lc, Path(out).with_suffix(".lc.nc"), overwrite=True)
    seconds = time.perf_counter() - t0
    print(json.dumps({"n": int(ds.sizes["integration"]), "seconds": seconds,
                      "peak_rss_mb": peak_rss_mb(), "chunks": int(ds.chunks["integration"][0])}))


def in_subprocess(*args):
    """Run this script with ``--child args...`` and return the JSON it prints last."""
    cmd = [sys.executable, __file__, "--child", *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# 4. import cost
# ---------------------------------------------------------------------------
def import_times(repeat=5):
    """Best of `repeat` fresh interpreters: import xmiri after its base libraries; list_engines."""
    probe = ("import sys, time, json; import xarray, dask.array, astropy.io.fits; "
             "before = set(sys.modules); "
             "t0 = time.perf_counter(); import xmiri; t1 = time.perf_counter(); "
             "xarray.backends.list_engines(); t2 = time.perf_counter(); "
             f"heavy = [m for m in {HEAVY!r} if m in sys.modules and m not in before]; "
             "print(json.dumps([t1 - t0, t2 - t1, heavy]))")
    engines = ("import sys, time, json; import xarray; before = set(sys.modules); t0 = time.perf_counter(); "
               "xarray.backends.list_engines(); t1 = time.perf_counter(); "
               f"heavy = [m for m in {HEAVY!r} if m in sys.modules and m not in before]; "
               "print(json.dumps([t1 - t0, heavy]))")
    runs = [json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(repeat)]
    alone = [json.loads(subprocess.run([sys.executable, "-c", engines], capture_output=True, text=True,
                                       check=True).stdout) for _ in range(repeat)]
    return {"import_xmiri": min(r[0] for r in runs),
            "heavy_after_import": runs[0][2], "list_engines": min(r[0] for r in alone),
            "heavy_after_list_engines": alone[0][1]}


# ---------------------------------------------------------------------------
# 5. threads against dask.distributed
# ---------------------------------------------------------------------------
def run_scaling(mode, out, paths, chunks=100):
    """Child-process entry: the box chain four times; prints the median of the last three.

    `mode`: ``threads``, or ``<n>`` / ``<n>-untuned`` worker processes.
    """
    import xmiri

    def once():
        ds = xmiri.open_rateints(paths, chunks=chunks)
        t0 = time.perf_counter()
        xmiri.to_netcdf(chain(ds, "box"), out, overwrite=True)
        return time.perf_counter() - t0

    if mode == "threads":
        seconds = [once() for _ in range(4)]
    else:
        from distributed import Client, LocalCluster

        from xmiri.parallel import tune_workers

        workers, _, untuned = mode.partition("-")
        with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            if not untuned:
                tune_workers(client)
            seconds = [once() for _ in range(4)]
    print(json.dumps({"seconds": float(np.median(seconds[1:])), "first": seconds[0],
                      "all": seconds}))


def compare_outputs(reference_nc, other_nc):
    import xarray as xr

    with xr.open_dataset(reference_nc) as a, xr.open_dataset(other_nc) as b:
        return {v: _rel(b[v].values, a[v].values) for v in ("flux", "flux_error", "x_shift", "y_shift")}


# ---------------------------------------------------------------------------
# 6. profile
# ---------------------------------------------------------------------------
def profile_chain(paths, name="full", top=10):
    """Seconds of task time per task kind for a chain on one exposure (the default threaded scheduler)."""
    from dask.diagnostics import Profiler

    import xmiri

    spec = chain(xmiri.open_rateints([str(p) for p in paths]), name)
    t0 = time.perf_counter()
    with Profiler() as prof:
        spec.compute()
    wall = time.perf_counter() - t0
    totals = {}
    for r in prof.results:
        key = r.key[0] if isinstance(r.key, tuple) else r.key
        kind = str(key).rsplit("-", 1)[0]
        totals[kind] = totals.get(kind, 0.0) + (r.end_time - r.start_time)
    return wall, sum(totals.values()), dict(sorted(totals.items(), key=lambda kv: -kv[1])[:top])


# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
# 7. realistic frames: the MIRISim file's DQ and ERR maps, ~20 hits per integration
# ---------------------------------------------------------------------------
def exotic_clean_kwargs():
    """EXOTIC_CLEAN, with max_gap=None where clean has that parameter."""
    import inspect

    from xmiri.steps.clean import clean

    extra = {"max_gap": None} if "max_gap" in inspect.signature(clean).parameters else {}
    return {**EXOTIC_CLEAN, **extra}


def clean_ratio(frames, repeats, scheduler):
    """Seconds of the default and of the ExoTiC-equal clean on `frames`, interleaved.

    `frames` (sky subtracted, persisted) are cleaned and every output
    variable computed (persisted); returns {"default": [...], "exotic": [...]}.
    """
    import dask

    times = {"default": [], "exotic": []}
    kwargs = {"default": {}, "exotic": exotic_clean_kwargs()}
    for i in range(repeats):
        for name in (("default", "exotic") if i % 2 == 0 else ("exotic", "default")):
            out = frames.lrs.clean(**kwargs[name])
            t0 = time.perf_counter()
            # persist, not compute: chunks are kept where they are, as a chain writing
            # netCDF chunk by chunk would, instead of being concatenated
            dask.persist(*[out[v].data for v in out.data_vars], scheduler=scheduler)
            times[name].append(time.perf_counter() - t0)
    return times


def realistic_section(args, work, say):
    """The --realistic measurements; appends Markdown lines through `say`."""
    import warnings as _warnings

    import xmiri

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from realistic import realistic_frames, source_file, write_realistic

    load = lambda: "/".join(f"{x:.1f}" for x in os.getloadavg())  # noqa: E731
    n = args.clean_size
    say(f"Load average (1/5/15 min) at the start: {load()} on {os.cpu_count()} cores.\n")
    say(f"### Default clean against the ExoTiC-equal clean, {n} integrations in memory, "
        f"100-integration chunks, sky subtracted first, {args.repeats} interleaved repeats\n")
    say(f"Default: `clean()`; ExoTiC-equal: `clean(**{exotic_clean_kwargs()})`.  Realistic frames: "
        f"`benchmarks/realistic.py` (the DQ, ERR, VAR_POISSON and VAR_RNOISE planes of "
        f"`{Path(source_file()).name}`, its SCI plus noise of its ERR, 20 hits per integration); "
        "simulated: `xmiri.simulate.simulate(n, seed=0)` (5 hits per integration).\n")
    say("| frames | scheduler | default ms/int (median) | ExoTiC-equal ms/int (median) | "
        "ratio of medians | ratio range over pairs |")
    say("| --- | --- | ---: | ---: | ---: | --- |")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        kinds = {"realistic": realistic_frames(n, seed=1),
                 "simulate()": xmiri.simulate.simulate(n, seed=0)[0]}
        for kind, ds in kinds.items():
            frames = ds.chunk({"integration": 100}).lrs.subtract().persist()
            for scheduler in ("sync", "threads"):
                t = clean_ratio(frames, args.repeats, scheduler)
                d, e = np.median(t["default"]), np.median(t["exotic"])
                pairs = [a / b for a, b in zip(t["default"], t["exotic"])]
                say(f"| {kind} | {scheduler} | {1e3 * d / n:.2f} | {1e3 * e / n:.2f} | {d / e:.2f} | "
                    f"{min(pairs):.2f}-{max(pairs):.2f} |")
    del kinds, frames
    say(f"\nLoad average after: {load()}.\n")

    say("### Chains on realistic segments, FITS to netCDF, threaded scheduler, a fresh process each\n")
    say("Chains: " + "; ".join(f"*{k}*: `{v}`" for k, v in REALISTIC_CHAINS.items())
        + ".  Peak memory is the child's VmHWM.\n")
    say("| chain | integrations | wall s | int/s | peak RSS MB | load before |")
    say("| --- | ---: | ---: | ---: | ---: | --- |")
    for size in sorted(args.sizes):
        folder = work / f"realistic{size}"
        paths = sorted(folder.glob("realistic*_rateints.fits"))
        if not paths:
            paths = write_realistic(size, folder, seed=2, segments=max(1, size // 4000))
        warm_page_cache(paths)
        for name in REALISTIC_CHAINS:
            before = load()
            r = in_subprocess("chain", f"realistic:{name}", work / f"real_{name}{size}.nc", *paths)
            say(f"| {name} | {size} | {r['seconds']:.1f} | {size / r['seconds']:.0f} | "
                f"{r['peak_rss_mb']:.0f} | {before} |")
    say(f"\nLoad average at the end: {load()}.")


def scaling_section(args, paths, work, say):
    """Section 5: the box chain on threads and on LocalClusters; appends Markdown through `say`."""
    n = args.scaling_size
    say(f"\n### Threads against dask.distributed: box chain, {n} integrations, 100-integration chunks, "
        "median of computes 2-4\n")
    say("| scheduler | seconds | int/s | vs threads | worst rel. difference from threads |")
    say("| --- | ---: | ---: | ---: | --- |")
    ref = work / f"scale{n}_threads.nc"
    warm_page_cache(paths)
    scaling = {}
    for mode in ("threads", "1", "2", "1-untuned", "2-untuned"):
        out = work / f"scale{n}_{mode}.nc"
        r = scaling[mode] = in_subprocess("scaling", mode, out, *paths)
        diff = "" if mode == "threads" else ", ".join(f"{k} {v:.0e}" for k, v in compare_outputs(ref, out).items())
        label = {"threads": f"threads ({os.cpu_count()})"}.get(mode, f"LocalCluster {mode.split('-')[0]} worker(s)"
                                              + (" (no tune_workers call)" if "untuned" in mode else ", tune_workers"))
        say(f"| {label} | {r['seconds']:.2f} | {n / r['seconds']:.0f} | "
            f"{scaling['threads']['seconds'] / r['seconds']:.2f}x | {diff} |")
    say(f"\n2 workers against 1: {scaling['1']['seconds'] / scaling['2']['seconds']:.2f}x with tune_workers, "
        f"{scaling['1-untuned']['seconds'] / scaling['2-untuned']['seconds']:.2f}x without the call.")
    # One run of each scatters by 5-10 % on a 2-core machine: repeat the tuned pair, interleaved.
    ratios = [scaling["1"]["seconds"] / scaling["2"]["seconds"]]
    for i in range(args.scaling_pairs - 1):
        order = ("2", "1") if i % 2 == 0 else ("1", "2")  # alternate which runs first
        secs = {mode: in_subprocess("scaling", mode, work / f"scale{n}_{mode}.nc", *paths)["seconds"]
                for mode in order}
        ratios.append(secs["1"] / secs["2"])
    if len(ratios) > 1:
        say(f"Over {len(ratios)} pairs of runs, alternating which runs first (tune_workers): 2 workers against 1 "
            f"{min(ratios):.2f}-{max(ratios):.2f}x, median {np.median(ratios):.2f}x; "
            f">= 1.5x in {sum(r >= 1.5 for r in ratios)} of {len(ratios)} "
            f"({', '.join(f'{r:.2f}' for r in ratios)}).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 4000, 16000])
    parser.add_argument("--n-ref", type=int, default=20, help="integrations for the per-step comparison")
    parser.add_argument("--scaling-size", type=int, default=2000,
                        help="integrations for threads vs dask.distributed")
    parser.add_argument("--scaling-pairs", type=int, default=5,
                        help="interleaved runs of 1 and 2 tuned workers for their ratio (runs scatter)")
    parser.add_argument("--workdir", default=None, help="keep simulated data here (default: a temp dir)")
    parser.add_argument("--write", default=None, help="write the Markdown tables to this file")
    parser.add_argument("--realistic", action="store_true",
                        help="measure on realistic frames (section 7) instead of sections 1-6")
    parser.add_argument("--clean-size", type=int, default=300,
                        help="integrations in memory for the clean ratio (--realistic)")
    parser.add_argument("--repeats", type=int, default=6,
                        help="interleaved repeats of each clean (--realistic)")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only section 5 (threads against dask.distributed), on --scaling-size "
                             "integrations (realistic frames with --realistic)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, arg, out, *paths = args.child
        return run_chain(arg, out, paths) if kind == "chain" else run_scaling(arg, out, paths)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="xmiri-bench-"))
    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))  # noqa: E731
    if args.scaling_only:
        n = args.scaling_size
        if args.realistic:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from realistic import write_realistic

            folder = work / f"realistic{n}"
            paths = sorted(folder.glob("realistic*_rateints.fits")) or write_realistic(
                n, folder, seed=2, segments=max(1, n // 4000))
        else:
            paths = make_exposure(n, work / str(n))[0]
        say(f"Load average (1/5/15 min) at the start: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}.")
        scaling_section(args, paths, work, say)
        if args.write:
            Path(args.write).write_text(f"Command: `python benchmarks/bench.py {' '.join(argv or sys.argv[1:])}`\n\n"
                                        + "\n".join(lines) + "\n")
        return 0
    if args.realistic:
        import xmiri

        realistic_section(args, work, say)
        if args.write:
            header = ["# Benchmarks on realistic frames", "",
                      f"Command: `python benchmarks/bench.py {' '.join(argv or sys.argv[1:])}`", "",
                      f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                      f"{platform.python_version()}, numpy {np.__version__}, xmiri "
                      f"{xmiri.__version__}; date {time.strftime('%Y-%m-%d')}", ""]
            Path(args.write).write_text("\n".join(header + lines) + "\n")
            print(f"wrote {args.write}")
        return 0

    exposures = {}
    for n in sorted(set(args.sizes) | {args.scaling_size}):
        paths, secs = make_exposure(n, work / str(n))
        exposures[n] = paths
        if secs:
            print(f"simulated and wrote {n} integrations in {secs:.1f} s ({n / secs:.0f} int/s)")

    smallest = exposures[min(args.sizes)]
    rows, diffs = compare_steps(smallest, args.n_ref)
    say(f"### Per step, {args.n_ref} integrations of 416 x 72 (same arrays, same parameters, "
        "best of 2 calls)\n")
    say("| step | ExoTiC-MIRI s/int | xmiri s/int | speed-up |")
    say("| --- | ---: | ---: | ---: |")
    for step in ("clean", "subtract", "box", "optimal", "align"):
        t_ex, t_x = rows[step]
        say(f"| {step} | {t_ex / args.n_ref:.4g} | {t_x / args.n_ref:.3g} | "
            f"{(t_ex / t_x) if np.isfinite(t_ex) else float('nan'):.0f}x |")
    if "align_error" in rows:
        say(f"\nExoTiC-MIRI align failed: `{rows['align_error']}`")
    say("\nWorst relative difference xmiri vs ExoTiC-MIRI: "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        + " (relative to max(|ExoTiC-MIRI|, 1e-6 x its largest value): rows with almost no flux "
          "make float32 rounding of P look large)")

    say("\n### The chains, FITS to netCDF, default (threaded) scheduler, one fresh process each\n")
    say("Peak memory is the child's VmHWM.  *full* includes writing the light curves.\n")
    # Size by size, so that an exposure larger than the page cache is read last.
    results = {name: {} for name in CHAINS}
    cached = {}
    for n in sorted(args.sizes):
        cached[n] = warm_page_cache(exposures[n])
        for name in CHAINS:
            results[name][n] = in_subprocess("chain", name, work / f"{name}{n}.nc", *exposures[n])
    say(f"Files read from the page cache (warmed by reading them once): "
        f"{', '.join(str(n) for n in cached if cached[n]) or 'none'}; from disk (larger than half the "
        f"available memory): {', '.join(str(n) for n in cached if not cached[n]) or 'none'}.\n")
    say("| chain | integrations | segments | wall s | int/s | ms per int | peak RSS MB | chunk |")
    say("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in CHAINS:
        for n, r in sorted(results[name].items()):
            say(f"| {name} | {n} | {len(exposures[n])} | {r['seconds']:.1f} | {n / r['seconds']:.0f} | "
                f"{1000 * r['seconds'] / n:.2f} | {r['peak_rss_mb']:.0f} | {r['chunks']} |")
        sizes = sorted(results[name])
        for lo, hi in zip(sizes, sizes[1:]):
            if lo < 4000:
                continue
            r_lo, r_hi = results[name][lo], results[name][hi]
            change = (r_hi["seconds"] / hi) / (r_lo["seconds"] / lo) - 1
            memory = r_hi["peak_rss_mb"] / r_lo["peak_rss_mb"] - 1
            say(f"| | {hi} vs {lo}: per-integration cost {change:+.1%}, peak RSS {memory:+.1%} | | | | | | |")

    t = import_times()
    say("\n### Import cost (best of 5 fresh interpreters)\n")
    say(f"- `import xmiri` after `import xarray, dask.array, astropy.io.fits`: {1000 * t['import_xmiri']:.0f} ms; "
        f"heavy modules it loaded (with list_engines): {t['heavy_after_import'] or 'none'}")
    say(f"- `xarray.backends.list_engines()` in a fresh interpreter (loads the xmiri entry point): "
        f"{1000 * t['list_engines']:.0f} ms; heavy modules it loaded: {t['heavy_after_list_engines'] or 'none'}")
    say(f"- heavy modules checked: {', '.join(HEAVY)}")

    scaling_section(args, exposures[args.scaling_size], work, say)

    n = min(args.sizes)
    wall, busy, kinds = profile_chain(exposures[n], "full")
    say(f"\n### Where the time goes: full chain (compute only), {n} integrations, {os.cpu_count()} threads\n")
    say(f"Wall {wall:.2f} s; task time {busy:.2f} s summed over the threads "
        f"({busy / wall / os.cpu_count():.0%} of {os.cpu_count()} cores).\n")
    say("| task | seconds | share |")
    say("| --- | ---: | ---: |")
    for kind, secs in kinds.items():
        say(f"| `{kind}` | {secs:.2f} | {secs / busy:.0%} |")

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
            "Data: `xmiri.simulate.simulate(n, seed=0)` written as rateints segments "
            "(1,000 integrations each up to 4,000 integrations, 4,000 each above: "
            "16,000 as 4 x 4,000, 64,000 as 16 x 4,000).", "",
            "Chains (keyword arguments per step):", "",
            *[f"- {name}: `{steps}`" for name, steps in CHAINS.items()],
            f"- full, then `light_curves(**{LIGHT_CURVES})` from the written file", "",
        ]
        Path(args.write).write_text("\n".join(header + lines) + "\n")
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
