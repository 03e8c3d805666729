"""Opening MIRI LRS slitless rateints/calints segments as one lazy Dataset.

:func:`open_rateints` checks every file (:mod:`xmiri.io.fitsfile`), orders
and checks the segments (:mod:`xmiri.io.segments`), resolves the wavelength
map (:mod:`xmiri.io.wavelength`) and wraps each image extension in a lazy
:class:`~xmiri.io.array.FitsImageArray`, chunked along ``integration``.
Opening reads the FITS headers, the small ``INT_TIMES`` table and the
wavelength map, nothing else.
"""
import functools
import logging
import warnings

import numpy as np
import xarray as xr
from astropy.io import fits
from xarray.backends import CachingFileManager
from xarray.core import indexing

from .._version import __version__
from ..layout import DIMS, DTYPES, VARIABLES, frames_dataset
from .wavelength import _crds_configured, resolve_wavelength
from .array import FitsImageArray, close_all
from .chunks import integration_chunks
from .fitsfile import PRIMARY_KEYWORDS, inspect, open_hdul
from .segments import check_segments, expand_paths
from .times import concat_time_axes, issue_time_warnings

__all__ = ["open_rateints"]

log = logging.getLogger(__name__)


def dataset_attrs(primary, sources, call, integrations):
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


def subarray_provenance(wattrs, primary):
    """Wavelength attrs plus the subarray they serve (``subarray``: name and ``SUBSTRT``)."""
    name = primary.get("SUBARRAY")
    if name:
        where = " ".join(f"{k}={primary[k]}" for k in ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")
                         if k in primary)
        wattrs = {**wattrs, "subarray": f"{name} {where}".strip()}
    return wattrs


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
    # assigned, or when CRDS could assign one (after a preflight on the header);
    # the file itself again only to read a WAVELENGTH extension.
    use_model = user_map is None and (seg.wcs_assigned or _crds_configured())
    hdul = open_hdul(seg.path) if user_map is None and seg.has_wavelength else None
    try:
        wmap, wattrs = resolve_wavelength(seg.shape, hdul=hdul, user_map=user_map,
                                          primary=seg.primary, label=seg.name,
                                          model=open_model if use_model else None,
                                          preflight=None if seg.wcs_assigned else seg.path)
        return wmap, subarray_provenance(wattrs, seg.primary)
    finally:
        for model in opened:
            model.close()
        if hdul is not None:
            hdul.close()


def open_segments(paths, chunks, wavelength, drop_variables=(), barycentric=False):
    """The Dataset of :func:`open_rateints` for expanded `paths`; ``chunks=False``: not dask."""
    segments = check_segments([inspect(p, barycentric=barycentric) for p in paths])
    first = segments[0]
    n_rows, n_cols = first.shape
    if chunks is not False:  # refuse bad chunks before reading anything but headers
        n_chunk = integration_chunks(chunks, n_rows, n_cols)
    integrations = np.concatenate([np.arange(s.int_start, s.int_end + 1) for s in segments])
    axis = concat_time_axes([s.time_axis for s in segments])
    wmap, wattrs = _wavelength(first, wavelength)
    managers = [CachingFileManager(fits.open, s.path, mode="readonly",
                                   kwargs={"memmap": False, "do_not_scale_image_data": True})
                for s in segments]
    # Any integration can be read on its own, so any chunking along integration is aligned
    # with the file ("stored chunks" of one integration): xarray then never warns that a
    # user's chunks "separate the stored chunks".  chunks="auto" gives large chunks.
    preferred = {"integration": 1, "row": n_rows, "col": n_cols}
    if chunks is not False:
        from dask.base import tokenize

        token = tokenize([(s.path, s.mtime, s.size) for s in segments], n_chunk)
    variables = {}
    for var in VARIABLES:
        if var not in first.extensions or var in drop_variables:
            continue
        array = FitsImageArray(managers, [s.extensions[var] for s in segments],
                               [s.n_int for s in segments], first.shape, DTYPES[var],
                               files=[(s.path, s.size, s.mtime) for s in segments])
        lazy = indexing.LazilyIndexedArray(array)
        if chunks is not False:
            lazy = xr.Variable(DIMS, lazy).chunk(
                {"integration": n_chunk, "row": -1, "col": -1},
                from_array_kwargs={"name": f"xmiri-{var}-{token}"}).data
        variables[var] = lazy
    ds = frames_dataset(
        variables, integrations=integrations, times=axis.times, time_attrs=axis.attrs,
        wavelength=wmap, wavelength_attrs=wattrs, bunit=first.units.get("data"),
        attrs=dataset_attrs(first.primary, [s.name for s in segments], "open_rateints",
                            integrations),
        encoding={"preferred_chunks": preferred}, drop=drop_variables)
    ds.set_close(functools.partial(close_all, managers))
    log.debug("opened %d integrations from %d file(s)", integrations.size, len(segments))
    issue_time_warnings(axis.warnings, stacklevel=4)
    return ds


