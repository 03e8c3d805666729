"""Tests of xmiri.kernels.tracefit and xmiri.kernels.aperture: traced apertures with sub-pixel edges.

The scene generator :func:`make_scene` below is deliberately self-contained
(numpy + scipy.special.erf + the packaged wavelength solution and default
spectrum) so that it can be ported into :mod:`xmiri.simulate` as options
(``trace_poly`` and ``psf_sigma`` as a function of wavelength).
``benchmarks/trace_study.py`` imports it for the measurements in
``benchmarks/TRACE.md``.
"""
import types

import numpy as np
import pytest
from scipy.special import erf

from xmiri.exceptions import ParameterError
from xmiri.kernels.background import background_block
from xmiri.kernels.aperture import aperture_mask, aperture_weights, gaussian_profile, wavelength_at_trace
from tests.extraction_calls import (box_extract_block, box_extract_weighted, optimal_extract_block,
                                    optimal_extract_weighted)
from xmiri.kernels.lightcurves import point_to_point_scatter  # noqa: E402
from xmiri import defaults as D
from xmiri.kernels import tracefit as kernel
from xmiri.kernels.tracefit import RowFit, evaluate_trace  # noqa: E402
from xmiri.simulate import default_spectrum
from xmiri.io.wavelength import default_wavelength_map

N_ROW, N_COL = 416, 72

#: The steps' parameters (xmiri.defaults) for what a test does not set: the kernels have no defaults.
ROW_FIT = dict(cols=D.TRACE_COLUMNS, sigma_guess=D.PSF_SIGMA_GUESS)
DETECTION = dict(min_snr=D.TRACE_MIN_SNR, sigma_range=D.TRACE_SIGMA_RANGE,
                 max_center_error=D.TRACE_MAX_CENTER_ERROR)
CLIPPING = dict(order=D.TRACE_POLY_ORDER, clip_sigma=D.TRACE_CLIP_SIGMA, max_iter=D.TRACE_CLIP_MAX_ITER)
OFFSETS = dict(cols=D.TRACE_COLUMNS, half_width=D.TRACE_OFFSET_HALF_WIDTH,
               max_iter=D.TRACE_OFFSET_MAX_ITER, tol=D.TRACE_OFFSET_TOL)


def row_centers(frame, **kwargs):
    return kernel.row_centers(frame, **{**ROW_FIT, **kwargs})


def detected_rows(fit, **kwargs):
    return kernel.detected_rows(fit, **{**DETECTION, **kwargs})


def fit_trace_polynomial(rows, centers, weights=None, **kwargs):
    return kernel.fit_trace_polynomial(rows, centers, weights, **{**CLIPPING, **kwargs})


def fit_reference_trace(frame, **kwargs):
    return kernel.fit_reference_trace(frame, **{**ROW_FIT, **DETECTION, **CLIPPING,
                                                "sigma_order": D.TRACE_SIGMA_POLY_ORDER, **kwargs})


def integration_offsets(data, reference, row_weights, **kwargs):
    return kernel.integration_offsets(data, reference, row_weights, **{**OFFSETS, **kwargs})


# ---------------------------------------------------------------------------
# the test scene
# ---------------------------------------------------------------------------
def scene_wavelength(n_row=N_ROW):
    """Wavelength (micron) per row at column 36 of the packaged map, NaN rows filled from the nearest row."""
    wl = default_wavelength_map(n_row, N_COL)[:, 36]
    rows = np.arange(n_row)
    ok = np.isfinite(wl)
    return np.interp(rows, rows[ok], wl[ok])


