"""One MIRI LRS rateints/calints FITS file: checks and header reading.

Every refusal happens when a file is opened and raises an
:mod:`xmiri.exceptions` error naming the file: a missing path, a non-FITS,
empty or truncated file, a gzip/bzip2 compressed file, another instrument or
MIRI mode (:class:`~xmiri.exceptions.UnsupportedModeError`), missing
SCI/ERR/DQ extensions or non-3-D images
(:class:`~xmiri.exceptions.InvalidFileError`).

Compressed files (``.fits.gz``) are refused with a message saying to
decompress them first: astropy can read them only by decompressing the whole
file into memory, which defeats lazy, per-integration reads and would
silently load every segment into every dask worker.  JWST archive products
are not compressed.
"""
import numbers
import os
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from ..exceptions import InvalidFileError, UnsupportedModeError, XmiriError
from ..layout import REQUIRED, VARIABLES
from .wavelength import PROVENANCE_KEYWORDS
from .times import TIME_KEYWORDS
from .times import TimeAxis, time_axis

__all__ = ["PRIMARY_KEYWORDS", "EXPOSURE_KEYWORDS", "SUPPORTED_EXP_TYPES", "FITS_MAGIC",
           "Segment", "check_path", "open_hdul", "plain", "check_mode", "inspect"]

#: Primary-header keywords copied into ``Dataset.attrs`` (when present).
PRIMARY_KEYWORDS = ("TELESCOP", "INSTRUME", "DETECTOR", "EXP_TYPE", "SUBARRAY", "SUBSTRT1",
                    "SUBSTRT2", "SUBSIZE1", "SUBSIZE2", "FILTER",
                    "READPATT", "NGROUPS", "NINTS", "NFRAMES", "EFFINTTM", "TARGNAME",
                    "PROGRAM", "OBSERVTN", "VISIT", "EXPOSURE", "OBS_ID", "CAL_VER",
                    "DATE-OBS", "TIME-OBS")
# Keywords that must agree between segments of one exposure (when both have them).
EXPOSURE_KEYWORDS = ("INSTRUME", "DETECTOR", "EXP_TYPE", "SUBARRAY", "SUBSTRT1", "SUBSTRT2",
                     "SUBSIZE1", "SUBSIZE2", "FILTER", "READPATT",
                     "NGROUPS", "NFRAMES", "NINTS", "TARGNAME", "PROGRAM", "OBSERVTN",
                     "VISIT", "EXPOSURE", "OBS_ID", "VISIT_ID")
#: EXP_TYPE values xmiri reduces.
SUPPORTED_EXP_TYPES = ("MIR_LRS-SLITLESS",)

FITS_MAGIC = b"SIMPLE  ="
_COMPRESSED_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"PK\x03\x04": "zip",
                     b"\xfd7zXZ": "xz"}


def _fail(path, what):
    return InvalidFileError(f"{path}: {what}")


def check_path(path):
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
            raise _fail(path, f"is {kind}-compressed; xmiri reads FITS files lazily, one "
                              f"block of integrations at a time by seeking, which compressed "
                              f"files do not allow. Decompress it "
                              f"first (e.g. `gunzip -k {os.path.basename(path)}`) and open the "
                              f".fits file")
    if not head:
        raise _fail(path, "is empty (0 bytes)")
    if not head.startswith(FITS_MAGIC):
        raise _fail(path, "is not a FITS file (it does not start with 'SIMPLE  =')")


def _data_bytes(header):
    """Bytes of data an HDU header announces (FITS standard, padding excluded)."""
    naxis = int(header.get("NAXIS", 0))
    n_values = int(np.prod([int(header[f"NAXIS{k}"]) for k in range(1, naxis + 1)])) if naxis else 0
    return abs(int(header.get("BITPIX", 8))) // 8 * int(header.get("GCOUNT", 1)) * (
        int(header.get("PCOUNT", 0)) + n_values)


def open_hdul(path):
    """Open `path` read-only with every header read, refusing truncated files."""
    check_path(path)
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


def plain(value):
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


def check_mode(name, primary):
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
class Segment:
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
    time_axis: TimeAxis  # times, attrs and warnings of the segment's time coordinate
    mtime: float = 0.0
    size: int = 0
    wcs_assigned: bool = False
    has_wavelength: bool = False  # a WAVELENGTH image extension


def inspect(path, *, barycentric=False):
    """Check one file and collect its headers, time axis (:mod:`xmiri.io.times`) and layout."""
    hdul = open_hdul(path)
    try:
        return _inspect_hdul(path, hdul, barycentric)
    except XmiriError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, fits.VerifyError) as exc:
        raise _fail(path, f"has a malformed header or table ({type(exc).__name__}: {exc})") from None
    finally:
        hdul.close()


def _inspect_hdul(path, hdul, barycentric=False):
    """The checks and header reading of :func:`inspect` on an open file."""
    name = os.path.basename(path)
    header0 = hdul[0].header
    primary = {k: plain(header0[k]) for k in set(PRIMARY_KEYWORDS + EXPOSURE_KEYWORDS + TIME_KEYWORDS
                                                   + PROVENANCE_KEYWORDS + ("S_WCS",))
               if k in header0}
    primary = {k: v for k, v in primary.items() if v is not None}
    check_mode(path, primary)
    for var in REQUIRED:
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
        units[var] = plain(hdr.get("BUNIT"))
    n_int = shape[0]
    has_start = "INTSTART" in primary
    start = int(primary.get("INTSTART", 1))
    end = int(primary.get("INTEND", start + n_int - 1))
    if end - start + 1 != n_int:
        raise InvalidFileError(
            f"{path}: INTSTART..INTEND = {start}..{end} ({end - start + 1} integrations), "
            f"but SCI holds {n_int}")
    try:
        table = hdul["INT_TIMES"].data if "INT_TIMES" in hdul else None
        axis = time_axis(primary, np.arange(start, end + 1), table, barycentric=barycentric,
                         label=name)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InvalidFileError(f"{path}: the INT_TIMES table cannot be read ({exc})") from None
    stat = os.stat(path)
    return Segment(path=path, name=name, primary=primary, n_int=n_int, shape=shape[1:],
                   int_start=start, int_end=end, has_intstart=has_start,
                   extensions=extensions, units=units, time_axis=axis,
                   mtime=stat.st_mtime_ns, size=stat.st_size,
                   wcs_assigned=str(primary.get("S_WCS", "")).upper() == "COMPLETE",
                   has_wavelength="WAVELENGTH" in hdul)


