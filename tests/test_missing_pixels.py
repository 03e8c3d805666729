"""Missing pixels in extraction (issue 22): rows that lose pixels are measured without bias.

Kernels first (analytic cases and noise realisations), then the step on
simulated frames of a bright steady star from which pixels are removed as
real files lose them (NaN in SCI, as jwst >= 1.9 writes DO_NOT_USE and
saturated pixels), compared with the same frames complete.
"""
import warnings

import numpy as np
import pytest

import xmiri
from xmiri import UnmeasuredWarning
from xmiri.exceptions import ParameterError
from xmiri.kernels.aperture import aperture_weights, gaussian_profile
from xmiri.kernels.extract import box_extract, optimal_extract
from xmiri.kernels.profile import fill_profile, neighbour_profile, profile_from_frame

N_COL = 24


def _gaussian_rows(n_int, n_row, center=11.3, sigma=1.5):
    return gaussian_profile(np.full((n_int, n_row), center), sigma, N_COL)


# --------------------------------------------------------------------------
# kernels: analytic
# --------------------------------------------------------------------------
def test_box_scales_the_valid_pixels_by_the_profile_weight_they_hold():
    profile = _gaussian_rows(1, 3)
    weights = aperture_weights(np.full((1, 3), 11.3), N_COL, 3, 3)
    data = 500.0 * profile
    data[0, 1, 11] = np.nan  # the peak pixel of row 1
    data[0, 2, [10, 11, 12]] = np.nan  # the core of row 2: most of the weight
    out = box_extract(data, 1.0, weights, profile, None, None, min_valid_weight=0.5)
    inside = np.sum(weights[0, 0] * profile[0, 0])
    np.testing.assert_allclose(out.flux[0, :2], 500.0 * inside, rtol=1e-12)  # exact for a true P
    held = 1 - weights[0, 1, 11] * profile[0, 1, 11] / inside
    np.testing.assert_allclose(out.missing_fraction[0], [0.0, 1 - held, np.nan][:2] + [out.missing_fraction[0, 2]])
    assert out.missing_fraction[0, 2] > 0.5 and np.isnan(out.flux[0, 2]) and np.isnan(out.flux_error[0, 2])
    # error of the scaled sum: s * sqrt(sum_valid w^2 err^2) with err = 1
    valid = weights[0, 1] * np.isfinite(data[0, 1])
    np.testing.assert_allclose(out.flux_error[0, 1], np.sqrt(np.sum(valid**2)) / held, rtol=1e-12)
    # the linear weights reproduce the flux
    np.testing.assert_allclose(np.nansum(out.linear_weights * data, axis=-1)[0, :2], out.flux[0, :2])
    assert np.all(out.linear_weights[0, 2] == 0)


def test_min_valid_weight_is_the_threshold():
    profile = np.full((1, 1, 4), 0.25)
    data = np.array([[[1.0, 1.0, np.nan, np.nan]]])
    for method in ("box", "optimal"):
        for threshold, given_up in [(0.5, False), (0.5000001, True), (0.0, False), (1.0, True)]:
            if method == "box":
                out = box_extract(data, 0.1, 1.0, profile, None, None, min_valid_weight=threshold)
            else:
                out = optimal_extract(data, profile, 0.01, 1.0, None, None, q=1.0, sky=None,
                                      min_valid_weight=threshold)
            assert np.isnan(out.flux[0, 0]) == given_up, (method, threshold)
            assert out.missing_fraction[0, 0] == 0.5
    with pytest.raises(ParameterError, match="min_valid_weight"):
        box_extract(data, 0.1, 1.0, profile, None, None, min_valid_weight=2.0)


def test_usable_and_replaced_flags():
    profile = np.full((1, 1, 4), 0.25)
    data = np.ones((1, 1, 4))
    usable = np.array([True, False, True, True])
    replaced = np.array([False, False, False, True])
    out = box_extract(data, 0.1, 1.0, profile, usable, replaced, min_valid_weight=0.5)
    assert out.flux[0, 0] == pytest.approx(4.0)  # the masked pixel is left out, the rest scaled
    assert out.missing_fraction[0, 0] == pytest.approx(0.5)  # masked + replaced
    assert out.linear_weights[0, 0, 1] == 0 and out.linear_weights[0, 0, 3] > 0


