#!/usr/bin/env python
"""Where the default ``clean`` spends its time beyond the ExoTiC-equal one (issue 23).

One 100-integration block of realistic frames (``benchmarks/realistic.py``),
sky subtracted, in memory; each piece of ``xmiri.steps.clean._clean_block``
and of :func:`xmiri.kernels.clean.clean_block` timed on its own (best of 5,
one thread), in ms per integration.

Usage::

    PYTHONPATH=$PWD python benchmarks/clean_breakdown.py
"""
import importlib
import time
import warnings

import numpy as np

from realistic import realistic_frames


def best(func, repeat=5, n=100):
    """Best wall time of `repeat` calls, ms per integration of an `n`-integration block."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times) / n


def block(robust=False):
    """The realistic block, sky subtracted, and what the clean step's block takes with it.

    Returns ``(arrays, q, fits)``: the block's ``data``, ``dq``, ``err``,
    ``var_rnoise`` and ``background`` planes, Horne's Q read off them, and the
    fit keywords of the default ``clean`` (`robust` scatter or not).
    """
    from xmiri import defaults as d
    from xmiri.steps._common import exposure_q

    sub = realistic_frames(100).lrs.subtract().compute()
    arrays = {k: sub[k].values for k in ("data", "dq", "err", "var_rnoise", "background")}
    fits = dict(window_heights=d.anchored_windows(sub, d.WINDOW_HEIGHTS, d.POLY_ORDER + 1),
                poly_order=d.POLY_ORDER, outlier_threshold=d.CLEAN_OUTLIER_THRESHOLD,
                profile_left=d.PROFILE_COLUMNS[0], profile_right=d.PROFILE_COLUMNS[1], robust=robust)
    return arrays, float(exposure_q(sub).compute()), fits


def default_step_block(arrays, q, fits, repair=True):
    """A zero-argument call of the default clean step's block (``_clean_block``) on `arrays`."""
    from xmiri import defaults as d
    from xmiri import dq as _dq

    step = importlib.import_module("xmiri.steps.clean")
    a = arrays
    return lambda: step._clean_block(
        a["data"], a["dq"], a["err"], a["var_rnoise"], q, a["background"], err_threshold=d.ERR_THRESHOLD,
        repair=repair, center=d.APERTURE_CENTER, flag_missing=True,
        dq_mask=_dq.dq_mask(list(d.DQ_BITS_TO_MASK)), max_gap=d.MAX_GAP, fill_span=d.FILL_SPAN, **fits)


def main():
    from xmiri import defaults as d
    from xmiri import dq as _dq
    from xmiri.kernels import clean as kernel
    from xmiri.kernels import noise

    step = importlib.import_module("xmiri.steps.clean")
    warnings.simplefilter("ignore")
    arrays, q, fits = block()
    data, dq, err, var_rnoise, sky = (arrays[k] for k in ("data", "dq", "err", "var_rnoise", "background"))
    read = step._read_noise(var_rnoise)
    outlying = noise.outlying_errors(err, data, q, read, d.ERR_THRESHOLD, sky=sky)
    exotic_mask, default_mask = _dq.dq_mask([0, 11]), _dq.dq_mask(list(d.DQ_BITS_TO_MASK))
    fill = dict(fill_min_weight=step.FILL_MIN_WEIGHT, fill_max_change=step.FILL_MAX_CHANGE, unfitted=np.nan)
    rows = {
        "kernel clean_block, ExoTiC-equal (2 DQ bits, no filling)": lambda: kernel.clean_block(
            data, dq, dq_mask=exotic_mask, max_gap=None, fill_span=0, **fits, **fill),
        "kernel clean_block, default DQ bits and filling, outlying ERR as bad": lambda: kernel.clean_block(
            data, dq, bad=outlying, dq_mask=default_mask, max_gap=d.MAX_GAP, fill_span=d.FILL_SPAN, **fits, **fill),
        "per-frame read-noise median": lambda: step._read_noise(var_rnoise),
        "outlying-ERR test": lambda: noise.outlying_errors(err, data, q, read, d.ERR_THRESHOLD, sky=sky),
        "step block, ExoTiC-equal": lambda: step._clean_block(
            data, dq, center=d.APERTURE_CENTER, flag_missing=False, dq_mask=exotic_mask, max_gap=None,
            fill_span=0, **fits),
        "step block, default without repair": default_step_block(arrays, q, fits, repair=False),
        "step block, default": default_step_block(arrays, q, fits),
    }
    print("| piece (100 realistic integrations) | ms per integration |")
    print("| --- | ---: |")
    for name, func in rows.items():
        print(f"| {name} | {best(func):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
