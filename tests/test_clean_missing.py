"""clean never invents: missing pixels (NaN, as jwst >= 1.9 writes them, or DQ-masked).

Frames of a bright steady star from ``xmiri.simulate`` (a PSF widening with
wavelength and a tilted trace, so that the profile really changes along the
rows), with the known sky subtracted; pixels are removed as real files lose
them and the replacements are compared with the noise-free truth.
"""
import warnings

import numpy as np
import pytest

import xmiri
from xmiri.exceptions import ParameterError
from xmiri.kernels.clean import clean_block
from xmiri.simulate import simulate

N_INT = 20
SCENE = dict(n_cosmic_rays=0, n_hot_pixels=0, stellar_flux=4000.0, transit_depth=0.0,
             psf_sigma=lambda lam: 1.2 + 0.08 * (lam - 5), trace_curve=(0.0, 1.0))
OPTIONS = dict(window_heights=[40], dq_mask=0, poly_order=4, outlier_threshold=4.0, profile_left=26,
               profile_right=47, unfitted=np.nan, max_gap=3, fill_span=40, fill_min_weight=0.5,
               fill_max_change=0.5)


@pytest.fixture(scope="module")
def star():
    """(data, truth, err) of sky-subtracted frames, float64, (N_INT, 416, 72)."""
    ds, truth = simulate(N_INT, seed=3, **SCENE)
    model, _ = simulate(N_INT, seed=3, noise=False, **SCENE)
    sky = truth["background"].values
    return (ds["data"].values - sky, model["data"].values - sky, ds["err"].values.astype(float))


def removed(shape, rows, cols):
    mask = np.zeros(shape, bool)
    mask[:, rows, cols] = True
    return mask


def brightest(truth, row, n):
    return np.sort(np.argsort(truth[0, row])[::-1][:n])


def check_unbiased(cleaned, truth, err, filled):
    """Replacements within their noise: mean pull below 0.25, relative bias below 1 %."""
    assert filled.sum() > 0
    pull = (cleaned - truth)[filled] / err[filled]
    assert abs(pull.mean()) < 0.25, pull.mean()
    assert 0.5 < pull.std() < 1.5, pull.std()
    assert abs((cleaned - truth)[filled].sum() / truth[filled].sum()) < 0.01


def test_random_missing_pixels_are_replaced_without_bias(star):
    data, truth, err = star
    rng = np.random.default_rng(1)
    mask = rng.random(data.shape) < 0.01
    cleaned, replaced, _ = clean_block(np.where(mask, np.nan, data), None, **OPTIONS)
    assert replaced[mask].all()
    assert np.isfinite(cleaned).all()  # isolated gaps: measured rows around them
    profile_cols = np.zeros(data.shape, bool)
    profile_cols[..., 26:47] = True
    check_unbiased(cleaned, truth, err, mask & profile_cols)
    pull = np.abs(cleaned - truth)[mask & profile_cols] / err[mask & profile_cols]
    assert np.mean(pull > 5) < 0.005
    # the column polynomial alone misses the sharp end of the spectrum (rows ~390)
    old, _, _ = clean_block(np.where(mask, np.nan, data), None, **{**OPTIONS, "max_gap": None})
    old_pull = np.abs(old - truth)[mask & profile_cols] / err[mask & profile_cols]
    assert np.mean(old_pull > 5) > 0.01
    # pixels that were not missing (no outliers here) are untouched
    np.testing.assert_array_equal(cleaned[~replaced], data[~replaced])


@pytest.mark.parametrize("length", [20, 40], ids=["20 rows", "40 rows"])
def test_dead_stretch_within_fill_span_is_filled_from_neighbouring_rows(star, length):
    data, truth, err = star
    mask = removed(data.shape, slice(200, 200 + length), [37])
    cleaned, replaced, profile = clean_block(np.where(mask, np.nan, data), None, **OPTIONS)
    assert np.isfinite(cleaned[mask]).all()
    check_unbiased(cleaned, truth, err, mask)
    # the polynomial across the empty window (max_gap=None) is far off: the test can fail
    old, _, _ = clean_block(np.where(mask, np.nan, data), None, **{**OPTIONS, "max_gap": None})
    assert np.isnan(old[mask]).any() or np.mean(np.abs(old - truth)[mask] / err[mask]) > 3


def test_dead_stretch_longer_than_fill_span_stays_missing(star):
    data, truth, err = star
    mask = removed(data.shape, slice(200, 260), [37])
    cleaned, replaced, profile = clean_block(np.where(mask, np.nan, data), None, **OPTIONS)
    assert np.isnan(cleaned[mask]).all() and replaced[mask].all()
    assert np.isfinite(cleaned[~mask]).all()
    # the profile of those rows is interpolated from the complete rows around them
    true_p = np.clip(truth[..., 26:47], 0, None)
    true_p /= true_p.sum(axis=-1, keepdims=True)
    rows = slice(200, 260)
    p37 = profile[:, rows, 37]
    error = np.abs(p37 / true_p[:, rows, 37 - 26] - 1)  # noise of the neighbours' data
    assert np.median(error) < 0.02 and error.max() < 0.1
    np.testing.assert_allclose(profile[:, rows, 26:47].sum(axis=-1), 1.0)


def test_saturated_core_is_not_guessed(star):
    data, truth, err = star
    cols = brightest(truth, 265, 3)
    mask = removed(data.shape, slice(250, 280), cols)
    cleaned, replaced, _ = clean_block(np.where(mask, np.nan, data), None, **OPTIONS)
    # the wings hold less than half of the profile weight: nothing honest to scale
    assert np.isnan(cleaned[mask]).all()
    assert np.isfinite(cleaned[~mask]).all()


