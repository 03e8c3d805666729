"""The fast paths of the default clean give the same results as the plain formulas."""
import numpy as np
import pytest

from xmiri.kernels.background import nanmedian
from xmiri.kernels.noise import estimate_q, expected_error, median_of, outlying_errors
from xmiri.defaults import Q_SNR
from xmiri.steps.clean import _read_noise


def frames(seed, shape=(6, 40, 30)):
    rng = np.random.default_rng(seed)
    rate = (rng.lognormal(2.0, 1.5, shape) * rng.choice([-1, 1], shape, p=[0.2, 0.8]))
    rate = rate.astype(np.float32)
    read = np.full(shape, 0.07, np.float32) * rng.uniform(0.5, 2, shape).astype(np.float32)
    err = np.sqrt(np.maximum(rate, 0) / 38.0 + read).astype(np.float32)
    err *= rng.choice([1.0, 4.9999, 5.0, 5.0001, 30.0], shape, p=[0.8, 0.05, 0.05, 0.05, 0.05])
    for a in (rate, err):
        a.flat[rng.integers(0, a.size, 20)] = np.nan
    rate.flat[rng.integers(0, rate.size, 3)] = np.inf
    return rate, err, read


def plain_outlying(err, rate, q, var_rnoise, threshold):
    expected = np.sqrt(np.maximum(rate.astype(np.float64), 0) / q
                       + np.asarray(var_rnoise, np.float64))
    with np.errstate(invalid="ignore"):
        return err.astype(np.float64) > threshold * expected


@pytest.mark.parametrize("seed", range(4))
def test_outlying_errors_float32_screen_is_exact(seed):
    rate, err, read = frames(seed)
    median_read = nanmedian(read.reshape(read.shape[0], -1), axis=1)[:, None, None]
    for var_rnoise in (median_read, read, 0.07):
        ours = outlying_errors(err, rate, 38.0, var_rnoise, 5.0)
        np.testing.assert_array_equal(ours, plain_outlying(err, rate, 38.0, var_rnoise, 5.0))
    # values right at the threshold, where a float32 test alone could go either way
    edge = (5.0 * expected_error(rate, 38.0, median_read)).astype(np.float32)
    np.testing.assert_array_equal(outlying_errors(edge, rate, 38.0, median_read, 5.0),
                                  plain_outlying(edge, rate, 38.0, median_read, 5.0))


@pytest.mark.parametrize("seed", range(2))
def test_outlying_errors_with_sky_in_slabs_is_exact(seed):
    # frames of 30,000 pixels: the screen runs in several slabs of integrations
    rate, err, read = frames(seed, shape=(7, 400, 75))
    sky = np.random.default_rng(seed).normal(0, 3, rate.shape).astype(np.float32)
    median_read = nanmedian(read.reshape(read.shape[0], -1), axis=1)[:, None, None]
    for var_rnoise in (median_read, read, 0.07):
        expected = plain_outlying(err, rate + sky, 38.0, var_rnoise, 5.0)
        np.testing.assert_array_equal(outlying_errors(err, rate, 38.0, var_rnoise, 5.0, sky=sky),
                                      expected)
        np.testing.assert_array_equal(outlying_errors(err, rate + sky, 38.0, var_rnoise, 5.0),
                                      expected)
    # read noise per column (as long as the number of frames): broadcast along the columns
    rate, err, _ = frames(seed, shape=(7, 5000, 7))
    per_col = np.linspace(0.05, 0.1, 7)
    np.testing.assert_array_equal(outlying_errors(err, rate, 38.0, per_col, 5.0),
                                  plain_outlying(err, rate, 38.0, per_col, 5.0))
    rate, err, read = frames(seed, shape=(7, 400, 75))
    # a sky of another dtype is added first, as numpy would
    np.testing.assert_array_equal(
        outlying_errors(err, rate, 38.0, median_read, 5.0, sky=sky.astype(np.float64)),
        plain_outlying(err, rate + sky.astype(np.float64), 38.0, median_read, 5.0))


