"""Light curves: analytic bins, flags that never drop data, and a simulated transit."""
import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri.kernels import lightcurves as lck


def spectra(n_int=5, n_row=20, flux=2.0, err=0.5):
    wl = np.linspace(12.5, 4.5, n_row)  # LRS: wavelength falls with row
    return xr.Dataset(
        {"flux": (("integration", "row"), np.full((n_int, n_row), flux)),
         "flux_error": (("integration", "row"), np.full((n_int, n_row), err))},
        coords={"integration": np.arange(1, n_int + 1), "row": np.arange(n_row),
                "wavelength": ("row", wl, {"units": "micron"})})


def test_bins_sum_flux_and_add_errors_in_quadrature():
    spec = spectra()
    lc = spec.lrs.light_curves(wavelength_bins=4, wavelength_range=(5.0, 12.0))
    n = lc["n_rows"].values
    assert n.sum() == np.count_nonzero((spec.wavelength >= 5) & (spec.wavelength <= 12))
    np.testing.assert_allclose(lc["flux"].values, np.broadcast_to(2.0 * n, lc["flux"].shape))
    np.testing.assert_allclose(lc["flux_error"].values, np.broadcast_to(0.5 * np.sqrt(n), lc["flux"].shape))
    np.testing.assert_allclose(lc["white_flux"], 2.0 * n.sum())
    np.testing.assert_allclose(lc["wavelength_center"], [5.875, 7.625, 9.375, 11.125])


def test_explicit_edges_and_nan_propagation():
    spec = spectra()
    spec["flux"][2, 10] = np.nan
    lc = spec.lrs.light_curves(wavelength_bins=[4.0, 8.0, 13.0], wavelength_range=(4.0, 13.0))
    bad_bin = int(lck.bin_index(spec.wavelength.values[[10]], np.array([4.0, 8.0, 13.0]))[0])
    assert np.isnan(lc["flux"][2, bad_bin]) and np.isnan(lc["white_flux"][2])
    assert np.isfinite(lc["flux"][2, 1 - bad_bin]) and np.isfinite(lc["white_flux"][[0, 1, 3, 4]]).all()


def test_normalise_divides_by_median():
    spec = spectra()
    spec["flux"][:] *= np.array([1, 1, 0.99, 1, 1])[:, None]
    lc = spec.lrs.light_curves(wavelength_bins=2, normalise=True)
    np.testing.assert_allclose(lc["white_flux"], [1, 1, 0.99, 1, 1])
    assert lc["white_flux"].attrs["units"] == "1"


def test_clipping_flags_but_keeps_integrations():
    spec = spectra(n_int=41)
    rng = np.random.default_rng(1)
    spec["flux"][:] *= 1 + 1e-3 * rng.standard_normal((41, 1))
    spec["flux"][17] *= 1.05
    lc = spec.lrs.light_curves(wavelength_bins=3, clip_sigma=5, clip_window=11)
    assert lc.sizes["integration"] == 41
    assert lc["flagged"].values.nonzero()[0].tolist() == [17]
    assert np.isfinite(lc["white_flux"]).all()
    lazy = spec.chunk(integration=10).lrs.light_curves(wavelength_bins=3, clip_sigma=5, clip_window=11)
    assert lazy.chunks["integration"] == (10, 10, 10, 10, 1)  # flagged chunked like the rest
    xr.testing.assert_allclose(lazy.compute(), lc, rtol=1e-13)
    np.testing.assert_array_equal(lazy["flagged"].values, lc["flagged"].values)


@pytest.mark.parametrize("kwargs, match", [
    (dict(wavelength_bins=0), "wavelength_bins"),
    (dict(wavelength_bins=[5, 4]), "wavelength_bins"),
    (dict(wavelength_range=(12, 5)), "wavelength_range"),
    (dict(wavelength_range="5-12"), "wavelength_range"),
    (dict(clip_sigma=-1), "clip_sigma"),
], ids=["zero-bins", "decreasing-edges", "reversed-range", "string-range", "negative-clip"])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(xmiri.ParameterError, match=match):
        spectra().lrs.light_curves(**kwargs)


