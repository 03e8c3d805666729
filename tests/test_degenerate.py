"""Degenerate data: every step completes, marks what it could not do, and touches nothing else.

Issue "Hostile inputs and faults", part 3.  For each kind of degenerate
input the step must complete; the affected values must be NaN and/or
flagged; where the code promises a warning ("<what>: N of M value(s) could
not be measured and are NaN") the warnings must count the affected values;
and every unaffected value must equal a run on the clean Dataset (or, for
steps that reduce over integrations -- templates, median profiles, the
median trace column -- a run on the clean Dataset without the affected
integration).

All inputs are integration-chunked (2 integrations per chunk), so the
per-chunk kernels, the lazy reductions and the warnings raised inside dask
tasks are all exercised.  Warnings are matched by class and attributes
(:class:`xmiri.UnmeasuredWarning`: step, quantity, count), never by text; the
step layer issues one per step, quantity and cause per compute.
"""
import warnings

import numpy as np
import pytest

import xmiri.accessor  # noqa: F401  (registers Dataset.lrs)
from xmiri import UnmeasuredWarning

from tests.conftest import N_COL, N_INT, N_ROW, assert_same, chain, make_frames
CHUNK = 2
OUTLIER = 16  # 2**4, the DQ bit clean sets on replaced pixels
HOT = 2**11  # masked by clean's default dq_bits_to_mask=(0, 11)
#: what the tests call a reported quantity -> (step, quantity) of the UnmeasuredWarning
WHAT = {"clean": ("clean", "data"), "Gaussian trace fit": ("extract", "trace_position"),
        "extract": ("extract", "flux"), "y_shift": ("align", "y_shift"),
        "x_shift": ("align", "x_shift")}

# degenerate frames extract raw frames
pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.SkyNotSubtractedWarning")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def lazy(ds):
    return ds.chunk({"integration": CHUNK})


def modified(ds, **changes):
    """A deep copy of ``ds`` with ``changes[name](values)`` applied in place to numpy copies."""
    out = ds.copy(deep=True)
    for name, change in changes.items():
        values = np.array(out[name].values)
        change(values)
        out[name] = out[name].copy(data=values)
    return out


