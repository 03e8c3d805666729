"""Tests of the outlier-cleaning kernel, xmiri.kernels.clean.

Equivalence with ExoTiC-MIRI 1.0.1's CleanOutliersStep is checked on the real
MIRISim calints file and on small synthetic frames; the rest are analytic,
hand-made and edge cases, plus a property test against a plain per-column
loop built on numpy.polyfit.
"""
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xmiri.exceptions import ParameterError
from xmiri.kernels import clean as clean_module
from xmiri.kernels.clean import clean_block as kernel_clean_block
from xmiri.kernels.clean import count_replaced_near_trace, window_edges
from xmiri.defaults import (APERTURE_CENTER, CLEAN_OUTLIER_THRESHOLD, N_OUTLIER_WIDTHS, POLY_ORDER,
                            PROFILE_COLUMNS)
from tests.conftest import assert_close, worst_relative

#: The clean step's bands (ExoTiC-MIRI's), passed explicitly (the kernel has no defaults).
NEAR_TRACE = dict(center=APERTURE_CENTER, max_width=N_OUTLIER_WIDTHS - 1)
#: The kernel's parameters a test does not set: ExoTiC-MIRI's values (DQ ignored, unfittable
#: pixels 0), passed explicitly since the kernel has no defaults.
EXOTIC = dict(dq_mask=0, poly_order=POLY_ORDER, outlier_threshold=CLEAN_OUTLIER_THRESHOLD,
              profile_left=PROFILE_COLUMNS[0], profile_right=PROFILE_COLUMNS[1], unfitted=0.0)
RTOL = 1e-5
CYCLE = [150, 100, 50, 50, 20, 20, 20]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def clean_block(data, dq, **params):
    """:func:`xmiri.kernels.clean.clean_block` with :data:`EXOTIC` for the parameters not given."""
    return kernel_clean_block(data, dq, **{**EXOTIC, **params})


def synthetic_frames(n_int=1, n_row=160, n_col=48, seed=0, n_hits=20):
    """Gaussian trace (sigma 1.6 px, column 36) on a smooth spectrum and sky.

    The sky falls below zero at large rows while the spectrum fades, so the
    last windows have entirely negative fits (top-hat profile rows).  Cosmic
    ray hits are injected at random and as a cluster in one column/window.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(n_row)[:, None]
    cols = np.arange(n_col)[None, :]
    spectrum = 2000.0 * np.exp(-((rows / 70.0) ** 2)) * (1 + 0.2 * np.sin(rows / 9.0))
    center = 36.0 + 0.004 * rows
    trace = np.exp(-0.5 * ((cols - center) / 1.6) ** 2) / (np.sqrt(2 * np.pi) * 1.6)
    sky = 20.0 - 0.0025 * rows**2 + 0.05 * cols
    model = spectrum * trace + sky
    noise = 1.0 + 0.1 * np.sqrt(np.abs(model))
    data = model + noise * rng.standard_normal((n_int, n_row, n_col))
    for i in range(n_int):
        hit_rows = rng.integers(0, n_row, n_hits)
        hit_cols = rng.integers(0, n_col, n_hits)
        data[i, hit_rows, hit_cols] += rng.uniform(30, 3000, n_hits)
        data[i, 12:16, 36] += [400.0, 300.0, 500.0, 250.0]  # several hits on the trace
    return data.astype(np.float32)


def exotic(data, *, window_heights, poly_order, outlier_threshold, profile_left, profile_right):
    """ExoTiC-MIRI's CleanOutliersStep -> (cleaned, replaced, P, counts)."""
    from tests.exotic_reference import clean as exotic_clean

    cleaned, dq, P, counts = exotic_clean(
        data, None, None, window_heights=list(window_heights), dq_bits_to_mask=[],
        poly_order=poly_order, outlier_threshold=outlier_threshold,
        spatial_profile_left_idx=profile_left, spatial_profile_right_idx=profile_right)
    assert set(np.unique(dq)) <= {0, 16}
    return cleaned, dq == 16, P, counts


