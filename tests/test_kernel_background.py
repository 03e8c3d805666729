"""Tests of xmiri.kernels.background against ExoTiC-MIRI and analytic cases."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xmiri.exceptions import ParameterError
from xmiri.kernels.background import nanmedian, running_median_rows
from tests.conftest import Worst, synthetic_cube
from xmiri import defaults
from xmiri.kernels.background import background_block as _background_block

#: The subtract step's defaults, passed explicitly (the kernel has no defaults).
SKY = dict(method="row_wise", left=defaults.BACKGROUND_LEFT, right=defaults.BACKGROUND_RIGHT,
           smoothing_length=None)


def background_block(data, **kwargs):
    """The kernel with the subtract step's defaults for the parameters not given."""
    return _background_block(data, **{**SKY, **kwargs})


RTOL = 1e-5
ATOL_FRACTION = 1e-7  # of max |reference|: float32 rounding where values cross zero
METHODS = ["constant", "row_wise", "col_wise"]
SMOOTHING = [None, 5, 6]


WORST = Worst(rtol=RTOL, atol_fraction=ATOL_FRACTION)


@pytest.fixture(scope="module", autouse=True)
def _report_worst(request):
    yield
    WORST.report(request, "background")


# --------------------------------------------------------------------------
# equivalence with ExoTiC-MIRI
# --------------------------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("smoothing_length", SMOOTHING, ids=lambda v: f"smooth{v}")
@pytest.mark.parametrize("method", METHODS, ids=METHODS)
@pytest.mark.parametrize("source", ["real", "synthetic"], ids=["real", "synthetic"])
def test_matches_exotic(source, method, smoothing_length, request):
    from tests import exotic_reference as ex

    if source == "real":
        data = request.getfixturevalue("real_cube")["data"]
    else:
        data = synthetic_cube(seed=3)[0]
    _, background_ref = ex.subtract(data, method=method, smoothing_length=smoothing_length)
    background = background_block(data, method=method, smoothing_length=smoothing_length)
    assert background.dtype == np.float64 and background.shape == data.shape
    WORST.check(f"background {method}", background, background_ref)


@pytest.mark.reference
@pytest.mark.parametrize(
    "left, right",
    [((0, 10), (60, 72)), ((5, 20), (50, 65)), ((10, 11), (62, 63))],
    ids=["edges", "wide", "single-columns"],
)
@pytest.mark.parametrize("method", METHODS, ids=METHODS)
def test_matches_exotic_other_regions(method, left, right):
    from tests import exotic_reference as ex

    data = synthetic_cube(n_int=2, seed=5)[0]
    _, background_ref = ex.subtract(
        data,
        method=method,
        smoothing_length=7,
        bkg_col_left_start=left[0],
        bkg_col_left_end=left[1],
        bkg_col_right_start=right[0],
        bkg_col_right_end=right[1],
    )
    background = background_block(data, method=method, left=left, right=right, smoothing_length=7)
    WORST.check(f"background {method}", background, background_ref)


# --------------------------------------------------------------------------
# analytic cases
# --------------------------------------------------------------------------
def _trace_on_sky(sky, n_int=2, n_row=40, n_col=72):
    cols = np.arange(n_col)
    trace = 50.0 * np.exp(-((cols - 36.0) ** 2) / (2 * 1.6**2))
    trace[(cols < 24) | (cols > 48)] = 0.0  # keep the background regions pure sky
    return np.broadcast_to(sky + trace, (n_int, n_row, n_col)).copy()


@pytest.mark.parametrize("smoothing_length", SMOOTHING, ids=lambda v: f"smooth{v}")
@pytest.mark.parametrize("method", METHODS, ids=METHODS)
def test_constant_sky_is_recovered_exactly(method, smoothing_length):
    data = _trace_on_sky(7.25)
    background = background_block(data, method=method, smoothing_length=smoothing_length)
    np.testing.assert_array_equal(background, 7.25)


@pytest.mark.parametrize("smoothing_length", SMOOTHING, ids=lambda v: f"smooth{v}")
def test_linear_column_sky_col_wise(smoothing_length):
    """A sky linear in column is a line to col_wise, up to ExoTiC's half-pixel abscissae.

    ExoTiC-MIRI places the median of the region [start, end) at
    (start + end) / 2, half a column right of the centre of the columns
    included, so a sky ``a + b c`` comes back as ``a + b (c - 1/2)``.
    """
    cols = np.arange(72.0)
    sky = 3.0 + 0.125 * cols
    data = _trace_on_sky(sky)
    background = background_block(data, method="col_wise", smoothing_length=smoothing_length)
    np.testing.assert_allclose(background, np.broadcast_to(sky - 0.125 / 2, data.shape), rtol=1e-14, atol=1e-13)


