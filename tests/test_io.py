"""xmiri.io: opening rateints/calints lazily, the xarray engine, datamodels, writing."""
import copy
import os
import pickle
import random
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

import xmiri
import xmiri.io.array as xarr
from xmiri.exceptions import OutputExistsError, ParameterError, UnsupportedModeError
from xmiri.io import (XmiriBackendEntrypoint, default_chunks, from_datamodel, open_rateints,
                      to_netcdf)

from tests.conftest import TaskCounter

pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning")

FRAME_VARIABLES = {"data": "SCI", "err": "ERR", "dq": "DQ",
                   "var_poisson": "VAR_POISSON", "var_rnoise": "VAR_RNOISE"}


# ---------------------------------------------------------------- helpers

def write_segments(src, folder, bounds, *, prefix="seg", edit=None):
    """Split `src` into files holding integrations ``bounds = [(lo, hi), ...]`` (0-based, hi excl).

    INTSTART/INTEND are set to the segment's numbers; ``edit(i, hdul)`` may
    change the new file before it is written.  Returns the paths.
    """
    paths = []
    with fits.open(src) as hdul:
        start0 = hdul[0].header["INTSTART"]
        for i, (lo, hi) in enumerate(bounds):
            out = fits.HDUList()
            for hdu in hdul:
                new = hdu.copy()
                if isinstance(hdu, fits.ImageHDU) and hdu.header.get("NAXIS") == 3:
                    new = fits.ImageHDU(hdu.data[lo:hi].copy(), header=hdu.header.copy())
                out.append(new)
            out[0].header["INTSTART"] = start0 + lo
            out[0].header["INTEND"] = start0 + hi - 1
            if edit is not None:
                edit(i, out)
            path = Path(folder) / f"{prefix}{i + 1:03d}_rateints.fits"
            out.writeto(path)
            paths.append(path)
    return paths


def with_int_times(src, dst, numbers):
    """Copy `src` to `dst` with INT_TIMES rows for `numbers` (mid time = 60000 + number/1000)."""
    with fits.open(src) as hdul:
        cols = [fits.Column(name=c.name, format=c.format, array=(
            np.asarray(numbers, dtype=np.int32) if c.name == "integration_number"
            else 60000.0 + np.asarray(numbers, dtype=float) / 1000.0))
            for c in hdul["INT_TIMES"].columns]
        table = fits.BinTableHDU.from_columns(cols, name="INT_TIMES")
        out = fits.HDUList([table if h.name == "INT_TIMES" else h for h in hdul])
        out.writeto(dst)
    return dst


@pytest.fixture
def reads(monkeypatch):
    """Every image read as (extname, key, nbytes)."""
    seen = []
    original = xarr.read_block

    def counting(manager, extname, key):
        out = original(manager, extname, key)
        seen.append((extname, key, out.nbytes))
        return out

    monkeypatch.setattr(xarr, "read_block", counting)
    return seen


@pytest.fixture(scope="module")
def halves(tmp_path_factory, rateints_path):
    folder = tmp_path_factory.mktemp("halves")
    return write_segments(rateints_path, folder, [(0, 2), (2, 4)])


# ---------------------------------------------------------------- layout

@pytest.fixture(params=["rateints", "calints"], ids=["rateints", "calints"])
def shared_path(request, rateints_path, calints_path):
    return {"rateints": rateints_path, "calints": calints_path}[request.param]


def test_layout(shared_path):
    ds = open_rateints(shared_path)
    assert dict(ds.sizes) == {"integration": 4, "row": 416, "col": 72}
    assert set(ds.data_vars) == set(FRAME_VARIABLES)
    for name in FRAME_VARIABLES:
        assert ds[name].dims == ("integration", "row", "col")
        assert isinstance(ds[name].data, da.Array)
        assert ds[name].dtype == (np.uint32 if name == "dq" else np.float32)
    assert ds["integration"].values.tolist() == [1847, 1848, 1849, 1850]
    assert ds["row"].values.tolist() == list(range(416))
    assert ds["col"].values.tolist() == list(range(72))
    assert ds["time"].dims == ("integration",) and ds["time"].dtype == np.float64
    assert ds["wavelength"].dims == ("row", "col") and ds["wavelength"].dtype == np.float64
    assert ds["data"].attrs["units"] == "DN/s" and ds["err"].attrs["units"] == "DN/s"
    assert ds["var_poisson"].attrs["units"] == "(DN/s)^2"
    assert ds["dq"].attrs["flag_meanings"].split()[11] == "HOT"


