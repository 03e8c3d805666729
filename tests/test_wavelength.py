"""The wavelength(row, col) coordinate: which source gives it, and how well they agree."""
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

import xmiri
from xmiri.exceptions import ParameterError
from xmiri.io import from_datamodel, open_rateints
from xmiri.io.wavelength import resolve_wavelength

pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning")

SHAPE = (416, 72)


@pytest.fixture(scope="module")
def extension_map(calints_path):
    wmap = fits.getdata(calints_path, "WAVELENGTH").astype(np.float64)
    return np.where(wmap > 0, wmap, np.nan)


@pytest.fixture
def no_datamodels(monkeypatch):
    """Fail if anything opens a file as a datamodel (the whole file would be read)."""
    from stdatamodels.jwst import datamodels

    def refuse(*args, **kwargs):
        raise AssertionError("datamodels.open was called")

    monkeypatch.setattr(datamodels, "open", refuse)


def test_rateints_uses_default_solution(rateints_path, extension_map, no_datamodels):
    with pytest.warns(xmiri.PackagedWavelengthWarning) as caught:
        wl = open_rateints(rateints_path)["wavelength"]
    announced = [w.message for w in caught if issubclass(w.category, xmiri.PackagedWavelengthWarning)]
    assert len(announced) == 1
    assert announced[0].subarray == "SLITLESSPRISM"
    assert announced[0].crds_context == wl.attrs["crds_context"] == "jwst_1535.pmap"
    assert announced[0].reference_files == wl.attrs["reference_files"]
    assert wl.attrs["source"] == "xmiri default solution"
    assert wl.attrs["units"] == "micron"
    diff = np.abs(wl.values - extension_map)[140:390]
    assert np.nanmax(diff) < 0.01
    assert np.isfinite(diff).sum() == 250 * 68


def test_calints_uses_wavelength_extension(calints_path, extension_map, no_datamodels):
    wl = open_rateints(calints_path)["wavelength"]
    assert wl.attrs["source"] == "WAVELENGTH extension"
    np.testing.assert_array_equal(wl.values, extension_map)


@pytest.mark.parametrize("which", ["rateints", "calints"], ids=str)
def test_user_map_wins(rateints_path, calints_path, which, no_datamodels):
    path = {"rateints": rateints_path, "calints": calints_path}[which]
    user = np.linspace(5, 12, SHAPE[0])[:, None].repeat(SHAPE[1], axis=1)
    wl = open_rateints(path, wavelength=user)["wavelength"]
    assert wl.attrs["source"] == "user"
    np.testing.assert_array_equal(wl.values, user)


@pytest.mark.parametrize("shape", [(72, 416), (416, 5), (4, 416, 72)], ids=["transposed", "wrong-cols", "3-d"])
def test_user_map_of_wrong_shape(rateints_path, shape):
    with pytest.raises(ParameterError, match="shape"):
        open_rateints(rateints_path, wavelength=np.ones(shape))


def test_assigned_wcs_agrees_with_extension(calints_path, extension_map):
    from stdatamodels.jwst import datamodels

    with datamodels.open(calints_path) as model:
        wmap, attrs = resolve_wavelength(SHAPE, model=model)
    assert attrs["source"] == "assigned WCS"
    np.testing.assert_array_equal(np.isnan(wmap), np.isnan(extension_map))
    np.testing.assert_allclose(wmap, extension_map, atol=1e-5, equal_nan=True)


def test_file_without_extension_falls_back_to_wcs(calints_path, extension_map, tmp_path):
    """A calints (S_WCS COMPLETE) with an all-zero WAVELENGTH: the datamodel's WCS is evaluated.

    (The embedded ASDF tree references the WAVELENGTH extension, so it is
    zeroed rather than removed.)
    """
    path = tmp_path / "nowave_calints.fits"
    with fits.open(calints_path) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
        hdul["WAVELENGTH"].data = np.zeros_like(hdul["WAVELENGTH"].data)
        hdul.writeto(path)
    wl = open_rateints(path)["wavelength"]
    assert wl.attrs["source"] == "assigned WCS"
    np.testing.assert_allclose(wl.values, extension_map, atol=1e-5, equal_nan=True)


def test_slit_model_in_memory_uses_its_wavelength(calints_path, extension_map):
    from stdatamodels.jwst import datamodels

    with datamodels.open(calints_path) as model:
        wl = from_datamodel(model)["wavelength"]
    assert wl.attrs["source"] == "WAVELENGTH extension"
    np.testing.assert_array_equal(wl.values, extension_map)


@pytest.mark.parametrize("which", ["rateints", "calints"], ids=str)
def test_nan_where_undefined(rateints_path, calints_path, which):
    path = {"rateints": rateints_path, "calints": calints_path}[which]
    wl = open_rateints(path)["wavelength"].values
    defined = np.isfinite(wl)
    assert not defined[:7].any() and not defined[395:].any()  # rows outside 7-394
    assert not defined[:, :4].any()  # columns 0-3: reference pixels
    assert defined[7:395, 4:].all()
    assert np.nanmin(wl) > 3 and np.nanmax(wl) < 15


def test_wavelength_from_the_matching_calints_path(rateints_path, calints_path):
    ds = open_rateints(rateints_path, wavelength=calints_path)
    with open_rateints(calints_path) as calints:
        np.testing.assert_array_equal(ds["wavelength"].values, calints["wavelength"].values)
    assert ds["wavelength"].attrs["source"].startswith("WAVELENGTH extension of")
    assert ds["wavelength"].attrs["crds_context"] == "jwst_1535.pmap"


@pytest.mark.parametrize("form", ["numpy-1d", "dataarray-1d", "dataarray-2d-transposed"])
def test_wavelength_per_row_or_as_dataarray(rateints_path, form):
    per_row = np.linspace(14.0, 4.0, 416)
    value = {"numpy-1d": per_row,
             "dataarray-1d": xr.DataArray(per_row, dims="row"),
             "dataarray-2d-transposed": xr.DataArray(np.repeat(per_row[None, :], 72, axis=0),
                                                     dims=("col", "row"))}[form]
    ds = open_rateints(rateints_path, wavelength=value)
    np.testing.assert_array_equal(ds["wavelength"].values, np.repeat(per_row[:, None], 72, axis=1))


@pytest.mark.parametrize("value, match", [
    (np.ones(5), r"\(416, 72\) map or a \(416,\)"),
    (np.ones((72, 416)), "got shape"),
    ("missing_calints.fits", "cannot be read"),
    (xr.DataArray(np.ones(416), dims="wavelength"), "dims"),
    ({"a": 1}, "wavelength must be"),
], ids=["short", "transposed-array", "missing-file", "wrong-dims", "dict"])
def test_bad_wavelength_is_refused_clearly(rateints_path, value, match):
    with pytest.raises(ParameterError, match=match):
        open_rateints(rateints_path, wavelength=value)
