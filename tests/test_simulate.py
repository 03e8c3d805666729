"""Tests of xmiri.simulate: layout, determinism, noise, truth and the FITS writer."""
import os
import time

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xmiri
import xmiri.simulate as simmod
from xmiri.exceptions import OutputExistsError, ParameterError, XmiriError
from xmiri.simulate import HOT, TFRAME, simulate, write_segments

N = 12
PLANES = ("data", "err", "dq", "var_poisson", "var_rnoise")
DTYPES = {"data": np.float32, "err": np.float32, "dq": np.uint32,
          "var_poisson": np.float32, "var_rnoise": np.float32}
QUIET = dict(n_cosmic_rays=0, n_hot_pixels=0)            # no outliers
STAR_ONLY = dict(QUIET, noise=False, background=0.0, background_gradient=(0.0, 0.0))


@pytest.fixture(scope="module")
def noisy():
    return simulate(N, seed=5)


@pytest.fixture(scope="module")
def noiseless():
    return simulate(N, seed=5, noise=False)


@pytest.fixture(scope="module")
def noiseless_no_hits():
    return simulate(N, seed=5, noise=False, n_cosmic_rays=0)


def _not_computed():
    """A dask scheduler that fails the test if anything is computed."""
    def scheduler(*args, **kwargs):
        raise AssertionError("dask computed something that should have stayed lazy")
    return dask.config.set(scheduler=scheduler)


# --------------------------------------------------------------------------- layout
@pytest.mark.parametrize("name", PLANES, ids=PLANES)
def test_plane_layout(noisy, name):
    ds, _ = noisy
    var = ds[name]
    assert var.dims == ("integration", "row", "col")
    assert var.shape == (N, 416, 72)
    assert var.dtype == DTYPES[name]
    assert isinstance(var.data, np.ndarray)
    assert var.attrs["fits_extension"] and var.attrs["long_name"]
    if name == "dq":
        assert HOT in var.attrs["flag_masks"] and "HOT" in var.attrs["flag_meanings"].split()
    else:
        assert var.attrs["units"] == ("DN/s" if name in ("data", "err") else "(DN/s)^2")
    assert np.all(np.isfinite(var.values))


def test_coords_and_attrs(noisy):
    ds, truth = noisy
    np.testing.assert_array_equal(ds.integration, np.arange(1, N + 1))
    assert ds.integration.dtype.kind == "i" and ds.row.dtype.kind == "i" and ds.col.dtype.kind == "i"
    np.testing.assert_array_equal(ds.row, np.arange(416))
    np.testing.assert_array_equal(ds.col, np.arange(72))
    assert ds.time.dtype == np.float64 and ds.time.dims == ("integration",)
    cadence = ds.attrs["EFFINTTM"] + TFRAME
    np.testing.assert_allclose(np.diff(ds.time.values) * 86400.0, cadence, atol=1e-4)
    assert ds.time.values[0] == pytest.approx(2459810.0 + 0.5 * 47.712 / 86400.0, abs=1e-9)
    wl = ds.wavelength
    assert wl.dims == ("row", "col") and wl.dtype == np.float64
    assert wl.attrs["units"] == "micron" and wl.attrs["source"]
    np.testing.assert_array_equal(wl.values, xr.DataArray(simmod.default_wavelength_map()).values)
    expected = {"TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE",
                "EXP_TYPE": "MIR_LRS-SLITLESS", "SUBARRAY": "SLITLESSPRISM", "FILTER": "P750L",
                "NINTS": N, "EFFINTTM": 47.712, "TARGNAME": "xmiri simulation"}
    for key, value in expected.items():
        assert ds.attrs[key] == value, key
    assert isinstance(ds.attrs["history"], str)
    for attrs in (ds.attrs, truth.attrs):
        bad = {k: type(v) for k, v in attrs.items() if type(v) not in (str, int, float)}
        assert not bad