def assert_matches_exotic(data, **params):
    """Compare clean_block with ExoTiC-MIRI; return worst relative differences."""
    ref_cleaned, ref_replaced, ref_P, ref_counts = exotic(data, **params)
    cleaned, replaced, profile = clean_block(data, None, **params)
    np.testing.assert_array_equal(replaced, ref_replaced)
    np.testing.assert_allclose(cleaned, ref_cleaned, rtol=RTOL, atol=0)
    np.testing.assert_allclose(profile, ref_P, rtol=RTOL, atol=1e-12)
    if data.shape[2] > 40:
        np.testing.assert_array_equal(count_replaced_near_trace(replaced, **NEAR_TRACE), ref_counts)
    return {"cleaned": worst_relative(cleaned, ref_cleaned, floor=0.0),
            "profile": worst_relative(profile, ref_P, floor=0.0)}


def assert_same_result(actual, desired):
    """Same replaced mask; values equal up to summation-order round-off."""
    np.testing.assert_array_equal(actual[1], desired[1])
    assert_close(actual[0], desired[0], rtol=1e-13)
    assert_close(actual[2], desired[2], rtol=1e-12, atol=1e-15)


def polynomial_frame(n_int, n_row, n_col, degree, seed=0):
    """Frames that are exact integer polynomials (degree <= `degree`) of the row index."""
    rng = np.random.default_rng(seed)
    x = np.arange(n_row, dtype=np.float64) / 8.0  # exact in binary
    coef = rng.integers(-3, 4, (n_int, degree + 1, n_col)).astype(np.float64)
    coef[:, 0, :] += 500.0
    frames = sum(coef[:, k, None, :] * x[None, :, None] ** k for k in range(degree + 1))
    return frames


def loop_reference(data, good, *, window_heights, poly_order, outlier_threshold,
                   profile_left, profile_right, robust):
    """Straightforward per-column implementation with numpy.polyfit.

    Follows ExoTiC-MIRI's loop, with the two stopping rules documented in
    xmiri.kernels.clean (no search on round-off scatter, nor once the column
    has no more good pixels than coefficients).
    """
    data = data.astype(np.float64)
    good = good.copy()
    fits = np.zeros_like(data)
    profile = np.zeros_like(data)
    n_int, n_row, n_col = data.shape
    n_coef = poly_order + 1
    for start, height in zip(*window_edges(n_row, window_heights)):
        x = np.arange(height)
        sl = slice(start, start + height)
        for i in range(n_int):
            for c in range(n_col):
                y, g = data[i, sl, c], good[i, sl, c]
                floor = 1e-10 * np.max(np.abs(y[g]), initial=0.0)
                while True:
                    if g.sum() < 2:
                        fit = np.zeros(height)
                        break
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fit = np.polyval(np.polyfit(x[g], y[g], poly_order), x)
                    if g.sum() <= n_coef:
                        break
                    r = (y - fit)[g]
                    if robust:
                        scatter = 1.4826 * np.median(np.abs(r - np.median(r)))
                    else:
                        scatter = np.std(r)
                    worst = np.argmax(np.abs(r))
                    if scatter > floor and np.abs(r[worst]) / scatter > outlier_threshold:
                        g[np.flatnonzero(g)[worst]] = False
                        continue
                    break
                fits[i, sl, c] = fit
            p = np.maximum(fits[i, sl, :], 0.0)
            kept = p[:, profile_left:profile_right]
            for row in range(height):
                total = kept[row].sum()
                kept[row] = kept[row] / total if total != 0 else 1.0 / height
            profile[i, sl, profile_left:profile_right] = kept
    cleaned = np.where(good, data, fits)
    return cleaned, ~good, profile


# --------------------------------------------------------------------------
# 1. equivalence with ExoTiC-MIRI
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_frames(calints_path):
    from astropy.io import fits

    with fits.open(calints_path) as hdul:
        return np.array(hdul["SCI"].data[:2], dtype=np.float32)


