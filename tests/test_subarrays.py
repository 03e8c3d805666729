"""Every LRS slitless subarray: geometry from the file, wavelengths never borrowed.

SLITLESSPRISM_IP and _IPS frames are SLITLESSPRISM frames of the same star,
cut the way those subarrays see it (:func:`xmiri.simulate.simulate` with
``subarray=``: their pixels, their ``SUBSTRT`` and the star at their SIAF
reference point), so the reductions must agree on the rows they share.
"""
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

import xmiri
from xmiri import defaults
from xmiri.cli import run_chain
from xmiri.config import load_config, placed
from xmiri.simulate import simulate, write_segments
from xmiri.simulate.exposure import subarray_offset
from tests.conftest import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning")

CUT = ["SLITLESSPRISM_IP", "SLITLESSPRISM_IPS"]
N_INT = 12


def _frames(name, n=N_INT, **kwargs):
    return simulate(n, seed=3, subarray=name, **kwargs)


def _wavelength_file(path, wmap):
    """A calints-like file holding only a WAVELENGTH image, as jwst's assign_wcs writes it."""
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.asarray(wmap, np.float32),
                                                   name="WAVELENGTH")]).writeto(path)
    return path


# --------------------------------------------------------------------------
# geometry


def test_slitlessprism_geometry_is_the_constants():
    ds, _ = simulate(2, seed=1)
    geo = defaults.geometry(ds)
    assert geo.source == "defaults"
    assert (geo.aperture_center, geo.background_left, geo.background_right, geo.profile_columns,
            geo.trace_rows, geo.trace_columns) == (
        defaults.APERTURE_CENTER, defaults.BACKGROUND_LEFT, defaults.BACKGROUND_RIGHT,
        defaults.PROFILE_COLUMNS, defaults.TRACE_ROWS, defaults.TRACE_COLUMNS)
    # a Dataset that names no subarray is SLITLESSPRISM, as before subarrays were read
    assert defaults.geometry(xr.Dataset()).source == "defaults"


@pytest.mark.parametrize("name", CUT, ids=str)
def test_geometry_follows_the_star(name):
    """The subarray's geometry puts the aperture on the simulated trace, and ranges fit the frame."""
    ds, truth = _frames(name, n=2)
    assert (ds.sizes["row"], ds.sizes["col"]) == defaults.SUBARRAYS[name].size
    geo = defaults.geometry(ds)
    assert geo.source == "SIAF" and geo.subarray == name
    r0, c0 = subarray_offset(name)
    # the same star pixels as SLITLESSPRISM's defaults, moved by the cut
    assert geo.aperture_center == defaults.APERTURE_CENTER - c0
    assert abs(float(truth.trace_center.mean()) - geo.aperture_center) < 0.5
    assert geo.trace_rows == (defaults.TRACE_ROWS[0] - r0, defaults.TRACE_ROWS[1] - r0)
    assert geo.background_right[1] <= ds.sizes["col"] and geo.background_left[0] >= 0


def test_explicit_values_win_and_none_resolves():
    ds, _ = _frames("SLITLESSPRISM_IP", n=2)
    assert defaults.resolve(ds, aperture_center=None, bkg_col_left_start=3) == (32, 3)
    assert defaults.resolve(ds, trace_rows=None) == (190, 380)


def test_unknown_subarray_is_located_in_the_data():
    ds, truth = simulate(4, seed=2)
    ds = ds.assign_attrs(SUBARRAY="GENERIC")
    with pytest.warns(xmiri.SubarrayGeometryWarning) as caught:
        geo = defaults.geometry(ds)
    assert geo.source == "data" and caught[0].message.subarray == "GENERIC"
    assert geo.aperture_center == round(float(truth.trace_center.mean()))
    assert caught[0].message.aperture_center == geo.aperture_center
    # and the steps run on it without hand-set geometry
    with pytest.warns(xmiri.SubarrayGeometryWarning):
        spec = ds.lrs.subtract().lrs.extract()
    assert np.isfinite(spec.flux.sel(row=slice(200, 380)).values).all()


# --------------------------------------------------------------------------
# wavelengths


