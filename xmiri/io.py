"""Reading MIRI LRS slitless rateints/calints files, and writing results.

:func:`open_rateints` opens one or more segment files of one exposure as one
lazy, dask-backed :class:`xarray.Dataset` with dims
``(integration, row, col)``; :class:`XmiriBackendEntrypoint` makes the same
reader available as ``xr.open_dataset(path, engine="xmiri")``;
:func:`from_datamodel` wraps a jwst datamodel already in memory; and
:func:`to_netcdf` writes any Dataset xmiri produces atomically.

Laziness
--------
Opening reads the FITS headers, the small ``INT_TIMES`` table and the
wavelength map, nothing else.  Each image extension is wrapped in a
:class:`FitsImageArray` (an :class:`xarray.backends.BackendArray`) that
reads only the requested integrations with ``ImageHDU.section`` from a
file held by an :class:`xarray.backends.CachingFileManager`, so dask tasks
pickle (the file is reopened by path in another process).  The data are
read with seeks, not memory-mapped: pages of a memory map that a long
exposure has touched stay in the process's resident memory, which then
grows with the exposure (measured: 1.8 GB peak RSS for 4,000 integrations
memory-mapped, 0.49 GB read with seeks, at the same speed).

Files refused
-------------
Every refusal happens when the file is opened and raises an
:mod:`xmiri.exceptions` error naming the file: a missing path or a glob
matching nothing, a non-FITS, empty or truncated file, a gzip/bzip2
compressed file (see below), another instrument or MIRI mode
(:class:`~xmiri.exceptions.UnsupportedModeError`), missing SCI/ERR/DQ
extensions or non-3-D images (:class:`~xmiri.exceptions.InvalidFileError`),
and segments that do not belong together or repeat integrations
(:class:`~xmiri.exceptions.SegmentMismatchError`).

Compressed files (``.fits.gz``) are refused with a message saying to
decompress them first: astropy can read them only by decompressing the whole
file into memory (no memory map), which defeats lazy, per-integration reads
and would silently load every segment into every dask worker.  JWST archive
products are not compressed.
"""
import functools
import glob
import logging
import numbers
import os
import types
import uuid
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr
from astropy.io import fits
from xarray.backends import BackendArray, BackendEntrypoint, CachingFileManager
from xarray.backends.locks import SerializableLock
from xarray.core import indexing

from . import dq as _dq
from ._version import __version__
from .exceptions import (InvalidFileError, OutputExistsError, ParameterError,
                         SegmentMismatchError, UnsupportedModeError, XmiriError)
from .wavelength import _crds_configured, resolve_wavelength

__all__ = ["open_rateints", "from_datamodel", "to_netcdf", "default_chunks",
           "XmiriBackendEntrypoint", "FitsImageArray", "VARIABLES", "PRIMARY_KEYWORDS",
           "SUPPORTED_EXP_TYPES"]

log = logging.getLogger(__name__)

#: Dataset variable name -> FITS extension name; the first three are required.
VARIABLES = {"data": "SCI", "err": "ERR", "dq": "DQ",
             "var_poisson": "VAR_POISSON", "var_rnoise": "VAR_RNOISE"}
_REQUIRED = ("data", "err", "dq")
_DTYPES = {"data": np.float32, "err": np.float32, "dq": np.uint32,
           "var_poisson": np.float32, "var_rnoise": np.float32}
_LONG_NAMES = {
    "data": "count rate (SCI)",
    "err": "count-rate uncertainty, 1 sigma (ERR)",
    "dq": "JWST pixel data-quality bit field (DQ)",
    "var_poisson": "Poisson variance of the count rate (VAR_POISSON)",
    "var_rnoise": "read-noise variance of the count rate (VAR_RNOISE)",
}

#: Primary-header keywords copied into ``Dataset.attrs`` (when present).
PRIMARY_KEYWORDS = ("TELESCOP", "INSTRUME", "DETECTOR", "EXP_TYPE", "SUBARRAY", "FILTER",
                    "READPATT", "NGROUPS", "NINTS", "NFRAMES", "EFFINTTM", "TARGNAME",
                    "PROGRAM", "OBSERVTN", "VISIT", "EXPOSURE", "OBS_ID", "CAL_VER",
                    "DATE-OBS", "TIME-OBS")
# Keywords that must agree between segments of one exposure (when both have them).
_EXPOSURE_KEYWORDS = ("INSTRUME", "DETECTOR", "EXP_TYPE", "SUBARRAY", "FILTER", "READPATT",
                      "NGROUPS", "NFRAMES", "NINTS", "TARGNAME", "PROGRAM", "OBSERVTN",
                      "VISIT", "EXPOSURE", "OBS_ID", "VISIT_ID")
#: EXP_TYPE values xmiri reduces.
SUPPORTED_EXP_TYPES = ("MIR_LRS-SLITLESS",)

_FITS_MAGIC = b"SIMPLE  ="
_COMPRESSED_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"PK\x03\x04": "zip",
                     b"\xfd7zXZ": "xz"}
_DEFAULT_TARGET_BYTES = 8 * 2**20
_DIMS = ("integration", "row", "col")
# One lock for every FITS read: astropy's lazily loaded HDU lists and memory
# maps are not safe to use from several threads at once.  Reads are small.
_FITS_LOCK = SerializableLock()