def make_scene(n_int=64, *, seed=0, trace_poly=(36.3, 1.6), trace_row0=200.0, trace_scale=250.0,
               psf_sigma=lambda lam: 1.2 + 0.08 * (lam - 5.0), jitter=0.15, peak=430.0, sky=17.8,
               gradient=(1e-3, 5e-3), gain_time=38.0, readnoise=0.26, noise=True, n_row=N_ROW, n_col=N_COL):
    """Simulated LRS frames with a tilted trace, a widening PSF and jitter, and their truth.

    Noiseless rate (DN/s) of integration k, row r, column c::

        M = F(r) * P_c(center_k(r), sigma(r)) + sky + g_r (r - 208) + g_c (c - 36)
        center_k(r) = sum_j trace_poly[j] * ((r - trace_row0) / trace_scale)**j + x_k

    * ``F(r) = xmiri.simulate.default_spectrum(r, peak)``: DN/s per row summed
      over all columns;
    * ``P_c``: a Gaussian of width ``sigma(r) = psf_sigma(wavelength(r))``
      integrated over pixel ``[c - 0.5, c + 0.5]`` (differences of erf);
      ``wavelength(r)`` is the packaged map at column 36 (:func:`scene_wavelength`);
    * ``x_k ~ N(0, jitter)`` pixels, one per integration;
    * data = Poisson(M * gain_time) / gain_time + N(0, readnoise) (if
      `noise`), err = sqrt(M / gain_time + readnoise**2), as xmiri.simulate.

    With the defaults the trace centre runs from 36.3 at row 200 to 37.9 at
    row 450 (1.6 pixel per 250 rows, i.e. 36.06 at row 162 and 37.48 at row
    385, the flux peak), and sigma from 1.12 pixel (row 394, 4.1 micron) to
    1.92 pixel (row 7, 14 micron).

    Returns
    -------
    types.SimpleNamespace
        ``data``, ``err`` (n_int, n_row, n_col) float64 DN/s; ``truth``: a
        namespace with ``center`` (n_int, n_row) pixels, ``trace``
        (n_row,) the centre without jitter, ``jitter`` (n_int,), ``sigma``
        (n_row,) pixels, ``flux`` (n_row,) DN/s, ``profile`` (n_int,
        n_row, n_col) (the P_c above), ``background`` (n_row, n_col) DN/s
        and ``wavelength`` (n_row,) micron.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(n_row, dtype=float)
    cols = np.arange(n_col, dtype=float)
    u = (rows - trace_row0) / trace_scale
    trace = sum(c * u**j for j, c in enumerate(trace_poly))
    wavelength = scene_wavelength(n_row)
    sigma = np.asarray(psf_sigma(wavelength), dtype=float)
    flux = default_spectrum(rows, peak)
    x = rng.normal(0.0, jitter, n_int)
    center = trace[None, :] + x[:, None]
    z = (np.stack([cols - 0.5, cols + 0.5]) [:, None, None, :] - center[None, :, :, None]) \
        / (np.sqrt(2.0) * sigma[None, None, :, None])
    profile = 0.5 * (erf(z[1]) - erf(z[0]))
    background = sky + gradient[0] * (rows[:, None] - 208.0) + gradient[1] * (cols[None, :] - 36.0)
    rate = flux[None, :, None] * profile + background
    variance = rate / gain_time + readnoise**2
    if noise:
        data = rng.poisson(rate * gain_time) / gain_time + rng.normal(0.0, readnoise, rate.shape)
    else:
        data = rate
    truth = types.SimpleNamespace(center=center, trace=trace, jitter=x, sigma=sigma, flux=flux,
                                  profile=profile, background=background, wavelength=wavelength)
    return types.SimpleNamespace(data=data, err=np.sqrt(variance), variance=variance, truth=truth,
                                 gain_time=gain_time, readnoise=readnoise)


def subtract_background(data):
    """Row-wise median of columns 8-16 and 56-71 subtracted (ExoTiC-MIRI's row_wise method)."""
    return data - background_block(data, method="row_wise", left=(8, 17), right=(56, 72), smoothing_length=None)


def fit_traced_centers(data, *, order=2, min_snr=10.0):
    """The whole traced-aperture centre chain on background-subtracted frames.

    Exposure-wide: median frame -> per-row fits -> detected rows -> weighted
    polynomial. Per block of integrations: offsets -> centres.
    Returns (center (n, n_row), coefficients, offsets, used rows, reference RowFit).
    """
    ref = fit_reference_trace(np.median(data, axis=0), order=order, min_snr=min_snr)
    offsets = integration_offsets(data, ref.row_fit, ref.row_weights)
    return evaluate_trace(ref.coefficients, np.arange(data.shape[1]), offsets), ref.coefficients, offsets, \
        ref.used, ref


def white_light(flux, rows=slice(150, 395)):
    """White-light curve: sum over rows 150-394 (the well-exposed 5-11.5 micron range)."""
    return np.sum(flux[:, rows], axis=1)


@pytest.fixture(scope="module")
def scene():
    return make_scene(96, seed=11)


@pytest.fixture(scope="module")
def reduced(scene):
    data = subtract_background(scene.data)
    center, coef, offsets, used, ref = fit_traced_centers(data)
    return types.SimpleNamespace(data=data, center=center, coef=coef, offsets=offsets, used=used, ref=ref)


# ---------------------------------------------------------------------------
# doctests
# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
# analytic cases for the fractional aperture
# ---------------------------------------------------------------------------
CENTERS = {
    "integer": 36.0,
    "half": 36.5,
    "quarter": 36.25,
    "irrational": 35.0 + np.pi / 10,
    "near-left-edge": 1.3,
    "near-right-edge": 70.6,
}


@pytest.mark.parametrize("center", CENTERS.values(), ids=CENTERS.keys())
@pytest.mark.parametrize("widths", [(4, 4), (0, 0), (2, 5), (3.5, 1.25)], ids=["4-4", "0-0", "2-5", "3.5-1.25"])
def test_uniform_frame_gives_aperture_width(center, widths):
    left, right = widths
    weights = aperture_weights(np.full((3, 5), center), N_COL, left, right)
    flux, _ = box_extract_weighted(np.ones((3, 5, N_COL)), 1.0, weights)
    lower = max(center - left - 0.5, -0.5)
    upper = min(center + right + 0.5, N_COL - 0.5)
    np.testing.assert_allclose(flux, upper - lower, rtol=0, atol=1e-12)
    if center - left - 0.5 >= -0.5 and center + right + 0.5 <= N_COL - 0.5:
        np.testing.assert_allclose(flux, left + right + 1, rtol=0, atol=1e-12)
    assert np.all((weights >= 0) & (weights <= 1))


@pytest.mark.parametrize("center", [-5.0, -1.0, 72.0, 90.0], ids=["far-left", "just-left", "just-right", "far-right"])
def test_aperture_entirely_off_the_frame_is_empty(center):
    weights = aperture_weights([[center]], N_COL, 0, 0)
    assert np.all(weights == 0)
    flux, error = box_extract_weighted(np.ones((1, 1, N_COL)), 1.0, weights)
    assert np.isnan(flux).all() and np.isnan(error).all()


def test_integer_centre_matches_exotic_integer_aperture():
    """For whole-number centres the weights are ExoTiC-MIRI's 0/1 aperture."""
    centers = np.arange(4.0, 68.0)
    weights = aperture_weights(centers, N_COL, 4, 3)
    np.testing.assert_array_equal(weights, aperture_mask(centers, N_COL, 4, 3).astype(float))


def test_weights_continuous_in_centre():
    centers = np.linspace(30.0, 40.0, 100001)
    weights = aperture_weights(centers, N_COL, 4, 4)
    step = centers[1] - centers[0]
    jumps = np.abs(np.diff(weights, axis=0)).max()
    assert jumps <= step * (1 + 1e-9)  # Lipschitz with constant 1 in each pixel


def test_nan_centre_gives_nan_row():
    weights = aperture_weights(np.array([[36.0, np.nan]]), N_COL, 4, 4)
    assert np.all(weights[0, 1] == 0)
    flux, error = box_extract_weighted(np.ones((1, 2, N_COL)), 1.0, weights)
    assert flux[0, 0] == 9.0 and np.isnan(flux[0, 1]) and np.isnan(error[0, 1])


def test_nan_pixel_outside_aperture_does_not_matter():
    data = np.ones((1, 1, N_COL))
    data[0, 0, [31, 41]] = np.nan
    weights = aperture_weights([[36.0]], N_COL, 4, 4)  # covers [31.5, 40.5]: 31 and 41 have weight 0
    flux, _ = box_extract_weighted(data, 1.0, weights)
    assert flux[0, 0] == 9.0
    weights = aperture_weights([[36.5]], N_COL, 4, 4)  # [32, 41]: 41 has weight 0.5
    flux, _ = box_extract_weighted(data, 1.0, weights)
    assert np.isnan(flux[0, 0])


def test_extraction_equals_full_frame_sums():
    """The kernels work on the band of columns the apertures touch; results equal full-frame sums."""
    rng = np.random.default_rng(9)
    data = rng.normal(10.0, 3.0, (3, 4, N_COL))
    err = rng.uniform(1.0, 2.0, data.shape)
    center = np.array([[3.2, 5.0, 7.7, 1.0], [66.6, 60.1, 70.9, np.nan], [36.0, 36.5, 37.25, 35.75]])
    weights = aperture_weights(center, N_COL, 2.5, 3)
    flux, error = box_extract_weighted(data, err, weights)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(flux, np.where(np.isnan(center), np.nan, np.sum(weights * data, axis=2)),
                                   rtol=1e-13)
        np.testing.assert_allclose(error, np.where(np.isnan(center), np.nan,
                                                   np.sqrt(np.sum((weights * err) ** 2, axis=2))), rtol=1e-13)
    profile = gaussian_profile(np.nan_to_num(center, nan=36.0), 1.4, N_COL)
    opt, opt_err = optimal_extract_weighted(data, profile, err**2, weights, q=38.0, sky=17.8)
    with np.errstate(invalid="ignore", divide="ignore"):  # the NaN-centre row
        p = profile / np.sum(weights * profile, axis=2, keepdims=True)
        v = err**2 + np.abs(flux[..., None] * p + 17.8) / 38.0
        a = weights * p / v
        expected = np.sum(a * data, axis=2) / np.sum(a * p, axis=2)
        expected_err = np.sqrt(np.sum(a * a * v, axis=2)) / np.sum(a * p, axis=2)
    np.testing.assert_allclose(opt, expected, rtol=1e-12)
    np.testing.assert_allclose(opt_err, expected_err, rtol=1e-12)


def test_error_propagation_simple_case():
    """Centre 36.25, widths 1: weights 0.75, 1, 1, 0.25 on columns 35-38."""
    err = np.zeros((1, 1, N_COL))
    err[0, 0, 35:39] = [2.0, 3.0, 4.0, 6.0]
    weights = aperture_weights([[36.25]], N_COL, 1, 1)
    _, error = box_extract_weighted(np.zeros_like(err), err, weights)
    expected = np.sqrt((0.75 * 2.0) ** 2 + 3.0**2 + 4.0**2 + (0.25 * 6.0) ** 2)
    assert error[0, 0] == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("center", [36.0, 36.5, 36.3], ids=["integer", "half", "fractional"])
@pytest.mark.parametrize("width", [0, 2], ids=["1-pixel", "5-pixel"])
def test_error_propagation_matches_monte_carlo(center, width):
    """sqrt(sum(w**2 err**2)) is the scatter of the weighted sum; sqrt(sum(w err**2)) is not.

    40 000 realisations: the standard deviation is measured to 1/sqrt(2n) = 0.35 %.
    For a 1-pixel aperture centred on a pixel edge, w = (0.5, 0.5): sum(w**2) = 0.5, sum(w) = 1.
    """
    rng = np.random.default_rng(5)
    n = 40000
    err = np.linspace(1.0, 3.0, N_COL)[None, None, :] * np.ones((n, 1, 1))
    data = rng.normal(0.0, 1.0, (n, 1, N_COL)) * err
    weights = aperture_weights(np.full((n, 1), center), N_COL, width, width)
    flux, error = box_extract_weighted(data, err, weights)
    measured = np.std(flux)
    assert measured == pytest.approx(error[0, 0], rel=0.015)
    w_linear = np.sqrt(np.sum(weights[0, 0] * err[0, 0] ** 2))
    if center == 36.5 and width == 0:
        assert measured == pytest.approx(w_linear / np.sqrt(2.0), rel=0.015)


def test_weights_broadcast_per_row_widths():
    widths = np.array([1.0, 2.5, 4.0])
    weights = aperture_weights(np.full((2, 3), 30.2), N_COL, widths, widths)
    np.testing.assert_allclose(weights.sum(axis=-1), np.broadcast_to(2 * widths + 1, (2, 3)), rtol=1e-14)


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_cols=-1), dict(n_cols=7.5), dict(left_width=-1), dict(right_width=np.nan), dict(left_width=True),
     dict(right_width="4")],
    ids=["negative-ncols", "float-ncols", "negative-width", "nan-width", "bool-width", "str-width"],
)
def test_aperture_weights_bad_parameters(kwargs):
    args = dict(center=[36.0], n_cols=N_COL, left_width=4, right_width=4) | kwargs
    with pytest.raises(ParameterError, match=next(iter(kwargs))):
        aperture_weights(**args)