@pytest.mark.parametrize("name", CUT, ids=str)
def test_no_borrowed_wavelengths(tmp_path, name):
    """Without a wavelength source, another subarray is refused, never given SLITLESSPRISM's map."""
    ds, _ = _frames(name, n=2)
    path = write_segments(ds, tmp_path)[0]
    with pytest.warns(xmiri.NoWavelengthWarning, match=name) as caught:
        opened = xmiri.open_rateints(path)  # every subarray opens ...
    assert not [w for w in caught if issubclass(w.category, xmiri.PackagedWavelengthWarning)]
    missing = [w.message for w in caught if issubclass(w.category, xmiri.NoWavelengthWarning)]
    assert len(missing) == 1 and missing[0].subarray == name and "wavelength=" in missing[0].reason
    assert np.isnan(opened.wavelength.values).all()  # ... but never with SLITLESSPRISM's solution
    from xmiri.io.wavelength import resolve_wavelength

    with pytest.raises(xmiri.WavelengthUnavailableError, match=name):
        resolve_wavelength(opened.wavelength.shape, primary=opened.attrs, on_missing="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error", xmiri.PackagedWavelengthWarning)
        bare = xmiri.open_rateints(path, wavelength=False)
    assert bare.attrs["SUBARRAY"] == name and np.isnan(bare.wavelength.values).all()
    assert bare.attrs["SUBSTRT1"] == defaults.SUBARRAYS[name].corner[1]


def test_packaged_solution_through_substrt():
    """A subarray whose star sits where SLITLESSPRISM's does gets the solution moved by SUBSTRT."""
    from xmiri.io.wavelength import resolve_wavelength

    full = xmiri.default_wavelength_map()
    sub = {"SUBARRAY": "SLITLESSPRISM", "SUBSTRT1": 5, "SUBSTRT2": 629}  # rows 100.., cols 4..
    with pytest.warns(xmiri.PackagedWavelengthWarning) as caught:
        wmap, attrs = resolve_wavelength((200, 60), subarray=sub)
    np.testing.assert_array_equal(wmap, full[100:300, 4:64])
    assert attrs["calibration_offset"] == "100 4" and caught[0].message.subarray == "SLITLESSPRISM"
    with pytest.raises(xmiri.WavelengthUnavailableError, match="SLITLESSPRISM_IP"):
        resolve_wavelength((384, 68), subarray={"SUBARRAY": "SLITLESSPRISM_IP", "SUBSTRT1": 13,
                                                "SUBSTRT2": 631}, on_missing="raise")
    with pytest.raises(xmiri.WavelengthUnavailableError, match="no SUBARRAY"):
        # frames that name no subarray and are not SLITLESSPRISM's shape
        resolve_wavelength((384, 68), on_missing="raise")


def test_fixed_slit_is_still_refused(tmp_path):
    ds, _ = simulate(2, seed=1)
    path = write_segments(ds.assign_attrs(EXP_TYPE="MIR_LRS-FIXEDSLIT", SUBARRAY="SUBSLIT"),
                          tmp_path)[0]
    with pytest.raises(xmiri.UnsupportedModeError, match="MIR_LRS-FIXEDSLIT"):
        xmiri.open_rateints(path)


# --------------------------------------------------------------------------
# end to end


