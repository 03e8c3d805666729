"""The frozen regression products: a full reduction of the shared file, variable by variable.

The reference files in tests/data/regression/ were written by
``scripts/make_regression_product.py``, which records why (REASONS.md).  A
failure here means the numbers changed: if on purpose, regenerate them with a
reason; if not, it is a regression.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "regression"
spec = importlib.util.spec_from_file_location("make_regression_product",
                                              ROOT / "scripts" / "make_regression_product.py")
maker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(maker)

#: variable -> (rtol, atol): where float order may change the last bits.  Anything not
#: listed must be identical (integers, coordinates, bin edges, counts).
TOLERANCES = {
    "flux": (1e-10, 1e-12), "flux_error": (1e-10, 1e-12), "trace_position": (1e-9, 1e-12),
    "psf_sigma": (1e-9, 1e-12), "cross_dispersion_profile": (1e-10, 1e-12),
    "x_shift": (1e-7, 1e-10), "y_shift": (1e-7, 1e-10), "white_flux": (1e-10, 1e-12),
    # the sky error of the aligned (re-sampled) frames follows the shifts' last bits
    "sky_flux_error": (1e-10, 1e-12),
    "white_flux_error": (1e-10, 1e-12), "wavelength": (1e-12, 0.0),
}


@pytest.fixture(scope="module")
def products(rateints_path):
    return maker.reduce(rateints_path)


def frozen(name):
    with xr.open_dataset(REFERENCE / f"shared_rateints_{name}.nc") as stored:
        return stored.load()


@pytest.mark.parametrize("name", ["box", "optimal", "light_curves", "recommended", "recommended_light_curves"])
def test_products_match_the_frozen_reference(products, name):
    assert_matches(products[name], frozen(name), name)


def test_xmiri_reduce_writes_the_frozen_recommended_products(rateints_path, tmp_path):
    """The command line's default chain is the one frozen as "recommended" (same preset, same numbers)."""
    from tests.conftest import run_cli

    spec, lc = tmp_path / "spec.nc", tmp_path / "lc.nc"
    result = run_cli("reduce", rateints_path, "--output", spec, "--light-curves", lc)
    assert result.returncode == 0, result.stderr
    for path, name in ((spec, "recommended"), (lc, "recommended_light_curves")):
        with xr.open_dataset(path) as written:
            ours = written.load()
        assert ours.attrs["history"]  # the step calls; compared through the frozen values below
        assert_matches(ours, frozen(name), name)


def assert_matches(ours, reference, name):
    """Every variable of `reference` in `ours`: identical, or within TOLERANCES; the same attributes."""
    assert set(ours.variables) == set(reference.variables), name
    for var in reference.variables:
        a, b = ours[var].values, reference[var].values
        assert a.shape == b.shape and ours[var].dims == reference[var].dims, var
        if var in TOLERANCES and a.dtype.kind == "f":
            rtol, atol = TOLERANCES[var]
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name}:{var}")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{name}:{var}")
        for key, value in reference[var].attrs.items():
            assert ours[var].attrs.get(key) == value or np.array_equal(ours[var].attrs.get(key), value), \
                f"{name}:{var}.attrs[{key!r}]"


def test_every_reference_says_why_it_was_made():
    log = (REFERENCE / "REASONS.md").read_text()
    for path in REFERENCE.glob("*.nc"):
        with xr.open_dataset(path) as stored:
            reason = stored.attrs["regression_reason"]
        assert reason and reason in log, path.name
