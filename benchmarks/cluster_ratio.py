#!/usr/bin/env python
"""Untuned ``LocalCluster(n_workers=2, threads_per_worker=1)`` against the threaded scheduler, interleaved.

The box chain of ``bench.py`` (section 5), FITS to netCDF, each run in a
fresh process (median of computes 2-4 in it), alternating which scheduler
runs first, on the segments given (e.g. the realistic ones ``bench.py
--scaling-only --realistic`` wrote).  No xmiri call tunes the workers: the
steps do it themselves (``xmiri.steps._common``).

Usage::

    PYTHONPATH=$PWD python benchmarks/cluster_ratio.py --pairs 4 /tmp/bench/realistic2000/*.fits
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench import in_subprocess


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="xmiri-cluster-"))
    ratios = []
    for i in range(args.pairs):
        order = ("threads", "2-untuned") if i % 2 == 0 else ("2-untuned", "threads")
        secs = {mode: in_subprocess("scaling", mode, out / f"{mode}.nc", *args.paths)["seconds"]
                for mode in order}
        ratios.append(secs["threads"] / secs["2-untuned"])
        print(f"pair {i + 1}: threads {secs['threads']:.2f} s, 2 workers {secs['2-untuned']:.2f} s, "
              f"ratio {ratios[-1]:.2f}", flush=True)
    print(f"2 untuned workers against threads over {len(ratios)} pairs: median {np.median(ratios):.2f}x, "
          f"range {min(ratios):.2f}-{max(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