REAL_CASES = [
    dict(window_heights=[40], poly_order=4, outlier_threshold=4.0, profile_left=26, profile_right=47),
    dict(window_heights=CYCLE, poly_order=2, outlier_threshold=5.0, profile_left=30, profile_right=43),
    dict(window_heights=[416], poly_order=4, outlier_threshold=4.0, profile_left=0, profile_right=72),
]


@pytest.mark.reference
@pytest.mark.parametrize("params", REAL_CASES, ids=["w40-o4-t4", "cycle-o2-t5", "w416-o4-t4-full"])
def test_matches_exotic_on_real_data(real_frames, params):
    worst = assert_matches_exotic(real_frames, **params)
    assert worst["cleaned"] < RTOL and worst["profile"] < RTOL


SYNTHETIC_GRID = [
    (heights, order, threshold, profile)
    for heights in ([40], CYCLE, [416])
    for order in (2, 4)
    for threshold in (4.0, 5.0)
    for profile in ((26, 47), (0, 48))
] + [([30, 20], 4, 4.0, (26, 47)), ([30, 20], 2, 5.0, (0, 48))]  # non-adjacent windows of one height


@pytest.mark.reference
@pytest.mark.parametrize(
    "heights, order, threshold, profile", SYNTHETIC_GRID,
    ids=[f"w{'-'.join(map(str, h[:2]))}-o{o}-t{t:g}-p{p[0]}:{p[1]}" for h, o, t, p in SYNTHETIC_GRID],
)
def test_matches_exotic_on_synthetic_frames(heights, order, threshold, profile):
    data = synthetic_frames(seed=order * 10 + int(threshold))
    assert_matches_exotic(data, window_heights=heights, poly_order=order,
                          outlier_threshold=threshold, profile_left=profile[0],
                          profile_right=profile[1])


@pytest.mark.reference
def test_matches_exotic_with_nan_columns():
    """Columns with 0, 1, 2, 3, 5 and 20 finite pixels (zero and min-norm fits)."""
    rng = np.random.default_rng(1)
    data = 100 + rng.normal(0, 1, (1, 40, 8))
    data[0, :, 0] = np.nan
    data[0, 1:, 1] = np.nan
    data[0, :, 2:5] = np.nan
    data[0, [3, 17, 30], 2] = [5, 7, 6]
    data[0, [3, 17], 3] = [5, 7]
    data[0, [3, 10, 17, 25, 30], 4] = [5, 7, 6, 8, 9]
    data[0, :20, 5] = np.nan
    data[0, 5, 6] += 1000
    data = data.astype(np.float32)
    assert_matches_exotic(data, window_heights=[40], poly_order=4, outlier_threshold=4.0,
                          profile_left=0, profile_right=8)
    cleaned, replaced, _ = clean_block(data, None, window_heights=[40], profile_left=0, profile_right=8)
    assert replaced[0, :, 0].all() and np.all(cleaned[0, :, 0] == 0)
    assert replaced[0, 1:, 1].all() and not replaced[0, 0, 1] and np.all(cleaned[0, 1:, 1] == 0)


# --------------------------------------------------------------------------
# 2. DQ masking
# --------------------------------------------------------------------------
def test_dq_masked_pixel_is_replaced_unmasked_bit_ignored():
    rng = np.random.default_rng(5)
    x = np.arange(40.0)
    data = (50 + 0.3 * x - 0.01 * x**2)[None, :, None] + rng.normal(0, 0.5, (1, 40, 3))
    dq = np.zeros(data.shape, np.uint32)
    dq[0, 10, 0] = 1            # DO_NOT_USE, masked below
    dq[0, 20, 1] = 4            # a bit not in the mask
    dq[0, 30, 2] = 2**31 | 1    # high bit set too
    data[0, 10, 0] = 1e6        # must not enter the fit
    cleaned, replaced, _ = clean_block(data, dq, window_heights=[40], dq_mask=1, poly_order=2,
                                       profile_left=0, profile_right=3)
    expected = np.zeros(data.shape, bool)
    expected[0, 10, 0] = expected[0, 30, 2] = True
    np.testing.assert_array_equal(replaced, expected)
    keep = np.arange(40) != 10
    value = np.polyval(np.polyfit(x[keep], data[0, keep, 0], 2), 10.0)
    np.testing.assert_allclose(cleaned[0, 10, 0], value, rtol=1e-12)
    assert cleaned[0, 20, 1] == data[0, 20, 1]
    np.testing.assert_array_equal(cleaned[~expected], data[~expected])

    # the same pixels with dq_mask=0 are left alone (no outliers in this frame)
    _, replaced0, _ = clean_block(np.where(expected, 50.0, data), dq, window_heights=[40],
                                  poly_order=2, profile_left=0, profile_right=3)
    assert not replaced0.any()
    # several bits in the mask
    _, replaced5, _ = clean_block(data, dq, window_heights=[40], dq_mask=5, poly_order=2,
                                  profile_left=0, profile_right=3)
    assert replaced5[0, 20, 1] and replaced5[0, 10, 0] and replaced5[0, 30, 2]


