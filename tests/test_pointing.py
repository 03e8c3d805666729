"""Pointing-robust optimal extraction (``extract(profile_follows_trace=True)``, issue 26).

The frames here are noiseless, so a flux step is the extraction's and not
the noise's: a steady star with a non-Gaussian, asymmetric, curved trace
(three pixel-integrated Gaussians, computed exactly with erf at each
integration's offset, not with the interpolation the extraction uses) on
the simulator's sky.
"""
import copy
import warnings

import numpy as np
import pytest
from scipy.special import erf

import xmiri
from xmiri.cli import run_chain
from xmiri.config import load_config
from xmiri.exceptions import ParameterError
from xmiri.kernels import profile as kp

N = 24


def _pixelated(cols, center, sigma):
    """A unit Gaussian integrated over each pixel (pixel j spans j - 1/2 .. j + 1/2)."""
    z = (cols - center) / (np.sqrt(2) * sigma)
    h = 0.5 / (np.sqrt(2) * sigma)
    return 0.5 * (erf(z + h) - erf(z - h))


def _star(offsets, n_rows=416, n_cols=72):
    """Noiseless star of the trace moved by `offsets` (n_int,), DN/s, shape (n_int, n_rows, n_cols)."""
    rows = np.arange(n_rows)[:, None]
    cols = np.arange(n_cols)[None, :]
    flux = 8600.0 * np.exp(-0.5 * ((rows - 300.0) / 70.0) ** 2) + 300.0
    mu = 37.0 + 0.4 * (rows - 200.0) / 250.0
    out = []
    for s in offsets:
        c = mu + s
        shape = (0.72 * _pixelated(cols, c, 1.0 + 0.002 * (400 - rows))
                 + 0.2 * _pixelated(cols, c + 0.6, 3.0) + 0.08 * _pixelated(cols, c - 1.5, 0.9))
        out.append(flux * shape)
    return np.array(out)


