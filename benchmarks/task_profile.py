#!/usr/bin/env python
"""Where a realistic chain spends its task time (issue 23): dask task durations by kernel.

Runs one of ``bench.py``'s realistic chains (FITS to netCDF, threaded
scheduler, as ``bench.py --child chain realistic:NAME`` does) with a dask
callback that records every task's start and end, then prints, per task
name (dask's key prefix, the kernel's name for xmiri's blocks), the task
time per integration, and how busy the worker threads were over the run.
Task time on 2 threads is what sets the wall time once both are busy:
``wall ~ task time / 2``.

Usage::

    PYTHONPATH=$PWD python benchmarks/task_profile.py box /tmp/bench/realistic4000/*.fits

(``NAME`` is one of ``bench.REALISTIC_CHAINS``: box, recommended, science, temporal.)
"""
import json
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from dask.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


class _TaskTimes(Callback):
    """Start and end (perf_counter seconds) of every task, by key."""

    def __init__(self):
        super().__init__()
        self.started, self.spans, self.lock = {}, [], threading.Lock()

    def _pretask(self, key, dsk, state):
        self.started[key] = time.perf_counter()

    def _posttask(self, key, result, dsk, state, worker_id):
        end = time.perf_counter()
        with self.lock:
            self.spans.append((self.started.pop(key), end, key[0] if isinstance(key, tuple) else key))


def _prefix(name):
    """dask's key prefix: the name without its token (``clean_block-1f2e...`` -> ``clean_block``)."""
    name = str(name)
    head, _, token = name.rpartition("-")
    return head if head and len(token) >= 16 else name


def main(argv):
    if len(argv) < 2 or argv[0] not in bench.REALISTIC_CHAINS:
        print(__doc__)
        return 2
    import xmiri
    from xmiri.cli import run_chain as preset_chain
    from xmiri.config import load_config

    name, paths = argv[0], argv[1:]
    warnings.simplefilter("ignore")
    times = _TaskTimes()
    with tempfile.TemporaryDirectory() as tmp, times:
        t0 = time.perf_counter()
        ds = xmiri.open_rateints(paths)
        chain = bench.REALISTIC_CHAINS[name]
        if isinstance(chain, str):  # a preset, as `xmiri reduce` runs it
            spec = preset_chain(ds, load_config(None, chain.split(":", 1)[1]))[1]
        else:
            spec = bench.chain(ds, name, bench.REALISTIC_CHAINS)
        xmiri.to_netcdf(spec, Path(tmp) / "out.nc")
        wall = time.perf_counter() - t0
    n = ds.sizes["integration"]
    by_name = {}
    for start, end, key in times.spans:
        by_name[_prefix(key)] = by_name.get(_prefix(key), 0.0) + end - start
    total = sum(by_name.values())
    first = min(start for start, _, _ in times.spans) - t0
    busy = total / (wall - first)
    print(f"{name}, {n} integrations: wall {wall:.2f} s ({n / wall:.0f} int/s), first task at {first:.2f} s, "
          f"task time {1e3 * total / n:.2f} ms per integration, threads busy {busy:.2f} on average after "
          f"the first task")
    print("| task | ms per integration | share |")
    print("| --- | ---: | ---: |")
    for key, seconds in sorted(by_name.items(), key=lambda item: -item[1]):
        if seconds / total >= 0.005:
            print(f"| {key} | {1e3 * seconds / n:.3f} | {100 * seconds / total:.0f} % |")
    print(json.dumps({"n": n, "wall": wall, "task_ms_per_int": 1e3 * total / n}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
