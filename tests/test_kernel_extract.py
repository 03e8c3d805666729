"""Tests of xmiri.kernels.trace and xmiri.kernels.extract.

Equivalence with ExoTiC-MIRI 1.0.1 (Gaussian trace fits, box and optimal
extraction) on the shared calints file and on synthetic cubes, analytic
cases, NaN and degenerate inputs, and hypothesis properties.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.optimize import curve_fit

from tests.conftest import Worst, synthetic_cube
from xmiri.exceptions import ParameterError
from xmiri.kernels.aperture import aperture_cutout, aperture_mask
from xmiri import defaults
from xmiri.kernels.background import background_block as _background_block
from xmiri.kernels.profile import median_profile_from_cutouts
from tests.extraction_calls import box_extract_block, optimal_extract_block
from xmiri.kernels.trace import fit_trace_block, gaussian, gaussian_fit

#: The steps' trace-fit parameters, passed explicitly (the kernel has no defaults).
TRACE = dict(rows=defaults.TRACE_ROWS, cols=defaults.TRACE_COLUMNS, sigma_guess=defaults.PSF_SIGMA_GUESS)
#: The subtract step's defaults, passed explicitly (the kernel has no defaults).
SKY = dict(method="row_wise", left=defaults.BACKGROUND_LEFT, right=defaults.BACKGROUND_RIGHT,
           smoothing_length=None)


def background_block(data, **kwargs):
    """The kernel with the subtract step's defaults for the parameters not given."""
    return _background_block(data, **{**SKY, **kwargs})


WORST = Worst()
SOURCES = ["real", "synthetic"]
TRACE_POSITIONS = ["constant", "gaussian_fits"]


@pytest.fixture(scope="module", autouse=True)
def _report_worst(request):
    yield
    WORST.report(request, "trace and extraction")


def _amp_gaussian(x, a, mu, sigma, base=0.0):
    return base + a * np.exp(-((x - mu) ** 2) / (2.0 * sigma**2))