# --------------------------------------------------------------------------
# 3. analytic cases
# --------------------------------------------------------------------------
@pytest.mark.parametrize("order, degree, heights", [(4, 4, [40, 25]), (4, 2, CYCLE), (2, 2, [13]), (0, 0, [7])],
                         ids=["o4-d4", "o4-d2-cycle", "o2-d2", "o0-d0"])
def test_polynomial_frame_is_unchanged(order, degree, heights):
    data = polynomial_frame(2, 130, 6, degree)
    cleaned, replaced, profile = clean_block(data, None, window_heights=heights, poly_order=order,
                                             profile_left=1, profile_right=5)
    assert not replaced.any()
    np.testing.assert_array_equal(cleaned, data)
    kept = np.maximum(data[..., 1:5], 0)
    np.testing.assert_allclose(profile[..., 1:5], kept / kept.sum(-1, keepdims=True), rtol=1e-10)
    assert np.all(profile[..., [0, 5]] == 0)


@pytest.mark.reference
def test_no_rejection_on_roundoff_unlike_exotic():
    """Exactly polynomial float32 columns: ExoTiC-MIRI may reject pixels on
    round-off residuals (replacing them by themselves); xmiri rejects none."""
    data = polynomial_frame(1, 40, 5, 3, seed=1).astype(np.float32)
    assert np.array_equal(data, polynomial_frame(1, 40, 5, 3, seed=1))  # exact in float32
    params = dict(window_heights=[40], poly_order=4, outlier_threshold=4.0,
                  profile_left=0, profile_right=5)
    cleaned, replaced, profile = clean_block(data, None, **params)
    assert not replaced.any()
    ref_cleaned, ref_replaced, ref_P, _ = exotic(data, **params)
    np.testing.assert_allclose(ref_cleaned, data, rtol=1e-6)  # harmless if it happens
    np.testing.assert_allclose(profile, ref_P, rtol=RTOL)


def test_single_hit_is_replaced_by_polynomial_value():
    data = polynomial_frame(1, 80, 4, 4, seed=2)
    truth = data.copy()
    data[0, 57, 2] += 5000.0
    cleaned, replaced, _ = clean_block(data, None, window_heights=[40], poly_order=4,
                                       profile_left=0, profile_right=4)
    expected = np.zeros(data.shape, bool)
    expected[0, 57, 2] = True
    np.testing.assert_array_equal(replaced, expected)
    np.testing.assert_allclose(cleaned, truth, rtol=1e-12)


# --------------------------------------------------------------------------
# 4. robust scatter
# --------------------------------------------------------------------------
def several_hits_frame():
    """One 40-row column, smooth + unit noise, six 15-sigma hits."""
    rng = np.random.default_rng(11)
    x = np.arange(40.0)
    data = (300 + 2 * x - 0.05 * x**2)[None, :, None] + rng.normal(0, 1.0, (1, 40, 1))
    hits = [3, 9, 15, 22, 28, 35]
    data[0, hits, 0] += 15.0  # the hits inflate the standard deviation
    params = dict(window_heights=[40], poly_order=2, outlier_threshold=4.0,
                  profile_left=0, profile_right=1)
    return data, hits, params


