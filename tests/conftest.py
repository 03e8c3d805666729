"""The one set of shared test helpers: fixtures, frame builders, the chain, comparisons.

The two real-format MIRI LRS files live in ``../shared/data`` beside the
repository (never copied into it).  Set ``XMIRI_SHARED_DATA`` to point
elsewhere.  Helpers that are plain functions are imported by test modules
with ``from tests.conftest import ...``; fixtures are found by pytest.
"""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from dask.callbacks import Callback

SHARED_DATA = Path(
    os.environ.get("XMIRI_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
RATEINTS = SHARED_DATA / "mirisim_ngts10_seg041_rateints.fits"
CALINTS = SHARED_DATA / "mirisim_ngts10_seg041_calints.fits"

#: Shape of the small frames of :func:`make_frames`.
N_INT, N_ROW, N_COL = 4, 416, 72
DIMS = ("integration", "row", "col")


# --------------------------------------------------------------------------
# the shared files
def _require(path):
    if not path.exists():
        message = f"shared data file not found: {path} (set XMIRI_SHARED_DATA)"
        if os.environ.get("CI"):  # CI has ../shared: a missing file there is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_module(name):
    """``pytest.importorskip(name)``, except under CI (``CI`` set), where a missing module fails.

    CI installs every test dependency (``.[test,docs,examples]``): a reference
    or tool missing there is a broken set-up, not a reason to skip.
    """
    if os.environ.get("CI"):
        try:
            return importlib.import_module(name)
        except ImportError as err:
            pytest.fail(f"{name} is not installed under CI ({err}); the test extra installs it")
    return pytest.importorskip(name)


@pytest.fixture(scope="session")
def rateints_path():
    """Path of the shared MIRISim NGTS-10 rateints file (jwst 1.4.1, no WCS)."""
    return _require(RATEINTS)


@pytest.fixture(scope="session")
def calints_path():
    """Path of the shared MIRISim NGTS-10 calints file (jwst 2.0.1, WCS + WAVELENGTH)."""
    return _require(CALINTS)


@pytest.fixture(scope="session")
def real_cube(calints_path):
    """SCI, ERR, WAVELENGTH and VAR_RNOISE of the shared calints file as numpy arrays."""
    from astropy.io import fits

    with fits.open(calints_path) as hdul:
        return {
            "data": np.asarray(hdul["SCI"].data, dtype=np.float32),
            "err": np.asarray(hdul["ERR"].data, dtype=np.float32),
            "wavelength": np.asarray(hdul["WAVELENGTH"].data, dtype=np.float64),
            "var_rnoise": np.asarray(hdul["VAR_RNOISE"].data, dtype=np.float64),
        }


# --------------------------------------------------------------------------
# building frames
def synthetic_cube(n_int=3, n_row=N_ROW, n_col=N_COL, *, center=36.3, sigma=1.6, seed=0, noise=0.3):
    """float32 (data, err, true trace centres): Gaussian trace, smooth spectrum, sky gradient, noise."""
    rng = np.random.default_rng(seed)
    rows = np.arange(n_row)[:, np.newaxis]
    cols = np.arange(n_col)[np.newaxis, :]
    centers = center + rng.normal(0.0, 0.1, n_int)
    spectrum = 400.0 + 250.0 * np.sin(rows / 70.0) * np.exp(-((rows - 250.0) / 200.0) ** 2)
    profile = np.exp(-((cols - centers[:, np.newaxis, np.newaxis]) ** 2) / (2.0 * sigma**2))
    profile /= sigma * np.sqrt(2.0 * np.pi)
    sky = 5.0 + 0.03 * cols + 0.004 * rows + 0.0002 * (cols - 36.0) * rows / 10.0
    data = spectrum * profile + sky + rng.normal(0.0, noise, (n_int, n_row, n_col))
    err = np.sqrt(np.abs(data) * 0.02 + noise**2)
    return data.astype(np.float32), err.astype(np.float32), centers


def frames_from(data, dq=None, err=None, *, wavelength=True, var_poisson=None, var_rnoise=0.5):
    """A frames Dataset (the reader's layout) around a (n_int, n_row, n_col) data array."""
    from xmiri.io.wavelength import default_wavelength_map

    data = np.asarray(data)
    n_int, n_row, n_col = data.shape
    variables = {
        "data": (DIMS, data.astype(np.float32), {"units": "DN/s"}),
        "err": (DIMS, np.ones(data.shape, np.float32) if err is None else np.asarray(err, np.float32),
                {"units": "DN/s"}),
        "dq": (DIMS, np.zeros(data.shape, np.uint32) if dq is None else np.asarray(dq, np.uint32)),
        "var_rnoise": (DIMS, np.full(data.shape, var_rnoise, np.float32)),
    }
    if var_poisson is not None:
        variables["var_poisson"] = (DIMS, np.full(data.shape, var_poisson, np.float32))
    ds = xr.Dataset(variables, coords={
        "integration": np.arange(1, n_int + 1), "time": ("integration", 60000.0 + 1e-3 * np.arange(n_int)),
        "row": np.arange(n_row), "col": np.arange(n_col)})
    if wavelength:
        ds = ds.assign_coords(wavelength=(("row", "col"), default_wavelength_map(n_row, n_col),
                                          {"units": "micron"}))
    return ds


def make_frames(n_int=N_INT, n_row=N_ROW, n_col=N_COL, seed=0):
    """A small LRS-like exposure: Gaussian trace at column 36 on a sloped sky, with noise."""
    rng = np.random.default_rng(seed)
    rows = np.arange(n_row)[:, None]
    cols = np.arange(n_col)[None, :]
    spectrum = 50.0 + 1000.0 * np.exp(-0.5 * ((rows - 300.0) / 60.0) ** 2)
    source = spectrum * np.exp(-0.5 * ((cols - 36.0) / 1.6) ** 2)
    sky = 5.0 + 0.01 * rows + 0.0 * cols
    data = source + sky + rng.normal(0.0, 1.0, (n_int, n_row, n_col))
    return frames_from(data, var_poisson=0.5)


def simulated_segments(folder, n_integrations, n_segments, seed):
    """Simulate an exposure, write it as rateints segments in ``folder``; the paths as str."""
    import xmiri

    ds, _ = xmiri.simulate.simulate(n_integrations, seed=seed)
    return [str(p) for p in xmiri.simulate.write_segments(ds, folder, n_segments=n_segments)]


# --------------------------------------------------------------------------
# running
def chain(ds, clean=None, subtract=None, extract=None, align=None, *, subtract_first=False):
    """clean -> subtract -> extract -> align (lazily), each with its keyword dict.

    ``False`` for a step's dict leaves the step out; ``subtract_first`` runs
    subtract before clean.
    """
    steps = [("clean", clean), ("subtract", subtract)]
    if subtract_first:
        steps.reverse()
    for name, kwargs in steps:
        if kwargs is not False:
            ds = getattr(ds.lrs, name)(**(kwargs or {}))
    spec = ds.lrs.extract(**(extract or {}))
    return spec if align is False else spec.lrs.align(**(align or {}))


class TaskCounter(Callback):
    """Counts the dask tasks run while it is active (``with TaskCounter() as c: ...; c.n``)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _pretask(self, key, dask, state):
        self.n += 1


# --------------------------------------------------------------------------
# comparing
def worst_relative(actual, expected, floor=1e-6):
    """Largest ``|actual - expected| / max(|expected|, floor * max|expected|)``, NaN ignored.

    Where that scale is 0 (``expected`` is 0 and, with ``floor > 0``, all of
    it is) the elements must be equal: any difference there is ``inf``.
    Every finite element is compared.
    """
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = np.maximum(np.abs(expected), np.nanmax(np.abs(expected), initial=0.0) * floor)
    diff = np.atleast_1d(np.abs(actual - expected))
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff == 0, 0.0, np.inf))
    relative[np.isnan(diff)] = np.nan  # NaN against NaN: the callers check the NaN pattern
    return float(np.nanmax(relative, initial=0.0))


def assert_close(actual, expected, *, rtol=0.0, atol=0.0, floor=0.0, what=""):
    """Same shape and NaN pattern, and every ``|actual - expected| <= atol + rtol * scale``.

    ``scale = max(|expected|, floor * max|expected|)``: with ``floor=0`` this is
    :func:`numpy.testing.assert_allclose`; a small ``floor`` keeps near-zero
    elements from dominating a relative comparison.  ``rtol=atol=0``: identical.
    """
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN pattern")
    if floor:
        worst = worst_relative(actual, expected, floor)
        assert worst <= rtol, f"{what}: worst relative difference {worst:.2e} > {rtol:.1e}"
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def assert_same(actual, expected, names, *, rtol=0.0, atol=0.0):
    """:func:`assert_close` on variables ``names`` of two Datasets."""
    for name in names:
        assert_close(actual[name].values, expected[name].values, rtol=rtol, atol=atol, what=name)


class Worst:
    """Record the worst relative difference to ExoTiC-MIRI per quantity, and report it."""

    def __init__(self, rtol=1e-5, atol_fraction=1e-7):
        self.values = {}
        self.rtol, self.atol_fraction = rtol, atol_fraction

    def check(self, name, ours, reference, rtol=None):
        """Assert agreement to `rtol` and record the worst relative difference.

        NaN must match NaN.  The relative difference is taken over elements
        with ``|reference| > 1e-3 max|reference|``; elsewhere (values near
        zero, where float32 rounding in ExoTiC-MIRI dominates) an absolute
        tolerance of ``atol_fraction * max|reference|`` applies.
        """
        rtol = self.rtol if rtol is None else rtol
        ours = np.asarray(ours, dtype=np.float64)
        reference = np.asarray(reference, dtype=np.float64)
        assert ours.shape == reference.shape
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
        finite = np.isfinite(reference)
        scale = np.max(np.abs(reference[finite]), initial=0.0)
        np.testing.assert_allclose(ours, reference, rtol=rtol, atol=self.atol_fraction * scale,
                                   equal_nan=True)
        big = finite & (np.abs(reference) > 1e-3 * scale)
        worst = np.max(np.abs(ours[big] - reference[big]) / np.abs(reference[big]), initial=0.0)
        self.values[name] = max(self.values.get(name, 0.0), float(worst))

    def report(self, request, title):
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None or capture is None or not self.values:
            return
        lines = [f"{title}: worst relative difference to ExoTiC-MIRI 1.0.1"]
        lines += [f"    {name:<40s} {value:.2e}" for name, value in sorted(self.values.items())]
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


def run_cli(*args, cwd=None):
    """Run ``python -m xmiri.cli args...`` in a subprocess, as a user would; the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "xmiri.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def pytest_collection_modifyitems(config, items):
    """Run the examples of the accessor's generated step methods once, where they are written (xmiri/steps).

    ``scripts/make_accessor.py`` copies each step's docstring, examples
    included, onto the accessor; the examples already call ``ds.lrs.<step>``.
    """
    generated = {"xmiri/accessor/_frames.py", "xmiri/accessor/_spectra.py"}  # every example there is a copy
    removed = [item for item in items if item.nodeid.split("::")[0] in generated]
    if removed:
        config.hook.pytest_deselected(items=removed)
        items[:] = [item for item in items if item not in removed]