def run(func):
    """Compute ``func()``; return the result and the RuntimeWarnings raised (instances)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = func().compute()
    return out, [w.message for w in caught if issubclass(w.category, RuntimeWarning)]


def reported(found, what):
    """Total count of the UnmeasuredWarnings about ``what`` (see WHAT)."""
    step, quantity = WHAT[what]
    return sum(w.count for w in found if isinstance(w, UnmeasuredWarning)
               and (w.step, w.quantity) == (step, quantity))


def unexpected(found):
    return [w for w in found if not isinstance(w, UnmeasuredWarning)]


def others(ds, k):
    """``ds`` without integration index ``k`` (positional)."""
    keep = [i for i in range(ds.sizes["integration"]) if i != k]
    return ds.isel(integration=keep)


@pytest.fixture(scope="module")
def frames():
    return make_frames()


@pytest.fixture(scope="module")
def subtracted(frames):
    return frames.lrs.subtract().compute()


@pytest.fixture(scope="module")
def cleaned(frames):
    return frames.lrs.clean().compute()


FRAME_VARS = ["data", "err", "dq", "var_rnoise"]
CLEAN_VARS = ["data", "dq", "profile", "n_outliers"]
SPEC_VARS = ["flux", "flux_error", "trace_position", "psf_sigma", "cross_dispersion_profile"]


# --------------------------------------------------------------------------
# 1. an all-NaN integration
# --------------------------------------------------------------------------
K_NAN = 1


def nan_integration(ds, k=K_NAN, names=("data",)):
    def blank(values):
        values[k] = np.nan
    return modified(ds, **{name: blank for name in names})


def test_all_nan_integration_clean(frames, cleaned):
    out, messages = run(lambda: lazy(nan_integration(frames)).lrs.clean())
    assert (out["dq"][K_NAN].values & OUTLIER).all(), "every pixel of the NaN integration is replaced"
    widths = np.arange(5)
    np.testing.assert_array_equal(out["n_outliers"][K_NAN].values, np.broadcast_to(2 * widths + 1, (N_ROW, 5)))
    assert not np.isinf(out["data"][K_NAN].values).any()
    assert_same(others(out, K_NAN), others(cleaned, K_NAN), CLEAN_VARS)
    assert not unexpected(messages), messages
    assert reported(messages, "clean") == N_ROW * N_COL, messages


@pytest.mark.parametrize("method", ["constant", "row_wise", "col_wise"])
@pytest.mark.parametrize("smoothing_length", [None, 5], ids=["raw", "smoothed"])
def test_all_nan_integration_subtract(frames, method, smoothing_length):
    kwargs = dict(method=method, smoothing_length=smoothing_length)
    out, messages = run(lambda: lazy(nan_integration(frames)).lrs.subtract(**kwargs))
    ref = frames.lrs.subtract(**kwargs).compute()
    assert np.isnan(out["background"][K_NAN].values).all()
    assert np.isnan(out["data"][K_NAN].values).all()
    assert_same(others(out, K_NAN), others(ref, K_NAN), ["data", "background"])
    assert not unexpected(messages), messages


EXTRACT_GRID = [
    pytest.param(dict(method="box", trace_position="constant"), id="box-constant"),
    pytest.param(dict(method="box", trace_position="gaussian_fits"), id="box-gaussian"),
    pytest.param(dict(method="optimal", trace_position="constant"), id="optimal-constant"),
    pytest.param(dict(method="optimal", trace_position="gaussian_fits"), id="optimal-gaussian"),
    pytest.param(dict(method="optimal", trace_position="gaussian_fits", median_spatial_profile=True),
                 id="optimal-gaussian-median-profile"),
]


@pytest.mark.parametrize("kwargs", EXTRACT_GRID)
def test_all_nan_integration_extract(subtracted, kwargs):
    out, messages = run(lambda: lazy(nan_integration(subtracted)).lrs.extract(**kwargs))
    # the median-frame profile, the median profile and the median trace column are
    # reductions over integrations, which skip the NaN one: compare with a run without it
    ref = others(subtracted, K_NAN).lrs.extract(**kwargs).compute()
    assert np.isnan(out["flux"][K_NAN].values).all()
    if kwargs["method"] == "optimal" or kwargs["trace_position"] == "gaussian_fits":
        assert np.isnan(out["flux_error"][K_NAN].values).all()
    assert np.isnan(out["psf_sigma"][K_NAN].values)
    if kwargs["trace_position"] == "gaussian_fits":
        assert np.isnan(out["trace_position"][K_NAN].values)
    assert np.isnan(out["cross_dispersion_profile"][K_NAN].values).all()
    assert reported(messages, "Gaussian trace fit") == 1, messages
    assert not unexpected(messages), messages
    assert_same(others(out, K_NAN), ref, SPEC_VARS)
    np.testing.assert_array_equal(out["wavelength"].values, ref["wavelength"].values)


@pytest.fixture(scope="module")
def spectra(subtracted):
    return subtracted.lrs.extract().compute()


def test_all_nan_integration_align(spectra):
    bad = nan_integration(spectra, names=("flux", "flux_error", "cross_dispersion_profile"))
    out, messages = run(lambda: lazy(bad).lrs.align())
    ref = others(spectra, K_NAN).lrs.align().compute()
    for name in ("y_shift", "x_shift"):
        assert np.isnan(out[name][K_NAN].values)
    assert np.isnan(out["flux"][K_NAN].values).all() and np.isnan(out["flux_error"][K_NAN].values).all()
    assert reported(messages, "y_shift") == 1, messages
    assert reported(messages, "x_shift") == 1, messages
    assert_same(others(out, K_NAN), ref, ["y_shift", "x_shift", "flux", "flux_error"], rtol=1e-9, atol=1e-9)


def test_all_nan_integration_full_chain(frames):
    """clean -> subtract -> extract -> align: the NaN integration ends NaN, the others as without it."""
    out, messages = run(lambda: chain(lazy(nan_integration(frames))))
    ref = chain(others(frames, K_NAN)).compute()
    for name in ("flux", "flux_error", "y_shift", "x_shift"):
        assert np.isnan(out[name][K_NAN].values).all(), name
    assert reported(messages, "y_shift") == 1 and reported(messages, "x_shift") == 1, messages
    assert_same(others(out, K_NAN), ref, ["trace_position", "psf_sigma", "cross_dispersion_profile"])
    # the templates see the (unmeasurable) integration's spectrum only through medians
    assert_same(others(out, K_NAN), ref, ["y_shift", "x_shift"], atol=1e-4)


def test_all_nan_integration_clean_subtract_extract_flux_is_nan(frames):
    out, _ = run(lambda: lazy(nan_integration(frames)).lrs.clean().lrs.subtract().lrs.extract())
    assert np.isnan(out["flux"][K_NAN].values).all()


def test_all_nan_integration_align_warns_only_as_promised(spectra):
    bad = nan_integration(spectra, names=("flux", "flux_error", "cross_dispersion_profile"))
    _, messages = run(lambda: lazy(bad).lrs.align())
    assert not unexpected(messages), messages


# --------------------------------------------------------------------------
# 2. an all-flagged column
# --------------------------------------------------------------------------
BAD_COL = 38  # inside the default aperture 32..40 and the profile columns 26..46


def flagged_column(ds, col=BAD_COL, bit=HOT):
    def flag(values):
        values[:, :, col] |= np.uint32(bit)
    return modified(ds, dq=flag)


def test_all_flagged_column_clean(frames, cleaned):
    out, messages = run(lambda: lazy(flagged_column(frames)).lrs.clean())
    assert (out["dq"][:, :, BAD_COL].values & OUTLIER).all(), "every pixel of the column is flagged OUTLIER"
    assert (out["dq"][:, :, BAD_COL].values & HOT).all(), "the input flags are kept"
    assert not np.isinf(out["data"].values).any()
    rest = [c for c in range(N_COL) if c != BAD_COL]
    assert_same(out.isel(col=rest), cleaned.isel(col=rest), ["data", "dq"])
    # n_outliers counts the column in the bands of half-width >= |38 - 36| = 2 (once more
    # than on the clean Dataset, except where that run already replaced the pixel)
    newly = ((cleaned["dq"][:, :, BAD_COL].values & OUTLIER) == 0).astype(int)
    extra = newly[..., None] * (np.arange(5) >= BAD_COL - 36)
    np.testing.assert_array_equal(out["n_outliers"].values - cleaned["n_outliers"].values, extra)
    assert not unexpected(messages), messages


def test_flagged_column_with_an_unmasked_bit_is_left_alone(frames, cleaned):
    out, _ = run(lambda: lazy(flagged_column(frames)).lrs.clean(dq_bits_to_mask=[0]))
    assert_same(out, cleaned, ["data", "profile", "n_outliers"])
    np.testing.assert_array_equal(out["dq"].values, cleaned["dq"].values | np.uint32(HOT) * (
        np.arange(N_COL) == BAD_COL))


def test_all_flagged_trace_column_does_not_bias_the_flux(frames, cleaned):
    """A trace column flagged in every row and integration: nothing anywhere measures its
    profile, so no row can be scaled for it.  Every row whose aperture holds it is given
    up, and every one of them is reported; no biased value comes out."""
    out, messages = run(lambda: lazy(flagged_column(frames)).lrs.clean().lrs.subtract().lrs.extract())
    ref = cleaned.lrs.subtract().lrs.extract().compute()
    flux, good = out["flux"].values, ref["flux"].values
    lost = np.isnan(flux) & np.isfinite(good)
    assert lost.any(), "the column holds part of the trace: rows cannot all be complete"
    assert reported(messages, "extract") >= np.count_nonzero(lost), "every row given up is reported"
    measured = np.isfinite(flux)
    np.testing.assert_allclose(flux[measured], good[measured], rtol=0.02)
    if measured.any():  # a measured row lost the column: it says so
        assert (out["missing_fraction"].values[measured] > 0).all()


def test_all_nan_column_in_background_region(frames):
    def blank(values):
        values[:, :, 10] = np.nan
    ds = modified(frames, data=blank)
    for method in ("constant", "row_wise", "col_wise"):
        out, messages = run(lambda: lazy(ds).lrs.subtract(method=method))
        assert np.isfinite(out["background"]).all(), method
        assert np.array_equal(np.isnan(out["data"].values), np.isnan(ds["data"].values)), method
        assert not unexpected(messages), messages


# --------------------------------------------------------------------------
# 3. a window with fewer good pixels than polynomial coefficients
# --------------------------------------------------------------------------
WINDOW = slice(80, 120)  # the third 40-row window
FEW_COL = 30


@pytest.mark.parametrize("n_good", [0, 1, 3], ids=["none-good", "one-good", "three-good"])
def test_window_with_fewer_good_pixels_than_coefficients(frames, cleaned, n_good):
    keep = [85, 100, 110][:n_good]

    def flag(values):
        values[:, WINDOW, FEW_COL] |= np.uint32(HOT)
        values[:, keep, FEW_COL] = 0

    bad = modified(frames, dq=flag)
    out, messages = run(lambda: lazy(bad).lrs.clean(window_heights=[40], poly_order=4))
    masked = (bad["dq"].values & HOT) != 0
    replaced = (out["dq"].values & OUTLIER) != 0
    np.testing.assert_array_equal(replaced[masked], True)
    assert not np.isinf(out["data"].values).any()
    if n_good >= 2:  # polyfit's minimum-norm solution: a finite fit through the good pixels
        assert np.isfinite(out["data"][:, WINDOW, FEW_COL]).all()
    for r in keep:  # the good pixels are interpolated exactly, never rejected
        np.testing.assert_array_equal(out["data"][:, r, FEW_COL], frames["data"][:, r, FEW_COL])
        assert not replaced[:, r, FEW_COL].any()
    window_col = np.zeros(frames["data"].shape, bool)
    window_col[:, WINDOW, FEW_COL] = True
    np.testing.assert_array_equal(out["data"].values[~window_col], cleaned["data"].values[~window_col])
    np.testing.assert_array_equal(out["dq"].values[~window_col], cleaned["dq"].values[~window_col])
    assert not unexpected(messages), messages


def test_truncated_last_window_shorter_than_coefficients(frames):
    """window 40 on 416 rows leaves a 16-row last window; poly_order=20 needs 21 coefficients."""
    out, messages = run(lambda: lazy(frames).lrs.clean(window_heights=[40], poly_order=20))
    assert np.isfinite(out["data"]).all() and np.isfinite(out["profile"]).all()
    last = slice(400, 416)
    # the fit interpolates every pixel of the short window: nothing can be called an outlier
    assert not (out["dq"][:, last].values & OUTLIER).any()
    np.testing.assert_array_equal(out["data"][:, last].values, frames["data"][:, last].values)
    assert not unexpected(messages), messages


# --------------------------------------------------------------------------
# 4. zero and NaN errors
# --------------------------------------------------------------------------
K_ERR = 2
ZERO_ROWS, NAN_ROWS, OUTSIDE_ROWS = slice(100, 110), slice(200, 210), slice(300, 310)


def error_holes(ds, name):
    def holes(values):
        values[K_ERR, ZERO_ROWS, 35] = 0.0
        values[K_ERR, NAN_ROWS, 35] = np.nan
        values[K_ERR, OUTSIDE_ROWS, 10] = np.nan  # outside the aperture 32..40
    return modified(ds, **{name: holes})


def _check_error_holes(out, ref, messages):
    """A NaN error is a missing pixel: its row is measured from the others, within its error;
    a zero error counts as one; rows without a hole are untouched."""
    for name in ("flux", "flux_error"):
        values = out[name].values
        assert np.isfinite(values[K_ERR, NAN_ROWS]).all(), name
        assert np.isfinite(values[K_ERR, ZERO_ROWS]).all(), name
        touched = np.zeros(values.shape, bool)
        touched[K_ERR, ZERO_ROWS] = touched[K_ERR, NAN_ROWS] = True
        np.testing.assert_array_equal(values[~touched], ref[name].values[~touched], err_msg=name)
    flux, error = out["flux"].values[K_ERR, NAN_ROWS], ref["flux_error"].values[K_ERR, NAN_ROWS]
    assert (np.abs(flux - ref["flux"].values[K_ERR, NAN_ROWS]) < 5 * error).all()
    missing = out["missing_fraction"].values
    assert (missing[K_ERR, NAN_ROWS] > 0).all() and (missing[K_ERR, ZERO_ROWS] == 0).all()
    assert not unexpected(messages), messages


def test_zero_and_nan_err_box(subtracted, spectra):
    out, messages = run(lambda: lazy(error_holes(subtracted, "err")).lrs.extract(method="box"))
    assert_same(out, spectra, ["trace_position", "psf_sigma", "cross_dispersion_profile"])
    error, ref = out["flux_error"].values, spectra["flux_error"].values
    assert (error[K_ERR, ZERO_ROWS] < ref[K_ERR, ZERO_ROWS]).all()
    _check_error_holes(out, spectra, messages)


@pytest.fixture(scope="module")
def optimal_spectra(subtracted):
    return subtracted.lrs.extract(method="optimal").compute()


def test_zero_and_nan_var_rnoise_optimal(subtracted, optimal_spectra):
    out, messages = run(lambda: lazy(error_holes(subtracted, "var_rnoise")).lrs.extract(method="optimal"))
    _check_error_holes(out, optimal_spectra, messages)


def test_zero_err_everywhere_box(subtracted, spectra):
    zero = modified(subtracted, err=lambda values: values.fill(0.0))
    out, _ = run(lambda: lazy(zero).lrs.extract())
    assert_same(out, spectra, ["flux"])
    # the pixels add nothing; what is left is the error of the sky subtracted before err was zeroed
    assert (out["sky_flux_error"].values > 0).all()
    np.testing.assert_array_equal(out["flux_error"].values, out["sky_flux_error"].values)


def top_hat_profile(ds, cols=slice(34, 39)):
    """A spatial profile that is zero at the aperture's outer columns 32, 33, 39, 40."""
    profile = np.zeros(ds["data"].shape)
    profile[:, :, cols] = 1.0 / (cols.stop - cols.start)
    out = ds.copy()
    out["profile"] = (("integration", "row", "col"), profile)
    return out