def test_optimal_over_valid_pixels_is_exact_for_noiseless_data():
    n_int, n_row = 2, 4
    profile = _gaussian_rows(n_int, n_row)
    weights = aperture_weights(np.full((n_int, n_row), 11.3), N_COL, 4, 4)
    data = 800.0 * profile
    data[0, 0, 12] = np.nan
    data[1, 2, 9:11] = np.nan
    out = optimal_extract(data, profile, 0.05, weights, None, None, q=38.0, sky=None,
                          min_valid_weight=0.5)
    expected = 800.0 * np.sum(weights * profile, axis=-1)
    np.testing.assert_allclose(out.flux, expected, rtol=1e-12)
    # linear weights: flux = sum(a D) over valid pixels, and sum(a P) = sum(w P) (unbiased)
    np.testing.assert_allclose(np.nansum(out.linear_weights * data, axis=-1), out.flux, rtol=1e-12)
    np.testing.assert_allclose(np.sum(out.linear_weights * profile, axis=-1),
                               np.sum(weights * profile, axis=-1), rtol=1e-12)


@pytest.mark.parametrize("method", ["box", "optimal"])
def test_errors_with_missing_pixels_equal_the_scatter_of_realisations(method):
    """flux_error of a row with a missing pixel is the scatter of its estimate over noise."""
    rng = np.random.default_rng(11)
    n_real, n_row = 4000, 2
    profile = _gaussian_rows(1, n_row)
    weights = aperture_weights(np.full((1, n_row), 11.3), N_COL, 3, 3)
    truth = 300.0 * profile
    sigma = np.sqrt(0.5 + truth / 10.0)
    data = truth + sigma * rng.normal(size=(n_real, n_row, N_COL))
    data[:, 0, 12] = np.nan  # row 0 misses a flank pixel, row 1 is complete
    if method == "box":
        out = box_extract(data, sigma, weights, profile, None, None, min_valid_weight=0.5)
    else:
        out = optimal_extract(data, profile, 0.5, weights, None, None, q=10.0, sky=None,
                              min_valid_weight=0.5)
    expected = 300.0 * np.sum(weights[0] * profile[0], axis=-1)
    scatter = np.std(out.flux, axis=0)
    np.testing.assert_allclose(np.median(out.flux_error, axis=0), scatter, rtol=0.05)
    assert np.all(np.abs(np.mean(out.flux, axis=0) - expected) < 4 * scatter / np.sqrt(n_real))


def test_neighbour_profile_follows_the_integration():
    """Each integration's own trace position (jitter), not the exposure's, fills its rows."""
    centers = np.array([11.0, 11.4])[:, None] * np.ones((1, 30))
    profile = gaussian_profile(centers, 1.5, N_COL)
    data = 1000.0 * profile
    data[:, 10:20, 11] = np.nan  # 10 rows of one column, in both integrations
    rows = np.zeros((2, 30), bool)
    rows[:, 10:20] = True
    weights = aperture_weights(centers, N_COL, 4, 4)
    fallback = np.broadcast_to(profile.mean(axis=0), profile.shape)
    got = neighbour_profile(data, np.isfinite(data), weights, rows, fallback, half_height=5)
    band = slice(7, 17)  # the columns any weight of the block touches
    truth = profile[..., band] / profile[..., band].sum(-1, keepdims=True)
    np.testing.assert_allclose(got[:, [10, 11, 18, 19]][..., band], truth[:, [10, 11, 18, 19]], atol=1e-12)
    # the middle rows have no complete neighbour: the fallback, scaled
    assert np.all(np.isfinite(got[:, 14, band]))
    assert np.all(np.isnan(got[~rows]))