def test_bad_shapes_raise_parameter_error():
    with pytest.raises(ParameterError, match="weights"):
        box_extract_weighted(np.ones((2, 3, N_COL)), 1.0, np.ones((2, 4, N_COL)))
    with pytest.raises(ParameterError, match="err"):
        box_extract_weighted(np.ones((2, 3, N_COL)), np.ones((5, 3, N_COL)), 1.0)
    with pytest.raises(ParameterError, match="data"):
        optimal_extract_weighted(np.ones((3, N_COL)), 1.0, 1.0, 1.0)
    with pytest.raises(ParameterError, match="q"):
        optimal_extract_weighted(np.ones((1, 3, N_COL)), 1.0, 1.0, 1.0, q=0)
    with pytest.raises(ParameterError, match="order"):
        fit_trace_polynomial([1.0, 2.0], [1.0, 2.0], order=-1)
    with pytest.raises(ParameterError, match="clip_sigma"):
        fit_trace_polynomial([1.0, 2.0], [1.0, 2.0], clip_sigma=0)
    with pytest.raises(ParameterError, match="weights"):
        fit_trace_polynomial([1.0, 2.0], [1.0, 2.0], [1.0])
    ref = RowFit(*(np.ones(4) for _ in range(7)))
    with pytest.raises(ParameterError, match="reference"):
        integration_offsets(np.ones((1, 4, N_COL)), np.ones((4, N_COL)), np.ones(4))
    with pytest.raises(ParameterError, match="reference"):
        integration_offsets(np.ones((1, 5, N_COL)), ref, np.ones(5))
    with pytest.raises(ParameterError, match="row_weights"):
        integration_offsets(np.ones((1, 4, N_COL)), ref, np.ones(5))
    with pytest.raises(ParameterError, match="half_width"):
        integration_offsets(np.ones((1, 4, N_COL)), ref, np.ones(4), half_width=0)
    with pytest.raises(ParameterError, match="cols"):
        row_centers(np.ones((4, N_COL)), cols=(60, 80))
    with pytest.raises(ParameterError, match="sigma_range"):
        detected_rows(RowFit(*(np.ones(1) for _ in range(7))), sigma_range=(3.0, 1.0))
    for bad in [(1.0, 2.0, 3.0), (1.0,), 2.0]:
        with pytest.raises(ParameterError, match=r"sigma_range must be a \(min, max\) pair"):
            detected_rows(RowFit(*(np.ones(1) for _ in range(7))), sigma_range=bad)
    with pytest.raises(ParameterError, match="center"):
        wavelength_at_trace(np.ones((4, N_COL)), np.ones((2, 5)))


