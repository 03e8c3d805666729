"""The step layer's block mapping (xmiri.steps._blockwise) against numpy and apply_ufunc."""
import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri.steps._blockwise import gufunc
from xmiri.steps._common import apply, combine


def moments(x, *, offset=0.0):
    """(loop..., n) -> mean (loop...), centred copy (loop..., n), first 2 values (loop..., 2)."""
    mean = x.mean(-1) + offset
    return mean, x - mean[..., None], x[..., :2]


@pytest.fixture
def frames():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(10, 6))
    eager = xr.DataArray(values, dims=("integration", "col"))
    return eager, eager.chunk(integration=3)


def test_several_outputs_with_a_new_dimension_match_numpy(frames):
    eager, lazy = frames
    kw = dict(core=[["col"]], out_core=[[], ["col"], ["pair"]], dtypes=[float] * 3, sizes={"pair": 2},
              offset=1.5)
    expected = apply(moments, eager, **kw)
    got = apply(moments, lazy, **kw)
    for e, g in zip(expected, got):
        assert g.chunks[0] == (3, 3, 3, 1)
        xr.testing.assert_identical(g.compute(), e)


def test_one_layer_per_kernel_and_no_alias_tasks(frames):
    _, lazy = frames
    mean = apply(np.mean, lazy, core=[["col"]], out_core=[[]], dtypes=[float], axis=-1)
    graph = dict(mean.data.__dask_graph__())
    assert len(graph) == 2 * 4  # the source chunks and one task per chunk
    assert not [k for k in graph if "transpose" in str(k)]


@pytest.mark.parametrize("extract", [
    dict(), dict(method="optimal"), dict(trace_position="gaussian_fits"),
    dict(method="optimal", trace_position="gaussian_fits", median_spatial_profile=True),
    dict(trace_position="polynomial"),
])
def test_dask_compute_of_the_chain(extract):
    """dask.compute(spec) gives spec.compute(): dask 2026.8 loses the keys of a stored array
    consumed by exactly one other layer ("Missing dependency"), and of apply_gufunc's aliases."""
    ds, _ = xmiri.simulate.simulate(12, seed=1, chunks=4)
    frames = ds.lrs.subtract().lrs.clean()
    spec = frames.lrs.extract(**extract).lrs.align()
    computed, frames_computed = dask.compute(spec, frames)
    xr.testing.assert_identical(computed, spec.compute())
    xr.testing.assert_identical(frames_computed, frames.compute())


def test_chunked_core_dimension_is_refused_unless_combining(frames):
    eager, lazy = frames
    with pytest.raises(ValueError, match="core dimension 'integration' of a median input is in 4 chunks"):
        gufunc(np.median, lazy.data.T, core=[["integration"]], out_core=[[]], dtypes=[float])
    med = combine(np.median, lazy, core=[["integration"]], out_core=[[]], dtypes=[float], axis=-1)
    np.testing.assert_array_equal(med.compute(), np.median(eager.values, axis=0))


def test_scalars_and_numpy_inputs_reach_every_block(frames):
    eager, lazy = frames
    weights = xr.DataArray(np.arange(6.0), dims="col")
    scale = xr.DataArray(da.from_array(np.array(2.0)))  # a lazy exposure-wide number
    out = apply(lambda x, w, s: (x * w).sum(-1) * s, lazy, weights, scale,
                core=[["col"], ["col"], []], out_core=[[]], dtypes=[float])
    np.testing.assert_allclose(out.compute(), (eager.values * np.arange(6.0)).sum(-1) * 2.0)
