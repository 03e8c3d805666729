"""Frames that carry a real file's DQ and ERR maps and a realistic hit rate, for benchmarks.

``xmiri.simulate`` frames have no DQ structure and a uniform ERR, which
flatters the cleaning kernels.  :func:`realistic_frames` starts from the
shared MIRISim rateints file instead: every integration ``k`` takes the
file's integration ``k mod 4`` (its SCI, ERR, DQ, VAR_POISSON and
VAR_RNOISE planes), adds Gaussian noise of the file's own ERR to SCI (so
that integrations differ) and ``hits`` single-pixel cosmic-ray hits of 10 to
100 sigma at random positions.  Nothing here runs in the test suite.
"""
import glob
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("XMIRI_SHARED_DATA", HERE.parents[1] / "shared" / "data"))


def source_file():
    """The shared MIRISim rateints file (the first ``*rateints.fits`` of the shared data)."""
    paths = sorted(glob.glob(str(SHARED / "*rateints.fits")))
    if not paths:
        raise FileNotFoundError(f"no *rateints.fits under {SHARED} (set XMIRI_SHARED_DATA)")
    return paths[0]


def realistic_frames(n, *, seed=0, hits=20):
    """An in-memory Dataset of `n` integrations with the MIRISim file's DQ and ERR maps.

    Parameters
    ----------
    n : int
        Number of integrations.
    seed : int
        Seed of the noise and of the hits.
    hits : float
        Mean number of cosmic-ray hits per integration (Poisson).

    Returns
    -------
    xarray.Dataset
        The reader's layout (``data``, ``err``, ``dq``, ``var_poisson``,
        ``var_rnoise``), numpy-backed; ``integration`` runs 1..n.
    """
    import warnings

    import xmiri

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xmiri.XmiriWarning)
        src = xmiri.open_rateints(source_file()).load()
    n_src = src.sizes["integration"]
    ds = src.isel(integration=np.arange(n) % n_src)
    dt = float(np.nanmedian(np.diff(src["time"].values))) if n_src > 1 else 1.0 / 1800
    ds = ds.assign_coords(integration=np.arange(1, n + 1),
                          time=("integration", src["time"].values[0] + dt * np.arange(n)))
    rng = np.random.default_rng(seed)
    err = ds["err"].values
    sigma = np.where(np.isfinite(err), err, 0.0).astype(np.float32)
    data = ds["data"].values + sigma * rng.standard_normal(sigma.shape, dtype=np.float32)
    n_hits = rng.poisson(hits, n)
    k = np.repeat(np.arange(n), n_hits)
    r = rng.integers(0, data.shape[1], k.size)
    c = rng.integers(0, data.shape[2], k.size)
    amp = np.exp(rng.uniform(np.log(10), np.log(100), k.size)).astype(np.float32)
    data[k, r, c] += amp * np.maximum(sigma[k, r, c], 0.3)
    return ds.assign(data=(ds["data"].dims, data, ds["data"].attrs))


def write_realistic(n, folder, *, seed=0, hits=20, segments=None):
    """Write :func:`realistic_frames` as rateints segments under `folder`; return their paths."""
    import xmiri.simulate as sim

    ds = realistic_frames(n, seed=seed, hits=hits)
    segments = segments or max(1, -(-n // 4000))
    return sim.write_segments(ds, folder, n_segments=segments, prefix="realistic")
