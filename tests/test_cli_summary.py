"""``xmiri reduce --light-curves`` exports the frames' background, like the Python API."""
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri import cli
from xmiri.config import load_config

from tests.conftest import simulated_segments

N_INT = 8


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "xmiri.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def clean_segments(tmp_path_factory):
    return simulated_segments(tmp_path_factory.mktemp("clean"), N_INT, n_segments=2, seed=5)


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
