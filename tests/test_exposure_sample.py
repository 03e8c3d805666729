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