def open_rateints(paths, chunks=None, *, wavelength=None, barycentric=False):
    """Open MIRI LRS slitless rateints/calints segments as one lazy Dataset.

    Parameters
    ----------
    paths : str, os.PathLike or sequence of them
        One file, a glob pattern (``"jw01234_seg*_rateints.fits"``) or the
        segment files of one exposure, in any order: they are ordered by
        their integration numbers (``INTSTART``).
    chunks : int, "auto", dict or None, optional
        Integrations per dask chunk (see :mod:`xmiri.io.chunks`); None
        (default) uses :func:`~xmiri.io.chunks.default_chunks` (about 8 MiB
        per float32 chunk).
    wavelength : str, path, array_like or xarray.DataArray, optional
        Wavelengths in micron that replace the ones found in the file or the
        packaged default: the path of the matching calints or x1dints file,
        a ``(n_rows, n_cols)`` map, or a ``(n_rows,)`` wavelength per row (a
        DataArray with dims ``("row", "col")`` or ``("row",)``).  Values
        that are not positive become NaN.  See
        :func:`xmiri.io.wavelength.user_wavelength`.  ``False``: no
        wavelengths (NaN), e.g. to look at the frames of a subarray that
        xmiri's packaged solution does not serve.
    barycentric : bool, optional
        When the times come from the header fallback (MJD UTC, no usable
        INT_TIMES), convert them to BJD_TDB with astropy for the header's
        TARG_RA/TARG_DEC, with the light time computed at the Earth's centre
        (JWST's position is not in the file: up to about 6 s of error, nearly
        constant over an exposure).  Times from INT_TIMES are never changed.

    Returns
    -------
    xarray.Dataset
        ``data``, ``err``, ``dq`` and, when present, ``var_poisson`` and
        ``var_rnoise``, dims ``(integration, row, col)``, dask-backed
        (layout: :mod:`xmiri.layout`); coordinates ``integration``,
        ``time`` (mid-integration, days: BJD_TDB from INT_TIMES, else MJD UTC
        from EXPSTART and the cadence, with a
        :class:`~xmiri.exceptions.TimeAxisWarning`; its attributes say which,
        see :mod:`xmiri.io.times`), ``row``, ``col`` and
        ``wavelength(row, col)``; attrs with the source file names, selected
        primary-header keywords (``SUBARRAY``, ``SUBSTRT1``/``2`` and
        ``SUBSIZE1``/``2`` among them: the step defaults that depend on the
        geometry are resolved from them, see :func:`xmiri.defaults.geometry`),
        ``xmiri_version`` and ``history``.

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

    Warns
    -----
    PackagedWavelengthWarning
        When the wavelengths are xmiri's packaged solution (no WCS, no
        WAVELENGTH extension, no ``wavelength=``, CRDS not usable).
    NoWavelengthWarning
        When no wavelength source serves the file's subarray (e.g.
        SLITLESSPRISM_IP without a WCS and without ``wavelength=``): its
        wavelengths are NaN, never another subarray's.

    Notes
    -----
    Only headers, the ``INT_TIMES`` table and the wavelength map are read
    here; frames are read when computed, one dask chunk at a time.

    Examples
    --------
    >>> import tempfile, warnings, xmiri
    >>> sim, _ = xmiri.simulate.simulate(6, seed=1)
    >>> paths = xmiri.simulate.write_segments(sim, tempfile.mkdtemp(), n_segments=2)
    >>> ds = open_rateints(paths, chunks=4)
    >>> ds.sizes["integration"], ds.data.chunks[0], ds.integration.values.tolist()
    (6, (4, 2), [1, 2, 3, 4, 5, 6])
    """
    return open_segments(expand_paths(paths), chunks, wavelength, barycentric=bool(barycentric))