# --------------------------------------------------------------------------
# chunks


def default_chunks(n_rows, n_cols, *, target_bytes=_DEFAULT_TARGET_BYTES, itemsize=4):
    """Integrations per dask chunk for frames of ``n_rows x n_cols``.

    Parameters
    ----------
    n_rows, n_cols : int
        Frame shape.
    target_bytes : int, optional
        Aimed-at size of one chunk of a float32 variable (default 8 MiB).
    itemsize : int, optional
        Bytes per pixel (4 for float32 and uint32).

    Returns
    -------
    int
        ``max(1, target_bytes // (n_rows * n_cols * itemsize))``.

    Examples
    --------
    >>> default_chunks(416, 72)
    70
    """
    frame = int(n_rows) * int(n_cols) * int(itemsize)
    if frame <= 0:
        raise ParameterError(f"frame shape must be positive, got {n_rows} x {n_cols}")
    return max(1, int(target_bytes) // frame)


def _positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ParameterError(f"{name} must be a positive integer, -1, 'auto' or None; got {value!r}")
    value = int(value)
    if value == -1:
        return -1
    if value < 1:
        raise ParameterError(f"{name} must be a positive integer (or -1 for one chunk), got {value}")
    return value


def _integration_chunks(chunks, n_rows, n_cols):
    """Normalise the ``chunks`` argument to the integration chunk size."""
    if chunks is None:
        return default_chunks(n_rows, n_cols)
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ParameterError(f"chunks must be an int, 'auto', a dict or None; got {chunks!r}")
        return "auto"
    if isinstance(chunks, dict):
        sizes = {"row": n_rows, "col": n_cols}
        for dim, size in chunks.items():
            if dim == "integration":
                continue
            if dim not in sizes:
                raise ParameterError(f"chunks: unknown dimension {dim!r}; dims are {_DIMS}")
            if size not in (None, -1, sizes[dim]):
                raise ParameterError(
                    f"chunks: xmiri chunks only along 'integration' (row and col are core "
                    f"dimensions of every step); got {dim}={size!r}")
        value = chunks.get("integration")
        if value is None:
            return default_chunks(n_rows, n_cols)
        if value == "auto":
            return "auto"
        return _positive_int("chunks['integration']", value)
    return _positive_int("chunks", chunks)


# --------------------------------------------------------------------------
# checking and inspecting one file


def _fail(path, what):
    return InvalidFileError(f"{path}: {what}")


def _check_path(path):
    """A readable, uncompressed FITS path, or raise InvalidFileError."""
    if not os.path.exists(path):
        raise _fail(path, "no such file")
    if os.path.isdir(path):
        raise _fail(path, "is a folder, not a FITS file")
    if not os.path.isfile(path):  # a FIFO or device would block or stream
        raise _fail(path, "is not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(80)
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    for magic, kind in _COMPRESSED_MAGIC.items():
        if head.startswith(magic):
            raise _fail(path, f"is {kind}-compressed; xmiri reads FITS files lazily through a "
                              f"memory map, which compressed files do not allow. Decompress it "
                              f"first (e.g. `gunzip -k {os.path.basename(path)}`) and open the "
                              f".fits file")
    if not head:
        raise _fail(path, "is empty (0 bytes)")
    if not head.startswith(_FITS_MAGIC):
        raise _fail(path, "is not a FITS file (it does not start with 'SIMPLE  =')")


def _data_bytes(header):
    """Bytes of data an HDU header announces (FITS standard, padding excluded)."""
    naxis = int(header.get("NAXIS", 0))
    n_values = int(np.prod([int(header[f"NAXIS{k}"]) for k in range(1, naxis + 1)])) if naxis else 0
    return abs(int(header.get("BITPIX", 8))) // 8 * int(header.get("GCOUNT", 1)) * (
        int(header.get("PCOUNT", 0)) + n_values)


def _open_hdul(path):
    """Open `path` read-only with every header read, refusing truncated files."""
    _check_path(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, mode="readonly", memmap=True, do_not_scale_image_data=True)
            try:
                n_hdus = len(hdul)  # reads every header
            except BaseException:
                hdul.close()
                raise
    except (OSError, ValueError, TypeError, IndexError, KeyError, fits.VerifyError) as exc:
        raise _fail(path, f"cannot be read as FITS ({exc})") from None
    size = os.path.getsize(path)
    truncated = any("truncated" in str(w.message).lower() for w in caught)
    try:
        truncated = truncated or any(hdul.fileinfo(i)["datLoc"] + _data_bytes(hdul[i].header) > size
                                     for i in range(n_hdus))
    except (KeyError, ValueError, TypeError) as exc:
        hdul.close()
        raise _fail(path, f"has a malformed header ({exc})") from None
    if truncated:
        hdul.close()
        raise _fail(path, f"is truncated ({size} bytes; the headers describe more data) - "
                          f"was the download or copy interrupted?")
    return hdul


def _plain(value):
    """A FITS header value as str/int/float (None for undefined ones)."""
    if isinstance(value, (bool, np.bool_)):
        return "T" if value else "F"
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value.strip()
    return None


def _check_mode(name, primary):
    """Refuse anything but MIRI LRS slitless."""
    instrument = primary.get("INSTRUME")
    exp_type = primary.get("EXP_TYPE")
    if instrument is None or exp_type is None:
        missing = " and ".join(k for k, v in (("INSTRUME", instrument), ("EXP_TYPE", exp_type))
                               if v is None)
        raise InvalidFileError(f"{name}: no {missing} keyword in the primary header; "
                               f"not a JWST pipeline product")
    if str(instrument).upper() != "MIRI":
        raise UnsupportedModeError(
            f"{name}: INSTRUME is {instrument!r} (EXP_TYPE {exp_type!r}); xmiri reduces MIRI "
            f"LRS slitless time series (EXP_TYPE {' or '.join(SUPPORTED_EXP_TYPES)}) only")
    if str(exp_type).upper() not in SUPPORTED_EXP_TYPES:
        raise UnsupportedModeError(
            f"{name}: EXP_TYPE is {exp_type!r}; xmiri reduces MIRI LRS slitless time series "
            f"(EXP_TYPE {' or '.join(SUPPORTED_EXP_TYPES)}) only")


@dataclass
class _Segment:
    """What opening needs to know about one file (headers and small tables only)."""

    path: str
    name: str
    primary: dict
    n_int: int
    shape: tuple  # (n_rows, n_cols)
    int_start: int
    int_end: int
    has_intstart: bool
    extensions: dict  # var -> (extname, bzero, bscale)
    units: dict  # var -> BUNIT or None
    times: np.ndarray  # (n_int,) mid-integration BJD_TDB, NaN where missing
    times_note: str = ""
    mtime: float = 0.0
    size: int = 0
    wcs_assigned: bool = False


def _int_times(hdul, numbers_):
    """Mid-integration BJD_TDB for `numbers_`, NaN where INT_TIMES lacks them."""
    out = np.full(len(numbers_), np.nan)
    if "INT_TIMES" not in hdul:
        return out, "there is no INT_TIMES table"
    hdu = hdul["INT_TIMES"]
    names = [c.name for c in hdu.columns] if isinstance(hdu, fits.BinTableHDU) else []
    if "integration_number" not in names or "int_mid_BJD_TDB" not in names:
        return out, "INT_TIMES has no integration_number/int_mid_BJD_TDB columns"
    table = hdu.data
    if table is None or len(table) == 0:
        return out, "the INT_TIMES table is empty"
    lookup = dict(zip(np.asarray(table["integration_number"]).astype(np.int64).tolist(),
                      np.asarray(table["int_mid_BJD_TDB"], dtype=np.float64).tolist()))
    for i, number in enumerate(numbers_):
        out[i] = lookup.get(int(number), np.nan)
    return out, "INT_TIMES lacks some of its integrations"


def _inspect(path):
    """Check one file and collect its headers, INT_TIMES and layout."""
    hdul = _open_hdul(path)
    try:
        return _inspect_hdul(path, hdul)
    except XmiriError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, fits.VerifyError) as exc:
        raise _fail(path, f"has a malformed header or table ({type(exc).__name__}: {exc})") from None
    finally:
        hdul.close()


