"""``xmiri reduce`` ends with a table of what could not be measured, and exports the background.

Issue: "the CLI prints a summary table of what could not be measured".  The
step layer issues one UnmeasuredWarning per step, quantity and cause per
compute; ``reduce`` collects them into a table (instead of printing them one
by one) and counts the NaN values of every variable it wrote, which also
works on a dask.distributed cluster, whose workers issue the warnings.
"""
import re
import warnings

import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri import UnmeasuredWarning, cli
from xmiri.config import load_config

from tests.conftest import require_module, simulated_segments
from tests.conftest import run_cli as run

N_INT = 8
BAD_ROW = 200  # a row inside the wavelength range, across the whole aperture


@pytest.fixture(scope="module")
def clean_segments(tmp_path_factory):
    return simulated_segments(tmp_path_factory.mktemp("clean"), N_INT, n_segments=2, seed=5)


@pytest.fixture(scope="module")
def bad_row_segments(tmp_path_factory):
    """A simulated exposure whose row BAD_ROW is NaN and DO_NOT_USE in every integration."""
    ds, _ = xmiri.simulate.simulate(N_INT, seed=5)
    ds = ds.load()
    ds["data"][:, BAD_ROW, :] = np.nan
    ds["dq"][:, BAD_ROW, :] |= np.uint32(1)  # DO_NOT_USE
    folder = tmp_path_factory.mktemp("bad_row")
    return [str(p) for p in xmiri.simulate.write_segments(ds, folder, n_segments=2)]


@pytest.fixture(scope="module")
def no_align(tmp_path_factory):
    """A configuration without re-sampling (whose shifted ends are NaN by design: see align)."""
    path = tmp_path_factory.mktemp("config") / "no_align.toml"
    path.write_text("[align]\nalign_spectra = false\n")
    return path


def summary_lines(stdout):
    """The lines printed after the last ``wrote ...`` line."""
    lines = stdout.rstrip("\n").splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("wrote "))
    return [line for line in lines[last + 1:] if not line.startswith("white light curve:")]


def nan_counts(path):
    with xr.open_dataset(path) as ds:
        return {name: int(np.isnan(v.values).sum()) for name, v in ds.data_vars.items()
                if v.dtype.kind == "f" and np.isnan(v.values).any()}