def test_simulated_transit_depth_recovered_by_clean_subtract_box():
    """A 1% grey transit is recovered from the white light curve within its noise."""
    ds, truth = xmiri.simulate.simulate(80, seed=11, transit_depth=0.01, chunks=20)
    spec = ds.lrs.clean(robust=True).lrs.subtract().lrs.extract(method="box")
    lc = spec.lrs.light_curves(wavelength_bins=5).compute()
    rel = truth["relative_flux"].values
    full, out = rel <= rel.min() + 1e-12, rel >= 1 - 1e-12
    white, err = lc["white_flux"].values, lc["white_flux_error"].values
    depth = 1 - white[full].mean() / white[out].mean()
    sigma = np.sqrt(np.mean(err[full] ** 2) / full.sum() + np.mean(err[out] ** 2) / out.sum()) / white[out].mean()
    assert abs(depth - 0.01) < 4 * sigma + 2e-4, (depth, sigma)
    # every spectroscopic bin sees the same grey depth, within its noise
    f, e = lc["flux"].values, lc["flux_error"].values
    bin_depth = 1 - f[full].mean(0) / f[out].mean(0)
    bin_sigma = np.sqrt((e[full] ** 2).mean(0) / full.sum() + (e[out] ** 2).mean(0) / out.sum()) / f[out].mean(0)
    assert np.all(np.abs(bin_depth - 0.01) < 4 * bin_sigma + 2e-4), (bin_depth, bin_sigma)


# --------------------------------------------------------------------------
# regressors for a light-curve fit
def with_regressors(spec, lazy=True):
    """Spectra with the per-integration variables that extract and align add."""
    n = spec.sizes["integration"]
    rng = np.random.default_rng(4)
    values = {"x_shift": 0.05 * rng.standard_normal(n), "y_shift": 0.05 * rng.standard_normal(n),
              "psf_sigma": 1.6 + 0.01 * rng.standard_normal(n), "trace_position": np.full(n, 36.0)}
    spec = spec.assign({name: ("integration", v, {"units": "pixel", "long_name": name})
                        for name, v in values.items()})
    spec["cross_dispersion_profile"] = (("integration", "col"), np.ones((n, 3)))  # not a regressor
    spec = spec.assign_coords(time=("integration", 2459810.0 + 0.001 * np.arange(n), {"units": "d"}))
    return spec.chunk({"integration": 2}) if lazy else spec


def sky_frames(spec, level=17.8):
    """A frames-like background (integration, row, col) whose mean over row, col is known."""
    n, n_row = spec.sizes["integration"], spec.sizes["row"]
    per_integration = level + 0.01 * np.arange(n)
    cube = per_integration[:, None, None] + np.array([-1.0, 1.0])[None, None, :] * np.ones((1, n_row, 1))
    return xr.DataArray(cube.astype(np.float32), dims=("integration", "row", "col"),
                        coords={"integration": spec["integration"].values},
                        name="background", attrs={"units": "DN/s", "method": "col_wise"}), per_integration


def test_regressors_are_carried_lazily_with_their_attrs():
    from tests.conftest import TaskCounter

    spec = with_regressors(spectra(n_int=6))
    sky, level = sky_frames(spec)
    with TaskCounter() as counter:
        lc = spec.lrs.light_curves(wavelength_bins=3, normalise=True, background=sky.chunk({"integration": 3}))
    assert counter.n == 0, "light_curves computed something"
    for name in ("x_shift", "y_shift", "psf_sigma", "trace_position", "background"):
        assert lc[name].dims == ("integration",) and lc[name].chunks is not None, name
    assert "cross_dispersion_profile" not in lc
    lc = lc.compute()
    for name in ("x_shift", "y_shift", "psf_sigma", "trace_position"):
        xr.testing.assert_identical(lc[name].reset_coords(drop=True), spec[name].compute().reset_coords(drop=True))
    np.testing.assert_allclose(lc["background"], level, rtol=1e-6)
    assert lc["background"].attrs["units"] == "DN/s" and lc["background"].attrs["method"] == "col_wise"
    assert "background=" in lc.attrs["history"].splitlines()[-1]


def test_regressors_absent_from_spectra_are_absent_from_light_curves():
    lc = spectra().lrs.light_curves(wavelength_bins=2)
    assert not {"x_shift", "y_shift", "psf_sigma", "trace_position", "background"} & set(lc.variables)


