"""Diagnostic plots: every one draws headless, returns its Axes/Figure, never opens a window."""
import matplotlib
import pytest

import xmiri
from xmiri import plotting


@pytest.fixture(scope="module")
def products():
    ds, _ = xmiri.simulate.simulate(12, seed=2, chunks=6)
    frames = ds.lrs.subtract().lrs.clean()
    spec = frames.lrs.extract().lrs.align()
    lc = spec.lrs.light_curves(wavelength_bins=4, clip_sigma=5, clip_window=5)
    return frames, spec.compute(), lc.compute()


@pytest.mark.parametrize("name, source", [
    ("frame", 0), ("cleaned_pixels", 0), ("spatial_profile", 0),
    ("waterfall", 1), ("white_light_curve", 2), ("shifts", 1),
], ids=lambda x: str(x))
def test_plot_returns_artist_without_pyplot(products, name, source):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    obj = getattr(products[source].lrs.plot, name)()
    fig = getattr(obj, "figure", obj)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert plt.get_fignums() == before  # no pyplot figure (so no window, nothing to close)
    assert fig.axes and any(ax.has_data() for ax in fig.axes)


def test_frame_marks_aperture_and_background(products):
    ax = products[0].lrs.plot.frame(0, aperture=(36, 4, 4), background=((8, 17), (56, 72)))
    assert len(ax.lines) == 2 and len(ax.patches) == 2


def test_save_all_writes_pngs(products, tmp_path):
    frames, spec, lc = products
    paths = plotting.save_all(spec, tmp_path, frames=frames, light_curves=lc)
    assert {p.name for p in paths} == {"frame.png", "cleaned_pixels.png", "spatial_profile.png",
                                       "waterfall.png", "shifts.png", "white_light_curve.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_numerical_modules_do_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys, xmiri; ds, _ = xmiri.simulate.simulate(2); "
            "ds.lrs.clean().lrs.subtract().lrs.extract().lrs.align().compute(); "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