def test_filled_pixels_need_both_neighbours(star):
    """A long run reaching the frame's edge has complete rows on one side only."""
    data, truth, err = star
    mask = removed(data.shape, slice(0, 10), [37])
    cleaned, _, _ = clean_block(np.where(mask, np.nan, data), None, **OPTIONS)
    assert np.isnan(cleaned[mask]).all()


def test_dq_masked_runs_count_as_missing(star):
    data, truth, err = star
    mask = removed(data.shape, slice(200, 230), [37])
    dq = np.where(mask, np.uint32(2048), np.uint32(0))
    by_dq, replaced, _ = clean_block(data, dq, **{**OPTIONS, "dq_mask": 2048})
    by_nan, _, _ = clean_block(np.where(mask, np.nan, data), None, **OPTIONS)
    assert replaced[mask].all()
    np.testing.assert_array_equal(by_dq, by_nan)


def test_without_max_gap_nothing_changes(star):
    """max_gap=None is the former (ExoTiC-MIRI) behaviour; complete frames are identical."""
    data = star[0][:4]
    options = {k: v for k, v in OPTIONS.items() if not k.startswith(("max_gap", "fill_"))}
    for a, b in zip(clean_block(data, None, **OPTIONS), clean_block(data, None, **options)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [dict(max_gap=-1), dict(max_gap=2.5),
                                    dict(fill_min_weight=0.0), dict(fill_min_weight=None),
                                    dict(fill_span=-3)],
                         ids=["negative gap", "float gap", "zero weight", "no weight",
                              "negative span"])
def test_bad_fill_arguments(kwargs):
    with pytest.raises(ParameterError):
        clean_block(np.zeros((1, 40, 48)), None, **{**OPTIONS, **kwargs})


def test_step_leaves_long_runs_missing_and_flags_them():
    ds, _ = simulate(4, seed=2, **SCENE)
    data = ds["data"].values.copy()
    data[:, 200:260, 37] = np.nan
    ds = ds.assign(data=(ds["data"].dims, data, ds["data"].attrs),
                   dq=ds["dq"] | np.uint32(1) * np.isnan(ds["data"].copy(data=data)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xmiri.XmiriWarning)
        out = ds.lrs.subtract().lrs.clean().compute()
        old = ds.lrs.subtract().lrs.clean(max_gap=None).compute()
    assert out["data"][:, 200:260, 37].isnull().all()
    assert ((out["dq"][:, 200:260, 37] & 17) == 17).all()  # DO_NOT_USE and OUTLIER
    assert old["data"][:, 240:260, 37].notnull().all()  # the polynomial guessed them
    assert "max_gap=3" in out.attrs["history"]


@pytest.mark.parametrize("seed", range(5))
def test_separable_frame_is_filled_exactly(seed):
    """A frame f(row) * P(col) with missing pixels: the neighbouring rows give them exactly."""
    rng = np.random.default_rng(seed)
    n_int, n_row, n_col = 3, 120, 30
    flux = rng.uniform(50, 500, (n_int, n_row, 1))
    shape = np.exp(-0.5 * ((np.arange(n_col) - 14.6) / 2.0) ** 2) + 0.01
    truth = flux * shape
    mask = rng.random(truth.shape) < 0.03
    mask[:, 50:75, 14] = True  # a dead stretch of the trace centre
    options = {**OPTIONS, "profile_left": 2, "profile_right": 28}
    cleaned, replaced, profile = clean_block(np.where(mask, np.nan, truth), None, **options)
    inside = mask.copy()
    inside[..., :2] = inside[..., 28:] = False
    # rows with complete rows on both sides, whose good pixels hold at least half of the
    # profile (fill_min_weight); the others fall back on the column polynomial (inexact here)
    complete = ~mask[..., 2:28].any(axis=-1)
    above = np.cumsum(complete, axis=1) - complete > 0
    below = np.cumsum(complete[:, ::-1], axis=1)[:, ::-1] - complete > 0
    held = np.where(mask[..., 2:28], 0, shape[2:28]).sum(axis=-1) / shape[2:28].sum()
    filled = inside & (above & below & (held >= 0.5))[..., None]
    assert filled[:, 50:75, 14].mean() > 0.8
    np.testing.assert_allclose(cleaned[filled], truth[filled], rtol=1e-9)
    np.testing.assert_allclose(profile[:, 50:75, 2:28], np.broadcast_to(
        shape[2:28] / shape[2:28].sum(), (n_int, 25, 26)), rtol=1e-9)


@pytest.mark.parametrize("max_gap", [3, None])
def test_float32_outputs_are_the_float64_results_rounded(star, max_gap):
    """cleaned_dtype / profile_dtype give astype(float32) of the float64 results, bit for bit."""
    data = star[0][:3].astype(np.float32)
    data[:, 200:210, 30:33] = np.nan  # long runs: filled from the neighbouring rows
    data[:, 100, 35] = np.nan
    data[1, 50, 20] += 1e4
    options = {**OPTIONS, "max_gap": max_gap}
    ref = clean_block(data, None, **options)
    got = clean_block(data, None, cleaned_dtype=np.float32, profile_dtype=np.float32, **options)
    for a, b in zip(ref, got):
        assert b.dtype == (bool if a.dtype == bool else np.float32)
        np.testing.assert_array_equal(a.astype(b.dtype), b)
    with pytest.raises(ParameterError):
        clean_block(data, None, cleaned_dtype=np.int32, **options)
