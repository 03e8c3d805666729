"""Tests of the temporal outlier kernel, xmiri.kernels.temporal.

Analytic cases (spikes, steps, ramps, a transit, windows at the ends, short
exposures, masked samples), a brute-force reference on random data,
bit-identical results for any chunking (blocks with halos cut as
``dask.array.map_overlap`` with ``boundary="none"`` cuts them, and through
map_overlap itself), and a truth test: hits injected at known positions
into a simulated exposure (independent noise per integration, jitter, a 1%
transit) must be found, and nothing else.
"""
import warnings

import numpy as np
import pytest

from xmiri.exceptions import ParameterError
from xmiri.kernels import movmedian as movmedian_module
from xmiri.kernels import temporal as temporal_module
from xmiri.kernels.temporal import (
    DEFAULT_SCALE_WIDTH,
    MAD_TO_SIGMA,
    count_flagged,
    effective_window,
    halo_depth,
    moving_median,
    replace_outliers,
)
from xmiri.kernels.temporal import temporal_outliers as kernel_outliers
from xmiri.steps.temporal import OUTLIER_THRESHOLD, WINDOW_WIDTH

#: The step's parameters, for the tests that do not set them (the kernel has no defaults).
STEP = dict(window_width=WINDOW_WIDTH, scale_width=DEFAULT_SCALE_WIDTH,
            outlier_threshold=OUTLIER_THRESHOLD)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def temporal_outliers(data, *args, **kwargs):
    """:func:`xmiri.kernels.temporal.temporal_outliers` with :data:`STEP` for what is not given."""
    return kernel_outliers(data, *args, **{**STEP, **kwargs})


def series(values):
    """A 1-D time series as an (n, 1, 1) cube."""
    return np.asarray(values, dtype=np.float64)[:, np.newaxis, np.newaxis]


def noisy(n, level=100.0, sigma=1.0, seed=0, shape=(1, 1)):
    rng = np.random.default_rng(seed)
    return level + sigma * rng.standard_normal((n,) + shape)


def reference_median(values, valid, half):
    """Clipped moving median by a plain loop over integrations (numpy.nanmedian)."""
    n = values.shape[0]
    out = np.full(values.shape, np.nan)
    for i in range(n):
        lo, hi = max(i - half, 0), min(i + half + 1, n)
        window = np.where(valid[lo:hi], values[lo:hi], np.nan)
        with warnings.catch_warnings():  # all-NaN windows; test code only
            warnings.simplefilter("ignore", RuntimeWarning)
            out[i] = np.nanmedian(window, axis=0)
    return out


def blockwise(data, valid, err, chunk, **kwargs):
    """Run the kernel chunk by chunk, each block with the halos map_overlap would give it."""
    depth = halo_depth(kwargs.get("window_width", 25), kwargs.get("scale", "mad"),
                       kwargs.get("scale_width", DEFAULT_SCALE_WIDTH))
    n = data.shape[0]
    parts = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        lo, hi = max(start - depth, 0), min(stop + depth, n)
        block = [None if a is None else a[lo:hi] for a in (data, valid, err)]
        parts.append(temporal_outliers(*block, halo=(start - lo, hi - stop), **kwargs))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(parts[0])))


@pytest.fixture(scope="module")
def messy_cube():
    """Noise with hits, NaN, masked samples, a masked run and a fully masked pixel."""
    rng = np.random.default_rng(11)
    n = 150
    data = 50.0 + rng.standard_normal((n, 4, 5))
    hits = rng.random(data.shape) < 0.01
    data[hits] += rng.choice([-1, 1], hits.sum()) * rng.uniform(6, 40, hits.sum())
    data[rng.random(data.shape) < 0.01] = np.nan
    valid = rng.random(data.shape) > 0.03
    valid[40:75, 1, 2] = False  # longer than a window
    valid[:, 3, 4] = False
    err = np.full(data.shape, 1.0)
    err[5, 0, 0] = np.nan
    return data, valid, err


