"""xmiri.config.preset: the keywords it returns are the steps' own."""
import inspect

import pytest

import xmiri
import xmiri.config
from xmiri import steps


@pytest.mark.parametrize("name", sorted(xmiri.config.PRESETS))
def test_preset_keywords_bind_to_the_steps(name):
    kw = xmiri.config.preset(name)
    assert kw["order"] in (("clean", "subtract"), ("subtract", "clean"), ("clean", "subtract", "clean"))
    for section, kwargs in kw.items():
        if section != "order":
            inspect.signature(getattr(steps, section)).bind(None, **kwargs)
            # clean takes **deprecated, so bind alone would accept a misspelt keyword
            assert set(kwargs) <= {p.name for p in xmiri.config._parameters(getattr(steps, section))}


@pytest.mark.parametrize("name", sorted(xmiri.config.PRESETS))
def test_preset_runs_as_documented(name):
    kw = xmiri.config.preset(name)
    ds, _ = xmiri.simulate.simulate(4, seed=2)
    as_read = ds["dq"]
    for step in kw["order"]:
        ds = getattr(ds.lrs, step)(**kw[step])
        if step == "subtract" and kw["order"].count("clean") == 2:
            ds = ds.assign(dq=as_read)  # the second clean sees the DQ as read
    spec = ds.lrs.extract(**kw["extract"]).lrs.align()
    assert spec["flux"].sizes == {"integration": 4, "row": 416}


@pytest.mark.parametrize("function", ["preset", "default_config", "template", "load_config"])
def test_unknown_preset_names_the_known_ones(function):
    call = getattr(xmiri.config, function)
    with pytest.raises(xmiri.ParameterError, match="unknown preset 'exotic'; known: recommended, exotic-miri"):
        call(None, "exotic") if function == "load_config" else call("exotic")


def test_recommended_preset_is_the_documented_chain():
    """README and docs/defaults.rst: sky first, then clean; optimal, median profile that follows
    the trace (benchmarks/POINTING.md), 8 + 8 columns, Q "auto"."""
    assert xmiri.config.preset("recommended") == {
        "order": ("subtract", "clean"), "clean": {}, "subtract": {}, "align": {},
        "extract": {"method": "optimal", "median_spatial_profile": True,
                    "profile_follows_trace": True, "aperture_left_width": 8,
                    "aperture_right_width": 8},
    }
    config = xmiri.config.load_config(None, "recommended")
    assert config == xmiri.config.load_config(None)  # the default of xmiri reduce
    chosen = {"extract": {"method": "optimal", "median_spatial_profile": True, "aperture_left_width": 8,
                          "aperture_right_width": 8, "profile_follows_trace": True}}
    for section in ("clean", "subtract", "extract", "align"):
        defaults = {p.name: p.default for p in xmiri.config._parameters(getattr(steps, section))}
        for key, value in config[section].items():
            expected = chosen.get(section, {}).get(key, defaults.get(key))
            if key in defaults or key in chosen.get(section, {}):
                assert _plain(value) == _plain(expected), (section, key)
    assert config["extract"]["horne_q"] == "auto"
    assert config["subtract"]["method"] == "col_wise" and config["subtract"]["before_clean"] is True


def _plain(value):
    """Tuples and lists compare equal (TOML has lists only)."""
    return list(value) if isinstance(value, (tuple, list, range)) else value


def test_exotic_miri_preset_has_exotic_miris_own_defaults():
    """Every keyword ExoTiC-MIRI 1.0.1's steps give a default is that default in the preset."""
    import re

    import xarray as xr

    from tests.exotic_reference import _import_exotic
    from xmiri.defaults import GEOMETRY_KEYWORDS, resolve

    stage_2, _ = _import_exotic()
    config = xmiri.config.load_config(None, "exotic-miri")
    pairs = {"clean": "CleanOutliersStep", "subtract": "BackgroundSubtractStep",
             "extract": "Extract1DOptimalStep", "align": "AlignSpectraStep"}
    compared = 0
    for section, step in pairs.items():
        for key, default in re.findall(r"^\s*(\w+) = \w+\(default=([^)]*)\)", getattr(stage_2, step).spec, re.M):
            if key.startswith(("draw_", "no_")) or default == "None":
                continue  # plots, a debug switch; None: ExoTiC-MIRI chooses in its code
            expected = _plain(eval(default, {"true": True, "false": False}))
            if key in GEOMETRY_KEYWORDS and key not in config[section]:
                # resolved from the file's subarray: SLITLESSPRISM's is ExoTiC-MIRI's number
                assert _plain(resolve(xr.Dataset(attrs={"SUBARRAY": "SLITLESSPRISM"}), **{key: None})) == expected, (
                    section, key)
            else:
                assert key in config[section], (section, key)
                assert _plain(config[section][key]) == expected, (section, key)
            compared += 1
    assert compared >= 14
    assert config["extract"]["horne_q"] is None and config["clean"]["dq_bits_to_mask"] == [0, 11]
