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