def test_linear_row_sky_row_wise():
    rows = np.arange(40.0)[:, np.newaxis]
    data = _trace_on_sky(2.0 + 0.5 * rows)
    background = background_block(data, method="row_wise")
    np.testing.assert_array_equal(background, np.broadcast_to(2.0 + 0.5 * rows, data.shape))
    # a running median leaves a monotonic sequence unchanged away from the
    # first and last 4 rows, where the window is clipped (as in ExoTiC-MIRI)
    smoothed = background_block(data, method="row_wise", smoothing_length=9)
    np.testing.assert_array_equal(smoothed[:, 4:-4], background[:, 4:-4])
    np.testing.assert_array_equal(smoothed[:, 0], 2.0 + 0.5 * 2)  # median of rows 0..4


@pytest.mark.parametrize("block_elements", [None, 1, 50], ids=["one-block", "row-by-row", "small-blocks"])
def test_running_median_matches_clipped_windows(block_elements, monkeypatch):
    if block_elements is not None:
        monkeypatch.setattr("xmiri.kernels.background._BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 25, 4))
    values[1, 5, 2] = np.nan
    values[2, :4, 1] = np.nan
    for length in (1, 2, 3, 4, 5, 6, 11, 60):
        half = (length - 1) // 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy on all-NaN windows
            expected = np.stack(
                [np.nanmedian(values[:, max(0, i - half) : i + half + 1, :], axis=1) for i in range(25)], axis=1
            )
        np.testing.assert_array_equal(running_median_rows(values, length), expected)


def test_nanmedian_matches_numpy():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(5, 7, 9))
    values[values > 1.2] = np.nan
    values[2, 3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for axis in (0, 1, 2, -1):
            np.testing.assert_array_equal(nanmedian(values, axis=axis), np.nanmedian(values, axis=axis))
    assert nanmedian(np.empty((3, 0))).shape == (3,)
    assert np.all(np.isnan(nanmedian(np.empty((3, 0)))))


# --------------------------------------------------------------------------
# NaN, empty and invalid inputs
# --------------------------------------------------------------------------
@pytest.mark.parametrize("smoothing_length", SMOOTHING, ids=lambda v: f"smooth{v}")
@pytest.mark.parametrize("method", METHODS, ids=METHODS)
def test_nan_pixels_are_ignored(method, smoothing_length):
    data = _trace_on_sky(4.0, n_int=3)
    data[0] = np.nan  # an all-NaN integration
    data[1, 10, 8:17] = np.nan  # a row with a NaN left region
    data[2, :, 9] = np.nan  # scattered NaN pixels in the regions
    data[2, 3, 60] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        background = background_block(data, method=method, smoothing_length=smoothing_length)
    assert np.all(np.isnan(background[0]))
    np.testing.assert_array_equal(background[2], 4.0)
    if method == "col_wise" and smoothing_length is None:
        assert np.all(np.isnan(background[1, 10]))  # no left median: no line
        background[1, 10] = 4.0
    np.testing.assert_array_equal(background[1], 4.0)


@pytest.mark.parametrize("method", METHODS, ids=METHODS)
def test_empty_block(method):
    background = background_block(np.empty((0, 416, 72), np.float32), method=method, smoothing_length=5)
    assert background.shape == (0, 416, 72) and background.dtype == np.float64


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "polynomial"},
        {"left": (17, 8)},
        {"left": (8, 8)},
        {"right": (56, 80)},
        {"left": (-1, 5)},
        {"left": (8.0, 17)},
        {"left": 8},
        {"smoothing_length": 0},
        {"smoothing_length": 2.5},
        {"smoothing_length": True},
        {"method": "col_wise", "left": (10, 20), "right": (12, 18)},
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_invalid_parameters_raise(kwargs):
    with pytest.raises(ParameterError):
        background_block(np.zeros((1, 20, 72)), **kwargs)


def test_non_3d_data_raises():
    with pytest.raises(ParameterError):
        background_block(np.zeros((20, 72)))
    with pytest.raises(ParameterError):
        running_median_rows(np.zeros(5), 3)


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    level=st.floats(-1e6, 1e6, allow_nan=False),
    method=st.sampled_from(METHODS),
    smoothing_length=st.one_of(st.none(), st.integers(1, 30)),
    n_int=st.integers(0, 3),
    n_row=st.integers(1, 30),
)
def test_property_constant_sky(level, method, smoothing_length, n_int, n_row):
    data = np.full((n_int, n_row, 72), level)
    background = background_block(data, method=method, smoothing_length=smoothing_length)
    np.testing.assert_allclose(background, level, rtol=1e-15, atol=0)