# ---------------------------------------------------------------------------
# trace polynomial and detection
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("order", [0, 1, 2, 3], ids=lambda o: f"order{o}")
def test_polynomial_exact_and_convention(order):
    rows = np.arange(150.0, 390.0)
    truth = np.array([36.0, 4e-3, -2e-6, 3e-9])[: order + 1]
    centers = np.polynomial.polynomial.polyval(rows, truth)
    coef, used = fit_trace_polynomial(rows, centers, order=order)
    np.testing.assert_allclose(evaluate_trace(coef, rows), centers, atol=1e-9)
    np.testing.assert_allclose(coef, truth, rtol=1e-6, atol=1e-12)
    assert used.all()


def test_polynomial_clips_outliers_and_ignores_nan():
    rng = np.random.default_rng(2)
    rows = np.arange(416.0)
    errors = np.full(416, 0.02)
    centers = 36.3 + 1.6 * (rows - 200) / 250 + rng.normal(0, 0.02, 416)
    centers[[20, 100, 300]] += [1.0, -0.5, 0.3]
    centers[[5, 6]] = np.nan
    coef, used = fit_trace_polynomial(rows, centers, 1.0 / errors**2, order=1, clip_sigma=4.0)
    assert not used[[5, 6, 20, 100, 300]].any()
    assert used.sum() >= 405
    assert coef[1] == pytest.approx(1.6 / 250, rel=0.01)


