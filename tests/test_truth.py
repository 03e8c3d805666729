"""Truth tests on simulated exposures: what xmiri recovers against what was injected."""
import numpy as np
import pytest

import xmiri


def linear_fit(x, y):
    """Slope, intercept and rms residual of y against x."""
    slope, intercept = np.polyfit(x, y, 1)
    return slope, intercept, float(np.sqrt(np.mean((y - (slope * x + intercept)) ** 2)))


@pytest.fixture(scope="module")
def many_hits():
    """20 cosmic-ray hits per integration on average, all >= 10 sigma."""
    return xmiri.simulate.simulate(8, seed=21, n_cosmic_rays=20, cosmic_ray_snr=(10, 100), n_hot_pixels=0)


def recall(ds, truth, **kwargs):
    cleaned = ds.lrs.clean(dq_bits_to_mask=[], **kwargs)
    replaced = (cleaned["dq"].values & 16) > 0
    pos = truth["hit_integration"].values - int(ds["integration"][0])
    found = replaced[pos, truth["hit_row"].values, truth["hit_col"].values]
    n_false = int(replaced.sum() - found.sum())
    return found.mean(), found.size, n_false / replaced.size


def test_robust_clean_finds_at_least_99_percent_of_hits(many_hits):
    ds, truth = many_hits
    rate, n_hits, false_rate = recall(ds, truth, robust=True, outlier_threshold=5.0)
    assert n_hits >= 100
    assert rate >= 0.99, (rate, n_hits)
    assert false_rate < 0.01  # replaced pixels that were no hit


def test_robust_finds_more_hits_than_the_standard_deviation(many_hits):
    ds, truth = many_hits
    robust, _, _ = recall(ds, truth, robust=True, outlier_threshold=5.0)
    plain, _, _ = recall(ds, truth, robust=False, outlier_threshold=5.0)
    assert robust >= plain


def test_hot_pixels_masked_by_dq_are_replaced():
    ds, truth = xmiri.simulate.simulate(3, seed=4, n_hot_pixels=8, n_cosmic_rays=0)
    cleaned = ds.lrs.clean(dq_bits_to_mask=["HOT"])
    hot = cleaned["dq"].values[:, truth["hot_row"].values, truth["hot_col"].values]
    assert ((hot & 16) > 0).all()
    values = cleaned["data"].values[:, truth["hot_row"].values, truth["hot_col"].values]
    raw = ds["data"].values[:, truth["hot_row"].values, truth["hot_col"].values]
    assert (np.abs(values) < 0.2 * np.abs(raw)).all()  # garbage (200-5000 DN/s) replaced by the fit


@pytest.mark.parametrize("method", ["row_wise", "col_wise"])
def test_background_recovered(method):
    ds, truth = xmiri.simulate.simulate(2, seed=6, noise=False, n_cosmic_rays=0, n_hot_pixels=0,
                                        background_gradient=(2e-3, 4e-3))
    bkg = ds.lrs.subtract(method=method)["background"].values
    true = truth["background"].values
    if method == "col_wise":
        # ExoTiC-MIRI places each region at (start + end) / 2, half a column right of its
        # centre, so a linear sky comes back offset by half a column's gradient.
        np.testing.assert_allclose(bkg, np.broadcast_to(true - 0.5 * 4e-3, bkg.shape), atol=1e-5)
    else:
        # one value per row: the sky at the mean column of the regions, within the gradient
        cols = np.r_[8:17, 56:72]
        expected = np.median(true[:, cols], axis=1)
        np.testing.assert_allclose(bkg[:, :, 0], np.broadcast_to(expected, bkg.shape[:2]), atol=1e-5)


@pytest.fixture(scope="module")
def jittered():
    """Noiseless-ish frames with 0.2 px rms jitter both ways."""
    return xmiri.simulate.simulate(40, seed=8, noise=False, n_cosmic_rays=0, n_hot_pixels=0,
                                   jitter_x=0.2, jitter_y=0.2, transit_depth=0.0, chunks=10)


@pytest.mark.parametrize("axis", ["y", "x"])
def test_shifts_recovered(jittered, axis):
    ds, truth = jittered
    spec = ds.lrs.subtract().lrs.extract().lrs.align().compute()
    slope, _, rms = linear_fit(truth[f"{axis}_shift"].values, spec[f"{axis}_shift"].values)
    assert abs(slope - 1) <= 0.1 and rms <= 0.01, (slope, rms)


def test_gaussian_trace_position_follows_the_trace(jittered):
    ds, truth = jittered
    spec = ds.lrs.subtract().lrs.extract(trace_position="gaussian_fits").compute()
    slope, intercept, rms = linear_fit(truth["trace_center"].values, spec["trace_position"].values)
    assert abs(slope - 1) < 0.05 and rms < 0.01 and abs(intercept) < 0.5


def test_aligned_spectra_match_the_template(jittered):
    ds, truth = jittered
    spec = ds.lrs.subtract().lrs.extract()
    raw = spec["flux"].values
    aligned = spec.lrs.align()["flux"].compute().values
    rows = slice(150, 380)
    scatter = lambda f: np.nanstd(f[:, rows] / np.nanmedian(f[:, rows], axis=0), axis=0).mean()  # noqa: E731
    assert scatter(aligned) < 0.5 * scatter(raw)


@pytest.fixture(scope="module")
def flat_exposure():
    """No transit: the scatter of each light curve over time is its noise."""
    ds, _ = xmiri.simulate.simulate(80, seed=12, transit_depth=0.0, chunks=40)
    return ds.lrs.subtract(method="col_wise").lrs.clean(robust=True)


def scatter_and_error(frames, **kwargs):
    lc = frames.lrs.extract(**kwargs).lrs.light_curves(wavelength_bins=5).compute()
    f, e = lc["flux"].values, lc["flux_error"].values
    return np.std(f, axis=0) / np.mean(f, axis=0), np.mean(e, axis=0) / np.mean(f, axis=0)


def test_optimal_errors_match_scatter_with_horne_q_and_sky(flat_exposure):
    """With Q = gain x time and the subtracted sky as S, errors follow the real scatter,
    and optimal extraction beats the box; ExoTiC-MIRI's Q = 1, S = 0 overstates the errors."""
    q = 0.8 * 47.712  # the simulator's electrons per DN/s
    wide = dict(method="optimal", aperture_left_width=8, aperture_right_width=8, median_spatial_profile=True)
    scatter_q, error_q = scatter_and_error(flat_exposure, horne_q=q, **wide)
    scatter_box, error_box = scatter_and_error(flat_exposure, method="box")
    scatter_1, error_1 = scatter_and_error(flat_exposure, horne_q=None, **wide)  # ExoTiC-MIRI
    ratio = scatter_q / error_q
    assert np.all((ratio > 0.75) & (ratio < 1.4)), ratio  # 80 samples: ~8% uncertainty on a scatter
    assert np.mean(scatter_q) < np.mean(scatter_box)
    assert np.all(error_1 > 1.1 * scatter_1), error_1 / scatter_1
