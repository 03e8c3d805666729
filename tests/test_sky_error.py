"""The subtracted sky's error in flux_error (issue 21, extraction side).

``subtract`` describes its sky as ``sum_k background_coefficient[k, col] *
estimate[row, k]`` with independent estimates of standard error
``background_error[integration, row, k]``.  These tests build such Datasets
directly and check ``sky_flux_error`` analytically, by brute force and
against realisations of the sky noise.
"""
import warnings

import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri.exceptions import ParameterError

N_INT = 4


@pytest.fixture(scope="module")
def frames():
    ds, _ = xmiri.simulate.simulate(N_INT, seed=5, noise=False, n_cosmic_rays=0, n_hot_pixels=0,
                                    jitter_x=0.0, jitter_y=0.0, transit_depth=0.0)
    return ds.lrs.subtract(method="col_wise").compute()


def with_sky(ds, error, coefficient, correlation="none"):
    """``ds`` with background_error (integration, row, sky_component) and its coefficients."""
    error = np.broadcast_to(np.asarray(error, dtype=np.float32),
                            (ds.sizes["integration"], ds.sizes["row"], np.shape(coefficient)[0]))
    return ds.assign(
        background_error=(("integration", "row", "sky_component"), error.copy(),
                          {"units": "DN/s", "row_correlation": correlation}),
        background_coefficient=(("sky_component", "col"), np.asarray(coefficient, dtype=np.float64)))


def test_one_sky_level_per_row_under_a_box(frames):
    """A flat sky error e in every row: sky_flux_error = (sum of the weights) * e = 9 e."""
    ds = with_sky(frames, 0.1, np.ones((1, frames.sizes["col"])), correlation="full")
    plain = frames.lrs.extract(method="box", sky_error=False).compute()
    out = ds.chunk({"integration": 2}).lrs.extract(method="box").compute()
    np.testing.assert_allclose(out["sky_flux_error"].values, 9 * 0.1, rtol=1e-6)
    np.testing.assert_allclose(out["flux_error"].values ** 2,
                               plain["flux_error"].values ** 2 + 0.81, rtol=1e-6)
    np.testing.assert_array_equal(out["flux"].values, plain["flux"].values)
    assert out["sky_flux_error"].attrs["row_correlation"] == "full"
    assert out["sky_flux_error"].dims == ("integration", "row")
    assert "sky_flux_error" not in plain
    assert "sky_flux_error" not in ds.lrs.extract(method="box", sky_error=False)


def test_two_regions_interpolated_across_the_columns(frames):
    """col_wise-like sky: left and right estimates mixed linearly across the columns."""
    n_col = frames.sizes["col"]
    t = np.arange(n_col) / (n_col - 1)
    coefficient = np.stack([1 - t, t])
    rng = np.random.default_rng(2)
    error = rng.uniform(0.05, 0.2, (N_INT, frames.sizes["row"], 2))
    out = with_sky(frames, error, coefficient).lrs.extract(method="box", trace_position="polynomial")
    out = out.compute()
    center = out["trace_center"].values
    from xmiri.kernels.aperture import aperture_weights  # brute force: the weights of each row
    w = aperture_weights(center, n_col, 4, 4)
    err32 = error.astype(np.float32).astype(np.float64)
    expected = np.sqrt(((w @ coefficient.T) ** 2 * err32**2).sum(-1))
    ok = np.isfinite(out["flux"].values)
    np.testing.assert_allclose(out["sky_flux_error"].values[ok], expected[ok], rtol=1e-9)


def test_box_with_a_missing_pixel_scales_the_sky_term(frames):
    holed = frames.copy()
    data = frames["data"].values.copy()
    data[:, 300, 35] = np.nan
    holed["data"] = (frames["data"].dims, data)
    out = with_sky(holed, 0.1, np.ones((1, frames.sizes["col"]))).lrs.extract(method="box").compute()
    scale = 1 / (1 - out["missing_fraction"].values[:, 300])
    np.testing.assert_allclose(out["sky_flux_error"].values[:, 300], scale * 8 * 0.1, rtol=1e-6)


