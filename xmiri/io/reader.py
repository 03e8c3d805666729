"""Opening MIRI LRS slitless rateints/calints segments as one lazy Dataset.

:func:`open_rateints` checks every file (:mod:`xmiri.io.fitsfile`), orders
and checks the segments (:mod:`xmiri.io.segments`), resolves the wavelength
map (:mod:`xmiri.wavelength`) and wraps each image extension in a lazy
:class:`~xmiri.io.array.FitsImageArray`, chunked along ``integration``.
Opening reads the FITS headers, the small ``INT_TIMES`` table and the
wavelength map, nothing else.
"""
import functools
import logging
import warnings

import numpy as np
from astropy.io import fits
from xarray.backends import CachingFileManager
from xarray.core import indexing

from .._version import __version__
from ..exceptions import TimeAxisWarning
from ..layout import DIMS, DTYPES, VARIABLES, frames_dataset
from ..wavelength import _crds_configured, resolve_wavelength
from .array import FitsImageArray, close_all
from .chunks import default_chunks, integration_chunks
from .fitsfile import PRIMARY_KEYWORDS, inspect, open_hdul
from .segments import check_segments, expand_paths

__all__ = ["open_rateints"]

log = logging.getLogger(__name__)

BJD_TIME_ATTRS = {"long_name": "mid-integration time, barycentric Julian date (BJD_TDB)",
                  "units": "d", "time_scale": "TDB", "source": "INT_TIMES int_mid_BJD_TDB"}


def warn_missing_times(times, notes, stacklevel):
    """One :class:`~xmiri.exceptions.TimeAxisWarning` if some times are NaN."""
    missing = int(np.isnan(times).sum())
    if missing:
        warnings.warn(TimeAxisWarning(
            f"no mid-integration time for {missing} of {times.size} integrations ({notes}); "
            f"the time coordinate is NaN there", source="INT_TIMES", count=missing, reason=notes),
            stacklevel=stacklevel)


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
    hdul = None if user_map is not None else open_hdul(seg.path)
    try:
        return resolve_wavelength(seg.shape, hdul=hdul, user_map=user_map,
                                  model=open_model if use_model else None)
    finally:
        for model in opened:
            model.close()
        if hdul is not None:
            hdul.close()


def open_segments(paths, chunks, wavelength, drop_variables=(), lock=None):
    """The Dataset of :func:`open_rateints` for expanded `paths`; ``chunks=False``: not dask."""
    segments = check_segments([inspect(p) for p in paths])
    first = segments[0]
    n_rows, n_cols = first.shape
    if chunks is not False:  # refuse bad chunks before reading anything but headers
        n_chunk = integration_chunks(chunks, n_rows, n_cols)
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
                               [s.n_int for s in segments], first.shape, DTYPES[var], lock=lock)
        lazy = indexing.LazilyIndexedArray(array)
        if chunks is not False:
            import xarray as xr

            lazy = xr.Variable(DIMS, lazy).chunk(
                {"integration": n_chunk, "row": -1, "col": -1},
                from_array_kwargs={"name": f"xmiri-{var}-{token}"}).data
        variables[var] = lazy
    ds = frames_dataset(
        variables, integrations=integrations, times=times, time_attrs=BJD_TIME_ATTRS,
        wavelength=wmap, wavelength_attrs=wattrs, bunit=first.units.get("data"),
        attrs=dataset_attrs(first.primary, [s.name for s in segments], "open_rateints",
                            integrations),
        encoding={"preferred_chunks": preferred}, drop=drop_variables)
    ds.set_close(functools.partial(close_all, managers))
    log.debug("opened %d integrations from %d file(s)", integrations.size, len(segments))
    notes = "; ".join(f"{s.name}: {s.times_note}" for s in segments if np.isnan(s.times).any())
    warn_missing_times(times, notes, stacklevel=4)
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
        Integrations per dask chunk (see :mod:`xmiri.io.chunks`); None
        (default) uses :func:`~xmiri.io.chunks.default_chunks` (about 8 MiB
        per float32 chunk).
    wavelength : array_like, optional
        ``(n_rows, n_cols)`` wavelength map in micron that replaces the one
        found in the file or the packaged default.

    Returns
    -------
    xarray.Dataset
        ``data``, ``err``, ``dq`` and, when present, ``var_poisson`` and
        ``var_rnoise``, dims ``(integration, row, col)``, dask-backed
        (layout: :mod:`xmiri.layout`); coordinates ``integration``,
        ``time`` (BJD_TDB, NaN when the file has no integration times, with
        a :class:`~xmiri.exceptions.TimeAxisWarning`), ``row``, ``col`` and
        ``wavelength(row, col)``; attrs with the source file names, selected
        primary-header keywords, ``xmiri_version`` and ``history``.

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
    >>> import tempfile, warnings, xmiri
    >>> sim, _ = xmiri.simulate.simulate(6, seed=1)
    >>> paths = xmiri.simulate.write_segments(sim, tempfile.mkdtemp(), n_segments=2)
    >>> ds = open_rateints(paths, chunks=4)
    >>> ds.sizes["integration"], ds.data.chunks[0], ds.integration.values.tolist()
    (6, (4, 2), [1, 2, 3, 4, 5, 6])
    """
    return open_segments(expand_paths(paths), chunks, wavelength)
