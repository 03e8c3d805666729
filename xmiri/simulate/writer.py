"""``write_segments``: a rateints Dataset as JWST-layout FITS segment files, streamed."""
import datetime
import io
import logging
import numbers
import os
import pathlib

import numpy as np

from ..kernels._validate import integer
from .._version import __version__
from ..exceptions import OutputExistsError, ParameterError
from ..io.atomic import commit, temporary_path, writing
from .scene import MJD_OFFSET, TDB_MINUS_UTC

__all__ = ["write_segments", "write_wavelength"]

log = logging.getLogger(__name__)

_EXTENSIONS = (  # (EXTNAME, variable, big-endian on-disk dtype, BUNIT)
    ("SCI", "data", ">f4", "DN/s"),
    ("ERR", "err", ">f4", "DN/s"),
    ("DQ", "dq", ">u4", None),
    ("VAR_POISSON", "var_poisson", ">f4", None),  # jwst writes no BUNIT for these
    ("VAR_RNOISE", "var_rnoise", ">f4", None),
)
_INT_TIMES_COLUMNS = ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
                      "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")
_FITS_BLOCK = 2880
#: Logical keywords of JWST headers (netCDF attrs store them as 0/1).
_BOOLEAN_KEYWORDS = {"TSOVISIT", "ZEROFRAM", "DATAPROB", "HGA_MOVE", "PWFSEET", "NRSTSTRT", "NRS_NORM",
                     "DRPFRMS1", "DRPFRMS3", "ENG_QUAL", "EXPRIPAR", "FILLED", "TARGOOPP"}