# --------------------------------------------------------------------------
# analytic cases
# --------------------------------------------------------------------------
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
@pytest.mark.parametrize("where", [0, 5, 60, 119], ids=["first", "early", "middle", "last"])
def test_constant_series_with_one_spike(sign, where):
    data = series(np.full(120, 7.0))
    data[where] += sign * 3.0
    median, flagged, scatter = temporal_outliers(data, return_scatter=True)
    assert np.flatnonzero(flagged).tolist() == [where]
    assert np.all(median == 7.0) and np.all(scatter == 0.0)
    cleaned = replace_outliers(data, median, flagged)
    np.testing.assert_array_equal(cleaned, np.full(data.shape, 7.0))


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
def test_noisy_series_with_hits(sign):
    data = noisy(300, seed=1)
    spots = [3, 100, 101, 250, 298]  # two adjacent, two near the ends
    data[spots] += sign * 12.0
    median, flagged, scatter = temporal_outliers(data, return_scatter=True)
    assert np.flatnonzero(flagged).tolist() == spots
    assert np.all(np.abs(median[spots] - 100.0) < 1.0)
    assert 0.8 < np.median(scatter) < 1.1  # ~0.96 sigma: see the Notes of temporal_outliers


@pytest.mark.parametrize("step_at", [13, 40, 150, 186], ids=lambda v: f"step{v}")
@pytest.mark.parametrize("noise", [0.0, 1.0], ids=["noiseless", "noisy"])
def test_step_is_not_flagged(step_at, noise):
    """A centred median follows a sharp step h or more integrations from the ends."""
    n = 200
    data = noisy(n, sigma=noise, seed=2)
    data[step_at:] += 50.0
    median, flagged = temporal_outliers(data)
    assert not flagged.any()
    if noise == 0.0:
        np.testing.assert_array_equal(median, data)


def test_step_near_the_end_is_flagged():
    """The documented exception: a step closer than h to an exposure end."""
    data = series(np.full(100, 10.0))
    data[95:] += 50.0  # 5 samples after the step, the minority of their clipped windows
    _, flagged = temporal_outliers(data)
    assert np.flatnonzero(flagged).tolist() == [95, 96, 97, 98, 99]


@pytest.mark.parametrize("scale", ["mad", "err"], ids=["mad", "err"])
def test_slow_transit_and_ramp_are_not_flagged(scale):
    """A 1% transit (1 sigma deep) with a 10-integration ingress on a ramp of 40 sigma."""
    n = 300
    t = np.arange(n, dtype=float)
    shape = np.clip(np.minimum(t - 100.0, 200.0 - t) / 10.0, 0.0, 1.0)
    data = noisy(n, seed=3, shape=(2, 3)) * (1.0 - 0.01 * shape)[:, None, None]
    data += (0.13 * t)[:, None, None]
    _, flagged = temporal_outliers(data, err=np.ones(data.shape), scale=scale)
    assert not flagged.any()


def test_noiseless_ramp_followed_exactly_in_the_interior():
    n, half = 60, 12
    data = series(3.0 + 0.5 * np.arange(n))
    median, flagged = temporal_outliers(data)
    np.testing.assert_array_equal(median[half : n - half], data[half : n - half])
    # clipped windows at the ends: the median of the first / last h + 1 samples
    assert median[0, 0, 0] == np.median(data[: half + 1])
    assert median[-1, 0, 0] == np.median(data[-half - 1 :])
    assert not flagged[half : n - half].any()


def test_windows_at_the_ends_are_clipped_not_wrapped():
    rng = np.random.default_rng(4)
    data = series(rng.standard_normal(40))
    median = moving_median(data, 7)
    for i in range(40):
        lo, hi = max(i - 3, 0), min(i + 4, 40)
        assert median[i, 0, 0] == np.median(data[lo:hi]), i
    # even numbers of samples (i = 1 has 5, i = 0 has 4): mean of the middle two
    assert median[0, 0, 0] == np.mean(np.sort(data[:4, 0, 0])[1:3])


