"""The chain on a dask.distributed cluster of 2 worker processes equals the local result, bit for bit."""
import pickle

import numpy as np
import pytest
import xarray as xr

import xmiri

from tests.conftest import chain, require_module, simulated_segments


def science_chain(ds):
    return chain(ds, dict(window_heights=[40], dq_bits_to_mask=["DO_NOT_USE", "HOT"]),
                 dict(method="col_wise", smoothing_length=5),
                 dict(method="optimal", trace_position="gaussian_fits"))


def _tuned():
    from xmiri.steps import _blockwise

    return _blockwise._TUNED[0]


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    return simulated_segments(tmp_path_factory.mktemp("dist"), 24, n_segments=3, seed=9)


def test_graph_pickles(segments):
    spec = science_chain(xmiri.open_rateints(segments, chunks=5))
    restored = pickle.loads(pickle.dumps(spec))
    xr.testing.assert_identical(restored.compute(), spec.compute())


@pytest.mark.slow
def test_local_cluster_matches_threads(segments, tmp_path):
    distributed = require_module("distributed")
    local = science_chain(xmiri.open_rateints(segments, chunks=5)).compute(scheduler="threads")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        spec = science_chain(xmiri.open_rateints(segments, chunks=7))  # other chunks, other scheduler
        xmiri.to_netcdf(spec, tmp_path / "dist.nc")
        # the steps tuned the malloc of the workers they ran on (no tune_workers call), not this process
        assert list(client.run(_tuned).values()) == [True, True]
    assert not _tuned()
    with xr.open_dataset(tmp_path / "dist.nc") as remote:
        remote = remote.load()
    for name in ("flux", "flux_error", "x_shift", "y_shift", "trace_position", "psf_sigma"):
        np.testing.assert_array_equal(remote[name].values, local[name].values, err_msg=name)  # bit for bit
    xr.testing.assert_identical(remote, local)


@pytest.mark.slow
def test_cli_reduce_on_a_scheduler(segments, tmp_path):
    """`xmiri reduce --scheduler ADDRESS` computes on the cluster and shows its progress bar."""
    import subprocess
    import sys

    distributed = require_module("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "s.nc"
        result = subprocess.run([sys.executable, "-m", "xmiri.cli", "reduce", *segments, "-o", str(out),
                                 "--scheduler", cluster.scheduler_address],
                                capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    local = chain_default(segments)
    with xr.open_dataset(out) as remote:
        np.testing.assert_allclose(remote["flux"].values, local["flux"].values, rtol=1e-12, equal_nan=True)


def chain_default(segments):
    from xmiri.cli import load_config, run_chain

    return run_chain(xmiri.open_rateints(segments), load_config(None))[1].compute()


def test_parallel_optimize_is_dasks_own_and_deprecated():
    import dask
    import dask.array as da
    from dask.array.optimization import optimize as dask_optimize

    from xmiri.exceptions import XmiriFutureWarning
    from xmiri.parallel import optimize

    x = da.ones((6, 4), chunks=(2, 4))
    y = (x.map_blocks(lambda b: b * 2) + 1).sum(axis=1)
    keys = y.__dask_keys__()
    with pytest.warns(XmiriFutureWarning) as record:
        graph = optimize(y.__dask_graph__(), keys)
    assert (record[0].message.old, record[0].message.new) == ("xmiri.parallel.optimize",
                                                              "dask.array.optimization.optimize")
    assert set(graph) == set(dask_optimize(y.__dask_graph__(), keys))
    with pytest.warns(XmiriFutureWarning), dask.config.set(array_optimize=optimize):
        np.testing.assert_array_equal(y.compute(), np.full(6, 12.0))