def _frames(offsets):
    """The simulator's noiseless sky plus the star moved by `offsets`, with consistent variances."""
    n = len(offsets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sky, _ = xmiri.simulate.simulate(n, seed=3, stellar_flux=1e-9, transit_depth=0.0,
                                         n_cosmic_rays=0, n_hot_pixels=0, jitter_x=0.0,
                                         jitter_y=0.0, noise=False)
    rate = sky["data"].values + _star(offsets)
    ds = sky.copy()
    ds["data"] = sky["data"].copy(data=rate.astype(np.float32))
    ds["var_poisson"] = sky["var_poisson"].copy(data=(rate * 0.026).astype(np.float32))
    ds["err"] = np.sqrt(ds["var_poisson"] + ds["var_rnoise"])
    return ds


def _white(config, ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, spec = run_chain(ds, config)
        lc = spec.lrs.light_curves(wavelength_bins=7, wavelength_range=(5.0, 12.0)).compute()
    return lc["white_flux"].values


def _config(follows):
    config = copy.deepcopy(load_config(None, "recommended"))
    config["extract"]["profile_follows_trace"] = follows
    return config


def _step_per_tenth(white, offsets):
    """Slope of the relative white flux against the offset, ppm per 0.1 px."""
    rel = white / np.mean(white[np.asarray(offsets) == 0]) - 1
    return np.polyfit(offsets, rel, 1)[0] * 0.1 * 1e6


@pytest.fixture(scope="module")
def jump():
    offsets = np.where(np.arange(N) < N // 2, 0.0, 0.2)
    return offsets, _frames(offsets)


def test_recommended_uses_the_moving_profile():
    assert load_config(None, "recommended")["extract"]["profile_follows_trace"] is True


def test_jump_moves_the_white_flux_by_at_most_200_ppm_per_tenth_pixel(jump):
    offsets, ds = jump
    new = _step_per_tenth(_white(_config(True), ds), offsets)
    assert abs(new) <= 200, new
    # the frames do test something: a 4 + 4 box at column 36 moves the flux by far more
    box = _config(False)
    box["extract"] = {"method": "box", "aperture_left_width": 4, "aperture_right_width": 4}
    assert abs(_step_per_tenth(_white(box, ds), offsets)) > 1000


def test_slow_drift_moves_the_white_flux_by_at_most_200_ppm_per_tenth_pixel():
    offsets = np.linspace(0.0, 0.2, N)
    new = _step_per_tenth(_white(_config(True), _frames(offsets)), offsets)
    assert abs(new) <= 200, new


def test_fitted_shift_places_the_profile_on_the_frame():
    cols = np.arange(40)
    template = _pixelated(cols, 20.0, 1.3)[None, :].repeat(5, axis=0)
    frames = np.stack([3.0 * _pixelated(cols, 20.0 + s, 1.3)[None, :].repeat(5, axis=0)
                       for s in (0.0, 0.17, -0.4)])
    shift = kp.fit_profile_shift(frames, template, np.zeros(3), rows=(0, 5), iterations=4,
                                 step=0.01)
    np.testing.assert_allclose(shift, [0.0, 0.17, -0.4], atol=2e-3)


def test_shift_is_exact_for_integer_shifts_and_conserves_flux():
    rng = np.random.default_rng(1)
    p = np.zeros((3, 30))
    p[:, 8:20] = rng.random((3, 12))
    # exact up to the rounding of a cumulative sum and its difference
    np.testing.assert_allclose(kp.shift_profile(p, 3.0), np.roll(p, 3, axis=-1), atol=1e-14)
    np.testing.assert_allclose(kp.shift_profile(p, -2.0), np.roll(p, -2, axis=-1), atol=1e-14)
    for s in (0.13, -0.61, 1.5, np.array([0.2, -0.3, 0.9])):
        np.testing.assert_allclose(kp.shift_profile(p, s).sum(-1), p.sum(-1), rtol=1e-12)
    np.testing.assert_allclose(kp.shift_profile(p, 0.0), p, atol=1e-14)


def test_shift_of_a_pixelated_gaussian_matches_the_analytic_one():
    cols = np.arange(40)
    for sigma, s in ((1.6, 0.37), (1.3, -0.23), (2.5, 0.5)):
        moved = kp.shift_profile(_pixelated(cols, 20.0, sigma), s)
        truth = _pixelated(cols, 20.0 + s, sigma)
        assert np.max(np.abs(moved - truth)) < 0.005 * truth.max()
        assert abs(np.sum(cols * moved) / moved.sum() - (20.0 + s)) < 1e-3


def test_align_profiles_moves_each_integration():
    p = np.zeros((2, 1, 9))
    p[0, 0, 4] = p[1, 0, 6] = 1.0
    np.testing.assert_allclose(kp.align_profiles(p, np.array([0.0, -2.0])), p[[0, 0]],
                               atol=1e-15)


def test_profile_follows_trace_needs_the_optimal_median_profile():
    ds = _frames(np.zeros(3)).lrs.subtract()
    with pytest.raises(ParameterError, match="profile_follows_trace"):
        ds.lrs.extract(method="box", profile_follows_trace=True)
    with pytest.raises(ParameterError, match="profile_follows_trace"):
        ds.lrs.extract(method="optimal", profile_follows_trace=True)
    with pytest.raises(ParameterError, match="profile_follows_trace"):
        ds.lrs.extract(method="optimal", median_spatial_profile=True, profile_follows_trace="yes")


def test_shift_rejects_bad_input():
    with pytest.raises(ParameterError, match="shift"):
        kp.shift_profile(np.ones((2, 5)), np.nan)
    with pytest.raises(ParameterError, match="shift"):
        kp.shift_profile(np.ones((2, 5)), np.zeros(3))


def test_move_template_is_shift_profile_of_each_integration():
    """The six whole-pixel copies weighed per integration give shift_profile's numbers."""
    rng = np.random.default_rng(5)
    template = rng.random((7, 20))
    template[:, :3] = template[:, -3:] = 0.0
    shift = np.array([0.0, 0.37, -0.52, 1.0, -2.25, np.nan])
    moved = kp.move_template(template, shift)
    expected = kp.shift_profile(template, np.nan_to_num(shift)[:, None])
    np.testing.assert_allclose(moved, expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(moved[3], np.roll(template, 1, axis=-1), atol=1e-14)  # whole pixels
    np.testing.assert_allclose(moved[5], template, atol=1e-14)  # NaN: not moved
    assert kp.move_template(template, np.empty(0)).shape == (0, 7, 20)
    # one integration at a time, the same numbers
    np.testing.assert_array_equal(np.concatenate([kp.move_template(template, shift[i:i + 1]) for i in range(6)]),
                                  moved)


@pytest.mark.parametrize("columns", [slice(5, 12), slice(0, 20), slice(0, 4), slice(18, 20),
                                     slice(9, 9)])
def test_move_template_on_a_band_of_columns_is_bit_for_bit(columns):
    """The optimal block moves the template on its band of columns only: the whole moved
    profiles' values there (bands inside, across and beyond the template's support; empty)."""
    from xmiri.kernels.profileshift import _move_template

    rng = np.random.default_rng(8)
    template = rng.random((7, 20))
    template[:, :4] = template[:, -3:] = 0.0
    shift = np.array([0.0, 0.37, -0.52, 1.0, -2.25, np.nan, 3.1])
    whole = kp.move_template(template, shift)
    got = _move_template(template, shift, columns)
    assert got.shape == whole[..., columns].shape
    np.testing.assert_array_equal(got, whole[..., columns])


def test_profile_shift_fit_recovers_known_shifts_with_missing_pixels():
    """The fit on whole-pixel copies finds shifts of a noiseless frame with holes to 1e-6 px."""
    rng = np.random.default_rng(6)
    x = np.arange(40.0)
    template = np.exp(-0.5 * ((x - 20.3) / 1.6) ** 2)[None, :] * rng.uniform(0.5, 1.0, (30, 1))
    truth = rng.uniform(-0.8, 0.8, 12)
    frames = 100 * kp.shift_profile(template, truth[:, None]) * rng.uniform(0.9, 1.1, (12, 30, 1))
    frames[rng.random(frames.shape) < 0.05] = np.nan
    shift = kp.fit_profile_shift(frames, template, np.zeros(12), rows=(0, 30), iterations=6, step=0.01)
    np.testing.assert_allclose(shift, truth, atol=1e-6)


def test_profile_shifts_do_not_depend_on_their_piece_size(monkeypatch):
    """shift_profile, move_template and fit_profile_shift work _CHUNK elements at a time (in the
    cache): any piece size gives the same bits, with NaN pixels and shifts of several whole parts."""
    rng = np.random.default_rng(8)
    x = np.arange(30.0)
    template = np.exp(-0.5 * ((x - 14.6) / 1.7) ** 2)[None, :] * rng.uniform(0.5, 1.0, (25, 1))
    shift = np.array([0.0, 0.37, -0.52, 1.4, -2.25, 0.05, 0.6])
    frames = 80 * kp.shift_profile(template, shift[:, None]) + rng.normal(0, 0.01, (7, 25, 30))
    frames[rng.random(frames.shape) < 0.04] = np.nan

    def run():
        return (kp.shift_profile(frames / 80, shift[:, None]), kp.move_template(template, shift),
                kp.fit_profile_shift(frames, template, np.zeros(7), rows=(2, 23), iterations=3, step=0.01))

    reference = run()
    for size in (1, 40, 1000):
        monkeypatch.setattr("xmiri.kernels.profileshift._CHUNK", size)
        for got, expected in zip(run(), reference):
            np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))