def test_time_attrs_say_full_julian_dates_as_the_reader_does(tmp_path):
    """Simulated times are BJD_TDB Julian dates (offset 0), the attributes the reader gives
    the same values read back from the written segments."""
    ds, _ = simulate(4, seed=1)
    assert ds.time.values[0] > 2.4e6 and ds.time.attrs["julian_date_offset"] == 0.0
    back = xmiri.open_rateints(write_segments(ds, tmp_path, n_segments=1))
    np.testing.assert_allclose(back.time.values, ds.time.values, rtol=0, atol=1e-8)
    assert back.time.attrs["julian_date_offset"] == ds.time.attrs["julian_date_offset"]
    assert back.time.attrs["time_scale"] == ds.time.attrs["time_scale"] == "TDB"


def test_netcdf_round_trip(noisy, tmp_path):
    ds, truth = noisy
    for obj, name in ((ds, "ds.nc"), (truth, "truth.nc")):
        obj.to_netcdf(tmp_path / name)
        with xr.open_dataset(tmp_path / name) as back:
            xr.testing.assert_identical(back.load(), obj)


def test_default_levels_like_mirisim(noisy):
    """Levels chosen from the MIRISim NGTS-10 segment (see module constants)."""
    ds, _ = noisy
    data = ds.data.values
    assert np.median(data) == pytest.approx(17.8, abs=0.3)
    assert 90 < np.median(data[:, 370:390, 36].max(axis=1)) < 160  # trace peak, real ~121
    assert np.median(ds.err.values) == pytest.approx(0.73, abs=0.03)  # real median ERR ~0.73
    assert np.median(ds.var_rnoise.values) == pytest.approx(0.0676, rel=1e-3)
    ratio = np.median(ds.var_poisson.values / np.maximum(data, 1))
    assert ratio == pytest.approx(0.026, rel=0.03)


# ------------------------------------------------------------ laziness, determinism
def test_chunked_is_lazy_and_instant():
    t0 = time.perf_counter()
    with _not_computed():
        ds, truth = simulate(20_000, chunks=500)
        assert all(isinstance(ds[name].data, da.Array) for name in PLANES)
        assert ds.data.chunks[0] == (500,) * 40
        assert isinstance(truth.flux.data, da.Array)
        assert truth.sizes["hit"] > 50_000  # the hit table is cheap and eager
        one = ds.isel(integration=slice(700, 702))
    assert time.perf_counter() - t0 < 10.0
    assert one.data.compute().shape == (2, 416, 72)


def test_long_exposure_without_chunks_is_lazy():
    with _not_computed():
        ds, _ = simulate(5000)
    assert isinstance(ds.data.data, da.Array)
    assert ds.data.chunks[0][0] == xmiri.io.default_chunks(416, 72)  # as the reader


@pytest.mark.parametrize("chunks", [1, 5, N, {"integration": 7}, "auto"],
                         ids=["chunks=1", "chunks=5", "one-chunk", "dict", "auto"])
def test_chunking_does_not_change_values(noisy, chunks):
    ds, truth = noisy
    lazy, lazy_truth = simulate(N, seed=5, chunks=chunks)
    assert isinstance(lazy.data.data, da.Array)
    computed = lazy.compute()
    for name in PLANES:
        np.testing.assert_array_equal(computed[name].values, ds[name].values, err_msg=name)
    xr.testing.assert_identical(lazy_truth.compute().drop_attrs(), truth.drop_attrs())


def test_same_seed_same_data_other_seed_differs(noisy):
    ds, truth = noisy
    again, truth_again = simulate(N, seed=5)
    xr.testing.assert_identical(again, ds)
    xr.testing.assert_identical(truth_again, truth)
    other, other_truth = simulate(N, seed=6)
    assert not np.array_equal(other.data.values, ds.data.values)
    assert not np.array_equal(other_truth.x_shift.values, truth.x_shift.values)


def test_integration_k_depends_only_on_seed_and_k():
    """Without a transit (whose phase depends on the span), integration k is fixed by (seed, k)."""
    full, full_truth = simulate(10, seed=3, transit_depth=0.0)
    part, part_truth = simulate(6, seed=3, transit_depth=0.0, intstart=5)
    np.testing.assert_array_equal(part.integration, np.arange(5, 11))
    assert part.attrs["NINTS"] == 10 and part.attrs["INTSTART"] == 5
    xr.testing.assert_identical(part.drop_attrs(), full.isel(integration=slice(4, None)).drop_attrs())
    for name in ("x_shift", "y_shift", "flux"):
        np.testing.assert_array_equal(part_truth[name], full_truth[name][4:])
    late = full_truth.hit_integration.values >= 5
    for name in ("hit_integration", "hit_row", "hit_col", "hit_amplitude", "hit_snr"):
        np.testing.assert_array_equal(part_truth[name], full_truth[name][late])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 7), chunk=st.integers(1, 7), seed=st.integers(0, 2 ** 32))
