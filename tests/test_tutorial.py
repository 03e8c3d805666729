"""docs/tutorial.rst runs: its Python blocks, in order, in one namespace, on simulated segments."""
import re
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(path):
    """The ``.. code-block:: python`` blocks of a reST file, dedented, in order."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                block.append(lines[i][3:])
                i += 1
            blocks.append("\n".join(block).strip("\n"))
        else:
            i += 1
    return blocks


def test_python_blocks_are_found():
    blocks = python_blocks(DOCS / "tutorial.rst")
    assert len(blocks) >= 9 and all(blocks)
    assert any(re.search(r"least_squares\(", b) for b in blocks)


@pytest.mark.slow
def test_tutorial_runs_and_recovers_the_depth(tmp_path, monkeypatch):
    pytest.importorskip("batman")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "tutorial"}
    for number, block in enumerate(python_blocks(DOCS / "tutorial.rst"), 1):
        exec(compile(block, f"docs/tutorial.rst, python block {number}", "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    for png in ("frame.png", "shifts.png", "light_curves.png"):
        assert (tmp_path / png).stat().st_size > 0
    assert (tmp_path / "stage2.nc").is_file() and (tmp_path / "light_curves.nc").is_file()
    depth, error = namespace["depth"], namespace["depth_error"]
    assert 0 < error < 0.002
    assert abs(depth - 0.01) < 3 * error, (depth, error)
    kept = namespace["ds"].sizes["integration"]
    assert kept < 240 and int(namespace["ds"]["integration"][0]) > 1  # trimmed by time
    spectrum = namespace["spectrum"]
    assert spectrum.shape == (7, 2) and np.all(np.abs(spectrum[:, 0] - 0.01) < 4 * spectrum[:, 1])