def test_reference_trace_noiseless_and_empty():
    """Noiseless rows (centre error 0) keep finite weights; a frame without a star gives NaN, no exception."""
    sc = make_scene(1, seed=2, noise=False, sky=0.0, gradient=(0.0, 0.0), jitter=0.0)
    ref = fit_reference_trace(sc.data[0], order=1)
    assert np.all(np.isfinite(ref.row_weights)) and ref.used.sum() > 300
    np.testing.assert_allclose(evaluate_trace(ref.coefficients, [150, 380]), sc.truth.trace[[150, 380]], atol=1e-4)
    # a Gaussian fitted to a pixel-integrated Gaussian has width ~ sqrt(sigma**2 + 1/12)
    truth = sc.truth.sigma[ref.used]
    np.testing.assert_allclose(ref.row_fit.sigma[ref.used], np.sqrt(truth**2 + 1 / 12), atol=0.01)
    # the width polynomial is pixel-deconvolved; a quadratic in row only approximates
    # sigma(wavelength(row)) (the dispersion is not linear)
    sigma = evaluate_trace(ref.sigma_coefficients, np.arange(N_ROW))[ref.used]
    np.testing.assert_allclose(sigma, truth, atol=0.12)
    assert np.median(np.abs(sigma - truth)) < 0.03
    empty = fit_reference_trace(np.random.default_rng(0).normal(0.0, 1.0, (N_ROW, N_COL)))
    assert np.isnan(empty.coefficients).all() and not empty.used.any() and not empty.row_weights.any()
    assert np.isnan(integration_offsets(sc.data, empty.row_fit, empty.row_weights)).all()
    with pytest.raises(ParameterError, match="frame"):
        fit_reference_trace(sc.data)


def test_polynomial_too_few_points_is_nan():
    coef, used = fit_trace_polynomial([1.0, 2.0, 3.0], [1.0, np.nan, np.nan], order=1)
    assert np.isnan(coef).all() and used.sum() == 1


def test_detected_rows_reject_noise():
    """No Gaussian fitted to white noise passes min_snr = 5 or 10 (1000 rows of 56 columns; 20 000 in TRACE.md)."""
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 1.0, (1000, N_COL))
    fit = row_centers(noise)
    assert detected_rows(fit, min_snr=10.0).sum() == 0
    assert detected_rows(fit, min_snr=5.0).sum() == 0
    assert detected_rows(fit, min_snr=3.0).mean() < 0.05


def test_row_centers_uncertainty_is_calibrated():
    """The covariance-based centre error matches the scatter of fits to noisy rows."""
    rng = np.random.default_rng(4)
    cols = np.arange(N_COL)
    truth = 36.3
    rows = 20.0 * np.exp(-0.5 * ((cols - truth) / 1.5) ** 2) + rng.normal(0.0, 1.0, (5000, N_COL))
    fit = row_centers(rows)
    ok = np.isfinite(fit.center)
    assert ok.mean() > 0.999
    pull = (fit.center[ok] - truth) / fit.center_error[ok]
    assert np.std(pull) == pytest.approx(1.0, abs=0.05)  # 1 % statistical
    pull = (fit.amplitude[ok] - 20.0) / fit.amplitude_error[ok]
    assert np.std(pull) == pytest.approx(1.0, abs=0.05)


def test_row_centers_leading_axes_and_nan():
    data = np.zeros((2, 3, N_COL))
    data[..., 30:40] = np.exp(-0.5 * ((np.arange(30, 40) - 35.0) / 1.3) ** 2)
    data[1, 2] = np.nan
    fit = row_centers(data)
    assert fit.center.shape == (2, 3)
    np.testing.assert_allclose(fit.center[~np.isnan(fit.center)], 35.0, atol=1e-8)
    assert np.isnan(fit.center[1, 2]) and np.isnan(fit.center_error[1, 2])