def _inspect_hdul(path, hdul):
    """The checks and header reading of :func:`_inspect` on an open file."""
    name = os.path.basename(path)
    header0 = hdul[0].header
    primary = {k: _plain(header0[k]) for k in set(PRIMARY_KEYWORDS + _EXPOSURE_KEYWORDS
                                                   + ("INTSTART", "INTEND", "S_WCS"))
               if k in header0}
    primary = {k: v for k, v in primary.items() if v is not None}
    _check_mode(path, primary)
    for var in _REQUIRED:
        if VARIABLES[var] not in hdul:
            raise InvalidFileError(
                f"{path}: no {VARIABLES[var]} extension; a rateints/calints file has SCI, "
                f"ERR and DQ image extensions")
    sci = hdul["SCI"].header
    if sci.get("NAXIS") != 3:
        dims = tuple(sci.get(f"NAXIS{k}") for k in range(sci.get("NAXIS", 0), 0, -1))
        raise InvalidFileError(
            f"{path}: SCI is {sci.get('NAXIS')}-D with shape {dims}; xmiri needs a 3-D cube "
            f"(integration, row, col) as in _rateints/_calints files (a _rate/_cal file "
            f"averages the integrations)")
    shape = (sci["NAXIS3"], sci["NAXIS2"], sci["NAXIS1"])
    if min(shape) < 1:
        raise InvalidFileError(f"{path}: SCI has an empty axis (shape {shape})")
    extensions, units = {}, {}
    for var, extname in VARIABLES.items():
        if extname not in hdul:
            continue
        hdu = hdul[extname]
        hdr = hdu.header
        if not isinstance(hdu, (fits.ImageHDU, fits.PrimaryHDU)):
            raise InvalidFileError(f"{path}: {extname} is a {type(hdu).__name__}, not an image")
        ext_shape = tuple(hdr.get(f"NAXIS{k}") for k in range(hdr.get("NAXIS", 0), 0, -1))
        if ext_shape != shape:
            raise InvalidFileError(
                f"{path}: {extname} has shape {ext_shape}, SCI has {shape}")
        bitpix = hdr.get("BITPIX")
        if var == "dq" and bitpix not in (8, 16, 32, 64):
            raise InvalidFileError(f"{path}: DQ must hold integers, it has BITPIX={bitpix}")
        extensions[var] = (extname, float(hdr.get("BZERO", 0)), float(hdr.get("BSCALE", 1)))
        units[var] = _plain(hdr.get("BUNIT"))
    n_int = shape[0]
    has_start = "INTSTART" in primary
    start = int(primary.get("INTSTART", 1))
    end = int(primary.get("INTEND", start + n_int - 1))
    if end - start + 1 != n_int:
        raise InvalidFileError(
            f"{path}: INTSTART..INTEND = {start}..{end} ({end - start + 1} integrations), "
            f"but SCI holds {n_int}")
    try:
        times, note = _int_times(hdul, range(start, end + 1))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InvalidFileError(f"{path}: the INT_TIMES table cannot be read ({exc})") from None
    stat = os.stat(path)
    return _Segment(path=path, name=name, primary=primary, n_int=n_int, shape=shape[1:],
                    int_start=start, int_end=end, has_intstart=has_start,
                    extensions=extensions, units=units, times=times, times_note=note,
                    mtime=stat.st_mtime_ns, size=stat.st_size,
                    wcs_assigned=str(primary.get("S_WCS", "")).upper() == "COMPLETE")