def test_robust_finds_all_hits_in_one_window():
    data, hits, params = several_hits_frame()
    _, plain, _ = clean_block(data, None, **params)
    _, robust, _ = clean_block(data, None, robust=True, **params)
    assert np.flatnonzero(robust[0, :, 0]).tolist() == hits
    assert plain[0, :, 0].sum() < len(hits)


@pytest.mark.reference
def test_exotic_misses_the_same_hits_as_plain_scatter():
    data, hits, params = several_hits_frame()
    _, plain, _ = clean_block(data, None, **params)
    _, exotic_replaced, _, _ = exotic(data.astype(np.float32), **params)
    np.testing.assert_array_equal(plain, exotic_replaced)
    assert exotic_replaced.sum() < len(hits)


# --------------------------------------------------------------------------
# 5. edge cases
# --------------------------------------------------------------------------
def test_all_nan_column_in_window():
    data = synthetic_frames(n_int=1, n_row=80, n_col=56, seed=3, n_hits=0).astype(np.float64)
    nan_data = data.copy()
    nan_data[0, 40:80, 33] = np.nan
    options = dict(window_heights=[40], poly_order=4, profile_left=26, profile_right=47)
    cleaned, replaced, profile = clean_block(nan_data, None, **options)
    assert replaced[0, 40:80, 33].all() and np.all(cleaned[0, 40:80, 33] == 0)
    assert np.all(profile[0, 40:80, 33] == 0)
    np.testing.assert_allclose(profile[0, 40:80, 26:47].sum(-1), 1.0, rtol=1e-12)
    ref_cleaned, ref_replaced, _ = clean_block(data, None, **options)
    other = np.ones(data.shape, bool)
    other[0, 40:80, 33] = False
    np.testing.assert_array_equal(cleaned[other], ref_cleaned[other])
    np.testing.assert_array_equal(replaced[other], ref_replaced[other])


@pytest.mark.parametrize("n_int", [0, 1, 3], ids=["n0", "n1", "n3"])
def test_block_sizes_and_independence(n_int):
    data = synthetic_frames(n_int=3, n_row=60, n_col=56, seed=4)
    options = dict(window_heights=[25], poly_order=3, outlier_threshold=4.0)
    full = clean_block(data, None, **options)
    part = clean_block(data[:n_int], None, **options)
    for piece, dtype in zip(part, (np.float64, bool, np.float64)):
        assert piece.shape == (n_int, 60, 56) and piece.dtype == dtype
    assert_same_result(part, [a[:n_int] for a in full])
    assert count_replaced_near_trace(part[1], **NEAR_TRACE).shape == (n_int, 60, 5)


def test_window_taller_than_frame():
    data = synthetic_frames(n_int=1, n_row=50, n_col=56, seed=6)
    tall = clean_block(data, None, window_heights=[500])
    exact = clean_block(data, None, window_heights=[50])
    for a, b in zip(tall, exact):
        np.testing.assert_array_equal(a, b)
    starts, heights = window_edges(50, [500])
    assert starts.tolist() == [0] and heights.tolist() == [50]


def test_window_edges_cycle_and_truncate():
    starts, heights = window_edges(416, CYCLE)
    assert heights.tolist() == CYCLE + [6]
    assert starts.tolist() == [0, 150, 250, 300, 350, 370, 390, 410]
    starts, heights = window_edges(23, [10])
    assert starts.tolist() == [0, 10, 20] and heights.tolist() == [10, 10, 3]
    assert window_edges(0, [10])[0].size == 0


def test_top_hat_quirk_uses_window_height():
    """Rows with all fits <= 0 get 1 / (rows in the window), as in ExoTiC-MIRI."""
    x = np.arange(23.0)
    data = np.broadcast_to((-5.0 - 0.01 * x)[None, :, None], (1, 23, 8)).copy()
    _, _, profile = clean_block(data, None, window_heights=[10], poly_order=1,
                                profile_left=2, profile_right=6)
    np.testing.assert_allclose(profile[0, :10, 2:6], 1 / 10)
    np.testing.assert_allclose(profile[0, 20:, 2:6], 1 / 3)
    assert np.all(profile[0, :, :2] == 0) and np.all(profile[0, :, 6:] == 0)


