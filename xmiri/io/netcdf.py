"""Writing any xmiri Dataset to netCDF-4, atomically."""
import contextlib
import numbers

import numpy as np
import xarray as xr

from ..exceptions import ParameterError
from .atomic import check_target, commit, temporary_path, writing
from .chunks import default_chunks

__all__ = ["to_netcdf"]

_COMPRESS_ABOVE = 2**20  # bytes


def _storable(value):
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (str, numbers.Number, np.number)):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim <= 1 and value.dtype.kind in "iufUS"
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and (all(isinstance(v, str) for v in value) or all(
            isinstance(v, (numbers.Number, np.number)) and not isinstance(v, (bool, np.bool_))
            for v in value))
    return False


def _check_attrs(ds):
    for owner, attrs in [("the Dataset", ds.attrs)] + [
            (f"variable {name!r}", var.attrs) for name, var in ds.variables.items()]:
        for key, value in attrs.items():
            if not _storable(value):
                raise ParameterError(
                    f"cannot write attribute {key!r} of {owner}: netCDF stores str, numbers and "
                    f"1-D numeric arrays, not {type(value).__name__} ({value!r}); convert it "
                    f"(e.g. str() or int()) or drop it")


def _encoding(ds, compress):
    encoding = {}
    for name, var in ds.variables.items():
        enc = {}
        if compress and var.ndim and var.dtype.kind in "iufb" and var.nbytes > _COMPRESS_ABOVE:
            enc.update(zlib=True, complevel=4, shuffle=True)
            if var.chunks:
                enc["chunksizes"] = tuple(int(c[0]) for c in var.chunks)
            else:
                lead = default_chunks(*var.shape[1:3]) if var.ndim == 3 else var.shape[0]
                enc["chunksizes"] = (min(var.shape[0], lead),) + tuple(var.shape[1:])
        encoding[name] = enc
    return encoding


def to_netcdf(ds, path, *, overwrite=False, compress=True, compute=True):
    """Write a Dataset to netCDF-4 atomically.

    The file is written under a temporary name in the target folder and
    moved into place only once complete, so a failure (or an interrupted
    computation) never leaves a partial file at `path`.

    Parameters
    ----------
    ds : xarray.Dataset
        Any Dataset xmiri produces (dask-backed variables are computed
        chunk by chunk while writing).
    path : str or os.PathLike
        Output file.
    overwrite : bool, optional
        Replace an existing `path` (default: refuse).
    compress : bool, optional
        Compress with zlib (level 4, with shuffle) variables larger than 1 MiB, with
        netCDF chunks matching the dask chunks along the first dimension.
    compute : bool, optional
        If False, return a :class:`dask.delayed.Delayed` that writes the data
        and moves the file into place when computed.  The metadata is
        written to the temporary file at once; if that computation fails, the
        hidden temporary file (``.NAME.*.xmiri-tmp``) is left to delete.

    Returns
    -------
    None or dask.delayed.Delayed
        None when written (``compute=True``); otherwise the delayed write,
        whose ``compute()`` writes the file and moves it into place.

    Raises
    ------
    OutputExistsError
        `path` exists and `overwrite` is False.
    ParameterError
        An attribute cannot be stored in netCDF (bool, None, dict, ...).
    InvalidFileError
        The target folder does not exist or is not writable, or the disk or
        the quota filled up while writing (the message says which and names
        `path`; no partial file is left, an earlier `path` is kept).

    Examples
    --------
    >>> import tempfile, pathlib, xmiri
    >>> sim, _ = xmiri.simulate.simulate(3, seed=1)
    >>> spec = sim.lrs.subtract().lrs.extract().compute()
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stage2.nc"
    >>> to_netcdf(spec, path)
    >>> with xr.open_dataset(path) as back:
    ...     xr.testing.assert_identical(back.load(), spec)
    """
    if not isinstance(ds, xr.Dataset):
        raise ParameterError(f"to_netcdf writes an xarray.Dataset, got {type(ds).__name__}")
    path = check_target(path, overwrite=overwrite)
    _check_attrs(ds)
    out = ds.copy(deep=False)
    for var in out.variables.values():
        var.encoding = {}
    out.encoding = {}
    encoding = _encoding(out, compress)  # netCDF chunks follow the dask chunks, before merging
    out = _merge_write_blocks(out)
    tmp = temporary_path(path)
    with writing(tmp, path), _small_chunk_cache():
        written = out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding, compute=compute)
    if not compute:
        import dask

        return dask.delayed(_commit_after, pure=False)(written, tmp, path, overwrite)
    commit(tmp, path, overwrite=overwrite)
    return None


def _merged_chunks(chunks, bytes_per_item, target):
    """Consecutive `chunks` summed in groups, each group up to `target` bytes (at least one chunk).

    Examples
    --------
    >>> _merged_chunks((100,) * 7, bytes_per_item=1000, target=250_000)
    (200, 200, 200, 100)
    >>> _merged_chunks((100, 100), bytes_per_item=10**6, target=1)
    (100, 100)
    """
    merged, current = [], 0
    for size in chunks:
        if current and (current + size) * bytes_per_item > target:
            merged.append(current)
            current = 0
        current += size
    merged.append(current)
    return tuple(merged)


def _merge_write_blocks(ds):
    """`ds` with the integration chunks of each dask variable merged for writing.

    Each dask chunk becomes one write task; under dask.distributed each such
    task reopens the file and takes a cluster-wide lock, which for spectra
    (3 kB per integration) costs more than the write.  Blocks of up to
    :data:`xmiri.defaults.NETCDF_WRITE_BLOCK` bytes keep memory bounded and
    the netCDF chunks (set from the original dask chunks) aligned.
    """
    from ..defaults import NETCDF_WRITE_BLOCK

    out = ds.copy(deep=False)
    for name, var in ds.variables.items():
        if var.chunks is None or "integration" not in var.dims or var.size == 0:
            continue
        axis = var.dims.index("integration")
        per_item = var.nbytes // var.shape[axis]
        chunks = _merged_chunks(var.chunks[axis], per_item, NETCDF_WRITE_BLOCK)
        if chunks != var.chunks[axis]:
            out[name] = var.chunk({"integration": chunks})
    return out


@contextlib.contextmanager
def _small_chunk_cache():
    """netCDF-C's chunk cache at :data:`xmiri.defaults.NETCDF_CHUNK_CACHE` for files opened here.

    The default (64 MiB per variable) fills with compressed chunks while a
    long exposure is written, so the writer's memory grows with it.  The
    setting is process-wide; it is restored afterwards.
    """
    import netCDF4

    from ..defaults import NETCDF_CHUNK_CACHE

    previous = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(NETCDF_CHUNK_CACHE, previous[1], previous[2])
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*previous)


def _commit_after(_written, tmp, path, overwrite):
    """Move the temporary file into place once the delayed write `_written` has run."""
    commit(tmp, path, overwrite=overwrite)