# --------------------------------------------------------------------------
# several segments


def _expand_paths(paths):
    """One path, a glob pattern or a sequence of paths -> list of absolute paths."""
    if isinstance(paths, (str, os.PathLike)):
        text = os.path.expanduser(os.fspath(paths))
        if os.path.exists(text) or not glob.has_magic(text):
            return [os.path.abspath(text)]
        found = sorted(glob.glob(text))
        if not found:
            raise InvalidFileError(f"{text}: no file matches this pattern")
        return [os.path.abspath(p) for p in found]
    if isinstance(paths, (bytes, bytearray)) or not hasattr(paths, "__iter__"):
        raise ParameterError(f"paths must be a path, a glob pattern or a list of paths; "
                             f"got {type(paths).__name__}")
    out = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise ParameterError(f"paths must hold str or os.PathLike, got {p!r}")
        out.append(os.path.abspath(os.path.expanduser(os.fspath(p))))
    if not out:
        raise ParameterError("paths is empty: give at least one rateints/calints file")
    return out


def _label(seg, other):
    return seg.path if seg.name == other.name else seg.name


def _check_segments(segments):
    """Same exposure, same layout, no repeated integrations.  Sorts in place."""
    segments.sort(key=lambda s: (s.int_start, s.path))
    first = segments[0]
    for seg in segments[1:]:
        a, b = _label(first, seg), _label(seg, first)
        problems = []
        if seg.shape != first.shape:
            problems.append(f"frame shape is {first.shape} in {a} and {seg.shape} in {b}")
        for key in _EXPOSURE_KEYWORDS:
            if key in first.primary and key in seg.primary and first.primary[key] != seg.primary[key]:
                problems.append(f"{key} is {first.primary[key]!r} in {a} and "
                                f"{seg.primary[key]!r} in {b}")
        if set(seg.extensions) != set(first.extensions):
            problems.append(f"extensions differ: {sorted(VARIABLES[v] for v in first.extensions)}"
                            f" in {a}, {sorted(VARIABLES[v] for v in seg.extensions)} in {b}")
        if seg.units.get("data") != first.units.get("data"):
            problems.append(f"SCI BUNIT is {first.units.get('data')!r} in {a} and "
                            f"{seg.units.get('data')!r} in {b}")
        if problems:
            raise SegmentMismatchError(f"{a} and {b} are not segments of one exposure: "
                                       + "; ".join(problems))
    for prev, seg in zip(segments, segments[1:]):
        if seg.int_start <= prev.int_end:
            a, b = _label(prev, seg), _label(seg, prev)
            hint = ("" if prev.has_intstart and seg.has_intstart
                    else " (a file without INTSTART/INTEND is numbered from 1)")
            last = min(prev.int_end, seg.int_end)
            both = (f"integration {last}" if last == seg.int_start
                    else f"integrations {seg.int_start}-{last}")
            raise SegmentMismatchError(
                f"{a} (integrations {prev.int_start}-{prev.int_end}) and {b} (integrations "
                f"{seg.int_start}-{seg.int_end}) both hold {both}{hint}; give each segment once")
        if seg.int_start > prev.int_end + 1:
            warnings.warn(f"integrations {prev.int_end + 1}-{seg.int_start - 1} are missing "
                          f"between {prev.name} and {seg.name}", UserWarning, stacklevel=4)
    return segments


# --------------------------------------------------------------------------
# lazy arrays


def _scale(raw, bzero, bscale, dtype):
    """Stored FITS values -> physical values of `dtype`, native byte order."""
    raw = np.asarray(raw)
    raw = raw.astype(raw.dtype.newbyteorder("="), copy=False)
    if bscale == 1 and bzero == 0:
        return raw.astype(dtype, copy=False)
    if bscale == 1 and float(bzero).is_integer() and raw.dtype.kind in "iu":
        # e.g. uint32 stored as int32 with BZERO = 2**31: exact in int64
        return (raw.astype(np.int64) + np.int64(bzero)).astype(dtype)
    return (raw.astype(np.float64) * bscale + bzero).astype(dtype)