@pytest.mark.reference
def test_top_hat_quirk_matches_exotic():
    data = synthetic_frames(n_row=40, n_col=56, seed=8, n_hits=2)
    data[:, 20:, :] -= 1e4  # all fits negative in the second window
    assert_matches_exotic(data, window_heights=[20], poly_order=2, outlier_threshold=4.0,
                          profile_left=26, profile_right=47)


def test_input_dtypes_and_chunking(monkeypatch):
    data32 = synthetic_frames(n_int=3, n_row=60, n_col=56, seed=9)
    options = dict(window_heights=[40], poly_order=4)
    data64 = data32.astype(np.float64)
    data64[0, 5, 3] = np.nan
    for heights in ([40], [7, 5]):  # adjacent windows (sliced) and not (gathered)
        before = data64.copy()
        clean_block(data64, None, window_heights=heights)
        np.testing.assert_array_equal(data64, before)  # input left untouched
    reference = clean_block(data32.astype(np.float64), None, **options)
    for variant in (data32, data32.astype(">f4")):
        for a, b in zip(clean_block(variant, None, **options), reference):
            np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(clean_module, "_CHUNK_PIXELS", 1)  # one integration at a time
    assert_same_result(clean_block(data32, None, **options), reference)


def test_memory_is_bounded_for_100_integrations():
    data = np.broadcast_to(synthetic_frames(n_int=1, n_row=416, n_col=72, seed=10),
                           (100, 416, 72))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        clean_block(data, None, window_heights=[40], poly_order=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300e6  # outputs alone are ~52 MB


BAD_ARGUMENTS = [
    ("data-2d", dict(data=np.zeros((4, 4)))),
    ("data-complex", dict(data=np.zeros((1, 4, 4), complex))),
    ("dq-shape", dict(dq=np.zeros((1, 4, 3), np.uint32))),
    ("dq-float", dict(dq=np.zeros((1, 4, 4)))),
    ("heights-empty", dict(window_heights=[])),
    ("heights-zero", dict(window_heights=[4, 0])),
    ("heights-float", dict(window_heights=[2.5])),
    ("dq-mask-negative", dict(dq_mask=-1)),
    ("dq-mask-too-big", dict(dq_mask=2**32)),
    ("order-negative", dict(poly_order=-1)),
    ("threshold-zero", dict(outlier_threshold=0)),
    ("threshold-nan", dict(outlier_threshold=np.nan)),
    ("profile-reversed", dict(profile_left=3, profile_right=2)),
    ("profile-too-wide", dict(profile_left=0, profile_right=5)),
]


@pytest.mark.parametrize("changes", [c for _, c in BAD_ARGUMENTS], ids=[i for i, _ in BAD_ARGUMENTS])
def test_bad_arguments_raise_parameter_error(changes):
    args = dict(data=np.zeros((1, 4, 4)), dq=None, window_heights=[4], profile_left=0, profile_right=4)
    args.update(changes)
    with pytest.raises(ParameterError):
        clean_block(args.pop("data"), args.pop("dq"), **args)


# --------------------------------------------------------------------------
# count_replaced_near_trace
# --------------------------------------------------------------------------
def test_count_replaced_near_trace():
    replaced = np.zeros((2, 3, 10), bool)
    replaced[0, 0, [5, 6, 8, 9]] = True
    replaced[1, 2, :] = True
    counts = count_replaced_near_trace(replaced, center=6, max_width=4)
    assert counts.shape == (2, 3, 5) and counts.dtype == np.int64
    assert counts[0, 0].tolist() == [1, 2, 3, 4, 4]
    assert counts[1, 2].tolist() == [1, 3, 5, 7, 8]  # clipped at the right edge
    assert not counts[:, 1].any()
    assert count_replaced_near_trace(np.zeros((0, 3, 10), bool), center=2, max_width=4).shape == (0, 3, 5)


@pytest.mark.parametrize("kwargs", [dict(center=10), dict(center=-1), dict(max_width=-1),
                                    dict(replaced=np.zeros((3, 10), bool)),
                                    dict(replaced=np.zeros((1, 3, 10)))],
                         ids=["center-out", "center-negative", "width-negative", "2d", "not-bool"])
def test_count_replaced_near_trace_bad_arguments(kwargs):
    args = dict(replaced=np.zeros((1, 3, 10), bool), center=5, max_width=4)
    args.update(kwargs)
    with pytest.raises(ParameterError):
        count_replaced_near_trace(**args)


# --------------------------------------------------------------------------
# property test against a plain loop (covers robust mode, DQ, NaN, shapes)
# --------------------------------------------------------------------------
@st.composite
def cases(draw):
    n_int = draw(st.integers(0, 2))
    n_row = draw(st.integers(1, 30))
    n_col = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = np.arange(n_row)[None, :, None]
    data = 100 + 3 * np.sin(rows / 7.0) + rng.normal(0, 1, (n_int, n_row, n_col))
    hits = rng.random(data.shape) < draw(st.sampled_from([0.0, 0.05, 0.2]))
    data[hits] += rng.uniform(10, 200, hits.sum())
    data[rng.random(data.shape) < draw(st.sampled_from([0.0, 0.1, 0.6]))] = np.nan
    dq = rng.choice(np.array([0, 0, 0, 1, 4, 2**31], np.uint32), data.shape)
    left = draw(st.integers(0, n_col))
    params = dict(
        window_heights=draw(st.lists(st.integers(1, 20), min_size=1, max_size=3)),
        dq_mask=draw(st.sampled_from([0, 1, 5, 2**31])),
        poly_order=draw(st.integers(0, 4)),
        outlier_threshold=draw(st.sampled_from([2.5, 3.0, 4.0])),
        profile_left=left,
        profile_right=draw(st.integers(left, n_col)),
        robust=draw(st.booleans()),
    )
    return data, dq, params


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_matches_plain_loop(case):
    data, dq, params = case
    cleaned, replaced, profile = clean_block(data, dq, **params)
    good = np.isfinite(data) & ((dq & np.uint32(params["dq_mask"])) == 0)
    ref = loop_reference(data, good, **{k: v for k, v in params.items() if k != "dq_mask"})
    np.testing.assert_array_equal(replaced, ref[1])
    np.testing.assert_allclose(cleaned, ref[0], rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(profile, ref[2], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("axis", [1, -1])
def test_good_median_is_the_median_of_the_good_values(axis):
    """The robust scatter's median (a sort of a contiguous copy, bad values +inf) is numpy's median
    of each column's good values, in both layouts the fits use."""
    from xmiri.kernels.polyfit import _good_median

    rng = np.random.default_rng(3)
    values = rng.standard_normal((6, 13, 9))
    values[0, :, 0] = 1.0  # ties
    good = rng.random(values.shape) > 0.2
    good[1, :, 1] = False  # no good value: +inf
    good[1, :2, 2] = True
    if axis == -1:
        values, good = values.transpose(0, 2, 1).copy(), good.transpose(0, 2, 1).copy()
    n_good = good.sum(axis=axis)
    got = _good_median(values, good, n_good, axis)
    columns = np.moveaxis(values, axis, -1)
    keep = np.moveaxis(good, axis, -1)
    for index in np.ndindex(got.shape):
        chosen = columns[index][keep[index]]
        expected = np.median(chosen) if chosen.size else np.inf
        assert got[index] == expected, index


def _residual_columns(axis, seed=4):
    """Residual test columns (y, fit, good, n_good) of height 13 in the layout of `axis`: ties,
    columns with 0, 1, 2 good pixels, a large hit in some."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((6, 13, 9))
    fit = 0.1 * rng.standard_normal(y.shape)
    y[0, :, 0] = 1.0
    fit[0, :, 0] = 0.5  # every residual the same
    y[2, 5, :] += 50.0  # an outlier in every column of one window
    good = rng.random(y.shape) > 0.2
    good[1, :, 1] = False
    good[1, :1, 2] = True
    good[1, :2, 3] = True
    good[3] = True  # fully good columns
    if axis == -1:
        y, fit, good = (a.transpose(0, 2, 1).copy() for a in (y, fit, good))
    y[~good] = 0.0
    return y, fit, good, good.sum(axis=axis)


@pytest.mark.parametrize("axis", [1, -1])
def test_robust_scatter_is_the_mad_of_the_good_residuals(axis):
    """One buffer sorted twice gives the same peak and scatter, bit for bit, as the median of the
    good residuals and then the median of their absolute deviations (``_good_median`` twice)."""
    from xmiri.kernels.background import MAD_TO_SIGMA
    from xmiri.kernels.polyfit import _good_median, _robust_scatter

    y, fit, good, n_good = _residual_columns(axis)
    with np.errstate(invalid="ignore"):  # inf - inf in the column without good pixels
        peak, scatter = _robust_scatter(y, fit, good, n_good, axis)
        res = np.where(good, y - fit, 0.0)
        center = np.expand_dims(_good_median(res, good, n_good, axis), axis)
        expected = MAD_TO_SIGMA * _good_median(np.abs(res - center), good, n_good, axis)
    used = n_good > 0
    assert used.sum() < used.size  # a column without good pixels is there (its values unused)
    np.testing.assert_array_equal(scatter[used], expected[used])
    np.testing.assert_array_equal(peak[used], np.abs(res).max(axis=axis)[used])


def _find_outliers_reference(y, fit, good, n_good, floor, n_coef, threshold, axis):
    """The robust outlier test from the full residual array (xmiri before the one-buffer scatter)."""
    from xmiri.kernels.background import MAD_TO_SIGMA
    from xmiri.kernels.polyfit import _good_median

    res = np.zeros_like(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.subtract(y, fit, out=res, where=good)
        center = np.expand_dims(_good_median(res, good, n_good, axis), axis)
        scatter = MAD_TO_SIGMA * _good_median(np.abs(res - center), good, n_good, axis)
        absres = np.abs(res)
        peak = absres.max(axis=axis)
        hit = (n_good > n_coef) & (scatter > 0.0)
        hit &= peak / np.where(hit, scatter, 1.0) > threshold
        at = np.nonzero(hit)
        hit[at] = scatter[at] > floor(at)
    worst = np.where(hit, np.argmax(absres, axis=axis), 0)
    return hit, worst


@pytest.mark.parametrize("axis", [1, -1])
@pytest.mark.parametrize("spoil", [None, np.nan, np.inf, -np.inf])
def test_robust_find_outliers_matches_the_full_residual_test(axis, spoil):
    """The robust outlier test (peak and scatter from one sorted buffer, the worst pixel from the
    hit columns only) flags the same pixels as the test on the full residual array, also when a
    fit is not finite at a good pixel of a column holding an outlier (a fit that overflowed)."""
    from xmiri.kernels.polyfit import _find_outliers

    y, fit, good, n_good = _residual_columns(axis)
    column = (2, slice(None), 4) if axis == 1 else (2, 4)
    assert 3 < good[column].sum() < good[column].size  # bad pixels, an outlier at row 5
    if spoil is not None:
        index = (2, 7, 4) if axis == 1 else (2, 4, 7)
        good[index] = True
        fit[index] = spoil  # column (2, 4) has an outlier, bad pixels and this residual
        n_good = good.sum(axis=axis)
    floor = np.full(n_good.shape, 1e-9)
    got = _find_outliers(y, fit, good, n_good, lambda at: floor[at], 3, 3.0, True, axis=axis)
    expected = _find_outliers_reference(y, fit, good, n_good, lambda at: floor[at], 3, 3.0, axis)
    assert expected[0].sum() >= 5
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