@settings(max_examples=40, deadline=None)
@given(
    values=hnp.arrays(np.float64, (2, 15, 3), elements=st.one_of(st.floats(-1e3, 1e3), st.just(np.nan))),
    length=st.integers(1, 40),
)
def test_property_running_median_matches_brute_force(values, length):
    smoothed = running_median_rows(values, length)
    half = (length - 1) // 2
    n_row = values.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.stack(
            [np.nanmedian(values[:, max(0, i - half) : i + half + 1, :], axis=1) for i in range(n_row)], axis=1
        )
    np.testing.assert_allclose(smoothed, expected, rtol=1e-15, atol=0, equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(
    offset=st.floats(-100, 100),
    scale=st.floats(0.01, 100),
    method=st.sampled_from(METHODS),
    smoothing_length=st.one_of(st.none(), st.integers(1, 9)),
)
def test_property_affine_equivariance(offset, scale, method, smoothing_length):
    """background(scale * data + offset) = scale * background(data) + offset."""
    data = synthetic_cube(n_int=1, n_row=30, seed=7)[0].astype(np.float64)
    base = background_block(data, method=method, smoothing_length=smoothing_length)
    moved = background_block(scale * data + offset, method=method, smoothing_length=smoothing_length)
    np.testing.assert_allclose(moved, scale * base + offset, rtol=1e-12, atol=1e-10 * (abs(offset) + scale * 100))


def test_nanmedian_is_np_median_bit_for_bit_without_nan():
    """nanmedian sorts; without NaN its values are np.median's, bit for bit (signed zeros included)."""
    rng = np.random.default_rng(5)
    pool = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 2.5, 3.0])
    for n in (1, 2, 5, 8, 9, 16):
        values = np.concatenate([pool[rng.integers(0, pool.size, (200, n))],
                                 rng.standard_normal((200, n))])
        with np.errstate(invalid="ignore"):
            expected = np.median(values, axis=-1)
        got = nanmedian(values)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        finite = ~np.isnan(expected)
        np.testing.assert_array_equal(got[finite].view(np.int64), expected[finite].view(np.int64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("step", [7, None], ids=["small-steps", "default-steps"])
def test_region_median_is_nanmedian_bit_for_bit(dtype, step, monkeypatch):
    """The selection network of the sky's region medians gives nanmedian's values, bit for bit:
    ties, signed zeros, infinities, and NaN (which sends the whole array to nanmedian)."""
    from xmiri.kernels.background import _NETWORK_WIDTH, _region_median

    if step is not None:
        monkeypatch.setattr("xmiri.kernels.background._NETWORK_ELEMENTS", step)
    rng = np.random.default_rng(9)
    pool = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 2.5, 3.0], dtype)
    for n in range(1, _NETWORK_WIDTH + 3):
        values = np.concatenate([pool[rng.integers(0, pool.size, (2, 150, n))],
                                 rng.standard_normal((2, 150, n)).astype(dtype)], axis=1)
        for nan in (False, True):
            if nan:
                values[1, 7, n // 2] = np.nan
            with np.errstate(invalid="ignore"):
                expected, got = nanmedian(values), _region_median(values)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize("method, smoothing", [("col_wise", None), ("col_wise", 3), ("row_wise", None),
                                               ("constant", None)])
def test_subtract_block_is_data_less_background_block(method, smoothing, monkeypatch):
    """subtract_block: (data - background_block).astype(data.dtype) and the sky in float32, bit for
    bit, whatever the number of integrations per step (the float64 sky is never a whole frame)."""
    from xmiri.kernels.background import background_block, subtract_block

    rng = np.random.default_rng(4)
    data = (rng.standard_normal((5, 20, 30)) + np.linspace(0.0, 3.0, 30)).astype(np.float32)
    data[1, 3, 2] = np.nan
    data[2, 4, 27] = -0.0
    kwargs = dict(method=method, left=(0, 6), right=(24, 30), smoothing_length=smoothing)
    sky = background_block(data, **kwargs)
    for step in (None, 1, 700):  # elements of float64 sky per step: default, one row, two integrations
        if step is not None:
            monkeypatch.setattr("xmiri.kernels.background._SKY_ELEMENTS", step)
        subtracted, sky32 = subtract_block(data, **kwargs)
        assert subtracted.dtype == np.float32 and sky32.dtype == np.float32
        np.testing.assert_array_equal(subtracted.view(np.int32), (data - sky).astype(np.float32).view(np.int32))
        np.testing.assert_array_equal(sky32.view(np.int32), sky.astype(np.float32).view(np.int32))