def _read_block(manager, extname, key):
    """Stored values of ``extname[key]`` (key: three slices with step 1).

    The only function that reads image data from a file; tests wrap it to
    count what is read.
    """
    with _FITS_LOCK, manager.acquire_context() as hdul:
        return np.array(hdul[extname].section[key], copy=True)


def _span(key, size):
    """A contiguous slice covering `key` (an int or a slice) and the index into it.

    The index is an int (dimension dropped), ``slice(None)`` or an integer
    array (stepped or reversed slices).
    """
    if isinstance(key, (numbers.Integral, np.integer)):
        k = int(key) + (size if key < 0 else 0)
        return slice(k, k + 1), 0
    idx = np.arange(size)[key]
    if idx.size == 0:
        return slice(0, 0), slice(None)
    lo, hi = int(idx.min()), int(idx.max()) + 1
    if idx.size == hi - lo and idx[0] == lo:
        return slice(lo, hi), slice(None)
    return slice(lo, hi), idx - lo


class FitsImageArray(BackendArray):
    """Lazy ``(integration, row, col)`` array over one image extension of segment files.

    Parameters
    ----------
    managers : list of xarray.backends.CachingFileManager
        One per segment, in integration order; each opens the file with
        ``astropy.io.fits.open(path, mode="readonly", memmap=False,
        do_not_scale_image_data=True)``.
    extensions : list of (str, float, float)
        ``(extname, BZERO, BSCALE)`` per segment.
    n_ints : list of int
        Integrations per segment.
    frame_shape : (int, int)
        ``(n_rows, n_cols)``.
    dtype : numpy.dtype
        Dtype of the values returned (native byte order).
    """

    def __init__(self, managers, extensions, n_ints, frame_shape, dtype):
        self.managers = list(managers)
        self.extensions = list(extensions)
        self.n_ints = [int(n) for n in n_ints]
        self.offsets = np.concatenate([[0], np.cumsum(self.n_ints)]).astype(int)
        self.shape = (int(self.offsets[-1]),) + tuple(int(s) for s in frame_shape)
        self.dtype = np.dtype(dtype)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._getitem)

    def _getitem(self, key):
        int_key, row_key, col_key = key
        row_span, row_index = _span(row_key, self.shape[1])
        col_span, col_index = _span(col_key, self.shape[2])
        wanted = np.atleast_1d(np.arange(self.shape[0])[int_key])
        # `wanted` is monotonic (one index or a slice): read one run per segment
        seg_of = np.searchsorted(self.offsets, wanted, side="right") - 1
        pieces = []
        for run in np.split(np.arange(wanted.size), np.flatnonzero(np.diff(seg_of)) + 1):
            if run.size == 0:
                continue
            s = int(seg_of[run[0]])
            local = wanted[run] - self.offsets[s]
            lo, hi = int(local.min()), int(local.max()) + 1
            extname, bzero, bscale = self.extensions[s]
            raw = _read_block(self.managers[s], extname, (slice(lo, hi), row_span, col_span))
            block = _scale(raw, bzero, bscale, self.dtype)
            if local.size != hi - lo or local[0] != lo:
                block = block[local - lo]
            pieces.append(block)
        if not pieces:
            out = np.empty((0, row_span.stop - row_span.start, col_span.stop - col_span.start),
                           self.dtype)
        else:
            out = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=0)
        out = out[:, :, col_index]  # columns first: an int index drops the last axis
        out = out[:, row_index]
        if isinstance(int_key, (numbers.Integral, np.integer)):
            out = out[0]
        return out


def _close_all(managers):
    for manager in managers:
        manager.close()


def _var_attrs(var, bunit, extname):
    attrs = {"long_name": _LONG_NAMES[var], "fits_extension": extname}
    if var == "dq":
        attrs["flag_masks"] = np.array(list(_dq.FLAGS.values()), dtype=np.uint32)
        attrs["flag_meanings"] = " ".join(_dq.FLAG_NAMES)
    elif bunit:
        attrs["units"] = bunit if var in ("data", "err") else f"({bunit})^2"
    return attrs


_TIME_ATTRS = {"long_name": "mid-integration time, barycentric Julian date (BJD_TDB)",
               "units": "d", "time_scale": "TDB", "source": "INT_TIMES int_mid_BJD_TDB"}
_COORD_ATTRS = {
    "integration": {"long_name": "integration number within the exposure (1-based)"},
    "row": {"long_name": "detector row in the subarray (dispersion axis)"},
    "col": {"long_name": "detector column in the subarray (cross-dispersion axis)"},
}


def _warn_times(times, segments, stacklevel):
    missing = int(np.isnan(times).sum())
    if not missing:
        return
    notes = "; ".join(f"{s.name}: {s.times_note}" for s in segments if np.isnan(s.times).any())
    warnings.warn(f"no mid-integration time for {missing} of {times.size} integrations ({notes});"
                  f" the time coordinate is NaN there", UserWarning, stacklevel=stacklevel)