def test_property_chunk_independence_small_frames(n, chunk, seed):
    kw = dict(seed=seed, n_rows=40, n_cols=16, trace_center=8.0, n_cosmic_rays=3)
    eager, _ = simulate(n, **kw)
    lazy, _ = simulate(n, chunks=chunk, **kw)
    xr.testing.assert_identical(lazy.compute(), eager)
    err2 = eager.var_poisson.values.astype(float) + eager.var_rnoise.values
    np.testing.assert_allclose(eager.err.values.astype(float) ** 2, err2, rtol=1e-6)


# ------------------------------------------------------------------------ noise
def test_err_is_sqrt_of_variance_planes(noisy):
    ds, _ = noisy
    total = ds.var_poisson.values.astype(float) + ds.var_rnoise.values
    np.testing.assert_allclose(ds.err.values.astype(float), np.sqrt(total), rtol=2e-7)
    np.testing.assert_allclose(ds.var_rnoise.values, np.float32(simmod.DEFAULT_READNOISE ** 2), rtol=1e-6)


def test_variance_planes_follow_the_noiseless_rate(noiseless_no_hits):
    ds, truth = noiseless_no_hits
    ok = ds.dq.values == 0
    expected = ds.data.values[ok].astype(float) / (truth.attrs["gain"] * truth.attrs["integration_time"])
    np.testing.assert_allclose(ds.var_poisson.values[ok], expected, rtol=1e-6)


@pytest.mark.parametrize("region", ["background", "trace"], ids=["background", "trace"])
def test_normalised_residuals_are_standard_normal(noisy, noiseless, region):
    ds, truth = noisy
    model, _ = noiseless
    resid = (ds.data.values.astype(float) - model.data.values) / ds.err.values
    mask = np.ones(resid.shape, bool)
    mask[truth.hit_integration.values - 1, truth.hit_row.values, truth.hit_col.values] = False
    mask &= ds.dq.values == 0
    bright = model.data.values > 40.0
    mask &= bright if region == "trace" else ~bright
    values = resid[mask]
    assert values.size > (3000 if region == "trace" else 300_000)
    tol = 5.0 / np.sqrt(values.size)
    assert abs(values.mean()) < tol
    assert values.std() == pytest.approx(1.0, abs=max(0.01, 2 * tol))
    assert np.abs(values).max() < 6.5


# ------------------------------------------------------------------------ truth
def test_hits_are_where_truth_says(noiseless, noiseless_no_hits, noisy):
    ds, truth = noiseless
    clean, _ = noiseless_no_hits
    assert truth.sizes["hit"] > 20
    diff = ds.data.values.astype(float) - clean.data.values
    k, r, c = truth.hit_integration.values - 1, truth.hit_row.values, truth.hit_col.values
    assert len(set(zip(k, r, c))) == truth.sizes["hit"]  # one hit per pixel and integration
    np.testing.assert_allclose(diff[k, r, c], truth.hit_amplitude.values, rtol=1e-5, atol=2e-5)
    diff[k, r, c] = 0.0
    assert np.abs(diff).max() == 0.0
    snr = truth.hit_amplitude.values / ds.err.values[k, r, c]
    np.testing.assert_allclose(snr, truth.hit_snr.values, rtol=1e-6)
    assert truth.hit_snr.min() >= 10 and truth.hit_snr.max() <= 100
    assert np.ptp(r) > 200 and np.ptp(c) > 40  # spread over the frame
    # in the noisy data every injected hit is a > 8 sigma outlier ...
    noisy_ds, _ = noisy
    resid = (noisy_ds.data.values.astype(float) - clean.data.values) / noisy_ds.err.values
    assert np.all(resid[k, r, c] > 8)
    # ... and nothing else is
    resid[k, r, c] = 0.0
    assert resid.max() < 7