def test_attrs_are_plain(shared_path):
    ds = open_rateints(shared_path)
    attrs = ds.attrs
    assert attrs["source_files"] == Path(shared_path).name
    assert attrs["EXP_TYPE"] == "MIR_LRS-SLITLESS" and attrs["NGROUPS"] == 300
    assert attrs["EFFINTTM"] == pytest.approx(47.712)
    assert attrs["xmiri_version"] == xmiri.__version__
    assert isinstance(attrs["history"], str) and Path(shared_path).name in attrs["history"]
    for owner in [ds] + [ds[name] for name in ds.variables]:
        for key, value in owner.attrs.items():
            assert type(value) in (str, int, float, np.ndarray), (key, type(value))


def test_values_match_astropy(shared_path):
    ds = open_rateints(shared_path, chunks=3).load()
    with fits.open(shared_path) as hdul:
        for name, extname in FRAME_VARIABLES.items():
            expected = hdul[extname].data
            np.testing.assert_array_equal(ds[name].values, expected)
            assert ds[name].values.dtype.isnative
    assert ds["dq"].values.max() > 2**31  # REFERENCE_PIXEL survives the BZERO offset


def test_whole_frames_read_in_one_piece_equal_astropy_sections(shared_path):
    # read_block's direct read of whole frames (at the data's offset, byte-swapped in place)
    # against astropy's section, which it uses for anything else
    from xarray.backends import CachingFileManager

    manager = CachingFileManager(fits.open, shared_path, mode="readonly", kwargs=dict(
        memmap=False, do_not_scale_image_data=True))
    try:
        with fits.open(shared_path, do_not_scale_image_data=True) as hdul:
            for extname in FRAME_VARIABLES.values():
                n, rows, cols = hdul[extname].shape
                for ints in (slice(0, n), slice(1, n - 1), slice(n - 1, n + 3)):
                    key = (ints, slice(0, rows), slice(0, cols))
                    got = xarr.read_block(manager, extname, key)
                    expected = hdul[extname].section[key]
                    assert got.dtype.isnative and got.dtype == expected.dtype.newbyteorder("=")
                    np.testing.assert_array_equal(got, expected)
    finally:
        manager.close()


@pytest.mark.parametrize("dtype", [">f4", ">i4", ">f8", ">i2"])
@pytest.mark.parametrize("shape", [(0, 3, 4), (1, 3, 4), (7, 5, 3), (3, 300, 300)])
def test_native_byte_order_in_slabs_equals_byteswap(dtype, shape, monkeypatch):
    """read_block's byte swap, slab by slab in the native view of the same memory, gives
    byteswap's values (slabs of several frames, one frame larger than a slab, no frame)."""
    monkeypatch.setattr(xarr, "_SWAP_BYTES", 64)  # several slabs, and frames of many
    rng = np.random.default_rng(1)
    stored = (rng.standard_normal(shape) * 1e3).astype(dtype)
    expected = stored.astype(np.dtype(dtype).newbyteorder("="))
    got = xarr._native(stored)
    assert got.dtype.isnative and (stored.size == 0 or np.shares_memory(got, stored))
    np.testing.assert_array_equal(got, expected)


def test_tile_compressed_images_are_read_through_astropy(rateints_path, tmp_path):
    # a CompImageHDU is an ImageHDU that shows its image header, but its bytes are a compressed
    # table: whole frames must not be read at its data offset
    from xarray.backends import CachingFileManager

    sci = fits.getdata(rateints_path, "SCI")
    path = tmp_path / "tiles.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(sci, name="SCI", compression_type="GZIP_2",
                                                       quantize_level=0.0)]).writeto(path)
    manager = CachingFileManager(fits.open, path, mode="readonly", kwargs=dict(
        memmap=False, do_not_scale_image_data=True))
    try:
        got = xarr.read_block(manager, "SCI", (slice(0, sci.shape[0]), slice(0, sci.shape[1]),
                                               slice(0, sci.shape[2])))
    finally:
        manager.close()
    np.testing.assert_array_equal(got, sci)