def _curve_fit_trace(data):
    """ExoTiC-MIRI's per-integration trace fit, done here with scipy directly."""
    x = np.arange(12, 68)
    centers = []
    for frame in data:
        profile = np.median(frame[200:390, 12:68], axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, _ = curve_fit(
                _amp_gaussian, x, profile, p0=[np.max(profile), x[np.argmax(profile)], 1.59, 0.0], method="lm"
            )
        centers.append(popt[1])
    return np.array(centers)


def _profile_from_data(data):
    """A spatial profile P: smoothed, non-negative frame normalised per row in columns 26..46."""
    from scipy.ndimage import uniform_filter1d

    smooth = uniform_filter1d(np.asarray(data, np.float64), size=5, axis=1, mode="nearest")
    profile = np.zeros_like(smooth)
    profile[:, :, 26:47] = np.clip(smooth[:, :, 26:47], 0.0, None) + 1e-6
    return profile / profile.sum(axis=2, keepdims=True)


def _gaussian_profile(shape, center=36.3, sigma=1.6):
    cols = np.arange(shape[2])
    profile = np.exp(-((cols - center) ** 2) / (2 * sigma**2))
    return np.broadcast_to(profile / profile.sum(), shape).copy()


@pytest.fixture(scope="module")
def synthetic():
    data, err, centers = synthetic_cube(n_int=3, seed=21)
    data = (data - background_block(data)).astype(np.float32)
    readnoise = 0.09 + 0.01 * np.random.default_rng(4).random(data.shape)
    return {
        "data": data,
        "err": err,
        "wavelength": np.linspace(5.0, 14.0, data.shape[1])[:, np.newaxis] + 0.001 * np.arange(data.shape[2]),
        "readnoise": readnoise,
        "profile": _gaussian_profile(data.shape),
        "centers": centers,
    }


@pytest.fixture(scope="module")
def real(real_cube):
    data = (real_cube["data"] - background_block(real_cube["data"])).astype(np.float32)
    return {
        "data": data,
        "err": real_cube["err"],
        "wavelength": real_cube["wavelength"],
        "readnoise": real_cube["var_rnoise"],
        "profile": _profile_from_data(data),
    }


@pytest.fixture(params=SOURCES, ids=SOURCES)
def source(request):
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------
# Gaussian trace fits
# --------------------------------------------------------------------------
@pytest.mark.reference
def test_trace_matches_exotic_and_curve_fit(source):
    from tests import exotic_reference as ex

    data = source["data"]
    _, _, _, sigmas_ref = ex.box(data, source["err"], source["wavelength"], trace_position="gaussian_fits")
    center, sigma = fit_trace_block(data, **TRACE)
    assert center.dtype == sigma.dtype == np.float64 and center.shape == sigma.shape == (data.shape[0],)
    WORST.check("trace sigma (vs ExoTiC)", sigma, np.abs(sigmas_ref))
    WORST.check("trace centre (vs curve_fit)", center, _curve_fit_trace(data))
    if "centers" in source:
        np.testing.assert_allclose(center, source["centers"], atol=0.02)


@pytest.mark.reference
def test_gaussian_fit_matches_curve_fit():
    """Many noisy (2 %) profiles: all four parameters agree with curve_fit."""
    rng = np.random.default_rng(11)
    n = 60
    x = np.arange(12, 68.0)
    truth = np.stack(
        [10 ** rng.uniform(-2, 4, n), rng.uniform(25, 50, n), rng.uniform(0.8, 4, n), np.zeros(n)], axis=1
    )
    truth[:, 3] = truth[:, 0] * rng.uniform(-0.5, 0.5, n)
    profiles = gaussian(x, *truth.T) * (1 + 0.02 * rng.normal(size=(n, x.size)))
    reference = []
    for profile in profiles:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, _ = curve_fit(
                _amp_gaussian, x, profile, p0=[profile.max(), x[np.argmax(profile)], 1.59, 0.0], method="lm"
            )
        reference.append(popt)
    reference = np.array(reference)
    amplitude, center, sigma, baseline = gaussian_fit(x, profiles, sigma_guess=1.59)
    WORST.check("gaussian_fit amplitude (vs curve_fit)", amplitude, reference[:, 0])
    WORST.check("gaussian_fit centre (vs curve_fit)", center, reference[:, 1])
    WORST.check("gaussian_fit sigma (vs curve_fit)", sigma, np.abs(reference[:, 2]))
    # the baseline can be ~0: compare it relative to the amplitude
    baseline_difference = np.abs(baseline - reference[:, 3]) / np.abs(reference[:, 0])
    assert np.max(baseline_difference) < 1e-5, np.max(baseline_difference)


@pytest.mark.parametrize(
    "amplitude, center, sigma, baseline",
    [(100.0, 36.3, 1.6, 0.0), (3.0, 20.5, 0.9, -1.0), (1e4, 55.0, 4.0, 2e3), (1e-3, 40.2, 2.2, 1e-3)],
    ids=["nominal", "narrow-negative-base", "bright-wide", "faint"],
)
def test_noiseless_gaussian_gives_true_parameters(amplitude, center, sigma, baseline):
    x = np.arange(12, 68.0)
    fit = gaussian_fit(x, gaussian(x, [amplitude], [center], [sigma], [baseline]), sigma_guess=defaults.PSF_SIGMA_GUESS)
    np.testing.assert_allclose(np.ravel(fit), [amplitude, center, sigma, baseline], rtol=1e-9, atol=1e-9 * amplitude)
    cube = np.broadcast_to(gaussian(np.arange(72.0), [amplitude], [center], [sigma], [baseline]), (2, 416, 72))
    fitted_center, fitted_sigma = fit_trace_block(cube, **TRACE)
    np.testing.assert_allclose(fitted_center, center, rtol=1e-10)
    np.testing.assert_allclose(fitted_sigma, sigma, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    center=st.floats(22.0, 58.0),
    sigma=st.floats(0.8, 5.0),
    amplitude=st.floats(1e-3, 1e5),
    baseline_ratio=st.floats(-0.5, 0.5),
)
def test_property_noiseless_gaussian(center, sigma, amplitude, baseline_ratio):
    x = np.arange(12, 68.0)
    baseline = baseline_ratio * amplitude
    fit = gaussian_fit(x, gaussian(x, [amplitude], [center], [sigma], [baseline]), sigma_guess=defaults.PSF_SIGMA_GUESS)
    np.testing.assert_allclose(np.ravel(fit), [amplitude, center, sigma, baseline], rtol=1e-7, atol=1e-7 * amplitude)


def test_trace_nan_and_degenerate_inputs_give_nan_without_warnings():
    cube = np.broadcast_to(gaussian(np.arange(72.0), [50.0], [36.3], [1.6], [0.0]), (6, 416, 72)).copy()
    cube[1] = np.nan  # all-NaN integration
    cube[2] = 7.0  # flat profile: no Gaussian can be located
    cube[3, :, 12:66] = np.nan  # 2 finite columns < 4 parameters
    cube[4, 250, 30:40] = np.nan  # scattered NaN pixels: ignored by the median
    cube[5, :, 20:25] = np.nan  # NaN columns: left out of the fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        center, sigma = fit_trace_block(cube, **TRACE)
    assert np.all(np.isnan(center[1:4])) and np.all(np.isnan(sigma[1:4]))
    np.testing.assert_allclose(center[[0, 4, 5]], 36.3, rtol=1e-10)
    np.testing.assert_allclose(sigma[[0, 4, 5]], 1.6, rtol=1e-9)


def test_gaussian_fit_edge_cases():
    x = np.arange(10.0)
    profiles = np.array(
        [
            np.zeros(10),  # all zero
            np.full(10, np.inf),  # no finite value
            np.r_[np.zeros(9), 1.0],  # a single spike at the edge
            gaussian(x, [5.0], [4.2], [1.1], [0.5])[0],
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        amplitude, center, sigma, baseline = gaussian_fit(x, profiles, sigma_guess=defaults.PSF_SIGMA_GUESS)
    assert np.all(np.isnan([amplitude[:2], center[:2], sigma[:2], baseline[:2]]))
    np.testing.assert_allclose([amplitude[3], center[3], sigma[3], baseline[3]], [5.0, 4.2, 1.1, 0.5], rtol=1e-9)
    empty = gaussian_fit(x, np.empty((0, 10)), sigma_guess=defaults.PSF_SIGMA_GUESS)
    assert all(value.shape == (0,) for value in empty)
    center, sigma = fit_trace_block(np.empty((0, 416, 72)), **TRACE)
    assert center.shape == sigma.shape == (0,)


@pytest.mark.parametrize(
    "kwargs",
    [{"rows": (390, 200)}, {"rows": (200, 500)}, {"cols": (-1, 68)}, {"cols": (12.0, 68)}, {"cols": 12}],
    ids=["rows-reversed", "rows-outside", "cols-negative", "cols-float", "cols-scalar"],
)
def test_trace_invalid_parameters_raise(kwargs):
    with pytest.raises(ParameterError):
        fit_trace_block(np.zeros((1, 416, 72)), **{**TRACE, **kwargs})
    with pytest.raises(ParameterError):
        fit_trace_block(np.zeros((416, 72)), **TRACE)
    with pytest.raises(ParameterError):
        gaussian_fit(np.arange(5.0), np.zeros((2, 6)), sigma_guess=defaults.PSF_SIGMA_GUESS)


# --------------------------------------------------------------------------
# apertures
# --------------------------------------------------------------------------
def _exotic_mask(center, n_cols, left_width, right_width):
    """ExoTiC-MIRI's aperture rule, written out with slices."""
    mask = np.zeros((len(center), n_cols), bool)
    for i, c in enumerate(center):
        mask[i, int(np.rint(c - left_width)) : int(np.rint(c + right_width + 1))] = True
    return mask


@pytest.mark.parametrize("widths", [(4, 4), (8, 8), (0, 0), (3, 6)], ids=["4-4", "8-8", "0-0", "3-6"])
def test_aperture_mask_matches_exotic_rule(widths):
    centers = np.array([36.0, 36.3, 36.5, 37.5, 35.49, 36.51, 10.0, 60.2])
    mask = aperture_mask(centers, 72, *widths)
    np.testing.assert_array_equal(mask, _exotic_mask(centers, 72, *widths))
    # left + right + 1 columns, except at exact half-pixel centres, where
    # rint rounds both edges to even (widths 4-4: 36.5 -> 10 columns, 37.5 -> 8)
    half = (centers % 1) == 0.5
    np.testing.assert_array_equal(mask.sum(axis=1)[~half], widths[0] + widths[1] + 1)


def test_aperture_mask_nan_and_edges():
    mask = aperture_mask(np.array([np.nan, 2.0, 70.0]), 72, 4, 4)
    assert not mask[0].any()
    np.testing.assert_array_equal(np.flatnonzero(mask[1]), np.arange(0, 7))  # clipped, not wrapped
    np.testing.assert_array_equal(np.flatnonzero(mask[2]), np.arange(66, 72))
    assert aperture_mask(np.empty(0), 72, 4, 4).shape == (0, 72)
    for bad in [(-1, 4), (4, 2.5), (True, 4)]:
        with pytest.raises(ParameterError):
            aperture_mask(np.array([36.0]), 72, *bad)


def test_aperture_cutout():
    values = np.arange(2 * 3 * 10, dtype=float).reshape(2, 3, 10)
    mask = aperture_mask(np.array([3.0, 6.4]), 10, 1, 2)
    cut = aperture_cutout(values, mask)
    np.testing.assert_array_equal(cut, values[np.broadcast_to(mask[:, None, :], values.shape)].reshape(2, 3, -1))
    mask[0] = False
    cut = aperture_cutout(values, mask)
    assert cut.shape == (2, 3, 4) and np.all(np.isnan(cut[0]))
    with pytest.raises(ParameterError):
        aperture_cutout(values, aperture_mask(np.array([5.0, 0.0]), 10, 2, 2))  # widths 5 and 3
    assert aperture_cutout(np.empty((0, 3, 10)), np.empty((0, 10), bool)).shape == (0, 3, 0)


def _trace_and_aperture(data, trace_position, widths):
    """Aperture centre, trace sigma and aperture mask as ExoTiC-MIRI builds them (centre 36 when constant)."""
    center, sigma = fit_trace_block(data, **TRACE)
    if trace_position == "constant":
        center = np.full(data.shape[0], 36.0)
    return center, sigma, aperture_mask(center, data.shape[2], *widths)


# --------------------------------------------------------------------------
# box extraction
# --------------------------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("widths", [(4, 4), (3, 5), (0, 0), (8, 8)], ids=["4-4", "3-5", "0-0", "8-8"])
@pytest.mark.parametrize("trace_position", TRACE_POSITIONS, ids=TRACE_POSITIONS)
def test_box_matches_exotic(source, trace_position, widths):
    from tests import exotic_reference as ex

    data, err = source["data"], source["err"]
    wavelengths_ref, flux_ref, error_ref, sigmas_ref = ex.box(
        data,
        err,
        source["wavelength"],
        trace_position=trace_position,
        aperture_center=36,
        aperture_left_width=widths[0],
        aperture_right_width=widths[1],
    )
    center, sigma, mask = _trace_and_aperture(data, trace_position, widths)
    flux, flux_error = box_extract_block(data, err, mask)
    assert flux.dtype == flux_error.dtype == np.float64 and flux.shape == data.shape[:2]
    WORST.check("box flux", flux, flux_ref)
    WORST.check("box flux_error", flux_error, error_ref)
    WORST.check("trace sigma (vs ExoTiC)", sigma, np.abs(sigmas_ref))
    np.testing.assert_array_equal(source["wavelength"][:, int(np.nanmedian(center))], wavelengths_ref)


def test_box_analytic_and_nan():
    data = np.arange(2 * 4 * 8, dtype=float).reshape(2, 4, 8)
    err = np.full(data.shape, 0.5)
    mask = np.zeros((2, 8), bool)
    mask[0, 2:5] = True
    flux, flux_error = box_extract_block(data, err, mask)
    np.testing.assert_array_equal(flux[0], data[0, :, 2:5].sum(axis=1))
    np.testing.assert_allclose(flux_error[0], np.sqrt(3 * 0.25))
    assert np.all(np.isnan(flux[1])) and np.all(np.isnan(flux_error[1]))  # empty aperture
    data[0, 1, 7] = np.nan  # outside the aperture: no effect
    data[0, 2, 3] = np.inf * 0  # inside: that row only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flux2, _ = box_extract_block(data, err, mask)
    np.testing.assert_array_equal(flux2[0, [0, 1, 3]], flux[0, [0, 1, 3]])
    assert np.isnan(flux2[0, 2])
    empty = box_extract_block(np.empty((0, 4, 8)), np.empty((0, 4, 8)), np.empty((0, 8), bool))
    assert empty[0].shape == empty[1].shape == (0, 4)
    with pytest.raises(ParameterError):
        box_extract_block(data, err, np.ones((2, 7), bool))


@settings(max_examples=40, deadline=None)
@given(
    first=hnp.arrays(np.float64, (2, 5, 9), elements=st.floats(-1e4, 1e4)),
    second=hnp.arrays(np.float64, (2, 5, 9), elements=st.floats(-1e4, 1e4)),
    alpha=st.floats(-10, 10),
    beta=st.floats(-10, 10),
    mask=hnp.arrays(bool, (2, 9)),
)
def test_property_box_is_linear(first, second, alpha, beta, mask):
    err = np.ones_like(first)
    combined, _ = box_extract_block(alpha * first + beta * second, err, mask)
    flux_1, _ = box_extract_block(first, err, mask)
    flux_2, _ = box_extract_block(second, err, mask)
    np.testing.assert_allclose(combined, alpha * flux_1 + beta * flux_2, rtol=1e-9, atol=1e-8 * 9 * 1e5)


@settings(max_examples=30, deadline=None)
@given(
    err=hnp.arrays(np.float64, (2, 5, 9), elements=st.floats(0, 1e3)),
    scale=st.floats(-10, 10),
    mask=hnp.arrays(bool, (2, 9)),
)
def test_property_box_error_scales(err, scale, mask):
    data = np.zeros_like(err)
    _, error = box_extract_block(data, err, mask)
    _, scaled = box_extract_block(data, scale * err, mask)
    np.testing.assert_allclose(scaled, abs(scale) * error, rtol=1e-12, atol=1e-140)  # err**2 underflow


# --------------------------------------------------------------------------
# optimal extraction
# --------------------------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("widths", [(8, 8), (5, 6)], ids=["8-8", "5-6"])
@pytest.mark.parametrize("median_spatial_profile", [False, True], ids=["per-int-P", "median-P"])
@pytest.mark.parametrize("trace_position", TRACE_POSITIONS, ids=TRACE_POSITIONS)
def test_optimal_matches_exotic(source, trace_position, median_spatial_profile, widths):
    from tests import exotic_reference as ex

    data, profile, readnoise = source["data"], source["profile"], source["readnoise"]
    _, flux_ref, error_ref, sigmas_ref = ex.optimal(
        data,
        source["err"],
        source["wavelength"],
        profile,
        readnoise,
        median_spatial_profile=median_spatial_profile,
        trace_position=trace_position,
        aperture_center=36,
        aperture_left_width=widths[0],
        aperture_right_width=widths[1],
    )
    center, sigma, mask = _trace_and_aperture(data, trace_position, widths)
    median_profile = median_profile_from_cutouts(aperture_cutout(profile, mask)) if median_spatial_profile else None
    flux, flux_error = optimal_extract_block(data, profile, readnoise, mask, median_profile=median_profile)
    assert flux.dtype == flux_error.dtype == np.float64 and flux.shape == data.shape[:2]
    WORST.check("optimal flux", flux, flux_ref)
    WORST.check("optimal flux_error", flux_error, error_ref)
    WORST.check("trace sigma (vs ExoTiC)", sigma, np.abs(sigmas_ref))


@pytest.mark.parametrize("use_median", [False, True], ids=["per-int-P", "median-P"])
def test_optimal_noiseless_gives_true_flux(use_median):
    n_int, n_row, n_col = 3, 50, 72
    rows = np.arange(n_row)
    true_flux = 100.0 + 40.0 * np.sin(rows / 7.0) + np.arange(n_int)[:, np.newaxis] * 5.0
    profile = _gaussian_profile((n_int, n_row, n_col), center=36.3, sigma=1.6)
    data = true_flux[:, :, np.newaxis] * profile
    variance0 = 0.3
    for widths, fraction in [((8, 8), 1.0), ((2, 3), None)]:
        mask = aperture_mask(np.full(n_int, 36.3), n_col, *widths)
        median_profile = median_profile_from_cutouts(aperture_cutout(profile, mask)) if use_median else None
        flux, flux_error = optimal_extract_block(data, profile, variance0, mask, median_profile=median_profile)
        if fraction is None:  # narrow aperture: the flux inside it
            fraction = aperture_cutout(profile, mask).sum(axis=2)
        np.testing.assert_allclose(flux, true_flux * fraction, rtol=1e-6 if widths == (8, 8) else 1e-12)
        assert np.all(flux_error > 0)


def test_optimal_weights_reduce_to_box_for_flat_profile_and_variance():
    """With a flat P and no signal term in V, f_opt is the box sum and var = V0 * width."""
    rng = np.random.default_rng(3)
    data = rng.normal(size=(2, 6, 20))
    mask = aperture_mask(np.array([9.0, 10.0]), 20, 3, 3)
    profile = np.ones_like(data)
    flux, flux_error = optimal_extract_block(data, profile, 0.25, mask)
    box, _ = box_extract_block(data, 1.0, mask)
    # V = 0.25 + |f|/7 is the same for all pixels of a row, so f_opt = sum(D)
    np.testing.assert_allclose(flux, box, rtol=1e-12)
    np.testing.assert_allclose(flux_error**2, 7 * (0.25 + np.abs(box) / 7), rtol=1e-12)


def test_optimal_nan_and_degenerate_inputs():
    n_int, n_row, n_col = 4, 10, 72
    profile = _gaussian_profile((n_int, n_row, n_col))
    data = 50.0 * profile
    center = np.array([36.3, np.nan, 36.3, 36.3])
    mask = aperture_mask(center, n_col, 8, 8)
    data[2, 4, 36] = np.nan  # one NaN pixel in the aperture: that row
    profile = profile.copy()
    profile[3, 6] = 0.0  # a row of P that cannot be normalised
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flux, flux_error = optimal_extract_block(data, profile, 0.1, mask)
        median_profile = median_profile_from_cutouts(aperture_cutout(profile, mask))
        flux_med, _ = optimal_extract_block(data, None, 0.1, mask, median_profile=median_profile)
    assert np.all(np.isnan(flux[1])) and np.all(np.isnan(flux_error[1]))
    assert np.isnan(flux[2, 4]) and np.isnan(flux[3, 6])
    good = np.isfinite(flux)
    assert good.sum() == 3 * n_row - 2
    np.testing.assert_allclose(flux[good], 50.0, rtol=1e-6)
    # the median profile ignores the NaN cut-out of integration 1
    assert np.all(np.isfinite(median_profile))
    assert np.all(np.isnan(flux_med[1])) and np.isnan(flux_med[2, 4])
    np.testing.assert_allclose(flux_med[[0, 3]], 50.0, rtol=1e-6)


def test_optimal_empty_block_and_invalid_inputs():
    from xmiri.kernels.aperture import expand_cutout
    from xmiri.kernels.extract import optimal_extract

    mask = np.empty((0, 72), bool)
    flux, flux_error = optimal_extract_block(np.empty((0, 5, 72)), np.empty((0, 5, 72)), 1.0, mask)
    assert flux.shape == flux_error.shape == (0, 5)
    flux, _ = optimal_extract_block(np.empty((0, 5, 72)), None, 1.0, mask, median_profile=np.ones((5, 17)) / 17)
    assert flux.shape == (0, 5)
    data = np.ones((2, 5, 72))
    mask = aperture_mask(np.array([36.0, 36.0]), 72, 8, 8)
    with pytest.raises(ParameterError):  # a median profile of the wrong width
        expand_cutout(np.ones((5, 16)), mask)
    kw = dict(q=1.0, sky=None, min_valid_weight=0.5)
    with pytest.raises(ParameterError):
        optimal_extract(data, np.ones((2, 5, 71)), 1.0, 1.0, None, None, **kw)
    with pytest.raises(ParameterError):
        optimal_extract(data, data, np.ones((3, 5, 72)), 1.0, None, None, **kw)
    with pytest.raises(ParameterError):
        optimal_extract(data, data, 1.0, 1.0, np.ones((3, 5, 72), bool), None, **kw)
    for bad in [dict(kw, q=0.0), dict(kw, min_valid_weight=1.5), dict(kw, min_valid_weight=-0.1)]:
        with pytest.raises(ParameterError):
            optimal_extract(data, data, 1.0, 1.0, None, None, **bad)


def test_median_profile_matches_exotic_formula():
    rng = np.random.default_rng(8)
    cutouts = rng.random((5, 7, 4))
    expected = np.median(cutouts, axis=0)
    expected /= expected.sum(axis=1)[:, np.newaxis]
    np.testing.assert_allclose(median_profile_from_cutouts(cutouts), expected, rtol=1e-15)


def test_revised_variance_with_q_and_sky():
    """Horne (1986) step 6 in full: V = V0 + |f P + S| / Q."""
    from xmiri.kernels.extract import revised_variance

    f = np.array([100.0, -50.0])
    P = np.array([[0.2, 0.5, 0.3], [0.2, 0.5, 0.3]])
    V0 = np.full((2, 3), 0.1)
    S = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(revised_variance(f, P, V0, 1.0, 0.0), V0 + np.abs(f[:, None] * P))
    np.testing.assert_allclose(revised_variance(f, P, V0, 40.0, S), V0 + np.abs(f[:, None] * P + S) / 40.0)


def test_trace_frame_scale_known_scale():
    """A profile moved half out of a 2-column aperture: sum(w T) / sum(w P) = 1 / 0.5 = 2."""
    from xmiri.kernels.extract import trace_frame_scale

    template = np.array([[0.0, 0.5, 0.5, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, np.nan, 1.0, 0.0]])
    profile = np.array([[[0.0, 0.0, 0.5, 0.5], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]]])
    weights = np.broadcast_to([0.0, 1.0, 1.0, 0.0], profile.shape)
    scale = trace_frame_scale(template, profile, weights)
    assert scale.shape == (1, 3)
    # shifted row: 2; unshifted row: 1; profile outside the aperture: 1 / 0 -> NaN
    np.testing.assert_array_equal(scale, [[2.0, 1.0, np.nan]])
    assert np.isnan(trace_frame_scale(-template, profile, weights)[0, 0])  # not positive: NaN
    with pytest.raises(ParameterError):
        trace_frame_scale(template, profile, weights[0])


def test_zero_profile_rows():
    from xmiri.kernels.extract import zero_profile_rows

    weights = np.broadcast_to([0.0, 1.0, 1.0, 0.0], (2, 3, 4))
    profile = np.zeros((2, 3, 4))
    profile[0, 0, 0] = 1.0  # outside the aperture
    profile[0, 1, 2] = np.nan  # counts as 0
    profile[1, :, 1] = 0.25
    np.testing.assert_array_equal(zero_profile_rows(weights, profile),
                                  [[True, True, True], [False, False, False]])


def test_no_weight_in_the_block():
    """A block whose apertures hold no weight at all (every centre off the frame): no starlight,
    NaN scale and zero-profile rows, not a reshape error of the empty band of columns."""
    from xmiri.kernels.extract import trace_frame_scale, zero_profile_rows

    weights, profile = np.zeros((2, 3, 5)), np.ones((2, 3, 5))
    assert np.isnan(trace_frame_scale(np.ones((3, 5)), profile, weights)).all()
    assert zero_profile_rows(weights, profile).all()


def test_complete_profile_fills_only_incomplete_rows():
    from xmiri.kernels.profile import complete_profile

    data = np.tile([1.0, 2.0, 1.0], (2, 5, 1))
    data[1, 2, 1] = np.nan
    profile = np.tile([0.2, 0.6, 0.2], (2, 5, 1))
    weights = np.ones_like(data)
    valid = np.isfinite(data)
    # nothing missing in the aperture: the profile itself
    assert complete_profile(profile, data, np.ones_like(valid), weights, 1.0, half_height=1) is profile
    out = complete_profile(profile, data, valid, weights, 1.0, half_height=1)
    np.testing.assert_array_equal(np.delete(out[1], 2, axis=0), np.delete(profile[1], 2, axis=0))
    np.testing.assert_array_equal(out[0], profile[0])
    # row 2 of integration 1: the neighbours' shape (1, 2, 1) / 4 scaled to P on the valid pixels
    np.testing.assert_allclose(out[1, 2], [0.2, 0.4, 0.2], rtol=1e-15)


@pytest.mark.parametrize("whole_pixels", [True, False])
def test_band_versions_equal_whole_frames_bit_for_bit(whole_pixels):
    """band_weights, fill_profile_columns and complete_profile_columns: the whole frames' values on
    the band, bit for bit (the box block relies on it; row sums depend on where a band lies)."""
    from xmiri.kernels.aperture import aperture_edges, band_weights, edge_weights
    from xmiri.kernels.profile import (complete_profile, complete_profile_columns, fill_profile,
                                       fill_profile_columns)

    rng = np.random.default_rng(3)
    n_int, n_row, n_col = 4, 30, 72
    center = 30.0 + 5.0 * rng.random((n_int, n_row))
    center[1, 3] = np.nan
    edges = aperture_edges(center, 4, 4, whole_pixels)
    weights, columns = band_weights(*edges, n_col)
    full = edge_weights(*edges, n_col)
    assert not full[..., :columns.start].any() and not full[..., columns.stop:].any()
    assert full[..., columns.start].any() and full[..., columns.stop - 1].any()
    np.testing.assert_array_equal(weights, full[..., columns])
    frame = np.abs(rng.standard_normal((n_row, n_col)))
    frame /= frame.sum(axis=1, keepdims=True)
    data = 10.0 * frame * rng.uniform(0.5, 1.5, (n_int, n_row, n_col))
    data[rng.random(data.shape) < 0.05] = np.nan
    profile = data / np.nansum(data, axis=-1, keepdims=True)
    valid = np.isfinite(data)
    p_full = fill_profile(profile, frame)
    p_band = fill_profile_columns(profile, frame, columns)
    np.testing.assert_array_equal(p_band, p_full[..., columns])
    expected = complete_profile(p_full, data, valid, full, frame, half_height=2)[..., columns]
    got = complete_profile_columns(p_band, data[..., columns], valid[..., columns], weights,
                                   frame[..., columns], half_height=2, columns=columns,
                                   n_cols=n_col)
    assert not np.array_equal(got, p_band, equal_nan=True)  # rows were completed
    np.testing.assert_array_equal(got, expected)
    # no aperture anywhere: the whole frame, all 0
    weights, columns = band_weights(np.nan, np.nan, n_col)
    assert columns == slice(0, n_col) and weights.shape == (n_col,) and not weights.any()


def _whole_frame_optimal(a, *, left, right, whole_pixels, dq_mask, min_valid_weight, shift_rows):
    """The optimal block's outputs from whole frames: the public kernels on all columns."""
    from xmiri.kernels import aperture, profile as profiles
    from xmiri.kernels.extract import optimal_extract, trace_frame_scale, zero_profile_rows
    from xmiri.steps import _extract_blocks as blocks

    data = a["data"]
    shape = data.shape
    center = np.asarray(a["center"])
    weights = np.broadcast_to(aperture.edge_weights(
        *aperture.aperture_edges(center, left, right, whole_pixels), shape[-1]), shape)
    usable = (a["dq"] & np.uint32(dq_mask)) == 0 if dq_mask else None
    replaced = (a["dq"] & np.uint32(16)) != 0
    valid = np.isfinite(data) & np.isfinite(a["variance0"]) & np.isfinite(a["sky"])
    if usable is not None:
        valid &= usable
    frame = np.broadcast_to(a["frame_profile"], shape)
    if "moving_profile" in a:
        rows = slice(*shift_rows)
        shift = profiles.fit_profile_shift(
            np.where(valid[:, rows], data[:, rows], np.nan), a["moving_profile"][rows],
            a["profile_shift"], rows=(0, rows.stop - rows.start),
            iterations=blocks._SHIFT_ITERATIONS, step=blocks._SHIFT_STEP)
        profile = profiles.move_template(a["moving_profile"], shift)
    elif "median_profile" in a:
        profile = aperture.expand_cutout(a["median_profile"], weights[:, 0, :] > 0)
    elif "model_sigma" in a:
        profile = aperture.gaussian_profile(np.broadcast_to(center, shape[:2]), a["model_sigma"],
                                            shape[-1])
    elif "profile" in a:
        profile = profiles.fill_profile(a["profile"], frame)
    else:
        profile = frame
    profile = profiles.complete_profile(profile, data, valid, weights, frame,
                                        half_height=blocks._PROFILE_HALF_HEIGHT)
    result = optimal_extract(data, profile, a["variance0"], weights, usable, replaced,
                             q=float(a["q"]), sky=a["sky"], min_valid_weight=min_valid_weight)
    if "moving_profile" in a:
        scale = trace_frame_scale(a["moving_profile"], profile, weights)
        linear = result.linear_weights * scale[..., np.newaxis]
        linear[~(scale > 0)] = np.nan
        result = result._replace(flux=result.flux * scale, flux_error=result.flux_error * scale,
                                 linear_weights=linear)
    return blocks._finish(result, a, weights, min_valid_weight=min_valid_weight,
                          zero_profile=zero_profile_rows(weights, profile))


@pytest.mark.parametrize("method", ["moving", "median", "gaussian", "clean", "frame"])
@pytest.mark.parametrize("per_integration", [True, False, None])
def test_optimal_block_on_its_band_equals_whole_frames(method, per_integration):
    """The optimal block works on the band of columns its apertures touch: every output equals,
    bit for bit, the public kernels' on whole frames, for every profile of the method (NaN,
    masked and replaced pixels, a sky and its error, centres per integration or per row)."""
    from xmiri.steps import _extract_blocks as blocks

    rng = np.random.default_rng(5)
    n_int, n_row, n_col = 6, 40, 72
    frame = _gaussian_profile((1, n_row, n_col), center=36.4)[0]
    data = (200.0 * frame * rng.uniform(0.9, 1.1, (n_int, n_row, 1))
            + rng.normal(0.0, 0.05, (n_int, n_row, n_col))).astype(np.float32)
    data[rng.random(data.shape) < 0.02] = np.nan
    data[2, 7, 34:39] = np.nan  # a row mostly lost
    dq = np.where(rng.random(data.shape) < 0.03, 16, 0).astype(np.uint32)
    dq[rng.random(data.shape) < 0.01] |= 1 << 11
    if per_integration is None:  # no aperture anywhere in the block
        center = np.full(n_row, np.nan)
    elif per_integration:
        center = 36.4 + 0.3 * rng.standard_normal((n_int, n_row))
        center[3, 5] = np.nan  # a row without an aperture
    else:
        center = 36.4 + 0.01 * np.arange(n_row)
    a = {"data": data, "center": center, "frame_profile": frame,
         "variance0": (0.01 + 0.001 * rng.random(data.shape)).astype(np.float32), "q": np.array(40.0),
         "sky": rng.normal(0.5, 0.02, data.shape).astype(np.float32), "dq": dq,
         "sky_error": (0.01 + 0.001 * rng.random((n_int, n_row, 2))).astype(np.float32),
         "sky_coefficient": rng.normal(0.0, 0.1, (2, n_col))}
    shift_rows = None
    if method == "moving":
        a.update(moving_profile=frame, profile_shift=0.2 * rng.standard_normal(n_int))
        shift_rows = (5, 35)
    elif method == "median":
        a["median_profile"] = frame[:, 32:41] / frame[:, 32:41].sum(axis=1, keepdims=True)
    elif method == "gaussian":
        a["model_sigma"] = np.full(n_row, 1.3)
    elif method == "clean":
        p = frame * rng.uniform(0.95, 1.05, data.shape)
        p[rng.random(data.shape) < 0.02] = np.nan
        a["profile"] = p.astype(np.float32)
    options = dict(left=4, right=4, whole_pixels=method == "median", dq_mask=1 << 11,
                   min_valid_weight=0.5)
    names = list(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _whole_frame_optimal(a, shift_rows=shift_rows, **options)
        got = blocks._optimal_block(*a.values(), names=names, shift_rows=shift_rows, **options)
    assert len(got) == len(expected) == 4
    if per_integration is None:
        assert np.isnan(got[0]).all()
    else:
        assert np.isnan(got[0]).any() and np.isfinite(got[0]).sum() > 0.9 * got[0].size
    for value, reference in zip(got, expected):
        np.testing.assert_array_equal(value, reference)


def test_normalised_profiles_rows_sum_to_one():
    from xmiri.kernels.profile import normalised_profiles

    values = np.array([[[1.0, 3.0, np.nan, 4.0], [2.0, 2.0, 2.0, 2.0]]])
    out = normalised_profiles(values)
    np.testing.assert_array_equal(out, [[[0.125, 0.375, np.nan, 0.5], [0.25, 0.25, 0.25, 0.25]]])


def test_locate_trace_known_column():
    from xmiri.kernels.trace import locate_trace

    rng = np.random.default_rng(3)
    frame = 10.0 + rng.normal(0.0, 0.01, (40, 12))  # sky level 10 DN/s
    frame[5:30, 7] += np.linspace(1.0, 50.0, 25)  # the trace in column 7, rows 5..29
    frame[3, 2] = np.nan
    column, rows = locate_trace(frame, bright_fraction=0.2)
    assert column == 7
    assert rows == (5 + int(np.ceil((0.2 * 50.0 - 1.0) / (49.0 / 24))), 30)
    assert locate_trace(np.full((3, 4), np.nan), bright_fraction=0.2) is None
    with pytest.raises(ParameterError):
        locate_trace(frame[np.newaxis], bright_fraction=0.2)


def test_optimal_extract_does_not_depend_on_its_pass_size(monkeypatch):
    """optimal_extract works _OPTIMAL_PASS integrations at a time in reused buffers: any pass size
    gives the same bits (NaN pixels, replaced pixels, a sky, weights per integration, a row given up)."""
    from xmiri.kernels import extract as module

    rng = np.random.default_rng(12)
    n_int, n_row, n_col = 11, 9, 72
    profile = _gaussian_profile((n_int, n_row, n_col))
    data = 50.0 * profile + rng.normal(0.0, 0.2, (n_int, n_row, n_col))
    data[2, 3, 35:38] = np.nan
    data[5, 0, 36] = -0.0
    weights = np.zeros((n_int, n_row, n_col))
    weights[..., 30:43] = 1.0
    weights[..., 29] = weights[..., 43] = 0.4
    weights[7] = np.roll(weights[7], 1, axis=-1)
    replaced = rng.random(data.shape) < 0.02
    sky = rng.normal(1.0, 0.1, data.shape)
    kwargs = dict(q=3.0, sky=sky, min_valid_weight=0.8)
    reference = None
    for size in (1, 3, 8, 64):
        monkeypatch.setattr(module, "_OPTIMAL_PASS", size)
        out = module.optimal_extract(data, profile, 0.1, weights, None, replaced, **kwargs)
        if reference is None:
            reference = out
            assert np.isnan(out.flux).any() and np.isfinite(out.flux).any()
            continue
        for got, expected in zip(out, reference):
            np.testing.assert_array_equal(np.asarray(got).view(np.int64), np.asarray(expected).view(np.int64))