# ---------------------------------------------------------------------------
# the simulated exposure: centres, offsets, white light, flux fraction
# ---------------------------------------------------------------------------
def test_scene_truth_is_consistent():
    sc = make_scene(3, seed=1, noise=False)
    np.testing.assert_allclose(sc.truth.profile.sum(axis=-1), 1.0, atol=1e-9)
    assert sc.truth.center[0, 200] == pytest.approx(36.3 + sc.truth.jitter[0])
    assert sc.truth.sigma.min() == pytest.approx(1.2 + 0.08 * (sc.truth.wavelength.min() - 5.0))


@pytest.mark.parametrize("order", [1, 2], ids=["order1", "order2"])
def test_fitted_centre_matches_truth(scene, order):
    """Per integration and row, over the rows the polynomial used (~265 rows, 123-392), rms <= 0.03 px."""
    data = subtract_background(scene.data)
    center, _, offsets, used, _ = fit_traced_centers(data, order=order)
    rows = np.flatnonzero(used)
    assert rows.size > 200
    error = center[:, rows] - scene.truth.center[:, rows]
    rms = np.sqrt(np.mean(error**2))
    assert rms <= 0.03, f"order {order}: rms {rms:.4f} px over {rows.size} rows"
    # the per-integration part: offsets follow the jitter to a few milli-pixels (~2.5e-3 in TRACE.md)
    jitter_error = offsets - scene.truth.jitter
    assert np.std(jitter_error) <= 0.006


def test_fitted_centre_quadratic_trace():
    """A curved trace needs order 2: order 1 misses it by ~0.1 px rms (see TRACE.md)."""
    sc = make_scene(64, seed=12, trace_poly=(36.3, 1.6, 0.8))
    data = subtract_background(sc.data)
    rms = {}
    for order in (1, 2):
        center, coef, _, used, _ = fit_traced_centers(data, order=order)
        rows = np.flatnonzero(used)
        rms[order] = np.sqrt(np.mean((center[:, rows] - sc.truth.center[:, rows]) ** 2))
    assert rms[2] <= 0.03 < rms[1]


def test_offsets_exact_on_noiseless_shifted_frames():
    """Noiseless frames with the widening PSF: offsets equal the jitter differences to 1e-6 px,
    also with flux and background changes (free amplitude and baseline per row) and NaN pixels."""
    sc = make_scene(8, seed=3, noise=False, sky=0.0, gradient=(0.0, 0.0), jitter=0.3)
    reference = row_centers(sc.data[0])
    bright = sc.truth.flux > 0.01 * sc.truth.flux.max()  # noiseless: faint rows have no noise to tell them apart
    weights = np.where(detected_rows(reference) & bright, reference.center_error**-2.0, 0.0)
    data = sc.data * np.linspace(0.9, 1.1, 8)[:, None, None] + np.linspace(-1, 1, 8)[:, None, None]
    data[2, 300, 37] = np.nan
    offsets = integration_offsets(data, reference, weights)
    np.testing.assert_allclose(offsets, sc.truth.jitter - sc.truth.jitter[0], atol=1e-6)


def white_light_scatters(sc, data=None, center=None):
    """White-light point-to-point scatter of 9-pixel boxes: fixed at 36, traced (fitted), ideal (true centre)."""
    data = subtract_background(sc.data) if data is None else data
    center = fit_traced_centers(data)[0] if center is None else center
    n = data.shape[0]
    fixed, _ = box_extract_block(data, sc.err, aperture_mask(np.full(n, 36.0), N_COL, 4, 4))
    traced, _ = box_extract_weighted(data, sc.err, aperture_weights(center, N_COL, 4, 4))
    ideal, _ = box_extract_weighted(data, sc.err, aperture_weights(sc.truth.center, N_COL, 4, 4))
    return {k: point_to_point_scatter(white_light(v)) for k, v in
            (("fixed", fixed), ("traced", traced), ("ideal", ideal))}


@pytest.mark.parametrize("kwargs", [dict(noise=False), dict(peak=1720.0)], ids=["jitter-only", "peak-1720"])
def test_traced_aperture_halves_white_light_scatter(kwargs):
    """Traced fractional box <= 0.5 x the fixed integer box at column 36 (both 9 pixels).

    Measured (TRACE.md): 0.01 without noise (jitter systematics only), ~0.34 for a star 4x
    brighter than the default. At the default brightness see the next test.
    """
    sc = make_scene(96, seed=13, **kwargs)
    s = white_light_scatters(sc)
    assert s["traced"] <= 0.5 * s["fixed"], s
    assert s["traced"] <= 1.05 * s["ideal"] + 5e-5, s


