"""The exposure-wide samples: spread across the exposure, lazily and chunk by chunk."""
import dask.array as da
import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri import defaults
from xmiri.exceptions import ParameterError
from xmiri.steps._common import sample_index


def test_short_exposure_uses_every_integration():
    assert sample_index(5, cap=16) == slice(0, 5)
    assert sample_index(16, cap=16) == slice(0, 16)


@pytest.mark.parametrize("n, cap", [(17, 16), (1000, 64), (16000, 512), (513, 512)])
def test_spread_covers_the_exposure(n, cap, monkeypatch):
    monkeypatch.setattr(defaults, "EXPOSURE_SAMPLING", "spread")
    idx = sample_index(n, cap=cap)
    assert idx.size == cap and idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) >= 1)
    step = np.diff(idx)
    assert step.max() - step.min() <= 1  # evenly spread


def test_first_is_the_default(monkeypatch):
    assert defaults.EXPOSURE_SAMPLING == "first"
    assert sample_index(1000, cap=64) == slice(0, 64)
    monkeypatch.setattr(defaults, "EXPOSURE_SAMPLING", "everywhere")
    with pytest.raises(ParameterError, match="EXPOSURE_SAMPLING"):
        sample_index(1000, cap=64)


class _Counting:
    """An array that records which integrations each read asks for."""

    def __init__(self, values):
        self.values, self.shape, self.dtype, self.ndim = values, values.shape, values.dtype, values.ndim
        self.reads = []

    def __getitem__(self, key):
        if isinstance(key, tuple) and isinstance(key[0], slice) and key[0].stop:
            self.reads.append(key[0])  # (dask's 0-length probe of the dtype is not a read)
        return self.values[key]


def test_spread_sample_reads_chunk_by_chunk(monkeypatch):
    monkeypatch.setattr(defaults, "EXPOSURE_SAMPLING", "spread")
    n, chunk, cap = 2000, 100, 64
    values = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    source = _Counting(values)
    arr = xr.DataArray(da.from_array(source, chunks=(chunk, 2, 3)), dims=("integration", "row", "col"))
    idx = sample_index(n, cap=cap)
    picked = arr.isel(integration=idx)
    assert isinstance(picked.data, da.Array)  # still lazy
    assert source.reads == []
    np.testing.assert_array_equal(picked.values, values[idx])
    # one read per input chunk, each no larger than a chunk
    spans = [(s.start or 0, s.stop) for s in source.reads]
    assert len(spans) == n // chunk
    assert all(b - a <= chunk for a, b in spans)


def test_median_profile_is_drawn_after_an_early_drift(monkeypatch):
    # the trace sits 1 px off for the first 10 of 40 integrations; a first-8 sample sees
    # only those, the spread one mostly the still trace
    n = 40
    offset = np.where(np.arange(n) < 10, 1.0, 0.0)
    ds, _ = xmiri.simulate.simulate(n, seed=3, chunks=10, x_offset=offset, jitter_x=0.0,
                                    n_cosmic_rays=0, n_hot_pixels=0, noise=False)
    from xmiri.steps._traced import reference_trace

    monkeypatch.setattr(defaults, "EXPOSURE_SAMPLE", 8)
    centres = {}
    for mode in ("first", "spread"):
        monkeypatch.setattr(defaults, "EXPOSURE_SAMPLING", mode)
        packed, _ = reference_trace(ds["data"], order=1, cols=(20, 52), sigma_guess=1.6)
        centres[mode] = float(np.nanmedian(packed.sel(trace_field="center").values[50:350]))
    assert abs(centres["first"] - 37.3) < 0.1
    assert abs(centres["spread"] - 36.3) < 0.1


def _counted(n, chunk, seed=0):
    values = np.random.default_rng(seed).normal(size=(n, 7, 5)).astype(np.float32)
    source = _Counting(values)
    arr = xr.DataArray(da.from_array(source, chunks=(chunk, 7, 5)), dims=("integration", "row", "col"))
    return values, source, arr


def test_sample_is_computed_apart_from_the_exposure_pass():
    # the sample's chunks are read (and computed) again for the median instead of being held
    # by dask until the median exists: the first 100 integrations are read twice
    from xmiri.steps._common import over_sample, sample_reduction

    values, source, arr = _counted(400, 50)
    frames = arr * 2  # the exposure's pass
    median = over_sample(sample_reduction, frames, cap=100)
    assert source.reads == []  # lazy
    out = xr.Dataset({"pass": frames - median}).compute()
    starts = sorted(s.start or 0 for s in source.reads)
    assert starts == [0, 0, 50, 50, 100, 150, 200, 250, 300, 350]
    expected = np.median(values[:100].astype(np.float64) * 2, axis=0)
    assert np.array_equal(median.values, expected)
    assert np.array_equal(out["pass"].values, values * 2 - expected)


def test_a_short_exposure_holds_its_sample():
    # up to EXPOSURE_SAMPLE_APART (2) samples long, the sample is not computed twice
    from xmiri.steps._common import over_sample, sample_reduction

    values, source, arr = _counted(200, 50)
    frames = arr * 2
    median = over_sample(sample_reduction, frames, cap=100)
    xr.Dataset({"pass": frames - median}).compute()
    assert sorted(s.start or 0 for s in source.reads) == [0, 50, 100, 150]
    assert np.array_equal(median.values, np.median(values[:100].astype(np.float64) * 2, axis=0))


def test_sample_falls_back_where_dask_cannot_clone_the_graph():
    # dask/dask#12455 (tests/test_dask_upstream.py): a clone of from_delayed chunks fails when
    # optimised, so the sample is taken from the arrays as they are, with the same values
    import dask

    from xmiri.steps._common import over_sample, sample_reduction

    values = np.random.default_rng(1).normal(size=(80, 7, 5))
    parts = [da.from_delayed(dask.delayed(values.__getitem__)(slice(i, i + 20)), (20, 7, 5), dtype=float)
             for i in range(0, 80, 20)]
    arr = xr.DataArray(da.concatenate(parts), dims=("integration", "row", "col"))
    median = over_sample(sample_reduction, arr, cap=30)
    (computed,) = dask.compute(median)
    assert np.array_equal(computed.values, np.median(values[:30], axis=0))


@pytest.mark.parametrize("target", [8, 200, 10**9])
def test_sample_reduction_in_slabs_of_rows_is_the_whole_median(target, monkeypatch):
    from xmiri.steps._common import sample_reduction

    monkeypatch.setattr(defaults, "CHUNK_TARGET_BYTES", target)  # 1 row, a few rows, all rows
    values, _, arr = _counted(90, 40, seed=2)
    values[3:50, 2, 1] = np.nan  # a NaN-ignoring median where pixels are missing
    arr = arr.copy(data=da.from_array(values, chunks=(40, 7, 5)))
    reduced = sample_reduction(arr)
    assert reduced.chunks == ((7,), (5,))
    expected = np.nanmedian(values.astype(np.float64), axis=0)
    assert np.array_equal(reduced.values, expected)
