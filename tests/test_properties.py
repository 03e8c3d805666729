"""Hypothesis properties of the steps, through the ``.lrs`` accessor and the kernels.

Issue "Hostile inputs and faults", part 5:

* clean leaves a smooth, outlier-free frame (a polynomial along the rows in
  every window) unchanged, and replaces masked pixels by that polynomial;
* subtracting a constant sky returns the source, for every method;
* box extraction is linear in the data;
* spectra and profiles shifted by a known sub-pixel amount give that shift
  in align;
* the outputs of clean -> subtract -> extract -> align do not depend on the
  chunking along ``integration``.
"""

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xmiri.accessor  # noqa: F401  (registers Dataset.lrs)
from xmiri.kernels import align as kalign
from xmiri.kernels import background as kbackground
from xmiri.kernels import clean as kclean
from xmiri.kernels.aperture import aperture_mask
from tests.extraction_calls import box_extract_block

from tests.conftest import chain, frames_from

OUTLIER = 16
HOT = 2**11
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore::xmiri.exceptions.SkyNotSubtractedWarning")]


def window_starts(n_row, heights):
    """(start, height) of the cycled windows, the last one cut at the frame edge."""
    out, start, i = [], 0, 0
    while start < n_row:
        h = min(heights[i % len(heights)], n_row - start)
        out.append((start, h))
        start += h
        i += 1
    return out


# --------------------------------------------------------------------------
# 1. clean leaves a smooth frame unchanged
# --------------------------------------------------------------------------
@st.composite
def polynomial_frames(draw):
    """Integer-valued polynomials of the local row index in every window and column.

    Values stay below 2**24, so float32 holds them exactly; a few pixels per
    window column (never more than leave ``poly_order + 2`` good ones) are
    DQ-masked and hold garbage.
    """
    order = draw(st.integers(0, 4))
    heights = draw(st.lists(st.integers(order + 3, 30), min_size=1, max_size=3))
    n_row = draw(st.integers(order + 3, 90))
    n_col = draw(st.integers(1, 6))
    n_int = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    n_mask = draw(st.integers(0, 2))
    scale = 2.0 ** draw(st.integers(-6, 6))
    garbage = draw(st.sampled_from([np.nan, 1e30, -1e6]))
    rng = np.random.default_rng(seed)
    data = np.empty((n_int, n_row, n_col))
    dq = np.zeros(data.shape, np.uint32)
    for start, h in window_starts(n_row, heights):
        x = np.arange(h, dtype=float)[:, None]
        coef = rng.integers(-3, 4, size=(n_int, order + 1, n_col)).astype(float)
        coef[:, 0] = rng.integers(-1000, 1001, size=(n_int, n_col))
        data[:, start:start + h] = sum(coef[:, [k]] * x**k for k in range(order + 1))
        if h - n_mask >= order + 2:
            for i in range(n_int):
                for c in range(n_col):
                    rows = start + rng.choice(h, size=n_mask, replace=False)
                    dq[i, rows, c] = HOT
    truth = (data * scale).astype(np.float32)
    assert np.array_equal(truth.astype(np.float64), data * scale)  # exact in float32
    hostile = np.where(dq != 0, garbage, truth).astype(np.float32)
    return hostile, truth, dq, dict(window_heights=heights, poly_order=order)


@SETTINGS
@given(polynomial_frames(), st.booleans(), st.floats(3.0, 10.0))
def test_clean_leaves_smooth_frame_unchanged(case, robust, threshold):
    data, truth, dq, kwargs = case
    n_col = data.shape[2]
    ds = frames_from(data, dq=dq, wavelength=False)
    # max_gap=None: every masked pixel takes its column's polynomial, exact on these frames
    # (by default, masked pixels of the profile columns are filled from the neighbouring
    # rows, exact on frames of a separable profile: tests/test_clean_missing.py)
    out = ds.lrs.clean(dq_bits_to_mask=[11], outlier_threshold=threshold, robust=robust,
                       spatial_profile_left_idx=0, spatial_profile_right_idx=n_col, aperture_center=0,
                       max_gap=None, **kwargs).compute()
    masked = dq != 0
    replaced = (out["dq"].values & OUTLIER) != 0
    np.testing.assert_array_equal(replaced, masked)
    np.testing.assert_array_equal(out["data"].values[~masked], truth[~masked])
    np.testing.assert_allclose(out["data"].values[masked], truth[masked], rtol=1e-6,
                               atol=1e-6 * np.abs(truth).max(initial=1.0))
    # n_outliers counts the replaced pixels in columns 0..w around trace_center=0
    expected = np.stack([masked[:, :, :w + 1].sum(axis=2) for w in range(5)], axis=-1)
    np.testing.assert_array_equal(out["n_outliers"].values, expected)


