"""``xmiri demo`` prints the measured white-light depth with its 1-sigma error and the injected one."""
import re

import numpy as np
import pytest

from xmiri import cli

DEPTH_LINE = re.compile(r"white-light transit depth: (?P<depth>\d+\.\d+)% ± (?P<sigma>\d+\.\d+)% "
                        r"\(injected (?P<injected>\d+\.\d+)%, (?P<n_sigma>\d+\.\d)σ\)")


def test_transit_depth_and_its_uncertainty():
    relative = np.ones(60)
    relative[20:24] = 0.995  # ingress and egress: in neither mask
    relative[36:40] = 0.995
    relative[24:36] = 0.99
    noise = np.random.default_rng(3).normal(0.0, 1e-3, 60)
    white = 250.0 * (relative + noise)
    white[0] = np.nan  # skipped
    depth, sigma = cli._transit_depth(white, relative)
    out, full = np.r_[1:20, 40:60], np.r_[24:36]
    baseline = white[out].mean()
    assert depth == pytest.approx(1 - white[full].mean() / baseline, rel=1e-12)
    expected = np.std(white[out] / baseline, ddof=1) * np.sqrt(1 / full.size + 1 / out.size)
    assert sigma == pytest.approx(expected, rel=1e-12)
    assert abs(depth - 0.01) < 4 * sigma


def test_one_default_preset_for_reduce_config_and_demo():
    from xmiri.config import DEFAULT_PRESET, PRESETS

    assert DEFAULT_PRESET == "recommended" and DEFAULT_PRESET in PRESETS
    assert cli.DEMO_PRESET == DEFAULT_PRESET
    parser = cli.build_parser()
    for command in (["reduce", "x_rateints.fits", "-o", "s.nc"], ["config"]):
        assert parser.parse_args(command).preset == DEFAULT_PRESET
    assert cli.load_config(None) == cli.load_config(None, "recommended")


@pytest.mark.parametrize("n", ["0", "4"])
def test_demo_refuses_too_few_integrations_before_any_work(tmp_path, capsys, n):
    assert cli.main(["demo", "--output-dir", str(tmp_path / "out"), "--integrations", n]) == 1
    assert f"--integrations {n}: the demo needs at least 6 integrations" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_demo_depth_agrees_with_the_injected_one(tmp_path, capsys, seed):
    assert cli.main(["demo", "--output-dir", str(tmp_path), "--integrations", "40",
                     "--seed", str(seed)]) == 0
    out = capsys.readouterr().out
    match = DEPTH_LINE.search(out)
    assert match, out
    depth, sigma, injected, n_sigma = (float(match[k]) for k in ("depth", "sigma", "injected", "n_sigma"))
    assert injected == 1.0 and 0 < sigma < 0.5
    assert abs(depth - injected) < 4 * sigma
    assert n_sigma == pytest.approx(abs(depth - injected) / sigma, abs=0.1)  # from rounded numbers
    assert "reduced with the 'recommended' preset" in out