def test_background_variable_of_the_spectra_is_used_by_default():
    spec = with_regressors(spectra(n_int=4), lazy=False)
    spec["background"] = ("integration", [1.0, 2.0, 3.0, 4.0], {"units": "DN/s"})
    lc = spec.lrs.light_curves(wavelength_bins=2)
    np.testing.assert_array_equal(lc["background"], [1.0, 2.0, 3.0, 4.0])
    # the keyword wins over the variable
    sky, level = sky_frames(spec)
    np.testing.assert_allclose(spec.lrs.light_curves(wavelength_bins=2, background=sky)["background"], level,
                               rtol=1e-6)


@pytest.mark.parametrize("make, match", [
    (lambda spec: 17.8, "DataArray"),
    (lambda spec: xr.DataArray(np.ones((20, 2)), dims=("row", "col")), "integration"),
    (lambda spec: xr.DataArray(np.ones(3), dims="integration"), "same integrations"),
    (lambda spec: xr.DataArray(np.ones(5), dims="integration", coords={"integration": np.arange(5)}),
     "same integrations"),
], ids=["number", "no-integration-dim", "wrong-length", "wrong-labels"])
def test_bad_background_is_refused(make, match):
    spec = spectra()
    with pytest.raises(xmiri.ParameterError, match=match):
        spec.lrs.light_curves(background=make(spec))


def test_light_curves_with_regressors_round_trip_netcdf(tmp_path):
    """What the fitter reads back is exactly what light_curves made."""
    ds, _ = xmiri.simulate.simulate(12, seed=3, chunks=6)
    frames = ds.lrs.subtract(method="col_wise").lrs.clean()
    spec = frames.lrs.extract(trace_position="gaussian_fits").lrs.align()
    lc = spec.lrs.light_curves(wavelength_bins=3, normalise=True, clip_sigma=5,
                               background=frames["background"])
    assert {"x_shift", "y_shift", "psf_sigma", "trace_position", "background", "time"} <= set(lc.variables)
    xmiri.to_netcdf(lc, tmp_path / "lc.nc")
    with xr.open_dataset(tmp_path / "lc.nc") as back:
        xr.testing.assert_identical(back.load(), lc.compute())


def test_light_curves_from_spectra_reopened_lazily(tmp_path):
    """Spectra written by to_netcdf and reopened with chunks={} give each variable its stored
    chunks (compressed 2-D ones chunked, small 1-D ones contiguous); light_curves copes."""
    spec = spectra(n_int=400, n_row=416).chunk(integration=50)
    spec["x_shift"] = ("integration", np.zeros(400))
    xmiri.to_netcdf(spec, tmp_path / "spec.nc")
    with xr.open_dataset(tmp_path / "spec.nc", chunks={}) as lazy:
        assert lazy["flux"].chunks[0] != lazy["x_shift"].chunks[0]
        from_disk = lazy.lrs.light_curves(wavelength_bins=3).compute()
    xr.testing.assert_allclose(from_disk, spec.lrs.light_curves(wavelength_bins=3).compute())


def test_bin_flux_sums_known_sums_and_chunk_independent():
    flux = np.arange(12.0).reshape(2, 6)
    flux[1, 4] = np.nan
    index = np.array([1, 1, -1, 0, 0, 1])
    out = lck.bin_flux_sums(flux, index, 3)
    np.testing.assert_array_equal(out, [[7.0, 6.0, np.nan], [np.nan, 24.0, np.nan]])
    rng = np.random.default_rng(1)
    flux = rng.normal(1e4, 1.0, (7, 300))
    index = rng.integers(-1, 4, 300)
    whole = lck.bin_flux_sums(flux, index, 4)
    np.testing.assert_array_equal(np.concatenate([lck.bin_flux_sums(flux[i:i + 1], index, 4)
                                                  for i in range(7)]), whole)


def test_transit_depth_kernel_on_a_known_box():
    """A box transit of known depth; the uncertainty is the out-of-transit scatter propagated."""
    from xmiri.kernels.lightcurves import transit_depth

    relative = np.r_[np.ones(40), np.full(20, 0.98), np.ones(40)]
    noise = np.tile([0.5, -0.5], 50)
    depth, sigma = transit_depth(1000 * relative + noise, relative)
    assert depth == pytest.approx(0.02, abs=1e-12)
    out = (1000 + noise)[relative == 1]
    expected = np.std(out / out.mean(), ddof=1) * np.sqrt(1 / 20 + 1 / 80)
    assert sigma == pytest.approx(expected, rel=1e-12)