def test_unmeasured_values_are_tabulated(bad_row_segments, tmp_path):
    result = run("reduce", *bad_row_segments, "-o", tmp_path / "s.nc", "--light-curves",
                 tmp_path / "lc.nc", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "could not be measured" not in result.stderr  # the table replaces the warnings
    table = summary_lines(result.stdout)
    assert table[0] == "could not be measured (NaN in the products):"
    assert re.split(r"\s{2,}", table[1].strip()) == ["step", "quantity", "count / total", "cause"]
    rows = [re.split(r"\s{2,}", line.strip()) for line in table[2:table.index(
        "NaN values in the written files:")]]
    assert rows == [["extract", "flux", f"{N_INT} / {N_INT * 416}",
                     "NaN data or errors inside the aperture"]]  # BAD_ROW in each integration
    # aligned: every column starts at the same character in every line
    starts = [table[1].index(word) for word in ("quantity", "count / total", "cause")]
    for line in table[2:2 + len(rows)]:
        assert [line.index(cell) for cell in re.split(r"\s{2,}", line.strip())[1:]] == starts
    # the NaN table counts what was written, per file and variable
    nan_rows = [re.split(r"\s{2,}", line.strip()) for line in
                table[table.index("NaN values in the written files:") + 2:]]
    found = {(file, var): int(count.split(" / ")[0]) for file, var, count, _ in nan_rows}
    spectra, lc = str(tmp_path / "s.nc"), str(tmp_path / "lc.nc")
    assert found == {(path, var): n for path in (spectra, lc) for var, n in nan_counts(path).items()}
    assert (spectra, "flux") in found and (lc, "white_flux") in found


def test_clean_exposure_says_every_value_was_measured(clean_segments, no_align, tmp_path):
    result = run("reduce", *clean_segments, "-o", tmp_path / "s.nc", "--light-curves",
                 tmp_path / "lc.nc", "--config", no_align)
    assert result.returncode == 0, result.stderr
    assert summary_lines(result.stdout) == [
        "every value was measured: no step reported an unmeasured value and the written files "
        "hold no NaN"]
    assert nan_counts(tmp_path / "s.nc") == {} and nan_counts(tmp_path / "lc.nc") == {}


def test_nan_without_a_warning_is_still_listed(clean_segments, tmp_path):
    """align's re-sampling leaves the ends of the row range NaN: the table says where."""
    result = run("reduce", *clean_segments, "-o", tmp_path / "s.nc")
    assert result.returncode == 0, result.stderr
    table = summary_lines(result.stdout)
    assert table[0] == "NaN values in the written files:"
    flux = next(line for line in table if re.search(r"\sflux\s", line))
    assert f"{N_INT} / {N_INT * 416}" in flux and f"integration: all {N_INT}; row: 0, 415" in flux


def test_summary_merges_repeats_in_chain_order():
    def warning(step, quantity, count, cause="why"):
        return UnmeasuredWarning("", step=step, quantity=quantity, count=count, total=10, cause=cause)

    unmeasured = [warning("align", "y_shift", 1), warning("extract", "flux", 3),
                  warning("clean", "data", 2), warning("clean", "data", 2)]  # clean re-run for a plot
    lines = cli.summary(unmeasured, {})
    assert [line.split()[:3] for line in lines[2:]] == [["clean", "data", "2"], ["extract", "flux", "3"],
                                                        ["align", "y_shift", "1"]]
    assert cli.summary([], {"s.nc": xr.Dataset({"flux": ("x", [1.0, 2.0])})})[0].startswith(
        "every value was measured")


@pytest.mark.parametrize("nan", [False, True])
def test_on_a_cluster_the_summary_points_to_the_workers_logs(nan):
    """With --scheduler the steps report in the workers, so "no step reported" would claim too much."""
    products = {"s.nc": xr.Dataset({"flux": ("x", [1.0, np.nan if nan else 2.0])})}
    text = "\n".join(cli.summary([], products, distributed=True))
    assert "workers' logs" in text and "no step reported" not in text
    assert "workers' logs" not in "\n".join(cli.summary([], products))


def test_only_unmeasured_warnings_are_held_back(monkeypatch):
    shown = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *args, **kwargs: shown.append(message))
    held = []
    with cli._recording_unmeasured(held):
        warnings.warn(UnmeasuredWarning("u", step="extract", quantity="flux", count=1, total=2,
                                        cause="c"), stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [type(w) for w in held] == [UnmeasuredWarning]
    assert [str(w) for w in shown] == ["something else"]


@pytest.mark.slow
def test_nan_table_on_a_scheduler(bad_row_segments, tmp_path):
    distributed = require_module("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = run("reduce", *bad_row_segments, "-o", tmp_path / "s.nc", "--scheduler",
                     cluster.scheduler_address)
    assert result.returncode == 0, result.stderr
    table = summary_lines(result.stdout)
    assert table[0] == "NaN values in the written files:"
    flux = next(line for line in table if re.search(r"\sflux\s", line))
    assert f"{nan_counts(tmp_path / 's.nc')['flux']} / {N_INT * 416}" in flux
    assert "dask workers' logs" in table[-1]


# --------------------------------------------------------------------------
# the background regressor
def test_light_curves_carry_the_background(clean_segments, tmp_path):
    result = run("reduce", *clean_segments, "-o", tmp_path / "s.nc", "--light-curves",
                 tmp_path / "lc.nc")
    assert result.returncode == 0, result.stderr
    config = load_config(None)
    frames, spec = cli.run_chain(xmiri.open_rateints(clean_segments), config)
    expected = spec.lrs.light_curves(**config["light_curves"], background=frames["background"])
    with xr.open_dataset(tmp_path / "lc.nc") as lc:
        assert lc["background"].dims == ("integration",)
        assert lc["background"].attrs["long_name"] == "sky background level"
        assert np.isfinite(lc["background"].values).all()
        np.testing.assert_allclose(lc["background"].values, expected["background"].values, rtol=1e-12)
        assert "background=" in lc.attrs["history"]


def test_no_background_without_subtract(clean_segments, tmp_path):
    config = tmp_path / "no_subtract.toml"
    config.write_text("[subtract]\nskip = true\n")
    result = run("reduce", *clean_segments, "-o", tmp_path / "s.nc", "--light-curves",
                 tmp_path / "lc.nc", "--config", config)
    assert result.returncode == 0, result.stderr
    with xr.open_dataset(tmp_path / "lc.nc") as lc:
        assert "background" not in lc