@pytest.mark.parametrize("median", [False, True], ids=["per-int-P", "median-P"])
def test_optimal_sky_error_equals_the_scatter_of_sky_realisations(frames, median):
    """Noiseless frames plus a sky offset common to the columns of each row (std e):
    the scatter of the optimal flux over realisations is sky_flux_error."""
    e, n_real = 0.3, 400
    kw = dict(method="optimal", horne_q=38.0, median_spatial_profile=median,
              aperture_left_width=6, aperture_right_width=6)
    one = with_sky(frames.isel(integration=[0]), e, np.ones((1, frames.sizes["col"])))
    predicted = one.lrs.extract(**kw)["sky_flux_error"].values[0]
    rng = np.random.default_rng(9)
    offsets = rng.normal(0, e, (n_real, frames.sizes["row"]))
    many = frames.isel(integration=[0] * n_real).assign_coords(integration=np.arange(n_real))
    many["data"] = many["data"] + xr.DataArray(offsets, dims=("integration", "row"))
    flux = many.lrs.extract(**kw)["flux"].values
    rows = slice(200, 380)
    scatter = np.std(flux[:, rows], axis=0)
    np.testing.assert_allclose(scatter, predicted[rows], rtol=0.15)
    assert np.median(scatter / predicted[rows]) == pytest.approx(1.0, abs=0.05)


def test_sky_variables_with_wrong_dims_are_refused(frames):
    bad = frames.assign(background_error=(("integration", "row"), np.ones((N_INT, 416))),
                        background_coefficient=(("col",), np.ones(72)))
    with pytest.raises(ParameterError, match="background_error"):
        bad.lrs.extract()


def test_difference_variance_kernel_matches_the_xarray_reduction():
    """The data-derived pixel variance, bit for bit the median of |neighbour differences| it was
    computed as in the step layer (xarray, NaN skipped), NaN for a frame without finite pixels."""
    from xmiri.kernels.background import MAD_TO_SIGMA
    from xmiri.kernels.skyerror import difference_variance

    rng = np.random.default_rng(3)
    data = rng.normal(20.0, 2.0, (4, 30, 12)).astype(np.float32)
    data[1, 5, 3] = data[2, :, 7] = np.nan
    data[3] = np.nan
    frames = xr.DataArray(data, dims=("integration", "row", "col"))
    steps = abs(frames.astype(np.float64).diff("col"))
    with warnings.catch_warnings():  # an all-NaN frame; test code only
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = (MAD_TO_SIGMA * steps.median(["row", "col"], skipna=True) / np.sqrt(2.0)) ** 2
    out = difference_variance(data)
    assert out.dtype == np.float64 and out.shape == (4,)
    np.testing.assert_array_equal(out, expected.values)
    assert np.isnan(out[3])
    with pytest.raises(ParameterError):
        difference_variance(data[0])


def test_sky_flux_variance_of_a_band_equals_whole_rows_bit_for_bit():
    """Weights on a band of columns (columns=...) give the whole frame's sums, bit for bit."""
    from xmiri.kernels.noise import sky_flux_variance

    rng = np.random.default_rng(11)
    n_int, n_row, n_col, columns = 23, 416, 72, slice(31, 41)  # passes of 8 integrations
    band = rng.random((n_int, n_row, columns.stop - columns.start))
    whole = np.zeros((n_int, n_row, n_col))
    whole[..., columns] = band
    coefficients = rng.standard_normal((2, n_col))
    sky_error = rng.random((n_int, n_row, 2))
    expected = sky_flux_variance(whole, coefficients, sky_error)
    got = sky_flux_variance(band, coefficients, sky_error, columns=columns)
    np.testing.assert_array_equal(got, expected)
