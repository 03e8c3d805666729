"""Lint and docstring checks, run with the rest of the suite.

ruff reads ``ruff.toml``; numpydoc's validation reads ``[tool:numpydoc_validation]``
in ``setup.cfg`` (the section numpydoc's own ``numpydoc lint`` hook reads).  The
docstrings checked are those of the public API: every function and class in the
``__all__`` of the modules the API reference documents (``docs/api.rst``), the
public methods of those classes, and the ``.lrs`` accessor's methods.
"""
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_module

ROOT = Path(__file__).resolve().parents[1]

# the modules whose __all__ is the public API (docs/api.rst documents them)
PUBLIC_MODULES = (
    "xmiri", "xmiri.steps", "xmiri.io", "xmiri.io.chunks", "xmiri.io.times", "xmiri.simulate",
    "xmiri.plotting", "xmiri.dq", "xmiri.io.wavelength", "xmiri.defaults", "xmiri.layout", "xmiri.config",
    "xmiri.parallel", "xmiri.kernels.temporal", "xmiri.kernels.clean", "xmiri.kernels.background",
    "xmiri.kernels.trace", "xmiri.kernels.extract", "xmiri.kernels.align", "xmiri.kernels.tracefit",
    "xmiri.kernels.aperture", "xmiri.kernels.lightcurves", "xmiri.accessor",
)


def test_ruff():
    require_module("ruff")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "xmiri", "tests",
                             "benchmarks", "scripts"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _public_objects():
    """``{import path: object}`` of every documented public function, class and method."""
    found = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants and re-exported modules
            path = f"{obj.__module__}.{obj.__qualname__}"
            found[path] = obj
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for base in reversed([c for c in obj.__mro__ if c.__module__.startswith("xmiri")]):
                    for attr, value in vars(base).items():  # the class's own and its xmiri mixins' methods
                        if not attr.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                            found[f"{path}.{attr}"] = value
    return found


def test_public_objects_are_found():
    objects = _public_objects()
    for path in ("xmiri.steps.extract.extract", "xmiri.accessor.LRSAccessor.extract",
                 "xmiri.io.reader.open_rateints", "xmiri.kernels.align.measure_shifts"):
        assert path in objects, path
    assert len(objects) > 100


def test_numpydoc_validation():
    validate = require_module("numpydoc.validate")
    from numpydoc.hooks.validate_docstrings import parse_config

    checks = parse_config(ROOT)["checks"]  # the codes to report, "all" expanded
    assert "PR01" in checks and "RT01" in checks  # the configuration was read
    failures = []
    for path in sorted(_public_objects()):
        result = validate.validate(path)
        failures += [f"{path}: {code} {message}" for code, message in result["errors"] if code in checks]
    assert not failures, "\n".join(failures)
