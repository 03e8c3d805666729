"""The ``.lrs`` accessor: plain methods with the steps' signatures and docstrings, readable statically."""
import ast
import importlib.util
import inspect
from pathlib import Path

import pytest
import xarray as xr

import xmiri
from xmiri import steps
from xmiri.plotting._bind import without_parameter
from xmiri.accessor import LRSAccessor

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("make_accessor", ROOT / "scripts" / "make_accessor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_methods_are_up_to_date():
    texts = _generator().render()
    assert {path.name for path in texts} == {"_frames.py", "_spectra.py"}
    for path, text in texts.items():
        assert path.read_text() == text, f"{path} is out of date: run python scripts/make_accessor.py"


@pytest.mark.parametrize("name", steps.__all__)
def test_method_has_the_step_signature(name):
    step, method = getattr(steps, name), getattr(LRSAccessor, name)
    step_params = list(inspect.signature(step).parameters.values())
    method_params = list(inspect.signature(method).parameters.values())
    assert method_params[0].name == "self"
    assert method_params[1:] == step_params[1:]  # names, kinds and defaults


@pytest.mark.parametrize("name", steps.__all__)
def test_method_has_the_step_docstring(name):
    step, method = getattr(steps, name), getattr(LRSAccessor, name)
    first = next(iter(inspect.signature(step).parameters))
    assert inspect.getdoc(method) == without_parameter(inspect.getdoc(step), first)
    assert f"{first} :" not in inspect.getdoc(method).split("Returns")[0]


def test_methods_are_plain_functions_in_the_source():
    """Static tools (IDEs, type checkers) see every step as a def of a base class, not a runtime binding."""
    tree = ast.parse((ROOT / "xmiri" / "accessor" / "__init__.py").read_text())
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "LRSAccessor"]
    bases = {base.id for base in cls.bases}
    assert bases == {"FrameSteps", "SpectrumSteps"}
    defs = {}
    for module in ("_frames.py", "_spectra.py"):
        tree = ast.parse((ROOT / "xmiri" / "accessor" / module).read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name in bases:
                defs.update({item.name: item for item in node.body if isinstance(item, ast.FunctionDef)})
    for name in steps.__all__:
        assert name in defs, name
        assert ast.get_docstring(defs[name]), name
        assert inspect.isfunction(getattr(LRSAccessor, name)), name


def test_importing_xmiri_does_not_import_the_steps():
    import subprocess
    import sys

    code = "import sys, xmiri, xarray as xr; xr.Dataset().lrs; print('xmiri.steps' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_method_calls_the_step_with_every_argument():
    ds, _ = xmiri.simulate.simulate(2, seed=1, n_cosmic_rays=0)
    kwargs = dict(method="row_wise", bkg_col_left_start=6, bkg_col_left_end=15, bkg_col_right_start=58,
                  bkg_col_right_end=70, smoothing_length=3)
    xr.testing.assert_identical(ds.lrs.subtract(**kwargs), steps.subtract(ds, **kwargs))
    assert "bkg_col_left_start=6" in ds.lrs.subtract(**kwargs).attrs["history"]
    # positional arguments go where the step's signature puts them
    xr.testing.assert_identical(ds.lrs.subtract("constant", 6), steps.subtract(ds, "constant", 6))