def _dataset_attrs(primary, sources, call, integrations):
    """Provenance attrs; ``history`` starts with one line in the steps' format."""
    attrs = {k: primary[k] for k in PRIMARY_KEYWORDS if k in primary}
    span = f"{int(integrations[0])}-{int(integrations[-1])}" if len(integrations) else "none"
    source_key = "files" if call == "open_rateints" else "model"
    source_value = list(sources) if call == "open_rateints" else sources[0]
    attrs.update({
        "source_files": ", ".join(sources),
        "xmiri_version": __version__,
        "history": f"xmiri {__version__}: {call}({source_key}={source_value!r}, "
                   f"integrations={span!r})",
    })
    return attrs


def _wavelength(seg, user_map):
    """Resolve the wavelength map of a segment, opening its datamodel only if needed."""
    opened = []

    def open_model():
        from stdatamodels.jwst import datamodels

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = datamodels.open(seg.path)
        opened.append(model)
        return model

    # The datamodel (whole file) is opened only when the file says a WCS was
    # assigned, or when CRDS could assign one: a plain rateints file has none.
    use_model = user_map is None and (seg.wcs_assigned or _crds_configured())
    hdul = None if user_map is not None else _open_hdul(seg.path)
    try:
        return resolve_wavelength(seg.shape, hdul=hdul, user_map=user_map,
                                  model=open_model if use_model else None)
    finally:
        for model in opened:
            model.close()
        if hdul is not None:
            hdul.close()


def _open_segments(paths, chunks, wavelength, drop_variables=()):
    segments = _check_segments([_inspect(p) for p in paths])
    first = segments[0]
    n_rows, n_cols = first.shape
    if chunks is not False:  # refuse bad chunks before reading anything but headers
        n_chunk = _integration_chunks(chunks, n_rows, n_cols)
    integrations = np.concatenate([np.arange(s.int_start, s.int_end + 1) for s in segments])
    times = np.concatenate([s.times for s in segments])
    wmap, wattrs = _wavelength(first, wavelength)
    managers = [CachingFileManager(fits.open, s.path, mode="readonly",
                                   kwargs={"memmap": False, "do_not_scale_image_data": True})
                for s in segments]
    preferred = {"integration": default_chunks(n_rows, n_cols), "row": n_rows, "col": n_cols}
    if chunks is not False:
        from dask.base import tokenize

        token = tokenize([(s.path, s.mtime, s.size) for s in segments], n_chunk)
    variables = {}
    for var in VARIABLES:
        if var not in first.extensions or var in drop_variables:
            continue
        array = FitsImageArray(managers, [s.extensions[var] for s in segments],
                               [s.n_int for s in segments], first.shape, _DTYPES[var])
        v = xr.Variable(_DIMS, indexing.LazilyIndexedArray(array),
                        _var_attrs(var, first.units.get("data"), VARIABLES[var]),
                        {"preferred_chunks": preferred})
        if chunks is not False:
            v = v.chunk({"integration": n_chunk, "row": -1, "col": -1},
                        from_array_kwargs={"name": f"xmiri-{var}-{token}"})
        variables[var] = v
    coords = {
        "integration": ("integration", integrations.astype(np.int64), _COORD_ATTRS["integration"]),
        "time": ("integration", times, dict(_TIME_ATTRS)),
        "row": ("row", np.arange(n_rows, dtype=np.int64), _COORD_ATTRS["row"]),
        "col": ("col", np.arange(n_cols, dtype=np.int64), _COORD_ATTRS["col"]),
        "wavelength": (("row", "col"), np.asarray(wmap, dtype=np.float64), wattrs),
    }
    coords = {k: v for k, v in coords.items() if k not in drop_variables}
    ds = xr.Dataset(variables, coords=coords,
                    attrs=_dataset_attrs(first.primary, [s.name for s in segments], "open_rateints",
                                         integrations))
    ds.set_close(functools.partial(_close_all, managers))
    log.debug("opened %d integrations from %d file(s)", integrations.size, len(segments))
    _warn_times(times, segments, stacklevel=4)
    return ds


def open_rateints(paths, chunks=None, *, wavelength=None):
    """Open MIRI LRS slitless rateints/calints segments as one lazy Dataset.

    Parameters
    ----------
    paths : str, os.PathLike or sequence of them
        One file, a glob pattern (``"jw01234_seg*_rateints.fits"``) or the
        segment files of one exposure, in any order: they are ordered by
        their integration numbers (``INTSTART``).
    chunks : int, "auto", dict or None, optional
        Integrations per dask chunk; ``"auto"`` lets dask choose; a dict may
        only chunk ``integration`` (``{"integration": 50}``); None (default)
        uses :func:`default_chunks` (about 8 MiB per float32 chunk).
    wavelength : array_like, optional
        ``(n_rows, n_cols)`` wavelength map in micron that replaces the one
        found in the file or the packaged default.

    Returns
    -------
    xarray.Dataset
        ``data``, ``err``, ``dq`` and, when present, ``var_poisson`` and
        ``var_rnoise``, dims ``(integration, row, col)``, dask-backed;
        coordinates ``integration``, ``time`` (BJD_TDB, NaN when the file
        has no integration times, with a ``UserWarning``), ``row``, ``col``
        and ``wavelength(row, col)``; attrs with the source file names,
        selected primary-header keywords, ``xmiri_version`` and ``history``.

    Raises
    ------
    InvalidFileError
        A path is missing, a pattern matches nothing, or a file is not a
        readable, complete, uncompressed rateints/calints FITS file.
    UnsupportedModeError
        A file is not MIRI LRS slitless data.
    SegmentMismatchError
        Files are not segments of one exposure or repeat integrations.
    ParameterError
        Bad ``chunks`` or ``wavelength``.

    Notes
    -----
    Only headers, the ``INT_TIMES`` table and the wavelength map are read
    here; frames are read when computed, one dask chunk at a time.

    Examples
    --------
    >>> ds = open_rateints("jw01234001001_04101_0000?-seg00?_mirimage_rateints.fits")  # doctest: +SKIP
    >>> ds.data.isel(integration=0).mean().compute()  # doctest: +SKIP
    """
    expanded = _expand_paths(paths)
    return _open_segments(expanded, chunks, wavelength)