def test_hot_pixels(noisy):
    ds, truth = noisy
    rows, cols = truth.hot_row.values, truth.hot_col.values
    assert truth.sizes["hot"] == simmod.DEFAULT_N_HOT
    expected = np.zeros((416, 72), np.uint32)
    expected[rows, cols] = HOT
    assert np.all(ds.dq.values == expected[None])
    assert np.all(ds.data.values[:, rows, cols] > 150)  # garbage, far above sky and star
    in_box = (np.abs(cols - 36.3) <= 4.5) & np.isfinite(ds.wavelength.values[rows, cols])
    assert in_box.sum() >= simmod.DEFAULT_N_HOT // 2


@pytest.mark.parametrize("depth", ["grey", "spectrum"], ids=["grey-depth", "depth-spectrum"])
def test_summed_flux_of_noiseless_frame(depth):
    kw = dict(QUIET, noise=False, jitter_x=0.3, jitter_y=0.3, transit_duration=0.6)
    if depth == "spectrum":
        kw["depth_spectrum"] = lambda wl: 0.01 + 0.002 * (wl - 8.0)
    ds, truth = simulate(10, seed=11, **kw)
    lhs = ds.data.sum("col", dtype=np.float64)
    rhs = truth.flux * truth.relative_flux + truth.background.sum("col")
    assert truth.relative_flux.dims == (("integration",) if depth == "grey" else ("integration", "row"))
    np.testing.assert_allclose(lhs.transpose("integration", "row"), rhs.transpose("integration", "row"),
                               rtol=1e-6, atol=1e-4)
    if depth == "spectrum":
        wl = truth.wavelength.isel(col=36)
        good = np.isfinite(wl)
        np.testing.assert_allclose(truth.depth[good], 0.01 + 0.002 * (wl[good] - 8.0))


def test_transit_light_curve():
    ds, truth = simulate(100, seed=2, transit_depth=0.02, transit_center=0.4, transit_duration=0.4,
                         **STAR_ONLY)
    phase = (np.arange(100) + 0.5) / 100
    rel = truth.relative_flux.values
    assert np.all(rel[np.abs(phase - 0.4) > 0.2] == 1.0)
    assert np.all(rel[np.abs(phase - 0.4) < 0.2 - 0.04] == pytest.approx(0.98))
    assert np.all((rel >= 0.98 - 1e-12) & (rel <= 1.0))
    white = ds.data.sum(("row", "col"), dtype=np.float64) / truth.flux.sum("row")
    np.testing.assert_allclose(white, rel, rtol=1e-6)


def test_shifts_move_the_centroid():
    ds, truth = simulate(16, seed=4, jitter_x=0.5, jitter_y=0.5, **STAR_ONLY)
    frames = ds.data.values.astype(float)
    rowsum = frames.sum(axis=2)
    rows = rowsum[0] > 1.0
    x = (frames * np.arange(72)).sum(axis=2)[:, rows] / rowsum[:, rows]
    np.testing.assert_allclose(np.median(x, axis=1), truth.trace_center, atol=0.01)
    np.testing.assert_allclose(truth.trace_center, 36.3 + truth.x_shift)
    y = (rowsum * np.arange(416)).sum(axis=1) / rowsum.sum(axis=1)
    dy = truth.y_shift.values
    np.testing.assert_allclose(y - y.mean(), dy - dy.mean(), atol=0.01)
    assert np.std(dy) > 0.2 and np.std(truth.x_shift.values) > 0.2


def test_spectrum_follows_wavelength():
    _, truth = simulate(1, seed=0, jitter_x=0.0, jitter_y=0.0, **QUIET)
    flux = truth.flux.isel(integration=0)
    wl = truth.wavelength.isel(col=36)
    assert float(flux.max()) == pytest.approx(simmod.DEFAULT_STELLAR_FLUX, rel=1e-3)
    assert float(flux.where(np.isnan(wl), drop=True).max()) < 1e-3 * float(flux.max())
    peak_wl = float(wl[int(np.argmax(flux.values))])
    assert 5.0 < peak_wl < 6.0  # like the MIRISim segment: brightest just above the cut-on
    def at(lam):
        return float(flux[int(np.nanargmin(np.abs(wl.values - lam)))])

    assert 4 < at(7.5) / at(11.0) < 20