def zero_variance_outside_profile(ds):
    def zero(values):
        values[:, :, [32, 33, 39, 40]] = 0.0
    return modified(ds, var_rnoise=zero)


@pytest.mark.parametrize("how", ["readnoise-0", "var_rnoise-0-where-P-is-0"])
def test_optimal_zero_variance_at_zero_profile_pixels(subtracted, how):
    ds = top_hat_profile(subtracted)
    if how == "readnoise-0":
        out, _ = run(lambda: lazy(ds).lrs.extract(method="optimal", readnoise=0.0))
        limit = ds.lrs.extract(method="optimal", readnoise=1e-30).compute()
    else:
        out, _ = run(lambda: lazy(zero_variance_outside_profile(ds)).lrs.extract(method="optimal"))
        limit = ds.lrs.extract(method="optimal", readnoise=np.where(
            np.isin(np.arange(N_COL), [32, 33, 39, 40]), 1e-30, 0.5)).compute()
    assert np.isfinite(limit["flux"]).all()
    np.testing.assert_allclose(out["flux"].values, limit["flux"].values, rtol=1e-6)


# --------------------------------------------------------------------------
# 5. a trace the Gaussian fit cannot find
# --------------------------------------------------------------------------
K_FLAT = 2


def flat_integration(ds, k=K_FLAT, level=7.0):
    def flatten(values):
        values[k] = level
    return modified(ds, data=flatten)