class XmiriBackendEntrypoint(BackendEntrypoint):
    """``xr.open_dataset(path, engine="xmiri")``: one MIRI LRS rateints/calints file.

    Gives the Dataset of :func:`open_rateints` for one file; with
    ``chunks={}`` the dask chunks follow :func:`default_chunks`.
    """

    description = "Open JWST MIRI LRS slitless rateints/calints FITS files (xmiri)"
    url = ""  # no public home page yet
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "wavelength")

    def guess_can_open(self, filename_or_obj):
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        path = os.fspath(filename_or_obj)
        if not path.lower().endswith(("rateints.fits", "calints.fits")):
            return False
        try:
            with open(path, "rb") as f:
                return f.read(len(_FITS_MAGIC)) == _FITS_MAGIC
        except OSError:
            return False

    def open_dataset(self, filename_or_obj, *, drop_variables=None, wavelength=None):
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            raise ParameterError(f"the xmiri engine opens files by path, got "
                                 f"{type(filename_or_obj).__name__}")
        if isinstance(drop_variables, str):
            drop_variables = [drop_variables]
        path = os.path.abspath(os.path.expanduser(os.fspath(filename_or_obj)))
        return _open_segments([path], False, wavelength, tuple(drop_variables or ()))


# --------------------------------------------------------------------------
# datamodels in memory


def _instance_get(instance, dotted):
    node = instance
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _model_keywords(model):
    from stdatamodels import schema

    out = {}
    for key in set(PRIMARY_KEYWORDS + ("INTSTART", "INTEND", "S_WCS")):
        for location in schema.find_fits_keyword(model.schema, key):
            value = _plain(_instance_get(model.instance, location))
            if value is not None:
                out[key] = value
                break
    return out


class _ModelArray:
    """Read-only stand-in for a model array: indexing returns copies of `dtype`.

    dask slices it chunk by chunk when computing; nothing handed out is a
    view of the model's memory, so nothing downstream can modify the model.
    """

    def __init__(self, array, dtype):
        self._array = array
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(n) for n in np.shape(array))
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        return np.asarray(self._array[key]).astype(self.dtype, copy=True)