@pytest.mark.parametrize("key", [
    (1, slice(None), slice(None)), (slice(None, None, -1), slice(5, 40, 3), 7),
    (slice(1, 3), -1, slice(None, None, -2)), (slice(2, 2), slice(None), slice(None)),
], ids=["one-integration", "reversed-stepped", "negative-row", "empty"])
def test_backend_array_indexing(rateints_path, key):
    ds = open_rateints(rateints_path, chunks=1)
    expected = fits.getdata(rateints_path, "SCI")[key]
    np.testing.assert_array_equal(ds["data"].values[key], expected)
    np.testing.assert_array_equal(ds["data"][key].values, expected)


def test_time_without_int_times_falls_back_on_the_header(rateints_path):
    """An empty INT_TIMES table (MIRISim): mid-times from EXPSTART and the cadence, in MJD UTC."""
    with pytest.warns(xmiri.TimeAxisWarning, match="INT_TIMES table is empty") as caught:
        ds = open_rateints(rateints_path)
    assert [w.message.source for w in caught
            if issubclass(w.category, xmiri.TimeAxisWarning)] == ["EXPSTART+EFFINTTM"]
    time = ds["time"]
    assert np.isfinite(time.values).all() and np.all(np.diff(time.values) > 0)
    assert (time.attrs["time_scale"], time.attrs["time_format"]) == ("UTC", "MJD")
    cadence = time.attrs["cadence_s"] / 86400.0
    np.testing.assert_allclose(np.diff(time.values), cadence, atol=1e-10)  # ~10 microseconds


def test_time_from_int_times(rateints_path, tmp_path):
    full = with_int_times(rateints_path, tmp_path / "full_rateints.fits", [1850, 1847, 1848, 1849])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no time warning (the packaged wavelengths are announced)
        warnings.simplefilter("ignore", xmiri.PackagedWavelengthWarning)
        ds = open_rateints(full)
    np.testing.assert_allclose(ds["time"].values, 60000 + np.arange(1847, 1851) / 1000)
    assert ds["time"].attrs["units"] == "d"
    part = with_int_times(rateints_path, tmp_path / "part_rateints.fits", [1, 2, 1848])
    with pytest.warns(xmiri.TimeAxisWarning) as caught:
        ds = open_rateints(part)
    assert [w.message.count for w in caught if issubclass(w.category, xmiri.TimeAxisWarning)] == [3]
    assert np.isnan(ds["time"].values).tolist() == [True, False, True, True]


def test_user_wavelength(rateints_path):
    wmap = np.full((416, 72), 7.5)
    ds = open_rateints(rateints_path, wavelength=wmap)
    assert ds["wavelength"].attrs["source"] == "user"
    np.testing.assert_array_equal(ds["wavelength"].values, wmap)
    with pytest.raises(ParameterError, match="shape"):
        open_rateints(rateints_path, wavelength=np.ones((3, 3)))


# ---------------------------------------------------------------- chunks

def test_default_chunks():
    assert default_chunks(416, 72) == 70
    assert default_chunks(1024, 1032) == 1  # never 0
    assert default_chunks(416, 72, target_bytes=416 * 72 * 4 * 5) == 5


@pytest.mark.parametrize("chunks, expected", [
    (None, (4,)), (1, (1, 1, 1, 1)), (3, (3, 1)), (-1, (4,)), ("auto", (4,)),
    ({"integration": 2}, (2, 2)), ({"integration": 2, "row": -1, "col": 72}, (2, 2)), ({}, (4,)),
], ids=["default", "one", "three", "minus-one", "auto", "dict", "dict-full-rows", "empty-dict"])
def test_chunks(rateints_path, chunks, expected):
    ds = open_rateints(rateints_path, chunks=chunks)
    for name in FRAME_VARIABLES:
        assert ds[name].chunks == (expected, (416,), (72,))
    assert ds.chunks["integration"] == expected


@pytest.mark.parametrize("chunks", [0, -2, 2.5, True, "big", {"row": 10}, {"x": 1}, [1, 2]],
                         ids=["zero", "negative", "float", "bool", "word", "row", "unknown-dim",
                              "list"])
def test_bad_chunks_refused(rateints_path, chunks, reads):
    with pytest.raises(ParameterError, match="chunks"):
        open_rateints(rateints_path, chunks=chunks)
    assert reads == []


# ---------------------------------------------------------------- laziness

