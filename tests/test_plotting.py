"""Diagnostic plots follow xarray's ``.plot()``: they draw on ``ax`` or pyplot's current
axes, return the artist, select integrations by label, and reject the wrong Dataset."""
import os

os.environ["MPLBACKEND"] = "Agg"  # headless: never a window (set before pyplot is imported)

import inspect  # noqa: E402
import warnings  # noqa: E402

import dask.array as da  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

import xmiri  # noqa: E402
from xmiri import plotting  # noqa: E402
from xmiri.plotting._bind import without_parameter  # noqa: E402
from xmiri.exceptions import MissingVariableError, ParameterError, XmiriWarning  # noqa: E402

FRAMES, SPEC, LC = 0, 1, 2
OUTLIER = 16  # xmiri.dq.FLAGS["OUTLIER"]


@pytest.fixture(scope="module")
def products():
    ds, _ = xmiri.simulate.simulate(12, seed=2, chunks=6)
    frames = ds.lrs.subtract().lrs.clean()
    spec = frames.lrs.extract().lrs.align()
    lc = spec.lrs.light_curves(wavelength_bins=4, clip_sigma=5, clip_window=5)
    return frames, spec.compute(), lc.compute()


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    plt.close("all")


def _artists(result):
    return result if isinstance(result, list) else [result]


def _axes_of(artist):
    return artist.lines[0].axes if isinstance(artist, ErrorbarContainer) else artist.axes


# name, which product, the class of what it returns (a list of that class when `listed`)
PLOTS = [
    ("frame", FRAMES, AxesImage, False),
    ("cleaned_pixels", FRAMES, AxesImage, False),
    ("spatial_profile", FRAMES, Line2D, True),
    ("waterfall", SPEC, QuadMesh, False),
    ("white_light_curve", LC, ErrorbarContainer, False),
    ("shifts", SPEC, Line2D, True),
]
SINGLE_AXES = [p for p in PLOTS if p[0] != "shifts"]


@pytest.mark.parametrize("name, source, artist_class, listed", PLOTS, ids=[p[0] for p in PLOTS])
def test_plot_returns_its_artist(products, name, source, artist_class, listed):
    result = getattr(products[source].lrs.plot, name)()
    if listed:
        assert isinstance(result, list) and result
        assert all(isinstance(a, artist_class) for a in result)
    else:
        assert isinstance(result, artist_class)


@pytest.mark.parametrize("name, source, artist_class, listed", SINGLE_AXES,
                         ids=[p[0] for p in SINGLE_AXES])
def test_plot_draws_on_pyplot_current_axes(products, name, source, artist_class, listed):
    fig = plt.figure()
    current = plt.gca()
    result = getattr(products[source].lrs.plot, name)()
    assert all(_axes_of(a) is current for a in _artists(result))
    assert current.has_data()
    assert plt.gcf() is fig and plt.get_fignums() == [fig.number]


@pytest.mark.parametrize("name, source, artist_class, listed", SINGLE_AXES,
                         ids=[p[0] for p in SINGLE_AXES])
def test_plot_creates_pyplot_axes_when_there_is_none(products, name, source, artist_class, listed):
    assert plt.get_fignums() == []
    result = getattr(products[source].lrs.plot, name)()
    assert plt.get_fignums() == [1]  # on pyplot's figure: shown inline in Jupyter, saved by savefig
    assert all(_axes_of(a) is plt.gca() for a in _artists(result))


@pytest.mark.parametrize("name, source, artist_class, listed", SINGLE_AXES,
                         ids=[p[0] for p in SINGLE_AXES])
def test_plot_draws_on_given_ax_without_pyplot(products, name, source, artist_class, listed):
    ax = Figure().add_subplot()
    result = getattr(products[source].lrs.plot, name)(ax=ax)
    assert all(_axes_of(a) is ax for a in _artists(result))
    assert plt.get_fignums() == []  # no pyplot figure when ax is given


@pytest.mark.parametrize("name, source", [(p[0], p[1]) for p in SINGLE_AXES],
                         ids=[p[0] for p in SINGLE_AXES])
def test_figsize_makes_a_new_figure_and_conflicts_with_ax(products, name, source):
    plot = getattr(products[source].lrs.plot, name)
    result = plot(figsize=(3, 2))
    assert tuple(_axes_of(_artists(result)[0]).figure.get_size_inches()) == (3, 2)
    with pytest.raises(ParameterError, match="figsize"):
        plot(ax=Figure().add_subplot(), figsize=(3, 2))