def from_datamodel(model, chunks=None, *, wavelength=None):
    """Wrap a jwst CubeModel (or SlitModel with 3-D data) in memory as a lazy Dataset.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel or SlitModel
        The model; read, never modified.
    chunks : int, "auto", dict or None, optional
        As in :func:`open_rateints`.
    wavelength : array_like, optional
        As in :func:`open_rateints`.  Otherwise the model's ``wavelength``
        array, its assigned WCS or the packaged default is used.

    Returns
    -------
    xarray.Dataset
        The layout of :func:`open_rateints`; the variables are dask arrays
        over the model's arrays, copied chunk by chunk only when computed.

    Raises
    ------
    UnsupportedModeError
        ``meta.exposure.type`` or ``meta.instrument.name`` is missing or not
        MIRI LRS slitless.
    ParameterError
        The model has no 3-D ``data`` or lacks ``err`` or ``dq``.
    """
    import dask.array as da

    instance = getattr(model, "instance", None)
    if not isinstance(instance, dict):
        raise ParameterError(f"from_datamodel needs a jwst datamodel, got {type(model).__name__}")
    label = _plain(_instance_get(instance, "meta.filename")) or type(model).__name__
    primary = _model_keywords(model)
    try:
        _check_mode(label, primary)
    except InvalidFileError as exc:
        raise UnsupportedModeError(
            f"{exc}; set model.meta.instrument.name = 'MIRI' and model.meta.exposure.type = "
            f"'MIR_LRS-SLITLESS' if this is LRS slitless data") from None
    shape = tuple(np.shape(instance["data"])) if instance.get("data") is not None else None
    if shape is None or len(shape) != 3:
        what = "no data array" if shape is None else f"{len(shape)}-D data with shape {shape}"
        raise ParameterError(f"{label}: the model has {what}; xmiri needs (integration, row, col) "
                             f"cubes (a CubeModel, or a SlitModel with 3-D data)")
    arrays = {}
    for var in VARIABLES:
        value = instance.get(var)
        if value is None:
            if var in _REQUIRED:
                raise ParameterError(f"{label}: the model has no {var} array")
            continue
        arrays[var] = value
    for var, value in arrays.items():
        if tuple(np.shape(value)) != shape:
            raise ParameterError(f"{label}: {var} has shape {np.shape(value)}, data has {shape}")
    n_int, n_rows, n_cols = shape
    n_chunk = _integration_chunks(chunks, n_rows, n_cols)
    start = int(primary.get("INTSTART", 1))
    if "INTEND" in primary and int(primary["INTEND"]) - start + 1 != n_int:
        start = 1  # inconsistent header: number the integrations 1..n
    integrations = np.arange(start, start + n_int, dtype=np.int64)
    times = np.full(n_int, np.nan)
    note = "the model has no int_times table"
    table = instance.get("int_times")
    if table is not None and len(table):
        lookup = dict(zip(np.asarray(table["integration_number"]).astype(np.int64).tolist(),
                          np.asarray(table["int_mid_BJD_TDB"], dtype=np.float64).tolist()))
        times = np.array([lookup.get(int(i), np.nan) for i in integrations])
        note = "int_times lacks some of its integrations"
    elif table is not None:
        note = "the int_times table is empty"
    hdul_like = None  # resolve_wavelength looks up hdul["WAVELENGTH"].data
    if instance.get("wavelength") is not None:
        hdul_like = {"WAVELENGTH": types.SimpleNamespace(data=instance["wavelength"])}
    wmap, wattrs = resolve_wavelength((n_rows, n_cols), hdul=hdul_like, model=model,
                                      user_map=wavelength)
    bunit = _plain(_instance_get(instance, "meta.bunit_data"))
    token = uuid.uuid4().hex  # a model in memory has no stable identity to hash cheaply
    variables = {}
    for var, value in arrays.items():
        dtype = np.dtype(_DTYPES[var])
        darr = da.from_array(_ModelArray(value, dtype), chunks=(n_chunk, -1, -1),
                             name=f"xmiri-model-{var}-{token}", meta=np.empty((0, 0, 0), dtype))
        variables[var] = xr.Variable(_DIMS, darr, _var_attrs(var, bunit, VARIABLES[var]))
    coords = {
        "integration": ("integration", integrations, _COORD_ATTRS["integration"]),
        "time": ("integration", times, dict(_TIME_ATTRS)),
        "row": ("row", np.arange(n_rows, dtype=np.int64), _COORD_ATTRS["row"]),
        "col": ("col", np.arange(n_cols, dtype=np.int64), _COORD_ATTRS["col"]),
        "wavelength": (("row", "col"), np.asarray(wmap, dtype=np.float64), wattrs),
    }
    ds = xr.Dataset(variables, coords=coords,
                    attrs=_dataset_attrs(primary, [label], "from_datamodel", integrations))
    if np.isnan(times).any():
        warnings.warn(f"no mid-integration time for {int(np.isnan(times).sum())} of {n_int} "
                      f"integrations ({label}: {note}); the time coordinate is NaN there",
                      UserWarning, stacklevel=2)
    return ds


# --------------------------------------------------------------------------
# writing

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


def _commit(_written, tmp, path, overwrite):
    """Move the finished temporary file to `path` (no-clobber unless overwrite)."""
    try:
        if overwrite:
            os.replace(tmp, path)
            return None
        try:
            os.link(tmp, path)  # atomic, fails if path exists
        except FileExistsError:
            raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it") from None
        except OSError:  # no hard links on this file system
            if os.path.exists(path):
                raise OutputExistsError(
                    f"{path} exists; pass overwrite=True to replace it") from None
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return None


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
        zlib (level 4, with shuffle) for variables larger than 1 MiB, with
        netCDF chunks matching the dask chunks along the first dimension.
    compute : bool, optional
        If False, return a :class:`dask.delayed.Delayed` that writes the data
        and moves the file into place when computed.  The metadata is
        written to the temporary file at once; if that computation fails, the
        hidden temporary file (``.NAME.*.xmiri-tmp``) is left to delete.

    Returns
    -------
    None or dask.delayed.Delayed

    Raises
    ------
    OutputExistsError
        `path` exists and `overwrite` is False.
    ParameterError
        An attribute cannot be stored in netCDF (bool, None, dict, ...).
    InvalidFileError
        The target folder does not exist.

    Examples
    --------
    >>> to_netcdf(spec, "stage2.nc")  # doctest: +SKIP
    >>> xr.testing.assert_identical(xr.open_dataset("stage2.nc").load(), spec.load())  # doctest: +SKIP
    """
    if not isinstance(ds, xr.Dataset):
        raise ParameterError(f"to_netcdf writes an xarray.Dataset, got {type(ds).__name__}")
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise InvalidFileError(f"cannot write {path}: folder {folder} does not exist")
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
    if os.path.isdir(path):
        raise InvalidFileError(f"cannot write {path}: it is a folder")
    _check_attrs(ds)
    out = ds.copy(deep=False)
    for var in out.variables.values():
        var.encoding = {}
    out.encoding = {}
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.xmiri-tmp")
    try:
        written = out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4",
                                encoding=_encoding(out, compress), compute=compute)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if not compute:
        import dask

        return dask.delayed(_commit, pure=False)(written, tmp, path, overwrite)
    _commit(None, tmp, path, overwrite)
    return None