def test_outlying_errors_per_frame_read_noise_edge_cases():
    # one read noise per frame: zero, NaN, negative (ERR-only screen off), tiny and large
    rate, err, _ = frames(5, shape=(6, 40, 30))
    per_frame = np.array([0.0, np.nan, -0.01, 1e-30, 0.07, 50.0])[:, None, None]
    with np.errstate(invalid="ignore"):  # sqrt of the negative one in the plain formula
        plain = plain_outlying(err, rate, 38.0, per_frame, 5.0)
    np.testing.assert_array_equal(outlying_errors(err, rate, 38.0, per_frame, 5.0), plain)
    # ERR right at the floor threshold * sqrt(V_read) of dark pixels
    dark = np.zeros_like(rate)
    edge = np.float32(5.0 * np.sqrt(0.07)) * np.array([1 - 1e-7, 1.0, 1 + 1e-7], np.float32)
    at_floor = np.resize(edge, rate.shape).astype(np.float32)
    for var_rnoise in (0.07, np.full((6, 1, 1), 0.07)):
        np.testing.assert_array_equal(outlying_errors(at_floor, dark, 38.0, var_rnoise, 5.0),
                                      plain_outlying(at_floor, dark, 38.0, var_rnoise, 5.0))


def test_expected_error_broadcasts_like_the_formula():
    rate = np.array([38.0, -5.0, np.nan])
    np.testing.assert_array_equal(expected_error(rate, 38.0, np.zeros((2, 1))),
                                  np.sqrt(np.maximum(rate, 0) / 38.0 + np.zeros((2, 1))))


@pytest.mark.parametrize("shape", [(5, 7, 3), (4, 6, 4), (3, 1, 1), (2, 0, 3)],
                         ids=["odd", "even", "single", "empty"])
def test_read_noise_is_the_frame_nanmedian(shape):
    values = np.random.default_rng(1).random(shape).astype(np.float32)
    if values.size:
        values[1].flat[::3] = np.nan
        values[-1] = np.nan
    expected = nanmedian(values.astype(np.float64).reshape(shape[0], -1), axis=1)
    np.testing.assert_array_equal(_read_noise(values)[:, 0, 0], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_noise_of_frames_without_nan_is_the_frame_median(dtype):
    rng = np.random.default_rng(2)
    values = rng.random((7, 9, 5)).astype(dtype)  # even (45 - 1) and odd counts below
    values[1, 0, 0] = np.inf
    values[2, 0, 0] = -0.5  # negative: not partitioned as bits
    values[3] = 0.0
    values[4, ::2] = -0.0
    values[5] = np.nan
    values[6, 0, 0] = np.nan
    expected = nanmedian(values.astype(np.float64).reshape(7, -1), axis=1)
    got = _read_noise(values)[:, 0, 0]
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    even = values[:, :, :4]  # 36 values a frame: the mean of the two middle ones
    np.testing.assert_array_equal(_read_noise(even)[:, 0, 0],
                                  nanmedian(even.astype(np.float64).reshape(7, -1), axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("size", [0, 1, 2, 7, 1000, 1001])
def test_median_of_is_nanmedian_bit_for_bit(dtype, size):
    rng = np.random.default_rng(size)
    base = (rng.lognormal(0, 3, size) * 100).astype(dtype)
    cases = [base]
    if np.issubdtype(dtype, np.floating) and size:
        for special in (np.nan, np.inf, -np.inf, -0.0, -1.0):
            case = base.copy()
            case[rng.integers(0, size, max(1, size // 3))] = special
            cases.append(case)
        cases.append(np.full(size, np.nan, dtype))
    for case in cases:
        expected = nanmedian(case.astype(np.float64))
        got = median_of(case)
        assert np.array_equal(got, expected, equal_nan=True), (case, got, expected)
        assert type(got) is np.float64


def test_estimate_q_float32_masks_match_float64():
    rate, err, read = frames(7)
    var_poisson = (np.maximum(rate, 0) / 38.3).astype(np.float32)
    q32 = estimate_q(rate, var_poisson, read, snr=Q_SNR)
    q64 = estimate_q(rate.astype(np.float64), var_poisson.astype(np.float64),
                     read.astype(np.float64), snr=Q_SNR)
    assert q32 == q64 and np.isfinite(q32)
    floor = Q_SNR * np.sqrt(nanmedian(read.astype(np.float64).ravel()))
    r, vp = rate.astype(np.float64), var_poisson.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(r) & np.isfinite(vp) & (vp > 0) & (r > floor)
    for n in (ok.sum(), ok.sum() - 1):  # an even and an odd number of pixels
        keep = ok & (np.cumsum(ok).reshape(ok.shape) <= n)
        plain = np.median(r[keep] / vp[keep])
        assert estimate_q(np.where(keep, rate, np.nan), var_poisson, read, snr=Q_SNR) == plain
