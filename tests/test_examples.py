"""Every example runs: the notebooks (executed with nbclient) and the out-of-core script."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


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


@pytest.mark.slow
def test_fit_white_light_notebook_executes(tmp_path):
    """Exported light curves are what a fitter needs.

    The notebook reduces two simulated exposures, exports them, fits the
    netCDF light curves with batman and asserts that the injected depths
    (white and per bin) and the mid-transit time are recovered within 3 sigma.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    try:
        import batman  # noqa: F401  (the examples extra: CI must have it)
    except ImportError:
        pytest.fail("batman is not installed: pip install -e '.[examples]' (make test does)")
    nb = nbformat.read(EXAMPLES / "fit_white_light.ipynb", as_version=4)
    # the kernel imports the xmiri under test, before any installed copy
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute(env=env)
    finally:
        nbformat.write(nb, tmp_path / "fit_white_light.ipynb")  # kept for inspection on failure
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "white depth" in text and "chi2 of the depths" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