def test_plt_savefig_writes_the_plot(products, tmp_path):
    products[FRAMES].lrs.plot.frame(integration=3)
    plt.savefig(tmp_path / "frame.png")
    image = plt.imread(tmp_path / "frame.png")
    assert image.std() > 0.05  # not a blank page


def test_image_plots_add_a_colorbar_unless_asked_not_to(products):
    im = products[FRAMES].lrs.plot.frame(cbar_kwargs={"label": "rate"})
    assert im.colorbar is not None and im.colorbar.ax.get_ylabel() == "rate"
    plt.figure()
    assert products[SPEC].lrs.plot.waterfall(add_colorbar=False).colorbar is None


def test_keyword_arguments_reach_matplotlib(products):
    im = products[FRAMES].lrs.plot.frame(cmap="gray", vmin=-1, vmax=5)
    assert im.get_cmap().name == "gray" and im.get_clim() == (-1, 5)
    plt.figure()
    (line,) = products[FRAMES].lrs.plot.spatial_profile(color="red", lw=2)
    assert line.get_color() == "red" and line.get_linewidth() == 2
    plt.figure()
    container = products[LC].lrs.plot.white_light_curve(ms=7)
    assert container.lines[0].get_markersize() == 7


# --------------------------------------------------------------------------
# shifts: several panels, on the current figure (or fig= / axes=)


def test_shifts_draws_one_panel_per_variable_on_the_current_figure(products):
    fig = plt.figure()
    lines = products[SPEC].lrs.plot.shifts()
    assert len(lines) == 3 and all(line.figure is fig for line in lines)
    assert [line.axes.get_ylabel().split()[0] for line in lines] == ["x_shift", "y_shift", "psf_sigma"]
    assert len(fig.axes) == 3
    np.testing.assert_array_equal(lines[1].get_ydata(), products[SPEC]["y_shift"].values)


def test_shifts_starts_a_new_figure_when_the_current_one_is_used(products):
    plt.plot([0, 1])
    used = plt.gcf()
    lines = products[SPEC].lrs.plot.shifts()
    assert lines[0].figure is not used and len(plt.get_fignums()) == 2


def test_shifts_on_given_fig_or_axes(products):
    fig = Figure()
    lines = products[SPEC].lrs.plot.shifts(fig=fig)
    assert all(line.figure is fig for line in lines)
    axes = Figure().subplots(2, 1)
    lines = products[SPEC].lrs.plot.shifts(variables=["psf_sigma", "y_shift"], axes=axes)
    assert [line.axes for line in lines] == list(axes)
    assert plt.get_fignums() == []
    with pytest.raises(ParameterError, match="2 Axes for 3"):
        products[SPEC].lrs.plot.shifts(axes=axes)


def test_shifts_of_unaligned_spectra_needs_variables(products):
    unaligned = products[SPEC].drop_vars(["x_shift", "y_shift"])
    with pytest.raises(MissingVariableError, match=r"'x_shift' \(from ds.lrs.align\(\)\)"):
        unaligned.lrs.plot.shifts()
    assert plt.get_fignums() == []
    assert len(unaligned.lrs.plot.shifts(variables=["psf_sigma"])) == 1


# --------------------------------------------------------------------------
# integration selection: label (like .sel) or position (isel=, like .isel)


@pytest.mark.parametrize("name", ["frame", "spatial_profile"])
@pytest.mark.parametrize("how, expected_position", [
    ({}, 0), ({"integration": 3}, 2), ({"isel": 2}, 2), ({"isel": -1}, 11), ("positional", 4),
], ids=["default-first", "label-3", "isel-2", "isel-last", "positional-is-label-5"])
def test_integration_selection(products, name, how, expected_position):
    frames = products[FRAMES]
    plot = getattr(frames.lrs.plot, name)
    result = plot(5) if how == "positional" else plot(**how)
    label = int(frames["integration"][expected_position])
    ax = _axes_of(_artists(result)[0])
    assert f"integration {label}" in ax.get_title()
    if name == "frame":
        expected = frames["data"].sel(integration=label).values
        np.testing.assert_array_equal(result.get_array(), expected)