def _padded(nbytes):
    return -(-nbytes // _FITS_BLOCK) * _FITS_BLOCK


def _image_header(extname, shape, bunit, is_dq):
    from astropy.io import fits

    n_int, n_rows, n_cols = shape
    cards = [("XTENSION", "IMAGE", "Image extension"),
             ("BITPIX", 32 if is_dq else -32, "array data type"),
             ("NAXIS", 3, "number of array dimensions"),
             ("NAXIS1", n_cols, ""), ("NAXIS2", n_rows, ""), ("NAXIS3", n_int, ""),
             ("PCOUNT", 0, "number of parameters"), ("GCOUNT", 1, "number of groups")]
    if is_dq:
        cards += [("BSCALE", 1, ""), ("BZERO", 2 ** 31, "data are uint32 offset by 2**31")]
    cards += [("EXTNAME", extname, "extension name"), ("EXTVER", 1, "extension value")]
    if bunit:
        cards.append(("BUNIT", bunit, "physical units of the array values"))
    return fits.Header(cards)


def _primary_header(attrs, seg_attrs):
    from astropy.io import fits

    hdr = fits.Header([("SIMPLE", True, "conforms to FITS standard"), ("BITPIX", 8, "array data type"),
                       ("NAXIS", 0, "number of array dimensions"), ("EXTEND", True, "")])
    keys = {}
    for key, value in attrs.items():
        if (isinstance(key, str) and key == key.upper() and len(key) <= 8
                and all(ch.isalnum() or ch in "-_" for ch in key)
                and isinstance(value, (str, bool, numbers.Real, np.bool_)) and not isinstance(value, complex)):
            keys[key] = value
    keys.update(seg_attrs)
    for key, value in keys.items():
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            continue
        if key in _BOOLEAN_KEYWORDS and isinstance(value, int) and value in (0, 1):
            value = bool(value)
        hdr[key] = value
    history = attrs.get("history")
    if isinstance(history, str):
        for line in history.splitlines():
            hdr.add_history(line)
    return hdr


def _int_times_bytes(ds, effinttm):
    """The INT_TIMES binary-table HDU (header + data) as bytes."""
    from astropy.io import fits

    n = ds.sizes["integration"]
    mid = np.asarray(ds["time"].values, dtype=float) if "time" in ds.coords else np.full(n, np.nan)
    half = 0.5 * effinttm / 86400.0 if np.isfinite(effinttm) else 0.0
    utc = MJD_OFFSET + TDB_MINUS_UTC / 86400.0
    default = {"int_start_BJD_TDB": mid - half, "int_mid_BJD_TDB": mid, "int_end_BJD_TDB": mid + half}
    for which in ("start", "mid", "end"):
        default[f"int_{which}_MJD_UTC"] = default[f"int_{which}_BJD_TDB"] - utc
    cols = [fits.Column(name="integration_number", format="J",
                        array=np.asarray(ds["integration"].values, dtype=np.int32))]
    for name in _INT_TIMES_COLUMNS:
        values = ds[name].values if (name in ds.variables and ds[name].dims == ("integration",)) \
            else default[name]
        cols.append(fits.Column(name=name, format="D", array=np.asarray(values, dtype=float)))
    return _table_bytes(fits.BinTableHDU.from_columns(cols, name="INT_TIMES"))


def _asdf_bytes():
    """An ASDF extension holding an empty tree; metadata then come from the headers.

    jwst steps called on a file name read their CRDS parameters from the
    ASDF extension; with no ``_fits_hash`` in the tree, stdatamodels reads
    every keyword and array from the FITS headers and HDUs.  The document
    is written out here rather than with the asdf library, whose first use
    takes seconds (schema loading).
    """
    from astropy.io import fits

    text = ("#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n"
            "--- !core/asdf-1.1.0\n"
            f"asdf_library: !core/software-1.0.0 {{name: xmiri, version: '{__version__}'}}\n"
            "...\n")
    data = np.frombuffer(text.encode("ascii"), dtype=np.uint8)[None, :]
    column = fits.Column(name="ASDF_METADATA", format=f"{data.shape[1]}B", array=data)
    return _table_bytes(fits.BinTableHDU.from_columns([column], name="ASDF"))


def _table_bytes(table):
    """Header and data of a binary-table HDU as they appear in a file."""
    from astropy.io import fits

    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    raw = buf.getvalue()
    buf.seek(0)
    with fits.open(buf) as hdul:
        offset = hdul[1].fileinfo()["hdrLoc"]
    return raw[offset:]


def _write_blocks(ds, target_bytes=2 ** 28):
    """(start, stop) integration slices to compute at once while writing.

    Slices follow the dask chunks of ``ds`` (several chunks per slice, up to
    ``target_bytes`` of output, so that dask computes them in parallel), or
    hold ~64 MiB for numpy-backed data.
    """
    n = ds.sizes["integration"]
    frame_bytes = 20 * ds.sizes["row"] * ds.sizes["col"]
    chunks = ds.chunks.get("integration") if ds.chunks else None
    if not chunks:
        step = max(1, (2 ** 26) // frame_bytes)
        edges = np.append(np.arange(0, n, step), n)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    blocks, start, stop = [], 0, 0
    for size in chunks:
        if stop > start and (stop - start + size) * frame_bytes > target_bytes:
            blocks.append((start, stop))
            start = stop
        stop += size
    if stop > start:
        blocks.append((start, stop))
    return blocks


def _write_one(ds, path, seg_attrs):
    """Stream one segment into a temporary file, then move it into place."""
    present = [(ext, var, dt, unit) for ext, var, dt, unit in _EXTENSIONS if var in ds.data_vars]
    shape = tuple(ds.sizes[d] for d in ("integration", "row", "col"))
    frame_pix = shape[1] * shape[2]
    attrs = dict(ds.attrs)
    effinttm = float(attrs.get("EFFINTTM", np.nan))
    pieces = [_primary_header(attrs, seg_attrs).tostring(padding=True).encode("ascii")]
    offsets = {}
    pos = len(pieces[0])
    for ext, var, _dtype, unit in present:
        hdr = _image_header(ext, shape, unit, ext == "DQ").tostring(padding=True).encode("ascii")
        offsets[var] = pos + len(hdr)
        pieces.append(hdr)
        nbytes = _padded(4 * frame_pix * shape[0])
        pieces.append(nbytes)  # data region, filled below
        pos += len(hdr) + nbytes
        if ext == "DQ":  # INT_TIMES follows DQ (write_segments requires dq), as jwst writes it
            tbl = _int_times_bytes(ds, effinttm)
            pieces.append(tbl)
            pos += len(tbl)
    tail = _asdf_bytes()
    pieces.append(tail)
    pos += len(tail)
    tmp = temporary_path(path)
    with writing(tmp, path):  # no partial file; a full disk or quota named
        with open(tmp, "xb") as fh:
            for piece in pieces:
                if isinstance(piece, int):
                    fh.seek(piece, os.SEEK_CUR)
                else:
                    fh.write(piece)
            fh.truncate(pos)
            names = [var for _, var, _, _ in present]
            for i0, i1 in _write_blocks(ds):
                block = ds[names].isel(integration=slice(i0, i1)).compute()
                for _, var, dt, _ in present:
                    values = np.asarray(block[var].values)
                    if var == "dq":
                        values = np.asarray(values, dtype=np.uint32) ^ np.uint32(2 ** 31)
                    fh.seek(offsets[var] + 4 * frame_pix * i0)
                    fh.write(np.ascontiguousarray(values, dtype=dt).data)
            fh.flush()
            os.fsync(fh.fileno())
    commit(tmp, path, overwrite=True)  # write_segments checked the names before any work
    return path


def write_segments(ds, directory, n_segments=1, *, prefix="xmiri_sim", overwrite=False):
    """Write a rateints Dataset as JWST-layout FITS segments.

    Each segment ``{prefix}_seg{NNN}_rateints.fits`` holds a primary header
    (the Dataset's upper-case attributes plus ``DATAMODL = 'CubeModel'``,
    ``INTSTART``/``INTEND``, ``NINTS``, ``EXSEGNUM``/``EXSEGTOT``), the image
    extensions SCI (BUNIT DN/s), ERR, DQ (uint32 stored as int32 with
    ``BZERO = 2**31``, as jwst writes it), VAR_POISSON and VAR_RNOISE when
    present, and an INT_TIMES table (``integration_number`` and
    start/mid/end times in MJD_UTC and BJD_TDB).  The files open with
    :mod:`astropy.io.fits` and as a ``CubeModel`` with
    ``stdatamodels.jwst.datamodels.open``.

    The data are streamed into a temporary file in ``directory``, a few
    dask chunks at a time (up to 256 MiB of frames, so that dask computes
    them in parallel; about 64 MiB for numpy-backed data), and the file is
    moved into place only when complete: memory stays bounded and no
    half-written segment is ever left behind.

    Parameters
    ----------
    ds : xarray.Dataset
        ``data``, ``err`` and ``dq`` on ``(integration, row, col)``
        (``var_poisson``/``var_rnoise`` optional); coords ``integration`` and
        ``time`` (mid-integration BJD_TDB, days).  INT_TIMES start and end
        times are ``time -+ EFFINTTM / 2``, and UTC is ``BJD_TDB - 69.184 s``,
        unless ``ds`` has variables named like the INT_TIMES columns.
    directory : str or path-like
        Output directory (created if missing).
    n_segments : int, optional
        Number of segments; integrations are split as evenly as possible.
    prefix : str, optional
        File-name prefix.
    overwrite : bool, optional
        Replace existing files of the same names.

    Returns
    -------
    list of pathlib.Path
        The segment paths, in segment order.

    Raises
    ------
    OutputExistsError
        If a segment file exists and ``overwrite`` is False (nothing is
        written then).
    ParameterError
        If ``ds`` lacks a needed variable or ``n_segments`` is out of range.

    Examples
    --------
    >>> import tempfile
    >>> from astropy.io import fits
    >>> from xmiri.simulate import simulate
    >>> ds, _ = simulate(6, seed=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_segments(ds, tmp, n_segments=2)
    ...     with fits.open(paths[1]) as hdul:
    ...         [p.name for p in paths], hdul[0].header["INTSTART"], hdul["DQ"].data.dtype.name
    (['xmiri_sim_seg001_rateints.fits', 'xmiri_sim_seg002_rateints.fits'], 4, 'uint32')
    """
    for name in ("data", "err", "dq"):
        if name not in ds.data_vars:
            raise ParameterError(f"write_segments: the Dataset has no {name!r} variable")
        if ds[name].dims != ("integration", "row", "col"):
            raise ParameterError(f"write_segments: {name!r} must have dims (integration, row, col), "
                                 f"got {ds[name].dims}")
    n = ds.sizes["integration"]
    n_segments = integer("n_segments", n_segments, minimum=1, maximum=n)
    if not isinstance(prefix, str) or not prefix or os.sep in prefix:
        raise ParameterError(f"prefix must be a non-empty file-name prefix, got {prefix!r}")
    directory = pathlib.Path(directory)
    paths = [directory / f"{prefix}_seg{i + 1:03d}_rateints.fits" for i in range(n_segments)]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{', '.join(existing)} already exist(s); pass overwrite=True to replace")
    directory.mkdir(parents=True, exist_ok=True)
    integ = np.asarray(ds["integration"].values) if "integration" in ds.coords else np.arange(1, n + 1)
    nints = int(ds.attrs.get("NINTS", integ.max()))
    edges = np.linspace(0, n, n_segments + 1).round().astype(int)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
    for i, path in enumerate(paths):
        a, b = int(edges[i]), int(edges[i + 1])
        seg = ds.isel(integration=slice(a, b))
        seg_attrs = {"DATE": now, "ORIGIN": "xmiri", "FILENAME": path.name, "FILETYPE": "countrate",
                     "DATAMODL": "CubeModel", "NINTS": nints, "INTSTART": int(integ[a]),
                     "INTEND": int(integ[b - 1]), "EXSEGNUM": i + 1, "EXSEGTOT": n_segments}
        _write_one(seg, path, seg_attrs)
        log.info("wrote %s (integrations %d-%d)", path, integ[a], integ[b - 1])
    return paths


def write_wavelength(ds, path, *, overwrite=False):
    """Write a Dataset's ``wavelength(row, col)`` as the WAVELENGTH image of a small FITS file.

    The file is what :func:`xmiri.open_rateints` takes as ``wavelength=``
    in place of the matching calints file (a WAVELENGTH image extension, as
    jwst's ``assign_wcs`` writes it; NaN where undefined).  The simulator's
    frames of a subarray other than SLITLESSPRISM need it: xmiri's packaged
    solution serves only SLITLESSPRISM.

    Parameters
    ----------
    ds : xarray.Dataset
        With a ``wavelength`` coordinate on ``(row, col)``, micron.
    path : str or path-like
        Output file.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OutputExistsError
        If `path` exists and ``overwrite`` is False.
    ParameterError
        If ``ds`` has no ``wavelength(row, col)``.

    Examples
    --------
    >>> import tempfile, pathlib, xmiri
    >>> ds, _ = xmiri.simulate.simulate(2, seed=1, subarray="SLITLESSPRISM_IP")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wavelength.fits"
    >>> opened = xmiri.open_rateints(xmiri.simulate.write_segments(ds, path.parent),
    ...                              wavelength=write_wavelength(ds, path))
    >>> import numpy as np
    >>> bool(np.allclose(opened.wavelength, ds.wavelength, atol=1e-5, equal_nan=True))
    True
    """
    from astropy.io import fits

    if "wavelength" not in ds.coords or ds["wavelength"].dims != ("row", "col"):
        raise ParameterError("write_wavelength: the Dataset has no wavelength(row, col) coordinate")
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True to replace it")
    primary = fits.PrimaryHDU()
    for key in ("TELESCOP", "INSTRUME", "EXP_TYPE", "SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1",
                "SUBSIZE2"):
        if key in ds.attrs:
            primary.header[key] = ds.attrs[key]
    image = fits.ImageHDU(np.asarray(ds["wavelength"].values, dtype=np.float32), name="WAVELENGTH")
    tmp = temporary_path(path)
    try:
        fits.HDUList([primary, image]).writeto(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit(tmp, path, overwrite=True)
    return path
