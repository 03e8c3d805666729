"""Every ``ds.lrs.plot`` call shows its figure inline in Jupyter.

A notebook whose plot cells end with the plot call, as a user writes them
(no ``ax.figure``, no ``plt.show()``, no ``%matplotlib inline``), is executed
in a real IPython kernel with nbclient; every plot cell must have produced
an ``image/png`` output.
"""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SETUP = f"""\
import sys
sys.path.insert(0, {str(REPO)!r})  # the xmiri under test, before any installed copy
import xmiri
print(xmiri.__file__)
print(sys.executable)
"""

CHAIN = """\
ds, _ = xmiri.simulate.simulate(12, seed=2, chunks=6)
frames = ds.lrs.subtract().lrs.clean()
spec = frames.lrs.extract().lrs.align().compute()
lc = spec.lrs.light_curves(wavelength_bins=4).compute()
"""

PLOT_CELLS = {
    "frame": "frames.lrs.plot.frame(integration=3)",
    "cleaned_pixels": "frames.lrs.plot.cleaned_pixels()",
    "spatial_profile": "frames.lrs.plot.spatial_profile()",
    "waterfall": "spec.lrs.plot.waterfall()",
    "white_light_curve": "lc.lrs.plot.white_light_curve()",
    "shifts": "spec.lrs.plot.shifts()",
}


def output_types(cell):
    """``['execute_result:text/plain', 'display_data:image/png', ...]``: one entry per MIME type."""
    types = []
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            types.append(f"stream:{out['name']}")
        elif kind == "error":
            types.append(f"error:{out['ename']}")
        else:
            types.extend(f"{kind}:{mime}" for mime in out.get("data", {}))
    return types


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(CHAIN)]
    cells += [nbformat.v4.new_code_cell(source, metadata={"plot": name})
              for name, source in PLOT_CELLS.items()]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    workdir = tmp_path_factory.mktemp("notebook")
    # The kernel runs this interpreter ("python" in the python3 kernelspec is
    # sys.executable) with the repository on its path, and the backend a user
    # gets in Jupyter: no MPLBACKEND (tests set it to Agg), so ipykernel's inline.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)
    nbformat.write(nb, workdir / "plots.ipynb")  # kept for inspection on failure
    return nb


@pytest.mark.slow
def test_kernel_uses_the_package_under_test(executed):
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs if o["output_type"] == "stream")
    package, interpreter = printed.split()
    assert Path(package).resolve() == (REPO / "xmiri" / "__init__.py").resolve()
    assert Path(interpreter) == Path(sys.executable)


@pytest.mark.slow
def test_every_plot_cell_shows_an_inline_png(executed):
    report = {cell.metadata["plot"]: output_types(cell) for cell in executed.cells
              if "plot" in cell.metadata}
    print("\noutput types per plot cell:")
    for name, types in report.items():
        print(f"  {name:18s} {types}")
    errors = {name: types for name, types in report.items()
              if any(t.startswith("error:") for t in types)}
    assert not errors, f"plot cells raised: {errors}"
    without_image = [name for name, types in report.items() if "display_data:image/png" not in types]
    assert not without_image, f"no inline image/png from {without_image}: {report}"
    # one figure per cell: each plot draws on the cell's (new) current figure
    assert all(types.count("display_data:image/png") == 1 for types in report.values()), report