@pytest.mark.parametrize("n", [1, 2, 7, 13], ids=lambda v: f"n{v}")
def test_exposure_not_longer_than_half_window_is_one_median(n):
    data = noisy(n, seed=5, shape=(2, 2))
    median, _ = temporal_outliers(data)  # h = 12 >= n - 1
    np.testing.assert_array_equal(median, np.broadcast_to(np.median(data, axis=0), data.shape))


@pytest.mark.parametrize("n", [14, 20, 25], ids=lambda v: f"n{v}")
def test_effective_window_gives_one_median_for_short_exposures(n):
    """jwst's convention (one median when n <= window) through effective_window."""
    data = noisy(n, seed=6, shape=(2, 2))
    width = effective_window(n, 25)
    median, _ = temporal_outliers(data, window_width=width)
    np.testing.assert_array_equal(median, np.broadcast_to(np.median(data, axis=0), data.shape))
    clipped, _ = temporal_outliers(data)  # plain clipped windows differ
    assert not np.array_equal(clipped, median)


def test_effective_window_and_halo_depth():
    assert effective_window(26, 25) == 25
    assert effective_window(25, 25) == 49
    assert effective_window(1, 25) == 1
    assert halo_depth(25, "mad", DEFAULT_SCALE_WIDTH) == 12 + DEFAULT_SCALE_WIDTH // 2
    assert halo_depth(25, "mad", 201) == 112
    assert halo_depth(5, "err", DEFAULT_SCALE_WIDTH) == 2


def test_masked_samples_excluded_and_never_flagged():
    data = noisy(200, seed=7)
    data[50] += 1e4
    data[60:75] = -1e3  # a masked glitch, longer than half a window
    valid = np.ones(data.shape, bool)
    valid[50] = False
    valid[60:75] = False
    median, flagged, scatter = temporal_outliers(data, valid, return_scatter=True)
    assert not flagged[~valid].any()
    expected = reference_median(data, valid, 12)
    np.testing.assert_array_equal(median, expected)
    assert np.all(np.abs(median - 100.0) < 1.0)
    assert 0.8 < np.median(scatter) < 1.1 and np.max(scatter) < 1.2  # the glitch is not in it


def test_nan_and_inf_data_are_invalid():
    data = noisy(100, seed=8)
    data[10] = np.nan
    data[20] = np.inf
    data[30] = -np.inf
    median, flagged, scatter = temporal_outliers(data, return_scatter=True)
    assert not flagged.any()
    assert np.all(np.isfinite(median)) and np.all(np.isfinite(scatter))


def test_all_masked_window_gives_nan_and_no_flag():
    data = noisy(100, seed=9, shape=(1, 2))
    valid = np.ones(data.shape, bool)
    valid[30:70, 0, 0] = False  # 40 > 25: windows 42..57 hold no valid sample
    valid[:, 0, 1] = False
    data[:, 0, 1] = 1e6
    median, flagged, scatter = temporal_outliers(data, valid, return_scatter=True)
    assert np.all(np.isnan(median[42:58, 0, 0]))
    assert np.all(np.isfinite(median[:42, 0, 0])) and np.all(np.isfinite(median[58:, 0, 0]))
    assert np.all(np.isnan(median[:, 0, 1])) and np.all(np.isnan(scatter[:, 0, 1]))
    assert not flagged.any()


def test_single_valid_sample_is_not_flagged():
    data = noisy(30, seed=10)
    valid = np.zeros(data.shape, bool)
    valid[15] = True
    median, flagged, scatter = temporal_outliers(data, valid, return_scatter=True)
    assert median[15, 0, 0] == data[15, 0, 0] and scatter[15, 0, 0] == 0.0
    assert not flagged.any()


def test_err_scale_flags_beyond_threshold_times_err():
    data = series(np.full(50, 10.0))
    data[[10, 20, 30], 0, 0] += [4.9, 5.1, -5.1]
    err = np.ones(data.shape)
    err[30] = np.nan  # no scale: never flagged
    median, flagged, scatter = temporal_outliers(data, err=err, scale="err", return_scatter=True)
    assert np.flatnonzero(flagged).tolist() == [20]
    np.testing.assert_array_equal(scatter, err)


