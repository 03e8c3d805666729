"""The Sphinx documentation builds without a single warning.

The sources in ``docs/`` are copied to a temporary folder and built there
with ``-W`` (warnings are errors), exactly as ``make docs`` does, so the test
never writes into the repository (autosummary generates its API stubs next
to the sources) and can run beside a ``make docs``.  Everything is offline:
``docs/conf.py`` uses no intersphinx.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_autosummary_accessors")


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    source = tmp_path / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated", "__pycache__"))
    out = tmp_path / "html"
    env = dict(os.environ, MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(source), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, (
        f"sphinx-build failed (exit {result.returncode}); every warning is an error.  A warning "
        f"in api/generated/NAME.rst comes from the docstring of NAME (for a module, its "
        f"module docstring):\n{result.stderr[-6000:]}")

    # The accessor pages are generated from the step functions' docstrings.
    generated = out / "api" / "generated"
    for method in ("clean", "subtract", "extract", "align", "light_curves", "dq_summary"):
        page = generated / f"xarray.Dataset.lrs.{method}.html"
        assert page.is_file(), f"no API page for Dataset.lrs.{method}"
    clean_page = (generated / "xarray.Dataset.lrs.clean.html").read_text(encoding="utf-8")
    assert "outlier_threshold" in clean_page and "window_heights" in clean_page
    for page in ("index", "quickstart", "clean", "subtract", "extract", "align", "light_curves",
                 "exotic_miri", "scaling", "netcdf", "wavelength", "api", "tutorial",
                 "making_rateints", "systematics", "install", "faq", "citation", "configuration"):
        assert (out / f"{page}.html").is_file(), f"{page}.html was not built"
    # the annotated configuration is generated from the code when the docs are built
    configuration = (out / "configuration.html").read_text(encoding="utf-8")
    assert "reclean" in configuration and "window_heights" in configuration