def test_open_runs_no_task_and_reads_no_frame(rateints_path, reads):
    with TaskCounter() as counter:
        ds = open_rateints(rateints_path)
        ds2 = xr.open_dataset(rateints_path, engine=XmiriBackendEntrypoint, chunks={})
    assert counter.n == 0 and reads == []
    assert all(isinstance(ds[v].data, da.Array) for v in FRAME_VARIABLES)
    assert all(isinstance(ds2[v].data, da.Array) for v in FRAME_VARIABLES)


@pytest.mark.parametrize("chunks", [None, 1], ids=["default-chunks", "one-per-chunk"])
def test_one_integration_reads_only_it(rateints_path, reads, chunks):
    ds = open_rateints(rateints_path, chunks=chunks)
    ds["data"].sel(integration=1849).mean().compute()
    assert [(ext, key[0]) for ext, key, _ in reads] == [("SCI", slice(2, 3))]
    assert sum(n for *_, n in reads) == 416 * 72 * 4
    reads.clear()
    ds["dq"].isel(integration=0, row=slice(10, 20)).compute()
    assert reads == [("DQ", (slice(0, 1), slice(10, 20), slice(0, 72)), 10 * 72 * 4)]


def test_segments_read_lazily(halves, reads):
    ds = open_rateints(halves, chunks=1)
    assert reads == []
    ds["err"].isel(integration=[3]).compute()
    assert [ext for ext, _, _ in reads] == ["ERR"]
    assert reads[0][1][0] == slice(1, 2)  # second integration of the second file


def test_graph_pickles_and_runs_in_processes(rateints_path):
    ds = open_rateints(rateints_path, chunks=2)
    total = ds["data"].sum()
    pickle.loads(pickle.dumps(total.data.__dask_graph__()))
    pickle.loads(pickle.dumps(ds))
    expected = fits.getdata(rateints_path, "SCI").astype(np.float64).sum()
    with dask.config.set(scheduler="processes", num_workers=2):
        assert float(ds["data"].astype(np.float64).sum().compute()) == pytest.approx(expected)


def test_close_releases_files(rateints_path):
    ds = open_rateints(rateints_path, chunks=1)
    ds["data"][0].compute()
    ds.close()
    ds["data"][1].compute()  # the manager reopens on demand after close
    ds.close()


# ---------------------------------------------------------------- segments

def test_segments_any_order_equal_whole(rateints_path, halves):
    whole = open_rateints(rateints_path).load()
    shuffled = list(halves)[::-1]
    random.Random(0).shuffle(shuffled)
    seg = open_rateints(shuffled, chunks=1)
    assert seg.chunks["integration"] == (1, 1, 1, 1)
    seg = seg.load()
    xr.testing.assert_equal(seg, whole)
    assert seg.attrs["source_files"] == ", ".join(p.name for p in halves)


@pytest.mark.parametrize("form", ["glob", "str-list", "path-tuple"], ids=str)
def test_path_forms(halves, form):
    folder = halves[0].parent
    paths = {"glob": str(folder / "seg*_rateints.fits"), "str-list": [str(p) for p in halves],
             "path-tuple": tuple(halves[::-1])}[form]
    ds = open_rateints(paths)
    assert ds["integration"].values.tolist() == [1847, 1848, 1849, 1850]


def test_segments_with_gap_warn(rateints_path, tmp_path):
    paths = write_segments(rateints_path, tmp_path, [(0, 1), (3, 4)])
    with pytest.warns(UserWarning, match="integrations 1848-1849 are missing"):
        ds = open_rateints(paths)
    assert ds["integration"].values.tolist() == [1847, 1850]


# ---------------------------------------------------------------- the engine

def test_engine_class_matches_open_rateints(rateints_path):
    ds = xr.open_dataset(rateints_path, engine=XmiriBackendEntrypoint, chunks={})
    assert ds["data"].chunks == ((1, 1, 1, 1), (416,), (72,))  # any integration reads on its own
    assert ds["data"].encoding["preferred_chunks"] == {"integration": 1, "row": 416, "col": 72}
    xr.testing.assert_identical(ds.load(), open_rateints(rateints_path).load())


@pytest.mark.parametrize("chunks", [{"integration": 1}, {"integration": 3}, "auto", {}],
                         ids=["one", "three", "auto", "preferred"])