#: The scene of each comparison: the IP subarray sees SLITLESSPRISM's sky columns (the same
#: detector pixels relative to the star), so its noisy frames must reduce to the same spectra;
#: the 52-column IPS subarray keeps only 5 + 8 of SLITLESSPRISM's 9 + 16 sky columns, whose
#: noisier sky differs by up to 15 % of a faint row, so it is compared on noiseless frames.
SCENES = {"SLITLESSPRISM_IP": {}, "SLITLESSPRISM_IPS": {"noise": False}}
def _reduce(folder, name, wmap, overrides=None, preset="recommended", scene=None):
    """Frames of `name` (`scene`: simulate's keywords, default ``SCENES``) written as segments,
    opened with a matching calints map, reduced."""
    ds, _ = _frames(name, **(SCENES.get(name, {}) if scene is None else scene))
    r0, c0 = subarray_offset(name)
    n_rows, n_cols = ds.sizes["row"], ds.sizes["col"]
    paths = write_segments(ds, folder, n_segments=2)
    calints = _wavelength_file(folder / "w_calints.fits", wmap[r0:r0 + n_rows, c0:c0 + n_cols])
    opened = xmiri.open_rateints(paths, wavelength=calints)
    assert opened.attrs["SUBARRAY"] == name
    config = {**load_config(None, preset), **(overrides or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("error", xmiri.SubarrayGeometryWarning)  # known: nothing guessed
        _, spec = run_chain(opened, config)
    windows = defaults.anchored_windows(opened, defaults.WINDOW_HEIGHTS, defaults.POLY_ORDER + 1)
    return spec.compute().assign_attrs(last_window=sum(windows[:-1]))


def _compare(spec, reference, name, rtol):
    r0, _ = subarray_offset(name)
    common = reference.isel(row=slice(r0, r0 + spec.sizes["row"])).assign_coords(row=spec.row.values)
    np.testing.assert_allclose(spec.wavelength.values, common.wavelength.values, atol=0.01)
    np.testing.assert_allclose(spec.x_shift.values, common.x_shift.values, atol=0.005)
    # align re-samples the spectra at these shifts: on the steepest rows 0.01 px is ~1 % of flux
    np.testing.assert_allclose(spec.y_shift.values, common.y_shift.values, atol=0.005)
    typical = common.flux.median("integration")
    rows = (typical > 0.05 * float(typical.max())).values & np.isfinite(common.wavelength.values)
    assert rows.sum() > 150
    # clean's last window is cut short by the subarray's edge, so a pixel it replaces there
    # (a hot pixel) comes from another fit: those rows agree to 5 %, the others to rtol
    same = spec.row.values < spec.attrs["last_window"]
    ratio = (spec.flux / common.flux).values
    assert np.nanmax(np.abs(ratio[:, rows & same] - 1)) < rtol
    assert np.nanmax(np.abs(ratio[:, rows & ~same] - 1)) < 0.05


@pytest.fixture(scope="module")
def references(tmp_path_factory, calints_path):
    """SLITLESSPRISM frames of each scene reduced the same way, wavelengths from the calints map."""
    wmap = fits.getdata(calints_path, "WAVELENGTH")
    out = {}
    for name in CUT:
        folder = tmp_path_factory.mktemp("slitlessprism")
        out[name] = _reduce(folder, "SLITLESSPRISM", wmap) if not SCENES[name] else None
        if SCENES[name]:
            ds, _ = _frames("SLITLESSPRISM", **SCENES[name])
            paths = write_segments(ds, folder, n_segments=2)
            opened = xmiri.open_rateints(paths, wavelength=_wavelength_file(folder / "w.fits", wmap))
            out[name] = run_chain(opened, load_config(None, "recommended"))[1].compute()
    return out, wmap


@pytest.mark.parametrize("name", CUT, ids=str)
def test_recommended_chain_agrees_with_slitlessprism(tmp_path, references, name):
    """Same star, no hand-set geometry, align re-sampling the spectra: same spectra on the rows
    in common (1 %), same wavelengths (0.01 um, from the matching calints map), same shifts."""
    reference, wmap = references
    spec = _reduce(tmp_path, name, wmap)
    _compare(spec, reference[name], name, rtol=0.01)


@pytest.mark.parametrize("name", CUT, ids=str)
def test_published_chain_moves_with_the_star(tmp_path_factory, calints_path, name):
    """exotic-miri-pipeline's columns are SLITLESSPRISM's (sky 12-22 and 50-68, a box at 36;
    ``[open] positions``): on another subarray they move with the star, so the same star gives
    the same spectra.  Read as the file's own columns, IP's box sat 4 columns off the trace
    (white flux -27 %) and IPS refused its sky columns."""
    wmap = fits.getdata(calints_path, "WAVELENGTH")
    # the preset replaces DO_NOT_USE pixels only: no HOT pixels to outshine the trace
    scene = {**SCENES[name], "n_hot_pixels": 0}
    reference, spec = (_reduce(tmp_path_factory.mktemp(sub), sub, wmap, scene=scene,
                               preset="exotic-miri-pipeline") for sub in ("SLITLESSPRISM", name))
    _, c0 = subarray_offset(name)
    assert f"aperture_center={36 - c0}," in spec.attrs["history"]
    # IPS's 52 columns keep SLITLESSPRISM's columns 12-22 and 50-63 of the sky
    right = (50 - c0, min(68 - c0, defaults.SUBARRAYS[name].size[1]))
    assert f"bkg_col_left_start={12 - c0}, bkg_col_left_end={22 - c0}, " \
           f"bkg_col_right_start={right[0]}, bkg_col_right_end={right[1]}" in spec.attrs["history"]
    _compare(spec, reference, name, rtol=0.01)


def test_positions_of_a_config_file(tmp_path):
    """A config file's positions are the file's own pixels unless it says SLITLESSPRISM."""
    ds, _ = _frames("SLITLESSPRISM_IP", n=2)
    config = load_config(None, "exotic-miri-pipeline")
    assert config["open"]["positions"] == "SLITLESSPRISM"
    assert placed(config, ds)["extract"]["aperture_center"] == 32
    own = {**config, "open": {**config["open"], "positions": "file"}}
    assert placed(own, ds)["extract"]["aperture_center"] == 36
    assert placed(config, ds)["clean"] == config["clean"]  # unset positions resolve in the steps
    assert config["extract"]["aperture_center"] == 36  # not modified
    with pytest.raises(xmiri.ParameterError, match=r"\[open\] positions must be one of "
                                                   r"'file', 'SLITLESSPRISM', got 'detector'"):
        placed({**config, "open": {"positions": "detector"}}, ds)
    # a range that leaves the frame once moved is refused, naming its section and both places
    wide = {**config, "subtract": {**config["subtract"], "bkg_col_right_start": 66}}
    ips, _ = _frames("SLITLESSPRISM_IPS", n=2)
    with pytest.raises(xmiri.ParameterError, match=r"\[subtract\] bkg_col_right_start=66, "
                                                   r"bkg_col_right_end=68 in SLITLESSPRISM pixels "
                                                   r"hold no column of SLITLESSPRISM_IPS"):
        placed(wide, ips)
    toml = tmp_path / "reduce.toml"
    toml.write_text('[open]\npositions = "SLITLESSPRISM"\n[extract]\naperture_center = 40\n')
    assert placed(load_config(toml), ds)["extract"]["aperture_center"] == 36


def test_command_line_takes_the_wavelengths_of_another_subarray(tmp_path, calints_path):
    """`xmiri reduce --wavelength` (and info): an IP exposure, which the packaged solution does not
    serve, gets its calints file's wavelengths, hence light curves; a file that does not fit, or
    none at all, is refused naming the option."""
    ds, _ = _frames("SLITLESSPRISM_IP", n=6)
    paths = write_segments(ds, tmp_path)
    r0, c0 = subarray_offset("SLITLESSPRISM_IP")
    wmap = fits.getdata(calints_path, "WAVELENGTH")[r0:r0 + 384, c0:c0 + 68]
    calints = _wavelength_file(tmp_path / "ip_calints.fits", wmap)
    out, lc = tmp_path / "s.nc", tmp_path / "lc.nc"
    result = run_cli("reduce", *paths, "-o", out, "--light-curves", lc, "--wavelength", calints)
    assert result.returncode == 0, result.stderr
    assert "no wavelength" not in result.stderr
    with xr.open_dataset(out) as spec, xr.open_dataset(lc) as curves:
        np.testing.assert_allclose(spec["wavelength"].values, np.nanmedian(wmap, axis=1), atol=0.01)
        assert np.isfinite(curves["white_flux"].values).all()
    info = run_cli("info", paths[0], "--wavelength", calints)
    assert info.returncode == 0 and "WAVELENGTH extension of ip_calints.fits" in info.stdout
    without = run_cli("info", paths[0])
    assert "--wavelength FILE" in without.stdout  # the way out, for command-line users
    for bad, message in ((calints_path, "got shape (416, 72)"), (tmp_path / "no.fits", "file not found")):
        result = run_cli("reduce", *paths, "-o", tmp_path / "x.nc", "--wavelength", bad)
        assert result.returncode == 1 and f"--wavelength {bad}: " in result.stderr
        assert message in result.stderr


def test_printed_published_chain_moves_with_the_star(tmp_path):
    """`xmiri config --preset exotic-miri-pipeline` saved and run with --config on IP frames
    (under the recommended preset) places the box and sky as the preset itself does."""
    ds, _ = _frames("SLITLESSPRISM_IP", n=2)
    paths = write_segments(ds, tmp_path)
    printed = run_cli("config", "--preset", "exotic-miri-pipeline")
    assert printed.returncode == 0 and 'positions = "SLITLESSPRISM"' in printed.stdout
    (tmp_path / "reduce.toml").write_text(printed.stdout)
    histories = []
    for how in (["--config", tmp_path / "reduce.toml"], ["--preset", "exotic-miri-pipeline"]):
        out = tmp_path / f"{how[0][2:]}.nc"
        result = run_cli("reduce", *paths, "-o", out, *how)
        assert result.returncode == 0, result.stderr
        with xr.open_dataset(out) as spec:
            histories.append([line.split(": ", 1)[1] for line in spec.attrs["history"].splitlines()
                              if "open_rateints" not in line])
    assert histories[0] == histories[1]
    assert any(line.startswith("extract(method='box', trace_position='constant', "
                               "aperture_center=32,") for line in histories[0])


@pytest.mark.parametrize("name", ["SLITLESSPRISM", *CUT], ids=str)
def test_slitlessprism_defaults_moved_are_the_subarrays_geometry(name):
    """from_slitlessprism moves positions as geometry() moves SLITLESSPRISM's defaults."""
    ds, _ = _frames(name, n=2)
    geo = defaults.geometry(ds)
    sp = defaults.geometry(xr.Dataset())
    moved = defaults.from_slitlessprism(ds, **{k: _plain(read(sp))
                                              for k, read in defaults.GEOMETRY_KEYWORDS.items()})
    assert moved == {k: _plain(read(geo)) for k, read in defaults.GEOMETRY_KEYWORDS.items()}


def test_from_slitlessprism_on_a_located_trace():
    """An unknown subarray moves columns by its located trace and cannot move trace rows."""
    ds, truth = simulate(4, seed=2, x_offset=np.full(4, -5.0))
    ds = ds.assign_attrs(SUBARRAY="GENERIC")
    with pytest.warns(xmiri.SubarrayGeometryWarning):
        moved = defaults.from_slitlessprism(ds, aperture_center=36, trace_cols=[12, 68])
    assert moved == {"aperture_center": 31, "trace_cols": [7, 63]}
    assert abs(float(truth.trace_center.mean()) - 31) < 0.5
    with pytest.warns(xmiri.SubarrayGeometryWarning), \
            pytest.raises(xmiri.ParameterError, match="trace_rows=.200, 390. in SLITLESSPRISM "
                                                      "pixels cannot be moved"):
        defaults.from_slitlessprism(ds, trace_rows=[200, 390])
    with pytest.raises(xmiri.ParameterError, match="unknown keyword.*'aperture_width'"):
        defaults.from_slitlessprism(ds, aperture_width=3)


@pytest.mark.parametrize("keywords, message", [
    ({"aperture_center": "36"}, "aperture_center must be a number (SLITLESSPRISM pixels), got '36'"),
    ({"aperture_center": True}, "aperture_center must be a number"),
    ({"bkg_col_left_start": float("nan")}, "bkg_col_left_start must be a number"),
    ({"trace_cols": 12}, "trace_cols must be a pair of numbers"),
    ({"trace_rows": [1, 2, 3]}, "trace_rows must be a pair of numbers"),
    ({"aperture_center": 90}, "aperture_center=90 in SLITLESSPRISM pixels is column 86 of "
                              "SLITLESSPRISM_IP (384 x 68 pixels), outside the frame"),
    ({"trace_cols": [75, 80]}, "trace_cols=.75, 80. in SLITLESSPRISM pixels falls outside"),
], ids=["string", "bool", "nan", "scalar-pair", "triple", "centre-outside", "range-outside"])
def test_from_slitlessprism_refuses_what_it_cannot_move(keywords, message):
    ds, _ = _frames("SLITLESSPRISM_IP", n=2)
    with pytest.raises(xmiri.ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        defaults.from_slitlessprism(ds, **keywords)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def test_step_pages_quote_every_subarrays_defaults():
    """docs/subtract, extract and clean.rst give each subarray's default positions, as geometry()
    makes them (a copied SLITLESSPRISM number would be wrong on the IP subarrays)."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = {page: " ".join((docs / f"{page}.rst").read_text().split())
            for page in ("subtract", "extract", "clean")}
    for name, sub in defaults.SUBARRAYS.items():
        frame = xr.Dataset(coords={"row": range(sub.size[0]), "col": range(sub.size[1])},
                           attrs={"SUBARRAY": name, "SUBSTRT2": sub.corner[0], "SUBSTRT1": sub.corner[1]})
        g = defaults.geometry(frame)
        pair = "{} {}, {}".format
        assert pair(name, *g.background_left) in text["subtract"]
        assert pair(name, *g.background_right) in text["subtract"]
        assert f"{name} {g.aperture_center}" in text["extract"]
        assert f"{name} {g.trace_rows}, {g.trace_columns}" in text["extract"]
        assert pair(name, *g.profile_columns) in text["clean"]
        assert f"{name} {g.aperture_center}" in text["clean"]


# --------------------------------------------------------------------------
# what the user sees


@pytest.mark.parametrize("name", ["SLITLESSPRISM", *CUT], ids=str)
def test_frame_plot_draws_the_subarrays_aperture_and_sky(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds, _ = _frames(name, n=1)
    geo = defaults.geometry(ds)
    fig, ax = plt.subplots()
    try:
        im = ds.lrs.plot.frame(ax=ax)
        edges = sorted(line.get_xdata()[0] for line in im.axes.lines)
        assert edges == [geo.aperture_center - 4.5, geo.aperture_center + 4.5]
        spans = sorted((round(p.get_x() + 0.5), round(p.get_x() + p.get_width() + 0.5))
                       for p in im.axes.patches)
        assert spans == [geo.background_left, geo.background_right]
    finally:
        plt.close(fig)


def test_info_reports_the_subarray(tmp_path):
    from tests.conftest import run_cli

    ds, _ = _frames("SLITLESSPRISM_IP", n=2)
    path = write_segments(ds, tmp_path)[0]
    result = run_cli("info", path)
    assert result.returncode == 0, result.stderr
    assert "subarray    SLITLESSPRISM_IP (SUBSTRT1=13, SUBSTRT2=631); aperture centre column 32" \
        in result.stdout
    assert "wavelength  none: " in result.stdout and "wavelength=" in result.stdout


@pytest.mark.slow
def test_demo_on_the_ip_subarray(tmp_path):
    from tests.conftest import run_cli

    result = run_cli("demo", "--output-dir", tmp_path, "--integrations", 40,
                     "--subarray", "SLITLESSPRISM_IP")
    assert result.returncode == 0, result.stderr
    assert "(SLITLESSPRISM_IP)" in result.stdout and "transit depth" in result.stdout
    assert "PackagedWavelengthWarning" not in result.stderr and "packaged" not in result.stderr
    with xr.open_dataset(tmp_path / "demo_stage2.nc") as spec:
        assert spec.attrs["SUBARRAY"] == "SLITLESSPRISM_IP" and spec.sizes["row"] == 384


def test_datamodel_of_the_ip_subarray():
    """from_datamodel reads the subarray from meta.subarray, as open_rateints from the header."""
    from stdatamodels.jwst import datamodels

    ds, _ = _frames("SLITLESSPRISM_IP", n=2)
    model = datamodels.CubeModel(data=ds.data.values, err=ds.err.values, dq=ds.dq.values)
    model.meta.instrument.name, model.meta.exposure.type = "MIRI", "MIR_LRS-SLITLESS"
    model.meta.subarray.name = "SLITLESSPRISM_IP"
    model.meta.subarray.xstart, model.meta.subarray.ystart = 13, 631
    model.meta.subarray.xsize, model.meta.subarray.ysize = 68, 384
    with pytest.warns(xmiri.NoWavelengthWarning):
        opened = xmiri.from_datamodel(model)
    assert (opened.attrs["SUBARRAY"], opened.attrs["SUBSTRT1"], opened.attrs["SUBSTRT2"]) == (
        "SLITLESSPRISM_IP", 13, 631)
    assert defaults.geometry(opened) == defaults.geometry(ds)
    withmap = xmiri.from_datamodel(model, wavelength=ds.wavelength)
    assert withmap.wavelength.attrs["subarray"].startswith("SLITLESSPRISM_IP SUBSTRT1=13")