@pytest.mark.parametrize("method", ["box", "optimal"])
def test_flat_frame_gaussian_fits(cleaned, method):
    """clean first, so that optimal extraction uses per-integration profiles.  Q is fixed: read
    off the frames it would see the flat integration (an exposure-wide estimate)."""
    kwargs = dict(method=method, trace_position="gaussian_fits", horne_q=38.0)
    ds = flat_integration(cleaned)
    out, messages = run(lambda: lazy(ds).lrs.extract(**kwargs))
    ref = cleaned.lrs.extract(**kwargs).compute()
    assert np.isnan(out["trace_position"][K_FLAT].values) and np.isnan(out["psf_sigma"][K_FLAT].values)
    assert np.isnan(out["flux"][K_FLAT].values).all() and np.isnan(out["flux_error"][K_FLAT].values).all()
    assert reported(messages, "Gaussian trace fit") == 1, messages
    assert not unexpected(messages), messages
    assert_same(others(out, K_FLAT), others(ref, K_FLAT), ["flux", "flux_error", "trace_position", "psf_sigma"])
    # the wavelength is read at int(median(trace_position)) over the measured traces
    without = others(cleaned, K_FLAT).lrs.extract(**kwargs).compute()
    np.testing.assert_array_equal(out["wavelength"].values, without["wavelength"].values)