def test_traced_aperture_white_light_at_default_noise(scene, reduced):
    """At the default brightness (peak 430 DN/s, sky 17.8 DN/s) the scatter is photon + sky noise limited.

    The ideal aperture (true centre, fractional edges) is itself at ~0.63-0.70 x the fixed box
    (TRACE.md), so the spec's 0.5 cannot be reached there; the traced aperture must match the
    ideal one and stay well below the fixed box. With 96 integrations the ratios vary between
    realisations (traced / fixed 0.64-0.81 and optimal / fixed 0.56-0.68 for seeds 11-13); the
    fixture's seed 11 gives 0.66 and 0.56.
    """
    s = white_light_scatters(scene, reduced.data, reduced.center)
    assert s["traced"] <= 0.85 * s["fixed"], s
    assert s["traced"] == pytest.approx(s["ideal"], rel=0.05), s
    # optimal extraction in the same aperture, with a Gaussian profile on the fitted trace,
    # gets close to the spec's 0.5 (0.53 averaged over realisations in TRACE.md)
    sigma = evaluate_trace(reduced.ref.sigma_coefficients, np.arange(N_ROW))
    weights = aperture_weights(reduced.center, N_COL, 4, 4)
    opt, _ = optimal_extract_weighted(reduced.data, gaussian_profile(reduced.center, sigma, N_COL),
                                      scene.readnoise**2, weights, q=scene.gain_time, sky=scene.truth.background)
    assert point_to_point_scatter(white_light(opt)) <= 0.7 * s["fixed"], s


def test_nine_pixel_box_keeps_gaussian_fraction(scene, reduced):
    """Mean over integrations of box flux / F(r) vs the erf prediction at the truth centre and width.

    Tolerance: the mean over 96 integrations of the box flux of a row has a
    noise of ~0.15-0.6 % of F in the well-exposed rows (photon + sky noise
    of 9 pixels, /sqrt(96)); the test allows 4 sigma of that, computed from
    the errors, plus 2e-3 for the centre errors (<= 0.03 px, times the
    slope of the fraction).
    """
    weights = aperture_weights(reduced.center, N_COL, 4, 4)
    flux, error = box_extract_weighted(reduced.data, scene.err, weights)
    truth = scene.truth
    predicted = np.sum(aperture_weights(truth.center, N_COL, 4, 4) * truth.profile, axis=-1)
    rows = np.flatnonzero(truth.flux > 0.2 * truth.flux.max())
    measured = np.mean(flux[:, rows], axis=0) / truth.flux[rows]
    expected = np.mean(predicted[:, rows], axis=0)
    noise = np.sqrt(np.mean(error[:, rows] ** 2, axis=0) / flux.shape[0]) / truth.flux[rows]
    assert np.all(np.abs(measured - expected) <= 4 * noise + 2e-3)
    # and the fraction is that of a Gaussian of the simulated width: erf(4.5 / (sqrt(2) sigma)) centred
    centred = erf(4.5 / (np.sqrt(2.0) * truth.sigma[rows]))
    assert np.all(np.abs(expected - centred) <= 1e-3)


def test_optimal_noiseless_equals_box_equals_truth_fraction():
    sc = make_scene(6, seed=4, noise=False, sky=0.0, gradient=(0.0, 0.0))
    truth = sc.truth
    weights = aperture_weights(truth.center, N_COL, 3.5, 4)
    box, _ = box_extract_weighted(sc.data, sc.err, weights)
    opt, _ = optimal_extract_weighted(sc.data, truth.profile, sc.readnoise**2, weights, q=sc.gain_time)
    fraction = truth.flux * np.sum(weights * truth.profile, axis=-1)
    rows = np.flatnonzero(truth.flux > 1e-3 * truth.flux.max())
    np.testing.assert_allclose(box[:, rows], fraction[:, rows], rtol=1e-12)
    np.testing.assert_allclose(opt[:, rows], fraction[:, rows], rtol=1e-10)


def test_optimal_reduces_to_horne_for_integer_weights():

    sc = make_scene(4, seed=6, sky=0.0, gradient=(0.0, 0.0))
    center = np.full(4, 37.0)
    mask = aperture_mask(center, N_COL, 4, 4)
    profile = sc.truth.profile
    ref, ref_err = optimal_extract_block(sc.data, profile, 0.07, mask, q=38.0)
    weights = aperture_weights(np.repeat(center[:, None], N_ROW, axis=1), N_COL, 4, 4)
    out, out_err = optimal_extract_weighted(sc.data, profile, 0.07, weights, q=38.0)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_err, ref_err, rtol=1e-12)


def test_optimal_noisy_scatter_below_box(scene, reduced):
    """With a profile that follows the fitted trace, optimal beats the box per row and in white light."""
    sigma = evaluate_trace(reduced.ref.sigma_coefficients, np.arange(N_ROW))
    profile = gaussian_profile(reduced.center, sigma, N_COL)
    weights = aperture_weights(reduced.center, N_COL, 4, 4)
    box, box_err = box_extract_weighted(reduced.data, scene.err, weights)
    opt, opt_err = optimal_extract_weighted(reduced.data, profile, scene.readnoise**2, weights, q=scene.gain_time,
                                            sky=scene.truth.background)
    good = np.flatnonzero(scene.truth.flux > 0.2 * scene.truth.flux.max())
    # same quantity as the box (the flux inside the aperture): the Gaussian profile model biases it by ~0.1 %
    bias = np.mean(opt[:, good], axis=0) / np.mean(box[:, good], axis=0) - 1
    assert abs(np.median(bias)) < 3e-3
    assert np.median(np.std(opt[:, good], axis=0) / np.std(box[:, good], axis=0)) < 0.95
    assert np.median(opt_err[:, good] / box_err[:, good]) < 0.95
    # the reported optimal error describes its scatter (per-row std over integrations of the residual)
    resid = opt[:, good] - np.mean(opt[:, good], axis=0)
    ratio = np.std(resid, axis=0) / np.mean(opt_err[:, good], axis=0)
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)
    assert point_to_point_scatter(white_light(opt)) < point_to_point_scatter(white_light(box))


