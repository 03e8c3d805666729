"""Every example runs: the notebook (executed with nbclient) and the out-of-core script."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_quickstart_notebook_executes(rateints_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    os.environ.setdefault("XMIRI_SHARED_DATA", str(SHARED_DATA))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 4


@pytest.mark.slow
def test_out_of_core_script(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "out_of_core.py"), "--integrations", "240", "--segments", "3",
         "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "white-light depth" in result.stdout
    depth = float(result.stdout.split("white-light depth ")[1].split("%")[0]) / 100
    assert abs(depth - 0.01) < 0.002
    assert len(list(tmp_path.glob("*_rateints.fits"))) == 3
