"""The xmiri command line: reduce, info, config, demo; one-line errors; atomic outputs."""
import re
import tomllib
from pathlib import Path

import pytest
import xarray as xr

from xmiri import cli

from tests.conftest import run_cli as run, simulated_segments


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    return simulated_segments(tmp_path_factory.mktemp("segments"), 8, n_segments=2, seed=5)


def test_config_prints_valid_toml_with_a_section_per_step(capsys):
    assert cli.main(["config"]) == 0
    config = tomllib.loads(capsys.readouterr().out)
    assert {"clean", "subtract", "extract", "align", "light_curves"} <= set(config)


def test_reduce_writes_spectra_and_refuses_to_overwrite(segments, tmp_path):
    out = tmp_path / "stage2.nc"
    result = run("reduce", *segments, "--output", out)
    assert result.returncode == 0, result.stderr
    with xr.open_dataset(out) as spec:
        assert spec.sizes["integration"] == 8 and {"flux", "flux_error", "y_shift"} <= set(spec)
    mtime = out.stat().st_mtime_ns
    again = run("reduce", *segments, "--output", out)
    assert again.returncode == 1
    assert "exists" in again.stderr and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert out.stat().st_mtime_ns == mtime
    assert run("reduce", *segments, "--output", out, "--overwrite").returncode == 0


def test_reduce_with_config_light_curves_and_plots(segments, tmp_path):
    config = tmp_path / "reduce.toml"
    config.write_text('[extract]\nmethod = "optimal"\n[clean]\nrobust = true\n'
                      '[subtract]\nbefore_clean = true\nmethod = "col_wise"\n')
    result = run("reduce", *segments, "-o", tmp_path / "s.nc", "--config", config,
                 "--light-curves", tmp_path / "lc.nc", "--plots", tmp_path / "plots")
    assert result.returncode == 0, result.stderr
    with xr.open_dataset(tmp_path / "s.nc") as spec:
        history = spec.attrs["history"]
        assert "optimal" in history
        assert history.index("subtract(method='col_wise'") < history.index("clean(")
    assert (tmp_path / "lc.nc").exists()
    assert {"waterfall.png", "shifts.png", "frame.png"} <= {p.name for p in (tmp_path / "plots").iterdir()}


def test_reduce_plots_run_clean_once(segments, tmp_path, monkeypatch):
    """The cleaned-pixel map is computed with the spectra: clean sees every integration once,
    plus the chunk of the integration that frame.png and spatial_profile.png show."""
    import xmiri.kernels.clean as kernel

    seen, original = [], kernel.clean_block
    monkeypatch.setattr(kernel, "clean_block",
                        lambda data, *a, **k: seen.append(len(data)) or original(data, *a, **k))
    config = tmp_path / "reduce.toml"
    config.write_text("[open]\nchunks = 2\n")
    plots = tmp_path / "plots"
    assert cli.main(["reduce", *map(str, segments), "-o", str(tmp_path / "s.nc"),
                     "--config", str(config), "--plots", str(plots)]) == 0
    assert {"cleaned_pixels.png", "frame.png", "spatial_profile.png"} <= {p.name for p in plots.iterdir()}
    assert sum(seen) == 8 + 2 * 2, seen  # was 8 + 8 + 2 * 2: the map ran clean again


@pytest.mark.parametrize("args, message", [
    (["reduce", "missing_rateints.fits", "-o", "x.nc"], "missing_rateints.fits"),
    (["reduce", "{seg}", "-o", "x.nc", "--config", "nope.toml"], "nope.toml"),
    (["info", "nothing*.fits"], "nothing"),
], ids=["missing-file", "missing-config", "empty-glob"])
def test_errors_are_one_line_without_traceback(segments, tmp_path, args, message):
    args = [a.replace("{seg}", segments[0]) for a in args]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.nc").exists()


def test_bad_parameter_in_config_fails_before_writing(segments, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[clean]\npoly_order = -1\n")
    result = run("reduce", *segments, "-o", tmp_path / "x.nc", "--config", config)
    assert result.returncode == 1 and "poly_order" in result.stderr
    assert f"config file {config}: [clean] poly_order" in result.stderr  # where the value came from
    assert list(tmp_path.iterdir()) == [config]


@pytest.mark.parametrize("text, where", [
    ("[open]\nchunks = 0\n", "[open] chunks"),
    ("[extract]\nmethod = \"fancy\"\n", "[extract] method"),
    ("[align]\nmax_shift = -1\n", "[align] max_shift"),
    ("[light_curves]\nwavelength_bins = 0\n", "[light_curves] wavelength_bins"),
])
def test_config_errors_name_file_and_section(segments, tmp_path, text, where):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = run("reduce", *segments, "-o", tmp_path / "x.nc", "--config", config,
                 "--light-curves", tmp_path / "lc.nc")
    assert result.returncode == 1, result.stderr
    assert f"config file {config}: {where}" in result.stderr
    assert list(tmp_path.iterdir()) == [config]


def test_info_describes_the_shared_file(rateints_path, capsys):
    assert cli.main(["info", str(rateints_path)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "MIR_LRS-SLITLESS" in out and "1847..1850" in out
    assert "MJD UTC" in out and "INT_TIMES table is empty" in out  # the fallback, said once
    assert "jwst_1535.pmap" in out and "jwst_miri_specwcs_0009.fits" in out  # provenance
    assert "INT_TIMES" not in captured.err  # not repeated as a warning


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    result = run("demo", "--output-dir", tmp_path / "out", "--integrations", 40)
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"demo_stage2.nc", "demo_light_curves.nc", "white_light_curve.png"} <= names
    assert "transit depth" in result.stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    demo_section = readme[readme.index("`make demo` runs"):readme.index("`make test` runs")]
    assert [name for name in sorted(names) if f"`{name}`" not in demo_section] == []
    for line in result.stdout.splitlines():  # the README shows every line the demo prints
        assert re.match(r"[^\d:/]+", line).group() in demo_section, line
    with xr.open_dataset(tmp_path / "out" / "demo_light_curves.nc") as lc:
        assert lc["background"].dims == ("integration",)


@pytest.mark.parametrize("error, status, message", [
    (KeyboardInterrupt(), 130, "xmiri: interrupted"),
    (RuntimeError("boom\nsecond line"), 1, "xmiri: error: RuntimeError: boom"),
], ids=["interrupt", "unexpected-error"])
def test_exit_status_of_an_interrupt_and_of_an_unexpected_error(monkeypatch, capsys, error, status, message):
    def fail(args):
        raise error

    monkeypatch.setattr(cli.commands, "cmd_config", fail)  # where main looks it up
    assert cli.main(["config"]) == status
    assert capsys.readouterr().err.strip() == message