@SETTINGS
@given(polynomial_frames())
def test_clean_kernel_leaves_smooth_frame_unchanged(case):
    data, truth, dq, kwargs = case
    cleaned, replaced, profile = kclean.clean_block(truth, None, dq_mask=0, outlier_threshold=4.0,
                                                    profile_left=0, profile_right=truth.shape[2],
                                                    unfitted=0.0, **kwargs)
    assert not replaced.any()
    np.testing.assert_array_equal(cleaned, truth)
    assert np.isfinite(profile).all() and (profile >= 0).all()


# --------------------------------------------------------------------------
# 2. subtracting a constant sky returns the source
# --------------------------------------------------------------------------
@st.composite
def sky_cases(draw):
    n_int = draw(st.integers(1, 3))
    n_row = draw(st.integers(5, 60))
    left0 = draw(st.integers(0, 18))
    left1 = draw(st.integers(left0 + 1, 20))
    right0 = draw(st.integers(52, 71))
    right1 = draw(st.integers(right0 + 1, 72))
    skies = draw(st.lists(st.floats(-1e3, 1e3, allow_subnormal=False), min_size=n_int, max_size=n_int))
    seed = draw(st.integers(0, 2**32 - 1))
    method = draw(st.sampled_from(["constant", "row_wise", "col_wise"]))
    smoothing = draw(st.one_of(st.none(), st.integers(1, 15)))
    rng = np.random.default_rng(seed)
    source = np.zeros((n_int, n_row, 72))
    source[:, :, 22:51] = rng.gamma(2.0, 300.0, size=(n_int, n_row, 29))  # nothing in either region
    return source, np.array(skies), dict(method=method, smoothing_length=smoothing,
                                         bkg_col_left_start=left0, bkg_col_left_end=left1,
                                         bkg_col_right_start=right0, bkg_col_right_end=right1)


@SETTINGS
@given(sky_cases())
def test_subtracting_a_constant_sky_returns_the_source(case):
    source, skies, kwargs = case
    observed = (source + skies[:, None, None]).astype(np.float32)
    out = frames_from(observed).chunk({"integration": 1}).lrs.subtract(**kwargs).compute()
    sky32 = skies.astype(np.float32)
    np.testing.assert_array_equal(out["background"].values, np.broadcast_to(sky32[:, None, None], source.shape))
    # one float32 rounding of source + sky, one of the difference
    tol = 2 * np.spacing(np.float32(source.max() + np.abs(skies).max()))
    np.testing.assert_allclose(out["data"].values, source, rtol=0, atol=tol)


