#!/usr/bin/env python
"""What two threads cost one block, against two processes (issue 23, benchmarks/RESULTS.md).

The default ``clean`` block (``xmiri.steps.clean._clean_block``) of 100
realistic integrations, sky subtracted, in memory: run ``--calls`` times in a
row on one thread, then the same on two threads at once, then in two forked
processes at once; prints ms per call for each, two rounds.  Two processes
share the memory bus and the caches as two threads do, but not the GIL.

Usage::

    PYTHONPATH=$PWD python benchmarks/threads_penalty.py [--tune-malloc] [--chunk-pixels N] [--robust]

``--tune-malloc`` calls :func:`xmiri.parallel.tune_malloc` first (as the
steps do in dask.distributed workers); ``--chunk-pixels`` sets
``xmiri.kernels.clean._CHUNK_PIXELS`` (pixels per piece of the kernel);
``--robust`` cleans with the robust (MAD) scatter.
"""
import argparse
import importlib
import multiprocessing
import sys
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clean_breakdown import block, default_step_block  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune-malloc", action="store_true")
    parser.add_argument("--chunk-pixels", type=int, default=None)
    parser.add_argument("--robust", action="store_true")
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.tune_malloc:
        from xmiri.parallel import tune_malloc

        tune_malloc()
    if args.chunk_pixels:
        importlib.import_module("xmiri.kernels.clean")._CHUNK_PIXELS = args.chunk_pixels
    call = default_step_block(*block(args.robust))
    call()  # warm

    def run():
        for _ in range(args.calls):
            call()

    def timed(workers):
        t0 = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return 1e3 * (time.perf_counter() - t0) / args.calls

    fork = multiprocessing.get_context("fork")
    for _ in range(2):
        t0 = time.perf_counter()
        run()
        alone = 1e3 * (time.perf_counter() - t0) / args.calls
        threads = timed([threading.Thread(target=run) for _ in range(2)])
        processes = timed([fork.Process(target=run) for _ in range(2)])
        print(f"ms per call: one thread {alone:.1f}; two threads, each {threads:.1f} "
              f"({threads / alone:.2f}x); two processes, each {processes:.1f} ({processes / alone:.2f}x)",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