def test_engine_user_chunks_raise_no_xarray_warning(rateints_path, chunks):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xr.open_dataset(rateints_path, engine=XmiriBackendEntrypoint, chunks=chunks)
    assert not [w for w in caught if "separate the stored chunks" in str(w.message)]


def test_engine_without_chunks_is_lazy(rateints_path, reads):
    ds = xr.open_dataset(rateints_path, engine=XmiriBackendEntrypoint)
    assert reads == []
    np.testing.assert_array_equal(ds["data"][2, 100].values,
                                  fits.getdata(rateints_path, "SCI")[2, 100])
    assert [key for _, key, _ in reads] == [(slice(2, 3), slice(100, 101), slice(0, 72))]


def test_engine_drop_variables_and_wavelength(rateints_path):
    ds = xr.open_dataset(rateints_path, engine=XmiriBackendEntrypoint,
                         drop_variables=["var_poisson", "var_rnoise"],
                         wavelength=np.full((416, 72), 9.0))
    assert set(ds.data_vars) == {"data", "err", "dq"}
    assert ds["wavelength"].attrs["source"] == "user"


def test_engine_by_name(rateints_path):
    if "xmiri" not in xr.backends.list_engines():
        pytest.skip("xmiri entry point not registered (pip install -e .)")
    ds = xr.open_dataset(rateints_path, engine="xmiri", chunks={})
    xr.testing.assert_identical(ds.load(), open_rateints(rateints_path).load())
    guessed = xr.open_dataset(rateints_path)  # found by guess_can_open
    xr.testing.assert_identical(guessed.load(), ds)


def test_engine_open_mfdataset(rateints_path, halves):
    ds = xr.open_mfdataset([str(p) for p in halves[::-1]], engine=XmiriBackendEntrypoint)
    whole = open_rateints(rateints_path).load()
    for name in FRAME_VARIABLES:
        xr.testing.assert_equal(ds[name].load(), whole[name])


@pytest.mark.parametrize("name, head, expected", [
    ("x_rateints.fits", b"SIMPLE  =                    T", True),
    ("x_calints.fits", b"SIMPLE  =                    T", True),
    ("x_rate.fits", b"SIMPLE  =                    T", False),
    ("x_rateints.fits", b"\x89HDF\r\n\x1a\n", False),
    ("x_rateints.nc", b"SIMPLE  =                    T", False),
], ids=["rateints", "calints", "rate", "hdf5-named-fits", "nc-suffix"])
def test_guess_can_open(tmp_path, name, head, expected):
    path = tmp_path / name
    path.write_bytes(head + b" " * 100)
    assert XmiriBackendEntrypoint().guess_can_open(str(path)) is expected
    assert XmiriBackendEntrypoint().guess_can_open(path) is expected


def test_entrypoint_metadata():
    entry = XmiriBackendEntrypoint()
    assert entry.description  # url stays empty until the project has a public home
    assert entry.open_dataset_parameters == ("filename_or_obj", "drop_variables", "wavelength")
    assert not entry.guess_can_open("/nonexistent/x_rateints.fits")


# ---------------------------------------------------------------- datamodels

def _without_wcs(instance):
    out = dict(instance)
    meta = dict(out.get("meta", {}))
    meta.pop("wcs", None)
    out["meta"] = meta
    return copy.deepcopy(out)