def test_mad_scale_is_the_moving_median_absolute_residual():
    rng = np.random.default_rng(12)
    data = series(rng.standard_normal(80))
    median, _, scatter = temporal_outliers(data, scale_width=21, return_scatter=True)
    residual = np.abs(data - median).astype(np.float32).astype(np.float64)
    expected = MAD_TO_SIGMA * reference_median(residual, np.ones(data.shape, bool), 10)
    np.testing.assert_array_equal(scatter, expected)


@pytest.mark.parametrize("window_width, scale_width", [(1, 1), (3, 5), (7, 21), (25, 101)],
                         ids=["w1", "w3", "w7", "w25"])
@pytest.mark.parametrize("threshold", [2.0, 5.0], ids=["threshold2", "threshold5"])
def test_matches_brute_force(messy_cube, window_width, scale_width, threshold):
    data, valid, _ = messy_cube
    options = dict(window_width=window_width, scale_width=scale_width, outlier_threshold=threshold)
    median, flagged, scatter = temporal_outliers(data, valid, return_scatter=True, **options)
    median_fast, flagged_fast = temporal_outliers(data, valid, **options)
    ok = valid & np.isfinite(data)
    expected = reference_median(data, ok, window_width // 2)
    np.testing.assert_array_equal(median, expected)
    absolute = np.abs(data - expected).astype(np.float32).astype(np.float64)
    expected_scatter = MAD_TO_SIGMA * reference_median(absolute, ok & np.isfinite(absolute),
                                                       scale_width // 2)
    np.testing.assert_array_equal(scatter, expected_scatter)
    with np.errstate(invalid="ignore"):
        expected_flags = ok & (np.abs(data - expected) > threshold * expected_scatter)
    np.testing.assert_array_equal(flagged, expected_flags)
    # without return_scatter the scale is computed only where it decides a flag
    np.testing.assert_array_equal(median_fast, expected)
    np.testing.assert_array_equal(flagged_fast, expected_flags)


def test_float32_data_give_the_float64_medians():
    data = noisy(90, seed=13, shape=(3, 3)).astype(np.float32)
    valid = np.random.default_rng(13).random(data.shape) > 0.1
    m32, f32, s32 = temporal_outliers(data, valid, return_scatter=True)
    m64, f64, s64 = temporal_outliers(data.astype(np.float64), valid, return_scatter=True)
    assert m32.dtype == s32.dtype == np.float64 and f32.dtype == bool
    np.testing.assert_array_equal(m32, m64)
    np.testing.assert_array_equal(s32, s64)
    np.testing.assert_array_equal(f32, f64)


def test_no_warnings_on_hostile_input(messy_cube):
    data, valid, err = messy_cube
    hostile = data.copy()
    hostile[:, 0, 0] = np.nan
    hostile[:10, 2, 2] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for scale in ("mad", "err"):
            median, flagged = temporal_outliers(hostile, valid, err, scale=scale)
            replace_outliers(hostile, median, flagged, replace="nan")
        temporal_outliers(hostile[:0])
        temporal_outliers(hostile[:1])


# --------------------------------------------------------------------------
# halos and chunk invariance
# --------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 13, 150], ids=lambda v: f"chunk{v}")
@pytest.mark.parametrize(
    "options",
    [dict(), dict(scale_width=25), dict(window_width=5, scale_width=201), dict(scale="err")],
    ids=["default", "mad25", "w5-mad201", "err"],
)
@pytest.mark.parametrize("return_scatter", [False, True], ids=["flags", "scatter"])
def test_bit_identical_for_any_chunking(messy_cube, chunk, options, return_scatter):
    data, valid, err = messy_cube
    options = dict(options, return_scatter=return_scatter)
    whole = temporal_outliers(data, valid, err, **options)
    assert len(whole) == 3 if return_scatter else 2
    for part, full in zip(blockwise(data, valid, err, chunk, **options), whole):
        np.testing.assert_array_equal(part, full)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bit_identical_for_any_chunking_simulated(truth_data, dtype):
    data = truth_data["hit_data"][:, 150:156].astype(dtype)
    whole = temporal_outliers(data)
    for chunk in (7, 13, 64):
        for part, full in zip(blockwise(data, None, None, chunk), whole):
            np.testing.assert_array_equal(part, full)


@pytest.mark.parametrize("chunks", [(62, 70, 128), (100, 98, 62), (130, 130)],
                         ids=["62-70-128", "100-98-62", "130-130"])
def test_through_dask_map_overlap(chunks):
    """The calling convention of the step layer.

    ``map_overlap`` with ``boundary="none"`` and ``trim=False``: the kernel
    learns its halo from ``block_info`` (none at the exposure ends, `depth`
    elsewhere; chunks must be at least `depth` long) and returns the core
    only, so the output keeps the input's chunks.
    """
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(15)
    data = 20.0 + rng.standard_normal((260, 3, 4))
    data[rng.random(data.shape) < 0.01] += 30.0
    valid = rng.random(data.shape) > 0.02
    depth = halo_depth(WINDOW_WIDTH, "mad", DEFAULT_SCALE_WIDTH)
    n_col = data.shape[2]

    def kernel(block, good, block_info=None):
        where, count = block_info[0]["chunk-location"][0], block_info[0]["num-chunks"][0]
        halo = (0 if where == 0 else depth, 0 if where == count - 1 else depth)
        median, flagged = temporal_outliers(block, good, halo=halo)
        return np.concatenate([median, flagged.astype(float)], axis=2)

    lazy_data = da.from_array(data, chunks=(chunks, -1, -1))
    assert min(chunks) >= depth  # else map_overlap rechunks and the chunks below are wrong
    lazy = da.map_overlap(kernel, lazy_data, da.from_array(valid, chunks=(chunks, -1, -1)),
                          depth={0: depth}, boundary="none", trim=False, dtype=float,
                          chunks=(lazy_data.chunks[0], data.shape[1:2], (2 * n_col,)))
    result = lazy.compute(scheduler="sync")
    median, flagged = temporal_outliers(data, valid)
    assert flagged.sum() > 10
    np.testing.assert_array_equal(result[..., :n_col], median)
    np.testing.assert_array_equal(result[..., n_col:].astype(bool), flagged)


def test_halo_positions_get_no_output():
    data = noisy(50, seed=14, shape=(2, 2))
    median, flagged, scatter = temporal_outliers(data, halo=(10, 5), return_scatter=True)
    assert median.shape == scatter.shape == flagged.shape == (35, 2, 2)
    np.testing.assert_array_equal(median, temporal_outliers(data)[0][10:45])
    assert temporal_outliers(data, halo=(25, 25))[0].shape == (0, 2, 2)


def test_group_size_does_not_change_results(messy_cube, monkeypatch):
    data, valid, _ = messy_cube
    whole = temporal_outliers(data, valid)
    monkeypatch.setattr(movmedian_module, "_GROUP_SAMPLES", 200)  # one or two pixels per group
    for part, full in zip(temporal_outliers(data, valid), whole):
        np.testing.assert_array_equal(part, full)


@pytest.mark.parametrize("dense", [0.0, 0.1, 2.0], ids=["all-dense", "default", "never-dense"])
@pytest.mark.parametrize("threshold", [1.5, 5.0], ids=["threshold1.5", "threshold5"])
def test_dense_and_sparse_scales_give_the_same_flags(messy_cube, monkeypatch, dense, threshold):
    # pixels with many undecided samples take one running MAD over the row, the others one
    # window per sample: either way the flags of the full computation (return_scatter)
    data, valid, _ = messy_cube
    options = dict(outlier_threshold=threshold, scale_width=21)
    median, flagged, _ = temporal_outliers(data, valid, return_scatter=True, **options)
    monkeypatch.setattr(temporal_module, "_DENSE_CANDIDATES", dense)
    fast_median, fast_flagged = temporal_outliers(data, valid, **options)
    np.testing.assert_array_equal(fast_median, median)
    np.testing.assert_array_equal(fast_flagged, flagged)
    assert 0 < flagged.sum() < flagged.size


@pytest.mark.parametrize("halo", [(0, 0), (20, 0), (0, 30), (40, 40)])
@pytest.mark.parametrize("replace_dtype", [np.float64, np.float32])
def test_flags_and_medians_at_flags(messy_cube, halo, replace_dtype):
    # what the step uses: the flags, and the medians of the flagged samples in data[flagged] order
    data, valid, _ = messy_cube
    data = data.astype(replace_dtype)
    median, flagged = temporal_outliers(data, valid, halo=halo, outlier_threshold=3.0)
    flags, at_flags = temporal_module._flags_and_medians(data, valid, halo=halo,
                                                         **{**STEP, "outlier_threshold": 3.0})
    np.testing.assert_array_equal(flags, flagged)
    np.testing.assert_array_equal(at_flags, median[flagged])
    assert at_flags.dtype == np.float64 and at_flags.size > 10


@pytest.mark.parametrize("half, start, stop, length", [(2, 0, 9, 9), (2, 3, 6, 9), (50, 0, 1, 1),
                                                       (50, 10, 30, 40), (3, 0, 20, 20)])
def test_window_counts_are_clipped_window_sums(half, start, stop, length):
    mask = np.random.default_rng(half + length).random((6, length)) < 0.4
    counts = temporal_module._window_counts(mask, half, slice(start, stop))
    expected = [[mask[r, max(j - half, 0): j + half + 1].sum() for j in range(start, stop)]
                for r in range(6)]
    np.testing.assert_array_equal(counts, expected)


# --------------------------------------------------------------------------
# helpers: replacement and counts
# --------------------------------------------------------------------------
@pytest.mark.parametrize("replace, expected", [("median", [1.0, 2.0, 3.0]),
                                               ("nan", [1.0, np.nan, 3.0]),
                                               (None, [1.0, 9.0, 3.0])],
                         ids=["median", "nan", "none"])
def test_replace_outliers(replace, expected):
    cleaned = replace_outliers([1.0, 9.0, 3.0], [0.0, 2.0, 0.0], [False, True, False], replace)
    assert cleaned.dtype == np.float64
    np.testing.assert_array_equal(cleaned, expected)


def test_count_flagged_per_integration():
    flagged = np.zeros((4, 3, 2), bool)
    flagged[1, 0, 0] = flagged[1, 2, 1] = flagged[3, 1, 1] = True
    assert count_flagged(flagged).tolist() == [0, 2, 0, 1]
    assert count_flagged(flagged).dtype == np.int64


# --------------------------------------------------------------------------
# parameter checks
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window_width=24), "odd"),
        (dict(window_width=0), "odd"),
        (dict(window_width=2.0), "odd"),
        (dict(scale_width=100), "odd"),
        (dict(scale="std"), "scale"),
        (dict(scale="err"), "err"),
        (dict(outlier_threshold=0.0), "outlier_threshold"),
        (dict(outlier_threshold=np.nan), "outlier_threshold"),
        (dict(outlier_threshold="5"), "outlier_threshold"),
        (dict(halo=(30, 30)), "halo"),
        (dict(halo=(-1, 0)), "halo"),
        (dict(halo=5), "halo"),
        (dict(valid=np.ones((3, 1, 1), bool)), "valid"),
    ],
    ids=["even", "zero", "float", "even-scale", "scale", "no-err", "threshold0", "threshold-nan",
         "threshold-str", "halo-long", "halo-negative", "halo-scalar", "valid-shape"],
)
def test_parameter_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        temporal_outliers(noisy(50), **kwargs)