@SETTINGS
@given(sky_cases())
def test_background_kernel_of_constant_sky(case):
    source, skies, kwargs = case
    background = kbackground.background_block(
        source + skies[:, None, None], method=kwargs["method"],
        left=(kwargs["bkg_col_left_start"], kwargs["bkg_col_left_end"]),
        right=(kwargs["bkg_col_right_start"], kwargs["bkg_col_right_end"]),
        smoothing_length=kwargs["smoothing_length"])
    np.testing.assert_allclose(background, np.broadcast_to(skies[:, None, None], source.shape),
                               rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# 3. box extraction is linear
# --------------------------------------------------------------------------
@st.composite
def linear_cases(draw):
    n_int = draw(st.integers(1, 3))
    n_row = draw(st.integers(4, 40))
    n_col = draw(st.integers(8, 40))
    center = draw(st.integers(0, n_col - 1))
    left = draw(st.integers(0, center))
    right = draw(st.integers(0, n_col - 1 - center))
    a = draw(st.floats(-10, 10, allow_subnormal=False))
    b = draw(st.floats(-10, 10, allow_subnormal=False))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = (n_int, n_row, n_col)
    d1 = rng.normal(0, 100, shape).astype(np.float32)
    d2 = rng.gamma(1.5, 50, shape).astype(np.float32)
    e1 = rng.uniform(0.1, 5, shape).astype(np.float32)
    kwargs = dict(aperture_center=center, aperture_left_width=left, aperture_right_width=right,
                  trace_rows=(0, n_row), trace_cols=(0, n_col))
    return d1, d2, e1, a, b, kwargs


@SETTINGS
@given(linear_cases())
def test_box_extraction_is_linear(case):
    d1, d2, err, a, b, kwargs = case
    combined = (a * d1.astype(np.float64) + b * d2.astype(np.float64)).astype(np.float32)
    spectra = [frames_from(d, err=e, wavelength=False).lrs.extract(method="box", **kwargs).compute()
               for d, e in ((d1, err), (d2, err), (combined, np.abs(a) * err.astype(np.float64)))]
    f1, f2, f = (s["flux"].values for s in spectra)
    width = kwargs["aperture_left_width"] + kwargs["aperture_right_width"] + 1
    eps = np.finfo(np.float32).eps
    tol = 4 * width * eps * (np.abs(a) * np.abs(d1).max() + np.abs(b) * np.abs(d2).max()) + 1e-30
    np.testing.assert_allclose(f, a * f1 + b * f2, rtol=0, atol=tol)
    # the error of |a| * err is |a| times the error
    np.testing.assert_allclose(spectra[2]["flux_error"].values, np.abs(a) * spectra[0]["flux_error"].values,
                               rtol=4 * eps, atol=1e-30)


@SETTINGS
@given(linear_cases())
def test_box_kernel_is_linear(case):
    d1, d2, err, a, b, kwargs = case
    d1, d2 = d1.astype(np.float64), d2.astype(np.float64)
    mask = aperture_mask(np.full(d1.shape[0], float(kwargs["aperture_center"])), d1.shape[2],
                                  kwargs["aperture_left_width"], kwargs["aperture_right_width"])
    f1, _ = box_extract_block(d1, err, mask)
    f2, _ = box_extract_block(d2, err, mask)
    f, _ = box_extract_block(a * d1 + b * d2, err, mask)
    scale = np.abs(a) * np.abs(d1).sum(axis=2) + np.abs(b) * np.abs(d2).sum(axis=2)
    assert np.all(np.abs(f - (a * f1 + b * f2)) <= 1e-12 * scale + 1e-300)


# --------------------------------------------------------------------------
# 4. a known sub-pixel shift comes out of align
# --------------------------------------------------------------------------
N_ROW, N_COL = 416, 72


def smooth_spectrum(rows):
    return (300.0 + 120.0 * np.sin(2 * np.pi * rows / 97.0) + 80.0 * np.cos(2 * np.pi * rows / 41.0)
            + 150.0 * np.exp(-0.5 * ((rows - 250.0) / 18.0) ** 2))


def cross_profile(cols, center):
    return np.exp(-0.5 * ((cols - center) / 1.6) ** 2) + 0.02


@st.composite
def shifted_exposures(draw):
    """Five integrations: three identical references, two shifted along and across the trace.

    Three of five identical signals make the per-sample median (the
    template) exactly the reference, so every measured shift is absolute.
    """
    y = draw(st.lists(st.floats(-2.0, 2.0, allow_subnormal=False), min_size=2, max_size=2))
    x = draw(st.lists(st.floats(-1.5, 1.5, allow_subnormal=False), min_size=2, max_size=2))
    amplitude = draw(st.lists(st.floats(0.5, 2.0), min_size=2, max_size=2))
    position = draw(st.permutations(range(5)))
    y_shift = np.zeros(5)
    x_shift = np.zeros(5)
    scale = np.ones(5)
    for j, i in enumerate(position[:2]):
        y_shift[i], x_shift[i], scale[i] = y[j], x[j], amplitude[j]
    rows = np.arange(N_ROW, dtype=float)[None, :, None]
    cols = np.arange(N_COL, dtype=float)[None, None, :]
    data = (scale[:, None, None] * smooth_spectrum(rows - y_shift[:, None, None])
            * cross_profile(cols, 36.0 + x_shift[:, None, None]))
    return frames_from(data), y_shift, x_shift, scale


@SETTINGS
@given(shifted_exposures(), st.sampled_from([1, 2, 5]))
def test_align_recovers_known_subpixel_shifts(case, chunk):
    ds, y_shift, x_shift, scale = case
    spec = ds.chunk({"integration": chunk}).lrs.extract(method="box")
    out = spec.lrs.align(align_spectra=True).compute()
    np.testing.assert_allclose(out["y_shift"].values, y_shift, atol=2e-3)
    np.testing.assert_allclose(out["x_shift"].values, x_shift, atol=2e-3)
    # re-sampled onto the template grid, every spectrum is a scaled copy of the reference
    ref = out["flux"].values[np.flatnonzero(y_shift == 0)[0]]
    interior = slice(10, N_ROW - 10)
    for i in range(5):
        flux = out["flux"].values[i, interior]
        ratio = flux / ref[interior]
        assert np.isfinite(ratio).all()
        np.testing.assert_allclose(ratio, np.median(ratio), rtol=5e-3)  # linear interpolation


@SETTINGS
@given(st.lists(st.floats(-3.0, 3.0, allow_subnormal=False), min_size=1, max_size=6),
       st.floats(0.2, 5.0), st.floats(-50.0, 50.0))
def test_measure_shifts_kernel_recovers_known_shifts(shifts, scale, offset):
    rows = np.arange(200, dtype=float)
    template = smooth_spectrum(rows)
    signals = scale * smooth_spectrum(rows[None, :] - np.array(shifts)[:, None]) + offset
    measured = kalign.measure_shifts(signals, template, max_shift=5.0, spline_order=5, min_samples=10,
                                      max_iter=30, tol=1e-6)
    np.testing.assert_allclose(measured, shifts, atol=1e-3)


# --------------------------------------------------------------------------
# 5. results do not depend on the chunking
# --------------------------------------------------------------------------
def noisy_exposure(seed, n_int):
    rng = np.random.default_rng(seed)
    rows = np.arange(N_ROW, dtype=float)[None, :, None]
    cols = np.arange(N_COL, dtype=float)[None, None, :]
    y = rng.uniform(-0.5, 0.5, n_int)[:, None, None]
    x = rng.uniform(-0.3, 0.3, n_int)[:, None, None]
    flux = rng.uniform(0.98, 1.02, n_int)[:, None, None]
    data = flux * smooth_spectrum(rows - y) * cross_profile(cols, 36.0 + x) * 3.0 + 5.0 + 0.01 * rows
    data = data + rng.normal(0.0, 1.0, data.shape)
    dq = np.zeros(data.shape, np.uint32)
    hits = rng.integers(0, [n_int, N_ROW, N_COL], size=(12, 3))
    data[tuple(hits.T)] += 500.0  # cosmic rays
    bad = rng.integers(0, [n_int, N_ROW, N_COL], size=(12, 3))
    dq[tuple(bad.T)] = HOT
    data[tuple(bad.T[:, :4])] = np.nan
    return frames_from(data, dq=dq)


CHAINS = {
    "box-constant": (dict(), dict(method="row_wise"), dict(method="box")),
    "optimal-gaussian-median": (dict(robust=True, window_heights=[150, 100, 50]),
                                dict(method="col_wise", smoothing_length=7),
                                dict(method="optimal", trace_position="gaussian_fits",
                                     median_spatial_profile=True, horne_q=None)),
    "optimal-readnoise-constant-sky": (dict(poly_order=3), dict(method="constant"),
                                       dict(method="optimal", readnoise=0.7, horne_q=None)),
}


def configured_chain(ds, config):
    return chain(ds, *CHAINS[config])


@FEW
@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(CHAINS)), st.integers(3, 5))
def test_chain_does_not_depend_on_chunking(seed, config, n_int):
    """Bit-identical, not merely close: every reduction over integrations (medians of the
    templates and profiles) sees all integrations at once, and every other sum runs
    along row or col inside one chunk, so no summation order depends on the chunks."""
    ds = noisy_exposure(seed, n_int)
    eager = configured_chain(ds, config).compute()
    eager_lc = eager.lrs.light_curves(wavelength_bins=7).compute()
    for chunk in (1, 2, n_int):
        lazy = configured_chain(ds.chunk({"integration": chunk}), config)
        assert lazy["flux"].chunks is not None, "the chain stays lazy"
        out = lazy.compute()
        assert set(out.variables) == set(eager.variables)
        for name in out.variables:
            np.testing.assert_array_equal(out[name].values, eager[name].values,
                                          err_msg=f"{name}, chunk={chunk}")
        xr.testing.assert_identical(out, eager)
        # light curves sum rows with a BLAS matrix product, whose summation order depends
        # on the number of integrations in a block: equal to rounding only
        xr.testing.assert_allclose(lazy.lrs.light_curves(wavelength_bins=7).compute(), eager_lc,
                                   rtol=1e-13, atol=0)
