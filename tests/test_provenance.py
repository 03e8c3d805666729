"""Every wavelength source records its CRDS provenance in plain, netCDF-writable attributes."""
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

from xmiri.io import wavelength
from xmiri.io import from_datamodel, open_rateints, to_netcdf
from xmiri.io.wavelength import resolve_wavelength, wavelength_provenance

pytestmark = [pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning"),
              # the installed xmiri entry point may point at another checkout
              pytest.mark.filterwarnings("ignore:Engine .xmiri. loading failed:RuntimeWarning")]

SHAPE = (416, 72)
PROVENANCE = ("source", "crds_context", "reference_files", "jwst_version")


@pytest.fixture
def no_crds(monkeypatch):
    for name in ("CRDS_SERVER_URL", "CRDS_PATH", "CRDS_CONTEXT"):
        monkeypatch.delenv(name, raising=False)


def _plain(attrs):
    return all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in attrs.values())


def test_default_solution(rateints_path, no_crds):
    from xmiri.exceptions import PackagedWavelengthWarning

    with pytest.warns(PackagedWavelengthWarning):
        attrs = open_rateints(rateints_path)["wavelength"].attrs
    assert attrs["source"] == "xmiri default solution"
    assert attrs["subarray"] == "SLITLESSPRISM SUBSTRT1=1 SUBSTRT2=529 SUBSIZE1=72 SUBSIZE2=416"
    assert attrs["crds_context"] == "jwst_1535.pmap"
    assert attrs["reference_files"].startswith("specwcs: jwst_miri_specwcs_0009.fits")
    assert "distortion: jwst_miri_distortion_0142.asdf" in attrs["reference_files"]
    assert attrs["jwst_version"] == "2.0.1"
    assert _plain(attrs)


def test_default_matches_the_file_it_came_from(calints_path):
    """The constants are what the source calints says (CRDS_CTX, R_SPCWCS, R_DISTOR)."""
    hdr = fits.getheader(calints_path)
    assert wavelength.DEFAULT_CRDS_CONTEXT == hdr["CRDS_CTX"]
    assert wavelength.DEFAULT_REFERENCE_FILES == wavelength_provenance(hdr)["reference_files"]


def test_wavelength_extension_uses_the_files_header(calints_path, no_crds):
    attrs = open_rateints(calints_path)["wavelength"].attrs
    hdr = fits.getheader(calints_path)
    assert attrs["source"] == "WAVELENGTH extension"
    assert attrs["crds_context"] == hdr["CRDS_CTX"] == "jwst_1535.pmap"
    assert attrs["reference_files"] == ("specwcs: jwst_miri_specwcs_0009.fits; "
                                        "distortion: jwst_miri_distortion_0142.asdf")
    assert attrs["jwst_version"] == hdr["CAL_VER"]
    assert _plain(attrs)


def test_assigned_wcs_uses_the_models_metadata(calints_path):
    from stdatamodels.jwst import datamodels

    with datamodels.open(calints_path) as model:
        _, attrs = resolve_wavelength(SHAPE, model=model)
    assert attrs["source"] == "assigned WCS"
    assert attrs["crds_context"] == "jwst_1535.pmap"
    assert "specwcs: jwst_miri_specwcs_0009.fits" in attrs["reference_files"]


def test_from_datamodel_extension(calints_path):
    from stdatamodels.jwst import datamodels

    with datamodels.open(calints_path) as model:
        attrs = from_datamodel(model)["wavelength"].attrs
    assert attrs["source"] == "WAVELENGTH extension"
    assert attrs["crds_context"] == "jwst_1535.pmap"
    assert "specwcs: jwst_miri_specwcs_0009.fits" in attrs["reference_files"]


def test_primary_keyword_argument_wins(calints_path):
    with fits.open(calints_path) as hdul:
        _, attrs = resolve_wavelength(SHAPE, hdul=hdul,
                                      primary={"CRDS_CTX": "jwst_9999.pmap",
                                               "R_SPCWCS": "crds://jwst_miri_specwcs_9999.fits",
                                               "R_DISTOR": "N/A"})
    assert attrs["crds_context"] == "jwst_9999.pmap"
    assert attrs["reference_files"] == "specwcs: jwst_miri_specwcs_9999.fits"
    assert attrs["jwst_version"] == "unknown"


def test_user_map_is_unknown(rateints_path):
    user = np.full(SHAPE, 7.0)
    attrs = open_rateints(rateints_path, wavelength=user)["wavelength"].attrs
    assert attrs["source"] == "user"
    assert attrs["crds_context"] == attrs["reference_files"] == "unknown"


def test_file_header_without_crds_keywords(rateints_path):
    """The rateints (jwst 1.4.1) has CRDS_CTX but no WCS reference keywords."""
    prov = wavelength_provenance(fits.getheader(rateints_path))
    assert prov == {"crds_context": "jwst_0779.pmap", "reference_files": "unknown",
                    "jwst_version": "1.4.1"}
    assert wavelength_provenance(None)["crds_context"] == "unknown"


@pytest.mark.parametrize("which", ["rateints", "calints"])
def test_provenance_writes_to_netcdf(which, rateints_path, calints_path, tmp_path, no_crds):
    path = {"rateints": rateints_path, "calints": calints_path}[which]
    ds = open_rateints(path)
    out = tmp_path / "wl.nc"
    to_netcdf(ds[["wavelength"]], out)
    with xr.open_dataset(out) as back:
        for key in PROVENANCE:
            assert back["wavelength"].attrs[key] == ds["wavelength"].attrs[key]