def test_shape_and_value_errors():
    with pytest.raises(ParameterError, match="3-D"):
        temporal_outliers(np.ones((5, 4)))
    with pytest.raises(ParameterError, match="err shape"):
        temporal_outliers(noisy(10), err=np.ones((9, 1, 1)), scale="err")
    with pytest.raises(ParameterError, match="replace"):
        replace_outliers([1.0], [1.0], [True], replace="zero")
    with pytest.raises(ParameterError, match="start"):
        moving_median(np.ones(5), 3, start=4, stop=2)
    with pytest.raises(ParameterError, match="n_integrations"):
        effective_window(0, WINDOW_WIDTH)


# --------------------------------------------------------------------------
# truth test on simulated data
# --------------------------------------------------------------------------
N_TRUTH = 200
#: Rows kept for speed: the spectrum (flux > 5% of its peak) lies in rows 233-390.
CROP = slice(150, 400)


@pytest.fixture(scope="module")
def truth_data():
    """A hit-free simulation (1% transit, 0.05 px jitter, 6 hot pixels), its
    per-pixel temporal scatter, and a copy with hits of 6-30 scatters.

    Frames are cropped to rows 150-399 (the spectrum and sky on both sides
    of it) to keep the test fast.

    The temporal scatter combines ``err`` (photon and read noise) with the
    pointing jitter's integration-to-integration variance, measured on the
    noiseless counterpart of the same simulation.
    """
    from xmiri.simulate import HOT, simulate

    options = dict(seed=21, n_cosmic_rays=0, transit_depth=0.01)
    ds, truth = simulate(N_TRUTH, **options)
    noiseless, _ = simulate(N_TRUTH, noise=False, **options)
    ds, noiseless = ds.isel(row=CROP), noiseless.isel(row=CROP)
    data = ds.data.values
    model = noiseless.data.values.astype(np.float64)
    jitter_var = 0.5 * np.mean(np.diff(model, axis=0) ** 2, axis=0)
    sigma = np.sqrt(np.mean(ds.err.values.astype(np.float64) ** 2, axis=0) + jitter_var)
    valid = (ds.dq.values & HOT) == 0

    rng = np.random.default_rng(22)
    flux = truth.flux.values[:, CROP].mean(axis=0)
    rows = np.flatnonzero(flux > 0.05 * flux.max())
    cols = np.arange(32, 41)  # on and beside the trace core (column 36.3)
    n_hits = 3 * N_TRUTH
    sites = rng.choice(N_TRUTH * rows.size * cols.size, size=2 * n_hits, replace=False)
    i, rest = np.divmod(sites, rows.size * cols.size)
    r, c = rows[rest // cols.size], cols[rest % cols.size]
    usable = valid[i, r, c]  # no hits on the (masked) hot pixels
    i, r, c = i[usable][:n_hits], r[usable][:n_hits], c[usable][:n_hits]
    k = np.exp(rng.uniform(np.log(6.0), np.log(30.0), n_hits))
    sign = rng.choice([-1.0, 1.0], n_hits)
    hit_data = data.copy()
    hit_data[i, r, c] += (sign * k * sigma[r, c]).astype(np.float32)
    return dict(data=data, hit_data=hit_data, model=model, sigma=sigma, valid=valid,
                err=ds.err.values, hits=(i, r, c, k, sign), hot=~valid)


def test_truth_recall(truth_data):
    i, r, c, k, sign = truth_data["hits"]
    median, flagged = temporal_outliers(truth_data["hit_data"], truth_data["valid"])
    found = flagged[i, r, c]
    assert found[k >= 8].mean() >= 0.95
    assert found.mean() >= 0.90
    assert found[sign > 0].mean() >= 0.90 and found[sign < 0].mean() >= 0.90
    # everything else: hardly any false flag, none on the masked hot pixels
    others = flagged.copy()
    others[i, r, c] = False
    assert others.mean() <= 5e-4
    assert not flagged[truth_data["hot"]].any()
    # replaced values: within about one temporal scatter of the hit-free value
    sigma = truth_data["sigma"][r, c]
    to_data = (median[i, r, c] - truth_data["data"][i, r, c]) / sigma
    to_model = (median[i, r, c] - truth_data["model"][i, r, c]) / sigma
    assert np.sqrt(np.mean(to_data**2)) <= 1.2
    assert np.mean(np.abs(to_model) < 1.0) >= 0.9


@pytest.mark.parametrize("scale", ["mad", "err"], ids=["mad", "err"])
def test_truth_no_false_flags_with_transit(truth_data, scale):
    _, flagged = temporal_outliers(truth_data["data"], truth_data["valid"], truth_data["err"],
                                      scale=scale)
    assert flagged.mean() <= 5e-4