@pytest.mark.parametrize("flux", ["callable", "array"], ids=["callable", "array"])
def test_custom_stellar_flux(flux):
    value = (lambda wl: np.where((wl > 5) & (wl < 12), 200.0, 0.0)) if flux == "callable" \
        else np.full(416, 150.0)
    ds, truth = simulate(2, jitter_y=0.0, stellar_flux=value, **QUIET)
    expected = 200.0 if flux == "callable" else 150.0
    assert float(truth.flux.max()) == pytest.approx(expected, rel=1e-3)
    assert isinstance(truth.attrs["stellar_flux"], str)


# ------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs",
    [dict(n_integrations=0), dict(seed=-1), dict(chunks=0), dict(chunks={"row": 4}),
     dict(psf_sigma=0), dict(transit_depth=1.5), dict(cosmic_ray_snr=(100, 10)),
     dict(n_hot_pixels=-1), dict(gain=0), dict(readnoise_sigma=-1.0), dict(background=np.ones(3)),
     dict(background=1.0, background_gradient=(0.1, 0.0)), dict(stellar_flux=np.ones(5)),
     dict(depth_spectrum=0.01), dict(intstart=0)],
    ids=["n0", "seed", "chunks0", "chunks-row", "psf", "depth", "snr", "hot", "gain", "readnoise",
         "bkg-shape", "bkg-negative", "flux-shape", "depth-spectrum", "intstart"])
def test_bad_arguments(kwargs):
    with pytest.raises(ParameterError):
        simulate(**{"n_integrations": 2, **kwargs})


# ----------------------------------------------------------------------- writer
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    ds, truth = simulate(10, seed=8, chunks=4)
    directory = tmp_path_factory.mktemp("segments")
    paths = write_segments(ds, directory, n_segments=3)
    return ds.compute(), paths


def test_writer_layout_with_astropy(written):
    ds, paths = written
    assert [p.name for p in paths] == [f"xmiri_sim_seg00{i}_rateints.fits" for i in (1, 2, 3)]
    starts = []
    for i, path in enumerate(paths, start=1):
        with fits.open(path) as hdul:
            hdul.verify("exception")
            assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ", "INT_TIMES",
                                              "VAR_POISSON", "VAR_RNOISE", "ASDF"]
            hdr = hdul[0].header
            assert (hdr["DATAMODL"], hdr["NINTS"], hdr["EXSEGNUM"], hdr["EXSEGTOT"]) == ("CubeModel", 10, i, 3)
            assert hdr["EXP_TYPE"] == "MIR_LRS-SLITLESS" and hdr["TSOVISIT"] is True
            a, b = hdr["INTSTART"], hdr["INTEND"]
            starts.append(a)
            assert hdul["SCI"].header["BUNIT"] == "DN/s"
            assert hdul["SCI"].header["BITPIX"] == -32
            assert hdul["DQ"].header["BITPIX"] == 32 and hdul["DQ"].header["BZERO"] == 2 ** 31
            assert hdul["DQ"].data.dtype == np.uint32
            for ext, name in (("SCI", "data"), ("ERR", "err"), ("DQ", "dq"),
                              ("VAR_POISSON", "var_poisson"), ("VAR_RNOISE", "var_rnoise")):
                assert hdul[ext].data.shape == (b - a + 1, 416, 72)
                np.testing.assert_array_equal(hdul[ext].data, ds[name].values[a - 1:b], err_msg=ext)
            table = hdul["INT_TIMES"]
            formats = {c.name: c.format for c in table.columns}
            assert formats["integration_number"] == "J"
            assert all(formats[f"int_{w}_{s}"] == "D" for w in ("start", "mid", "end")
                       for s in ("MJD_UTC", "BJD_TDB"))
            np.testing.assert_array_equal(table.data["integration_number"], np.arange(a, b + 1))
            np.testing.assert_array_equal(table.data["int_mid_BJD_TDB"], ds.time.values[a - 1:b])
            half = table.data["int_end_BJD_TDB"] - table.data["int_start_BJD_TDB"]
            np.testing.assert_allclose(half * 86400.0, 47.712, atol=1e-4)
            np.testing.assert_allclose(table.data["int_mid_BJD_TDB"] - table.data["int_mid_MJD_UTC"],
                                       2400000.5 + 69.184 / 86400.0, atol=1e-8)
    assert starts == [1, 4, 8] or starts == [1, 5, 8]


