"""Faults met on a real machine name their cause: a full disk or quota, an input changed after opening."""
import errno
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri.exceptions import InvalidFileError
from xmiri.io import atomic

from tests.conftest import simulated_segments


@pytest.fixture(scope="module")
def spec():
    ds, _ = xmiri.simulate.simulate(3, seed=1)
    return ds.lrs.subtract().lrs.extract().compute()


def _failing_write(error):
    """A stand-in for Dataset.to_netcdf that writes part of the file, then fails with `error`."""
    def write(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"CDF partial")
        raise error
    return write


@pytest.mark.parametrize("error, code, words", [
    (OSError(errno.ENOSPC, "No space left on device"), errno.ENOSPC, "the disk is full"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), errno.EDQUOT, "the disk quota is exceeded"),
], ids=["ENOSPC", "EDQUOT"])
def test_a_full_disk_or_quota_is_named_and_leaves_no_partial_file(spec, tmp_path, monkeypatch, error, code,
                                                                   words):
    out = tmp_path / "stage2.nc"
    out.write_bytes(b"the earlier output")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_write(error))
    with pytest.raises(InvalidFileError) as info:
        xmiri.to_netcdf(spec, out, overwrite=True)
    assert str(out) in str(info.value) and words in str(info.value)
    assert info.value.__cause__ is error and error.errno == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage2.nc"]  # no temporary file left
    assert out.read_bytes() == b"the earlier output"  # kept


def test_netcdfs_hdf_error_on_a_full_disk_is_named(spec, tmp_path, monkeypatch):
    """netCDF-C reports a full disk as "NetCDF: HDF error"; a probe write beside the output tells why."""
    out = tmp_path / "stage2.nc"
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_write(RuntimeError("NetCDF: HDF error")))
    probed, probe = [], atomic.probe

    def full(path, nbytes=atomic.PROBE_BYTES):
        probed.append(path)
        return probe("/dev/full", nbytes)  # a real ENOSPC from the kernel

    monkeypatch.setattr(atomic, "probe", full)
    with pytest.raises(InvalidFileError, match="the disk is full") as info:
        xmiri.to_netcdf(spec, out)
    assert str(out) in str(info.value)
    assert probed and probed[0].parent == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_an_hdf_error_with_room_on_the_disk_is_left_as_it_is(spec, tmp_path, monkeypatch):
    out = tmp_path / "stage2.nc"
    error = RuntimeError("NetCDF: HDF error")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_write(error))
    with pytest.raises(RuntimeError) as info:
        xmiri.to_netcdf(spec, out)
    assert info.value is error  # not blamed on the disk: the probe found room
    assert list(tmp_path.iterdir()) == []


def test_probe_reports_enospc_and_removes_its_file(tmp_path):
    assert atomic.probe("/dev/full") == errno.ENOSPC
    assert atomic.probe(tmp_path / "probe") is None
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def copy_of_segments(tmp_path):
    (tmp_path / "orig").mkdir()
    paths = map(Path, simulated_segments(tmp_path / "orig", 6, n_segments=2, seed=3))
    copies = []
    for p in paths:
        copies.append(tmp_path / p.name)
        shutil.copy(p, copies[-1])
    return copies


def test_an_input_truncated_after_opening_is_named(copy_of_segments):
    ds = xmiri.open_rateints(copy_of_segments, chunks=3)
    second = copy_of_segments[1]
    with open(second, "r+b") as f:
        f.truncate(second.stat().st_size // 2)
    with pytest.raises(InvalidFileError, match="changed on disk after it was opened") as info:
        ds["data"].load()
    assert str(second) in str(info.value)
    np.testing.assert_array_equal(ds["data"].isel(integration=slice(0, 3)).values.shape, (3, 416, 72))


def test_an_input_removed_or_rewritten_after_opening_is_named(copy_of_segments):
    ds = xmiri.open_rateints(copy_of_segments, chunks=3)
    first, second = copy_of_segments
    data = first.read_bytes()
    first.write_bytes(data[:-2880] + b"\0" * 2880)  # same size, other bytes
    with pytest.raises(InvalidFileError, match="modified on disk after it was opened") as info:
        ds["data"].isel(integration=0).load()
    assert str(first) in str(info.value)
    second.unlink()
    with pytest.raises(InvalidFileError, match="was removed after it was opened") as info:
        ds["dq"].isel(integration=-1).load()
    assert str(second) in str(info.value)


@pytest.mark.parametrize("read, words", [
    (lambda manager, extname, key: np.empty((0, 416, 72), np.float32), "holds fewer values than its header says"),
    (lambda manager, extname, key: np.empty(0).reshape(3, 416, 72), "cannot read integrations 1-3 of SCI from"),
], ids=["short-read", "reader-error"])
def test_a_failed_read_of_an_unchanged_file_names_it(copy_of_segments, monkeypatch, read, words):
    import xmiri.io.array

    ds = xmiri.open_rateints(copy_of_segments, chunks=3)
    monkeypatch.setattr(xmiri.io.array, "read_block", read)
    with pytest.raises(InvalidFileError, match=words) as info:
        ds["data"].isel(integration=slice(0, 3)).load()
    assert str(copy_of_segments[0]) in str(info.value)