def test_label_selection_in_a_later_segment(products):
    later = products[FRAMES].assign_coords(integration=products[FRAMES]["integration"] + 1000)
    im = later.lrs.plot.frame(integration=1003)
    assert im.axes.get_title() == "integration 1003"
    np.testing.assert_array_equal(im.get_array(), products[FRAMES]["data"].isel(integration=2).values)
    with pytest.raises(plotting.IntegrationNotFoundError, match=r"integration=3 .*1001-1012"):
        later.lrs.plot.frame(integration=3)


@pytest.mark.parametrize("call", [
    lambda p: p.frame(integration=1847),
    lambda p: p.frame(0),  # a position before labels: integration numbers start at 1
    lambda p: p.spatial_profile(integration=13),
], ids=["frame-1847", "frame-positional-0", "spatial_profile-13"])
def test_missing_label_is_a_key_error_naming_the_range(products, call):
    with pytest.raises(plotting.IntegrationNotFoundError) as info:
        call(products[FRAMES].lrs.plot)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ParameterError)
    message = str(info.value)
    assert "1-12" in message and "isel=" in message
    assert plt.get_fignums() == []  # nothing drawn


@pytest.mark.parametrize("kwargs, match", [
    ({"isel": 12}, "isel=12 is out of range for 12"),
    ({"isel": -13}, "out of range"),
    ({"integration": 3, "isel": 2}, "not both"),
    ({"integration": 2.5}, "must be an integer"),
    ({"isel": True}, "must be an integer"),
], ids=["isel-past-end", "isel-before-start", "both", "float-label", "bool-position"])
def test_bad_selection_raises_parameter_error(products, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        products[FRAMES].lrs.plot.frame(**kwargs)


def test_single_frame_dataset(products):
    one = products[FRAMES].sel(integration=4)
    assert one.lrs.plot.frame().axes.get_title() == "integration 4"
    with pytest.raises(ParameterError, match="no 'integration' dimension"):
        one.lrs.plot.frame(integration=4)


def test_frame_marks_aperture_and_background(products):
    im = products[FRAMES].lrs.plot.frame(aperture=(36, 4, 4), background=((8, 17), (56, 72)))
    assert len(im.axes.lines) == 2 and len(im.axes.patches) == 2


# --------------------------------------------------------------------------
# the wrong Dataset: MissingVariableError naming plot, variable and producer, before drawing


@pytest.mark.parametrize("name, source, variable, producer", [
    ("frame", SPEC, "data", "xmiri.open_rateints()"),
    ("cleaned_pixels", LC, "dq", "xmiri.open_rateints()"),
    ("spatial_profile", SPEC, "profile", "ds.lrs.clean()"),
    ("waterfall", FRAMES, "flux", "ds.lrs.extract()"),
    ("white_light_curve", SPEC, "white_flux", "ds.lrs.light_curves()"),
    ("shifts", FRAMES, "x_shift", "ds.lrs.align()"),
], ids=lambda x: str(x))
def test_wrong_dataset_raises_missing_variable_error(products, name, source, variable, producer):
    with pytest.raises(MissingVariableError) as info:
        getattr(products[source].lrs.plot, name)()
    assert isinstance(info.value, KeyError) and isinstance(info.value, xmiri.XmiriError)
    assert str(info.value).startswith(f"{name} needs '{variable}' (from {producer}")
    assert plt.get_fignums() == []  # raised before any drawing


def test_waterfall_of_light_curves_raises(products):
    with pytest.raises(MissingVariableError, match=r"waterfall needs spectra.*\('integration', 'bin'\)"):
        products[LC].lrs.plot.waterfall()
    assert plt.get_fignums() == []


def test_waterfall_without_wavelengths_draws_rows(products, tmp_path):
    """A subarray without a wavelength solution opens with NaN wavelengths: the waterfall then
    runs along the rows (it drew an empty mesh, and `xmiri reduce --plots` failed on it)."""
    spec = products[SPEC]
    blind = spec.assign_coords(wavelength=spec["wavelength"] * np.nan)
    mesh = plotting.waterfall(blind, ax=Figure().add_subplot())
    assert mesh.axes.get_xlabel() == "row"
    assert mesh.get_array().shape == (spec.sizes["integration"], spec.sizes["row"])
    with pytest.raises(ParameterError, match=r"no row has a wavelength in "
                                             r"wavelength_range=\(20.0, 30.0\) micron; the spectra span"):
        plotting.waterfall(spec, ax=Figure().add_subplot(), wavelength_range=(20.0, 30.0))
    names = {p.name for p in plotting.save_all(blind, tmp_path, frames=products[FRAMES])}
    assert {"waterfall.png", "shifts.png", "frame.png"} <= names


def test_cleaned_pixels_of_uncleaned_frames_raises():
    raw, _ = xmiri.simulate.simulate(4, seed=3, chunks=2)
    with pytest.raises(MissingVariableError, match=r"needs frames from ds\.lrs\.clean\(\): .*never cleaned"):
        raw.lrs.plot.cleaned_pixels()
    assert plt.get_fignums() == []


def test_cleaned_pixels_warns_when_clean_replaced_nothing(products):
    frames = products[FRAMES]
    nothing = frames.assign(dq=frames["dq"] & np.asarray(~np.uint32(OUTLIER), frames["dq"].dtype))
    with pytest.warns(XmiriWarning, match="replaced no pixel"):
        im = nothing.lrs.plot.cleaned_pixels()
    assert im.get_array().mask.all()


def test_cleaned_pixels_counts_outlier_bits_over_integrations(products):
    frames = products[FRAMES]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        im = frames.lrs.plot.cleaned_pixels()
    expected = ((frames["dq"].values & OUTLIER) > 0).sum(axis=0)
    assert expected.sum() > 0
    np.testing.assert_array_equal(im.get_array().filled(0), expected)
    counts = xmiri.plotting.replaced_counts(frames)
    assert counts.dims == ("row", "col")
    np.testing.assert_array_equal(counts.values, expected)
    given = xmiri.plotting.cleaned_pixels(frames, counts=2 * counts.values, ax=im.axes)
    np.testing.assert_array_equal(given.get_array().filled(0), 2 * expected)  # from counts, not dq
    with pytest.raises(xmiri.exceptions.ParameterError, match=r"counts must have .*got \(72, 416\)"):
        xmiri.plotting.cleaned_pixels(frames, counts=expected.T, ax=im.axes)


# --------------------------------------------------------------------------
# lazy input: only what is drawn is computed


def test_frame_computes_only_the_frame_shown(products):
    frames = products[FRAMES]
    computed = []

    def record(block, block_info=None):
        computed.append(block_info[0]["chunk-location"][0])
        return block

    data = da.from_array(frames["data"].values, chunks=(1, -1, -1)).map_blocks(
        record, dtype=np.float32, meta=np.array((), dtype=np.float32))
    lazy = frames[["data"]].assign(data=(frames["data"].dims, data))
    lazy.lrs.plot.frame(integration=7)
    assert computed == [6]


# --------------------------------------------------------------------------
# save_all, the Plotter namespace, import hygiene


def test_save_all_writes_pngs_without_pyplot_figures(products, tmp_path):
    frames, spec, lc = products
    paths = plotting.save_all(spec, tmp_path, frames=frames, light_curves=lc)
    assert {p.name for p in paths} == {"frame.png", "cleaned_pixels.png", "spatial_profile.png",
                                       "waterfall.png", "shifts.png", "white_light_curve.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []  # nothing leaked into pyplot


def test_save_all_skips_shift_panels_of_unaligned_spectra(products, tmp_path):
    spec = products[SPEC].drop_vars(["x_shift", "y_shift"])
    paths = plotting.save_all(spec, tmp_path, light_curves=products[LC])
    assert {p.name for p in paths} == {"waterfall.png", "shifts.png", "white_light_curve.png"}


@pytest.mark.parametrize("name", ["frame", "cleaned_pixels", "spatial_profile", "waterfall",
                                  "white_light_curve", "shifts"])
def test_plotter_method_has_the_function_signature_and_docstring(products, name):
    func, method = getattr(plotting, name), getattr(products[FRAMES].lrs.plot, name)
    assert list(inspect.signature(method).parameters) == list(inspect.signature(func).parameters)[1:]
    first = list(inspect.signature(func).parameters)[0]  # its entry is left out of the method's doc
    assert inspect.getdoc(method) == without_parameter(inspect.cleandoc(func.__doc__), first)
    assert "Returns" in func.__doc__


def test_numerical_modules_do_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys, xmiri; ds, _ = xmiri.simulate.simulate(2); "
            "ds.lrs.clean().lrs.subtract().lrs.extract().lrs.align().compute(); "
            "import xmiri.plotting; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