def _assert_same_tree(a, b, path="instance"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_tree(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert a.tobytes() == b.tobytes(), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tree(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@pytest.mark.parametrize("which", ["rateints", "calints"], ids=str)
def test_from_datamodel_matches_file_and_never_mutates(rateints_path, calints_path, which):
    from stdatamodels.jwst import datamodels

    path = {"rateints": rateints_path, "calints": calints_path}[which]
    with datamodels.open(path) as model:
        before = _without_wcs(model.instance)
        with TaskCounter() as counter:
            ds = from_datamodel(model, chunks=2)
        assert counter.n == 0
        assert all(isinstance(ds[v].data, da.Array) for v in FRAME_VARIABLES)
        values = ds["data"].values
        values[:] = -1.0  # computed values are copies, not views of the model
        assert not (np.asarray(model.data) == -1).any()
        ds = ds.load()
        _assert_same_tree(before, _without_wcs(model.instance))
    from_file = open_rateints(path).load()
    xr.testing.assert_equal(ds, from_file)
    assert ds["wavelength"].attrs == from_file["wavelength"].attrs
    for key in ("EXP_TYPE", "SUBARRAY", "NGROUPS", "DATE-OBS", "CAL_VER"):
        assert ds.attrs[key] == from_file.attrs[key]


def test_from_datamodel_cube_in_memory():
    from stdatamodels.jwst import datamodels

    rng = np.random.default_rng(1)
    data = rng.normal(size=(5, 416, 72)).astype(np.float32)
    model = datamodels.CubeModel(data=data, err=np.ones_like(data),
                                 dq=np.zeros(data.shape, np.uint32))
    model.meta.instrument.name = "MIRI"
    model.meta.exposure.type = "MIR_LRS-SLITLESS"
    ds = from_datamodel(model)
    assert ds["integration"].values.tolist() == [1, 2, 3, 4, 5]
    assert ds["wavelength"].attrs["source"] == "xmiri default solution"
    assert set(ds.data_vars) == {"data", "err", "dq"}
    np.testing.assert_array_equal(ds["data"].values, data)


@pytest.mark.parametrize("instrument, exp_type", [
    ("NIRSPEC", "NRS_BRIGHTOBJ"), ("MIRI", "MIR_IMAGE"), (None, None)],
    ids=["nirspec", "miri-imaging", "no-meta"])
def test_from_datamodel_refuses_other_modes(instrument, exp_type):
    from stdatamodels.jwst import datamodels

    model = datamodels.CubeModel((2, 8, 8))
    if instrument:
        model.meta.instrument.name = instrument
        model.meta.exposure.type = exp_type
    with pytest.raises(UnsupportedModeError, match="EXP_TYPE|exposure.type"):
        from_datamodel(model)


def test_from_datamodel_refuses_2d():
    from stdatamodels.jwst import datamodels

    model = datamodels.ImageModel((8, 8))
    model.meta.instrument.name = "MIRI"
    model.meta.exposure.type = "MIR_LRS-SLITLESS"
    with pytest.raises(ParameterError, match="2-D"):
        from_datamodel(model)


# ---------------------------------------------------------------- writing

@pytest.mark.parametrize("which", ["rateints", "calints", "segments"], ids=str)
def test_round_trip_identical(rateints_path, calints_path, halves, tmp_path, which):
    source = {"rateints": rateints_path, "calints": calints_path, "segments": halves}[which]
    ds = open_rateints(source, chunks=2)
    out = tmp_path / "out.nc"
    assert to_netcdf(ds, out) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = xr.open_dataset(out).load()
    xr.testing.assert_identical(back, ds.load())
    assert back["dq"].dtype == np.uint32
    assert os.listdir(tmp_path) == ["out.nc"]


def test_round_trip_bools_and_attrs(tmp_path):
    ds = xr.Dataset(
        {"mask": (("integration", "row"), np.array([[True, False], [False, True]])),
         "flux": ("integration", np.array([1.5, np.nan], np.float32), {"units": "DN/s"})},
        coords={"integration": [1, 2]},
        attrs={"history": "a\nb", "n": 3, "x": 0.5, "names": ["a", "b"], "arr": np.arange(3)})
    to_netcdf(ds, tmp_path / "b.nc")
    back = xr.open_dataset(tmp_path / "b.nc").load()
    xr.testing.assert_identical(back, ds)
    assert back["mask"].dtype == bool


def test_large_variables_compressed_and_chunk_aligned(tmp_path):
    data = np.zeros((24, 416, 72), np.float32)  # 2.9 MB each
    data[:, 100:300, 30:40] = 1.0
    ds = xr.Dataset({"data": (("integration", "row", "col"), data),
                     "dq": (("integration", "row", "col"), np.zeros(data.shape, np.uint32)),
                     "small": ("integration", np.arange(24.0))}).chunk({"integration": 10})
    to_netcdf(ds, tmp_path / "c.nc")
    back = xr.open_dataset(tmp_path / "c.nc")
    for name in ("data", "dq"):
        enc = back[name].encoding
        assert enc["zlib"] and enc["shuffle"] and enc["complevel"] == 4
        assert tuple(enc["chunksizes"]) == (10, 416, 72)
    assert not back["small"].encoding.get("zlib")
    assert os.path.getsize(tmp_path / "c.nc") < data.nbytes / 10
    xr.testing.assert_identical(back.load(), ds.load())
    to_netcdf(ds, tmp_path / "u.nc", compress=False)
    assert not xr.open_dataset(tmp_path / "u.nc")["data"].encoding.get("zlib")


def test_write_blocks_merge_chunks_but_keep_the_netcdf_chunks(tmp_path, monkeypatch):
    """Spectra chunks are merged into write blocks of <= NETCDF_WRITE_BLOCK bytes (fewer write
    tasks); frames already larger stay as they are; the netCDF chunks follow the dask chunks."""
    from xmiri import defaults
    from xmiri.io import netcdf

    rng = np.random.default_rng(0)  # small arrays, with the block and compression sizes scaled down
    ds = xr.Dataset({"flux": (("integration", "row"), rng.normal(size=(700, 16))),
                     "data": (("integration", "row", "col"),
                              rng.normal(size=(700, 16, 8)).astype(np.float32))}).chunk({"integration": 70})
    monkeypatch.setattr(defaults, "NETCDF_WRITE_BLOCK", 2**15)
    monkeypatch.setattr(netcdf, "_COMPRESS_ABOVE", 2**12)
    merged = netcdf._merge_write_blocks(ds)
    assert merged["flux"].chunks[0] == (210, 210, 210, 70)  # 8,960 B per chunk: 3 per 32 KiB
    assert merged["data"].chunks[0] == ds["data"].chunks[0]  # 35,840 B per chunk already
    to_netcdf(ds, tmp_path / "m.nc")
    with xr.open_dataset(tmp_path / "m.nc") as back:
        assert tuple(back["flux"].encoding["chunksizes"]) == (70, 16)
        assert tuple(back["data"].encoding["chunksizes"]) == (70, 16, 8)
        xr.testing.assert_identical(back.load(), ds.load())


def test_refuses_existing_output_unless_overwrite(rateints_path, tmp_path):
    out = tmp_path / "out.nc"
    out.write_text("keep me")
    ds = open_rateints(rateints_path)
    with pytest.raises(OutputExistsError, match="out.nc"):
        to_netcdf(ds, out)
    assert out.read_text() == "keep me"
    to_netcdf(ds, out, overwrite=True)
    xr.testing.assert_identical(xr.open_dataset(out).load(), ds.load())


def _boom(block):
    if block.flat[0] > 0.5:
        raise RuntimeError("boom in the middle of writing")
    return block


@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_failed_write_leaves_no_partial_file(tmp_path, existing):
    values = np.zeros((6, 416, 72), np.float32)
    values[4:] = 1.0  # the third chunk raises
    ds = xr.Dataset({"data": (("integration", "row", "col"),
                              da.from_array(values, chunks=(2, 416, 72)).map_blocks(_boom))})
    out = tmp_path / "out.nc"
    if existing:
        out.write_text("previous result")
    with pytest.raises(RuntimeError, match="boom"):
        to_netcdf(ds, out, overwrite=True)
    assert os.listdir(tmp_path) == (["out.nc"] if existing else [])
    if existing:
        assert out.read_text() == "previous result"


@pytest.mark.parametrize("attrs", [{"flag": True}, {"none": None}, {"d": {"a": 1}}],
                         ids=["bool", "none", "dict"])
def test_unstorable_attrs_refused_before_writing(tmp_path, attrs):
    ds = xr.Dataset({"x": ("i", np.arange(3), attrs)})
    with pytest.raises(ParameterError, match=list(attrs)[0]):
        to_netcdf(ds, tmp_path / "x.nc")
    assert os.listdir(tmp_path) == []


def test_compute_false_writes_on_compute(rateints_path, tmp_path):
    ds = open_rateints(rateints_path, chunks=2)
    out = tmp_path / "late.nc"
    delayed = to_netcdf(ds, out, compute=False)
    assert not out.exists()
    delayed.compute()
    xr.testing.assert_identical(xr.open_dataset(out).load(), ds.load())
    assert os.listdir(tmp_path) == ["late.nc"]


def test_to_netcdf_missing_folder(tmp_path):
    from xmiri.exceptions import InvalidFileError

    with pytest.raises(InvalidFileError, match="does not exist"):
        to_netcdf(xr.Dataset(), tmp_path / "nope" / "x.nc")