def test_profile_from_frame_completes_missing_pixels_along_the_rows():
    rows = np.arange(40.0)
    frame = gaussian_profile(11.0 + 0.01 * rows, 1.5 + 0.002 * rows, N_COL) * (100 + rows)[:, None]
    holes = frame.copy()
    holes[10:30, 11] = np.nan
    expected = profile_from_frame(frame)
    got = profile_from_frame(holes)
    np.testing.assert_allclose(got[10:30], expected[10:30], atol=2e-3)
    np.testing.assert_array_equal(got[:10], expected[:10])
    dead = frame.copy()
    dead[:, 11] = np.nan  # no row measures the column: unknown, not 0
    assert np.isnan(profile_from_frame(dead)[:, 11]).all()
    np.testing.assert_array_equal(fill_profile(expected, got), expected)


# --------------------------------------------------------------------------
# the step on simulated frames (acceptance of issue 22)
# --------------------------------------------------------------------------
ROWS = slice(150, 380)


@pytest.fixture(scope="module")
def bright():
    ds, _ = xmiri.simulate.simulate(16, seed=21, stellar_flux=430.0 * 20, transit_depth=0.0,
                                    n_cosmic_rays=0, n_hot_pixels=0)
    sub = ds.lrs.subtract(method="col_wise").compute()
    return sub, sub.lrs.clean().compute()


CHAINS = {
    "box": (False, dict(method="box")),
    "optimal": (False, dict(method="optimal", horne_q=38.2)),
    "recommended": (True, dict(method="optimal", median_spatial_profile=True, horne_q=38.2,
                               aperture_left_width=8, aperture_right_width=8)),
    "gaussian-fits-box": (False, dict(method="box", trace_position="gaussian_fits")),
    "traced-box": (False, dict(method="box", trace_position="polynomial")),
    "traced-optimal": (True, dict(method="optimal", trace_position="polynomial", horne_q=38.2)),
}


def _holes(data, kind, seed=4):
    mask = np.zeros(data.shape, bool)
    if kind == "random":
        mask = np.random.default_rng(seed).random(data.shape) < 0.01
    elif kind == "dead-stretch":
        mask[:, 200:260, 37] = True
    else:  # the three brightest columns of rows 250-280
        columns = np.argsort(np.nansum(data[0, 250:280], axis=0))[-3:]
        mask[:, 250:280, columns] = True
    return mask


def _extract_pair(frames, kind, kwargs):
    complete = frames.lrs.extract(**kwargs).compute()
    holed = frames.copy()
    mask = _holes(frames["data"].values, kind)
    holed["data"] = frames["data"].where(~mask)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = holed.lrs.extract(**kwargs).compute()
    nan_reported = sum(w.message.count for w in caught if isinstance(w.message, UnmeasuredWarning)
                       and w.message.quantity == "flux" and "min_valid_weight" in w.message.cause)
    return complete, out, nan_reported


@pytest.mark.parametrize("kind", ["random", "dead-stretch", "saturated-core"])
@pytest.mark.parametrize("chain", list(CHAINS))
def test_rows_that_lose_pixels_are_measured_without_bias(bright, chain, kind):
    cleaned_first, kwargs = CHAINS[chain]
    frames = bright[1] if cleaned_first else bright[0]
    complete, out, nan_reported = _extract_pair(frames, kind, kwargs)
    flux, ref = out["flux"].values[:, ROWS], complete["flux"].values[:, ROWS]
    sigma = complete["flux_error"].values[:, ROWS]
    lost = out["missing_fraction"].values[:, ROWS] > 0
    untouched = ~lost & np.isfinite(flux)
    assert np.all(np.abs(flux - ref)[untouched] < 0.5 * sigma[untouched])
    assert np.count_nonzero(np.isnan(out["flux"].values) & np.isfinite(complete["flux"].values)) \
        <= nan_reported
    if kind == "random":
        assert np.isfinite(flux).all() and lost.any()
        assert np.all(np.abs(flux - ref) < 5 * sigma)
    elif kind == "dead-stretch":
        assert np.isfinite(flux).all()
        ratio = np.median(flux / ref, axis=0)
        assert np.all(np.abs(ratio - 1) < 0.02)
    else:
        core = slice(250 - ROWS.start, 280 - ROWS.start)
        good = np.isfinite(flux[:, core])
        assert np.all(np.abs(flux[:, core][good] / ref[:, core][good] - 1) < 0.03)
        assert nan_reported >= np.count_nonzero(~good)