def test_flat_frame_then_align(cleaned):
    spec = lazy(flat_integration(cleaned)).lrs.extract(trace_position="gaussian_fits")
    out, messages = run(lambda: spec.lrs.align())
    assert np.isnan(out["y_shift"][K_FLAT].values) and np.isnan(out["x_shift"][K_FLAT].values)
    assert np.isnan(out["flux"][K_FLAT].values).all()
    assert reported(messages, "y_shift") == 1 and reported(messages, "x_shift") == 1, messages
    assert np.isfinite(others(out, K_FLAT)["y_shift"]).all() and np.isfinite(others(out, K_FLAT)["x_shift"]).all()


def test_every_frame_flat(frames):
    flat = frames.copy(deep=True)
    flat["data"][:] = 3.0
    out, messages = run(lambda: lazy(flat).lrs.extract(trace_position="gaussian_fits"))
    assert np.isnan(out["trace_position"]).all() and np.isnan(out["flux"]).all()
    assert np.isnan(out["wavelength"]).all()
    assert reported(messages, "Gaussian trace fit") == N_INT, messages


# --------------------------------------------------------------------------
# 6. an integration whose spectrum is all zero, in align
# --------------------------------------------------------------------------
K_ZERO = 3


def zero_spectrum(spec, k=K_ZERO):
    def zero(values):
        values[k] = 0.0
    return modified(spec, flux=zero)


