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
