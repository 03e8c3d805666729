#!/usr/bin/env python
"""CPU time of one ``clean_temporal`` working block on realistic frames (issue 23).

The block the step's default chunks give inside an exposure: 140 output
integrations (two chunks of 70) with a halo of 62 on each side, 264 in all,
of ``benchmarks/realistic.py`` frames in memory, and the step's default
parameters; ``xmiri.steps.temporal._block`` is called ``--repeats`` times
on one thread and the best and median thread CPU time are printed, in ms per
block and per output integration.  Thread CPU time, not wall time, so that
another process on the machine changes the figures less.

For an A/B comparison of two trees, run it alternately with each on
``PYTHONPATH``::

    for tree in ../base .; do PYTHONPATH=$tree python benchmarks/temporal_block.py; done
"""
import argparse
import time
import warnings

import numpy as np

from realistic import realistic_frames


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from xmiri import dq as _dq
    from xmiri.kernels import temporal as kernel
    from xmiri.steps import temporal as step

    depth = kernel.halo_depth(step.WINDOW_WIDTH, "mad", kernel.DEFAULT_SCALE_WIDTH)
    n_out = 140
    ds = realistic_frames(n_out + 2 * depth, seed=2)
    data = ds["data"].values
    dq = ds["dq"].values
    valid = (dq & np.asarray(_dq.dq_mask(list(step.DQ_BITS_TO_MASK)), dq.dtype)) == 0
    where = [{"chunk-location": (1, 0, 0), "num-chunks": (3, 1, 1)}]  # halos on both sides

    def call():
        return step._block(data, valid, depth=depth, window_width=step.WINDOW_WIDTH, scale="mad",
                           scale_width=kernel.DEFAULT_SCALE_WIDTH,
                           threshold=step.OUTLIER_THRESHOLD, replace="median", block_info=where)

    flagged = int(call()["flag"].sum())  # warm
    times = []
    for _ in range(args.repeats):
        t0 = time.thread_time()
        call()
        times.append(1e3 * (time.thread_time() - t0))
    best, median = min(times), float(np.median(times))
    print(f"clean_temporal block ({n_out} + 2 x {depth} integrations, {flagged} flagged): "
          f"best {best:.1f} ms ({best / n_out:.3f} ms/int), median {median:.1f} ms "
          f"({median / n_out:.3f} ms/int) over {args.repeats} calls, thread CPU time")


if __name__ == "__main__":
    main()