def test_offsets_empty_and_nan_blocks():
    ref = np.zeros((N_ROW, N_COL))
    ref[:, 30:43] = np.exp(-0.5 * ((np.arange(30, 43) - 36.4) / 1.5) ** 2) * 50
    fit = row_centers(ref)
    weights = np.ones(N_ROW)
    assert integration_offsets(np.zeros((0, N_ROW, N_COL)), fit, weights).shape == (0,)
    data = np.stack([ref, np.full_like(ref, np.nan), np.zeros_like(ref)])
    out = integration_offsets(data, fit, weights)
    assert out[0] == pytest.approx(0.0, abs=1e-9) and np.isnan(out[1]) and np.isnan(out[2])
    assert np.isnan(integration_offsets(data, fit, np.zeros(N_ROW))).all()


# ---------------------------------------------------------------------------
# wavelength at the trace, width statistic
# ---------------------------------------------------------------------------
def test_wavelength_at_trace_row_only_map_equals_column_36():
    wmap = default_wavelength_map()
    center = np.full((2, N_ROW), 37.4)
    np.testing.assert_array_equal(wavelength_at_trace(wmap, center)[1], wmap[:, 36])


def test_wavelength_at_trace_interpolates_tilted_map():
    rows, cols = np.mgrid[0:N_ROW, 0:N_COL]
    wmap = 14.0 - 0.025 * rows + 0.01 * cols  # a map that depends on the column
    center = 36.3 + 0.0064 * (np.arange(N_ROW) - 200.0)
    np.testing.assert_allclose(wavelength_at_trace(wmap, center), 14.0 - 0.025 * np.arange(N_ROW) + 0.01 * center,
                               rtol=1e-13)
    edge = wavelength_at_trace(wmap, np.array([0.0] + [71.0] + [71.5] + [np.nan] * (N_ROW - 3)))
    assert edge[0] == wmap[0, 0] and edge[1] == wmap[1, 71] and np.isnan(edge[2:]).all()


def test_point_to_point_scatter_white_noise_and_transit():
    rng = np.random.default_rng(8)
    n = 20000
    noise = 1e-3 * rng.standard_normal((3, n))
    transit = np.where((np.arange(n) > 8000) & (np.arange(n) < 12000), -0.01, 0.0)
    curves = 500.0 * (1.0 + noise + transit)
    curves[2, ::7] = np.nan
    scatter = point_to_point_scatter(curves)
    np.testing.assert_allclose(scatter, 1e-3, rtol=0.05)
    # along another axis
    np.testing.assert_allclose(point_to_point_scatter(curves.T, axis=0), scatter)
    assert np.isnan(point_to_point_scatter(np.array([1.0, np.nan, 1.0])))
    with pytest.raises(ParameterError, match="axis"):
        point_to_point_scatter(curves, axis=2)


# ---------------------------------------------------------------------------
# the shared MIRISim calints
# ---------------------------------------------------------------------------
def test_shared_calints_trace(calints_path):
    """MIRISim NGTS-10: the trace is detected on rows 148-382, rises by ~0.8 px and curves (TRACE.md)."""
    from astropy.io import fits

    with fits.open(calints_path) as hdul:
        sci = np.asarray(hdul["SCI"].data, dtype=np.float64)
        wmap = np.asarray(hdul["WAVELENGTH"].data, dtype=np.float64)
    data = subtract_background(sci)
    ref1 = fit_reference_trace(np.median(data, axis=0), order=1)
    ref2 = fit_reference_trace(np.median(data, axis=0), order=2)
    assert ref2.used.sum() >= 220 and np.flatnonzero(ref2.used)[[0, -1]].tolist() == [148, 382]
    c150, c350 = evaluate_trace(ref2.coefficients, [150, 350])
    assert 36.6 < c150 < 37.0 and 37.5 < c350 < 37.8
    # curvature: order 2 halves the residuals of order 1
    assert ref2.residual_rms < 0.6 * ref1.residual_rms < 0.1
    offsets = integration_offsets(data, ref2.row_fit, ref2.row_weights)
    assert np.all(np.abs(offsets) < 0.01)  # MIRISim has no jitter between these integrations
    center = evaluate_trace(ref2.coefficients, np.arange(N_ROW), offsets)
    wl = wavelength_at_trace(np.where(wmap > 0, wmap, np.nan), center)
    np.testing.assert_array_equal(wl[0], np.where(wmap[:, 36] > 0, wmap[:, 36], np.nan))  # map depends on row only