def test_complete_frames_are_unchanged_and_report_nothing_missing(bright):
    spec = bright[0].lrs.extract(method="box").compute()
    assert (spec["missing_fraction"].values[:, ROWS] == 0).all()
    assert spec["missing_fraction"].attrs["units"] == "1"


# --------------------------------------------------------------------------
# whole chains: pixels lost in the rateints, before subtract and clean
# --------------------------------------------------------------------------
def _recommended(frames):
    preset = xmiri.config.preset("recommended")
    assert preset["order"] == ("subtract", "clean")
    return (frames.lrs.subtract(**preset["subtract"]).lrs.clean(**preset["clean"])
            .lrs.extract(**preset["extract"]))


def _box(frames):
    return frames.lrs.subtract().lrs.clean().lrs.extract(method="box")


@pytest.fixture(scope="module")
def raw_bright():
    ds, _ = xmiri.simulate.simulate(16, seed=22, stellar_flux=430.0 * 20, transit_depth=0.0,
                                    n_cosmic_rays=0, n_hot_pixels=0)
    return ds.compute()


@pytest.mark.parametrize("kind", ["random", "dead-stretch", "saturated-core"])
@pytest.mark.parametrize("chain", [_recommended, _box], ids=["recommended", "box"])
def test_chains_measure_rows_that_lost_pixels_in_the_rateints(raw_bright, chain, kind):
    """The issue's acceptance on whole chains: NaN written into SCI as jwst >= 1.9 does."""
    complete = chain(raw_bright).compute()
    holed = raw_bright.copy()
    mask = _holes(raw_bright["data"].values, kind, seed=5)
    holed["data"] = raw_bright["data"].where(~mask)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = chain(holed).compute()
    reported = sum(w.message.count for w in caught if isinstance(w.message, UnmeasuredWarning)
                   and w.message.step == "extract" and w.message.quantity == "flux")
    flux, ref = out["flux"].values[:, ROWS], complete["flux"].values[:, ROWS]
    sigma = complete["flux_error"].values[:, ROWS]
    hit = mask[:, ROWS].any(axis=-1)  # rows that lost a pixel anywhere in the frame
    untouched = ~hit & np.isfinite(flux)
    assert np.all(np.abs(flux - ref)[untouched] < 0.5 * sigma[untouched])
    assert np.count_nonzero(np.isnan(flux) & np.isfinite(ref)) <= reported
    if kind == "random":
        assert np.isfinite(flux).all()
        assert np.all(np.abs(flux - ref) < 5 * sigma)
    elif kind == "dead-stretch":
        assert np.isfinite(flux).all()
        assert np.all(np.abs(np.median(flux / ref, axis=0) - 1) < 0.02)
    else:
        core = slice(250 - ROWS.start, 280 - ROWS.start)
        good = np.isfinite(flux[:, core])
        assert np.all(np.abs(flux[:, core][good] / ref[:, core][good] - 1) < 0.03)


def test_gaussian_trace_fit_is_not_pulled_by_a_dead_stretch():
    """A dead stretch of one trace column (rows 200-260 of column 37) moved the median profile's
    Gaussian centre by 0.25 px; filled from the rows' own scale it moves it by < 0.03 px."""
    from xmiri.kernels.trace import fit_trace_block

    ds, _ = xmiri.simulate.simulate(4, seed=1, noise=False)
    data = ds.lrs.subtract()["data"].values.astype(np.float64)
    holed = data.copy()
    holed[:, 200:260, 37] = np.nan
    kwargs = dict(rows=(200, 390), cols=(12, 68), sigma_guess=1.59)
    complete, _ = fit_trace_block(data, **kwargs)
    center, _ = fit_trace_block(holed, **kwargs)
    assert np.all(np.abs(center - complete) < 0.03)
    # finite frames take the plain median (ExoTiC-MIRI's), untouched by the filling
    from xmiri.kernels.trace import gaussian_fit

    _, plain, _, _ = gaussian_fit(np.arange(12.0, 68.0), np.median(data[:, 200:390, 12:68], axis=1),
                                  sigma_guess=1.59)
    np.testing.assert_array_equal(complete, plain)
