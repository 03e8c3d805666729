"""The fast paths of the default clean give the same results as the plain formulas."""
import numpy as np
import pytest

from xmiri.kernels.background import nanmedian
from xmiri.kernels.noise import estimate_q, expected_error, outlying_errors
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
    # a sky of another dtype is added first, as numpy would
    np.testing.assert_array_equal(
        outlying_errors(err, rate, 38.0, median_read, 5.0, sky=sky.astype(np.float64)),
        plain_outlying(err, rate + sky.astype(np.float64), 38.0, median_read, 5.0))


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


def test_estimate_q_float32_masks_match_float64():
    rate, err, read = frames(7)
    var_poisson = (np.maximum(rate, 0) / 38.3).astype(np.float32)
    q32 = estimate_q(rate, var_poisson, read, snr=Q_SNR)
    q64 = estimate_q(rate.astype(np.float64), var_poisson.astype(np.float64),
                     read.astype(np.float64), snr=Q_SNR)
    assert q32 == q64 and np.isfinite(q32)