@pytest.mark.parametrize("align_spectra", [True, False])
def test_zero_spectrum_align(spectra, align_spectra):
    out, messages = run(lambda: lazy(zero_spectrum(spectra)).lrs.align(align_spectra=align_spectra))
    ref = spectra.lrs.align(align_spectra=align_spectra).compute()
    without = others(spectra, K_ZERO).lrs.align(align_spectra=align_spectra).compute()
    assert np.isnan(out["y_shift"][K_ZERO].values)
    assert reported(messages, "y_shift") == 1, messages
    assert reported(messages, "x_shift") == 0, messages
    if align_spectra:
        assert np.isnan(out["flux"][K_ZERO].values).all() and np.isnan(out["flux_error"][K_ZERO].values).all()
    else:
        assert (out["flux"][K_ZERO].values == 0).all()
    # the cross-dispersion profiles are untouched, so are x_shift and its template
    assert_same(out, ref, ["x_shift"])
    # the zero spectrum drops out of the dispersion template (its scale is 0)
    assert_same(others(out, K_ZERO), without, ["y_shift", "flux", "flux_error"], rtol=1e-6, atol=1e-5)


def test_zero_spectrum_align_warns_only_as_promised(spectra):
    _, messages = run(lambda: lazy(zero_spectrum(spectra)).lrs.align())
    assert not unexpected(messages), messages
