"""``pip install .`` is quiet and ships every subpackage and the wavelength table.

The wheel is built from a copy of the repository in a temporary folder, so
that setuptools' ``build/`` and ``*.egg-info`` never land in the repository.
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("io", "steps", "kernels", "simulate", "plotting", "cli", "accessor")


@pytest.mark.slow
def test_wheel_builds_quietly_with_data_and_subpackages(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.cfg", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "xmiri", source / "xmiri", ignore=shutil.ignore_patterns("__pycache__"))
    before = sorted(p.name for p in ROOT.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         ".", "-w", str(tmp_path / "dist")],
        cwd=source, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is absent from the `packages`" not in output
    assert "Package would be ignored" not in output
    (wheel,) = (tmp_path / "dist").glob("xmiri-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "xmiri/data/lrs_slitless_wavelength.json" in names
    for package in SUBPACKAGES:
        assert f"xmiri/{package}/__init__.py" in names, package
    assert not any("__pycache__" in name for name in names)
    assert sorted(p.name for p in ROOT.iterdir()) == before  # no build/ or *.egg-info here