def test_writer_opens_as_cube_model(written):
    datamodels = pytest.importorskip("stdatamodels.jwst.datamodels")
    ds, paths = written
    with datamodels.open(paths[1]) as model:
        assert type(model).__name__ == "CubeModel"
        a = model.meta.exposure.integration_start
        b = model.meta.exposure.integration_end
        assert model.meta.exposure.nints == 10 and model.meta.exposure.segment_number == 2
        assert model.meta.instrument.name == "MIRI" and model.meta.subarray.name == "SLITLESSPRISM"
        assert model.meta.exposure.type == "MIR_LRS-SLITLESS"
        np.testing.assert_array_equal(model.data, ds.data.values[a - 1:b])
        np.testing.assert_array_equal(model.dq, ds.dq.values[a - 1:b])
        np.testing.assert_array_equal(model.var_rnoise, ds.var_rnoise.values[a - 1:b])
        np.testing.assert_array_equal(model.int_times["int_mid_BJD_TDB"], ds.time.values[a - 1:b])


def test_exotic_miri_step_runs_on_a_segment(written):
    """ExoTiC-MIRI's steps take the file name (jwst reads CRDS parameters from the ASDF extension)."""
    from tests.exotic_reference import _call

    ds, paths = written
    model, _ = _call("BackgroundSubtractStep", str(paths[0]), method="row_wise")
    assert model.data.shape == (3, 416, 72) or model.data.shape == (4, 416, 72)


def test_overwrite_is_refused(tmp_path):
    ds, _ = simulate(3, seed=1)
    paths = write_segments(ds, tmp_path, n_segments=1, prefix="x")
    before = paths[0].read_bytes()
    other, _ = simulate(3, seed=2)
    with pytest.raises(OutputExistsError, match="overwrite=True") as info:
        write_segments(other, tmp_path, n_segments=1, prefix="x")
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, XmiriError)
    assert paths[0].read_bytes() == before
    write_segments(other, tmp_path, n_segments=1, prefix="x", overwrite=True)
    with fits.open(paths[0]) as hdul:
        np.testing.assert_array_equal(hdul["SCI"].data, other.data.values)
    assert sorted(os.listdir(tmp_path)) == ["x_seg001_rateints.fits"]


def test_failed_write_leaves_nothing(tmp_path):
    ds, _ = simulate(6, seed=1, chunks=2)

    def boom(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:
            raise RuntimeError("disk on fire")
        return block

    ds["err"] = ds.err.copy(data=ds.err.data.map_blocks(boom, dtype=np.float32))
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_segments(ds, tmp_path, n_segments=1)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs", [dict(n_segments=0), dict(n_segments=5), dict(prefix="")],
                         ids=["zero-segments", "too-many-segments", "empty-prefix"])
def test_writer_bad_arguments(tmp_path, kwargs):
    ds, _ = simulate(4, seed=1)
    with pytest.raises(ParameterError):
        write_segments(ds, tmp_path, **kwargs)
    assert os.listdir(tmp_path) == []


def _open_rateints():
    from xmiri.io import open_rateints

    return open_rateints


def test_reader_round_trip(written):
    open_rateints = _open_rateints()
    ds, paths = written
    shuffled = [paths[2], paths[0], paths[1]]
    back = open_rateints(shuffled)
    assert back.sizes == ds.sizes
    np.testing.assert_array_equal(back.integration.values, ds.integration.values)
    np.testing.assert_array_equal(back.time.values, ds.time.values)
    for name in PLANES:
        assert back[name].dtype == ds[name].dtype, name
        np.testing.assert_array_equal(back[name].values, ds[name].values, err_msg=name)
    xr.testing.assert_equal(back.compute(), ds)  # coords (wavelength too) and values
    for key in ("EXP_TYPE", "SUBARRAY", "NINTS", "EFFINTTM"):
        assert back.attrs[key] == ds.attrs[key], key
