"""The wavelength coordinate of MIRI LRS slitless frames.

``wavelength(row, col)`` in micron comes from the first source that has it:

1. a map given by the user;
2. a non-zero ``WAVELENGTH`` extension in the file (calints after jwst
   ``assign_wcs``/``extract_2d``);
3. the file's own assigned WCS, read through ``stdatamodels``;
4. jwst's ``AssignWcsStep``, only when CRDS is configured (``CRDS_PATH`` or
   ``CRDS_SERVER_URL`` set) — never attempted otherwise — and only when
   :func:`xmiri.io.crds.assign_wcs_available` finds that it can run: the
   server answers within :data:`CRDS_TIMEOUT` seconds, or, offline, the
   cache holds the context and the references this exposure needs.  The
   step runs under :func:`xmiri.io.crds.run_assign_wcs`, which catches
   everything CRDS raises or exits with (``SystemExit`` included), so
   CRDS can never end the process.  If the step is refused or fails,
   one :class:`~xmiri.exceptions.WavelengthWarning` names the cause and
   the fix, and the next source is used;
5. xmiri's packaged default solution (:func:`default_wavelength_map`), only
   for the subarray it was derived from (SLITLESSPRISM) or one whose star
   sits at the same detector pixel, its rows and columns translated through
   ``SUBSTRT1``/``SUBSTRT2``; every use issues a
   :class:`~xmiri.exceptions.PackagedWavelengthWarning` saying where it came
   from and how to get the current solution.  Any other subarray (e.g.
   SLITLESSPRISM_IP, whose star sits elsewhere on the detector, so that the
   wavelength of each pixel differs) raises
   :class:`~xmiri.exceptions.WavelengthUnavailableError` naming the subarray
   and what to provide, and the file opens with NaN wavelengths and a
   :class:`~xmiri.exceptions.NoWavelengthWarning` (or the error is raised,
   ``on_missing="raise"``): a wavelength is never borrowed from another
   subarray.  ``wavelength=False`` opens the frames without wavelengths (NaN)
   and without a word.

Provenance
----------
Every map carries, in the coordinate's attributes (plain strings, so that
they write to netCDF): ``source``, ``crds_context`` and ``reference_files``
(``"specwcs: jwst_miri_specwcs_0009.fits; distortion: ..."``), and
``jwst_version``; ``"unknown"`` where the source does not say.  For the
file's own WAVELENGTH extension or WCS they come from its primary header
(``CRDS_CTX``, ``R_SPCWCS``, ``R_DISTOR`` and the other WCS ``R_*``
keywords, ``CAL_VER``); for ``AssignWcsStep`` from the model it returns;
for the packaged solution from the file it was derived from
(:data:`DEFAULT_CRDS_CONTEXT`, :data:`DEFAULT_REFERENCE_FILES`).

The packaged solution is a not-a-knot cubic spline through 58 (row,
wavelength) nodes, derived by ``scripts/derive_wavelength_solution.py`` from
the WAVELENGTH extension that jwst 2.0.1 ``assign_wcs`` wrote for the MIRISim
NGTS-10 SLITLESSPRISM segment.  In that WCS the wavelength depends on the row
only and is defined on rows 7-394 and columns 4-71; elsewhere it is NaN.  The
spline reproduces the map to 7.3e-4 micron (see the JSON file's
``max_abs_error_um``).
"""
import logging
import os
import warnings

import numpy as np

from ..exceptions import NoWavelengthWarning, ParameterError, WavelengthUnavailableError
# the packaged solution (the last source) and the provenance attributes, re-exported
from .wavelength_packaged import (_WCS_REFERENCE_KEYWORDS, DEFAULT_CRDS_CONTEXT, DEFAULT_REFERENCE_FILES,
                                  DEFAULT_SOLUTION, UNKNOWN, _attrs, _reference_name, default_wavelength_map,
                                  packaged_solution_offset, packaged_wavelength)

__all__ = ["user_wavelength", "default_wavelength_map", "wavelength_from_hdul",
           "wavelength_from_datamodel", "resolve_wavelength", "wavelength_provenance", "DEFAULT_SOLUTION",
           "packaged_solution_offset", "packaged_wavelength",
           "DEFAULT_CRDS_CONTEXT", "DEFAULT_REFERENCE_FILES", "CRDS_TIMEOUT"]

log = logging.getLogger(__name__)

#: Seconds allowed for reaching the CRDS server before AssignWcsStep is given up.
CRDS_TIMEOUT = 2.0

#: Primary-header keywords :func:`wavelength_provenance` reads.
PROVENANCE_KEYWORDS = ("CRDS_CTX", "CAL_VER") + tuple(_WCS_REFERENCE_KEYWORDS)


def wavelength_provenance(primary):
    """CRDS provenance of a file's own WCS from its primary-header keywords.

    Parameters
    ----------
    primary : mapping or None
        Primary-header keywords (an :class:`astropy.io.fits.Header` or a
        dict of plain values), read for ``CRDS_CTX``, ``CAL_VER`` and the
        WCS reference keywords (``R_SPCWCS``, ``R_DISTOR``, ``R_FILOFF``,
        ``R_REGION``, ``R_WAVRAN`` and the NIRSpec ones, when not N/A).

    Returns
    -------
    dict
        ``crds_context``, ``reference_files`` (``"specwcs: NAME;
        distortion: NAME"``) and ``jwst_version``, each ``"unknown"`` when
        the header does not say.

    Examples
    --------
    >>> wavelength_provenance({"CRDS_CTX": "jwst_1535.pmap",
    ...                        "R_SPCWCS": "crds://jwst_miri_specwcs_0009.fits", "R_FPA": "N/A"})
    {'crds_context': 'jwst_1535.pmap',
     'reference_files': 'specwcs: jwst_miri_specwcs_0009.fits', 'jwst_version': 'unknown'}
    """
    primary = {} if primary is None else primary
    refs = []
    for key, reftype in _WCS_REFERENCE_KEYWORDS.items():
        name = _reference_name(primary.get(key)) if key in primary else None
        if name:
            refs.append(f"{reftype}: {name}")
    context = str(primary.get("CRDS_CTX", "") or "").strip() or UNKNOWN
    version = str(primary.get("CAL_VER", "") or "").strip() or UNKNOWN
    return {"crds_context": context, "reference_files": "; ".join(refs) or UNKNOWN,
            "jwst_version": version}


def _model_provenance(model):
    """Provenance from a datamodel's ``meta.ref_file`` (after assign_wcs), or all unknown."""
    meta = getattr(model, "meta", None)
    ref_file = getattr(meta, "ref_file", None)

    def get(obj, *names):
        for name in names:
            try:
                obj = getattr(obj, name)
            except Exception:  # stdatamodels nodes raise on missing schema paths
                return None
            if obj is None:
                return None
        return obj

    header = {"CRDS_CTX": get(ref_file, "crds", "context_used"),
              "CAL_VER": get(meta, "calibration_software_version")}
    for key, reftype in _WCS_REFERENCE_KEYWORDS.items():
        header[key] = get(ref_file, reftype, "name")
    return wavelength_provenance({k: v for k, v in header.items() if v is not None})


def _positive(wmap):
    """A float copy of `wmap` with NaN where it is 0 or negative: "no wavelength", as in the files."""
    wmap = np.asarray(wmap, dtype=float)
    return np.where(wmap > 0, wmap, np.nan)


def wavelength_from_hdul(hdul, shape):
    """Map from a non-zero WAVELENGTH extension, or None if there is none.

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        The open file.
    shape : (int, int)
        ``(n_rows, n_cols)`` of the frames; an extension of another shape is
        not used.

    Returns
    -------
    numpy.ndarray or None
        The map in micron, NaN where not positive; None without a usable
        extension.
    """
    if "WAVELENGTH" not in hdul:
        return None
    wmap = np.asarray(hdul["WAVELENGTH"].data, dtype=float)
    if wmap.shape != tuple(shape) or not np.any(np.nan_to_num(wmap) != 0):
        return None
    return _positive(wmap)


def wavelength_from_datamodel(model, shape):
    """Map from a datamodel's assigned WCS, or None if it has none or it fails.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        A model whose ``meta.wcs`` may be assigned.
    shape : (int, int)
        ``(n_rows, n_cols)`` of the frames.

    Returns
    -------
    numpy.ndarray or None
        The map in micron, NaN where not positive; None without a WCS, or
        when it fails or gives no finite value.
    """
    wcs = getattr(getattr(model, "meta", None), "wcs", None)
    if wcs is None:
        return None
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    try:
        out = wcs(cols.ravel().astype(float), rows.ravel().astype(float))
    except Exception as exc:  # a broken or partial WCS: fall through to the next source
        log.warning("could not evaluate the assigned WCS (%s); trying the next source", exc)
        return None
    wmap = np.asarray(out[-1], dtype=float).reshape(shape)
    if not np.any(np.isfinite(wmap)):
        return None
    return _positive(wmap)


def _crds_configured():
    """Whether CRDS is configured at all (``CRDS_PATH`` or ``CRDS_SERVER_URL`` non-empty)."""
    from .crds import configured

    return configured()


def _wavelength_from_assign_wcs(model, shape, checked=None):
    """(map, provenance, "") from AssignWcsStep, or (None, None, cause and fix).

    The step runs only if the preflight says it can (`checked`: its result,
    when already made on the file's header), and under the guard that
    catches ``SystemExit``.
    """
    from . import crds as _crds

    ok, reason, facts = checked or _crds.assign_wcs_available(model, timeout=CRDS_TIMEOUT,
                                                               details=True)
    if not ok:
        return None, None, f"{reason}. {_crds.fix_hint(facts)}"
    result, why = _crds.run_assign_wcs(model)
    if result is None:
        return None, None, f"{why}. {_crds.fix_hint(facts)}"
    try:
        wmap = wavelength_from_datamodel(result, shape)
        provenance = _model_provenance(result)
    finally:
        if result is not model and hasattr(result, "close"):
            result.close()
    if wmap is None:
        return None, None, "AssignWcsStep ran, but its WCS gives no finite wavelength"
    return wmap, provenance, ""


def _from_file(path):
    """The wavelength map of a calints (WAVELENGTH extension) or x1dints file (EXTRACT1D)."""
    from astropy.io import fits

    path = os.fspath(path)
    try:
        hdul = fits.open(path, mode="readonly", memmap=False)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"wavelength={path!r}: cannot be read as FITS ({exc})") from None
    with hdul:
        if "WAVELENGTH" in hdul and hdul["WAVELENGTH"].data is not None:
            wmap = np.asarray(hdul["WAVELENGTH"].data, dtype=float)
            if wmap.ndim == 3:  # a per-integration map: take the first integration
                wmap = wmap[0]
            source = f"WAVELENGTH extension of {os.path.basename(path)}"
        elif "EXTRACT1D" in hdul and "WAVELENGTH" in hdul["EXTRACT1D"].columns.names:
            wmap = np.asarray(hdul["EXTRACT1D"].data["WAVELENGTH"], dtype=float)
            wmap = wmap[0] if wmap.ndim == 2 else wmap  # first spectrum of a table of spectra
            source = f"EXTRACT1D WAVELENGTH of {os.path.basename(path)}"
        else:
            raise ParameterError(
                f"wavelength={path!r}: the file has no WAVELENGTH image extension (a calints "
                f"file after assign_wcs) and no EXTRACT1D table with a WAVELENGTH column "
                f"(an x1dints file)")
        primary = {k: hdul[0].header[k] for k in PROVENANCE_KEYWORDS if k in hdul[0].header}
    return wmap, source, primary


def user_wavelength(value, shape):
    """A user's wavelength map as a ``(n_rows, n_cols)`` array in micron, checked.

    Parameters
    ----------
    value : array_like, xarray.DataArray, str or os.PathLike
        A ``(n_rows, n_cols)`` map or a ``(n_rows,)`` wavelength per row
        (repeated over the columns), in micron; a DataArray with dims
        ``("row", "col")`` or ``("row",)``; or the path of the matching
        calints file (its WAVELENGTH extension) or x1dints file (the
        EXTRACT1D WAVELENGTH column, one value per row of the frame).
    shape : (int, int)
        ``(n_rows, n_cols)`` of the frames.

    Returns
    -------
    wmap : numpy.ndarray
        ``(n_rows, n_cols)`` float64, NaN where not positive.
    attrs : dict
        ``source`` "user" (or the file it came from), with provenance.

    Raises
    ------
    ParameterError
        Wrong shape or dims, non-numeric values, or an unreadable file;
        the message names the shape expected.

    Examples
    --------
    >>> wmap, attrs = user_wavelength(np.linspace(14.0, 4.0, 416), (416, 72))
    >>> wmap.shape, attrs["source"]
    ((416, 72), 'user')
    >>> bool(np.isnan(user_wavelength(np.r_[0.0, np.ones(415)], (416, 72))[0][0]).all())
    True
    """
    n_rows, n_cols = shape
    expected = f"a ({n_rows}, {n_cols}) map or a ({n_rows},) wavelength per row, in micron"
    source, primary = "user", None
    if isinstance(value, (str, os.PathLike)):
        value, source, primary = _from_file(value)
    elif hasattr(value, "dims") and hasattr(value, "values"):  # a DataArray
        dims = tuple(value.dims)
        if dims not in (("row", "col"), ("col", "row"), ("row",)):
            raise ParameterError(f"wavelength: a DataArray needs dims ('row', 'col') or ('row',), "
                                 f"got {dims}")
        value = value.transpose(*[d for d in ("row", "col") if d in dims]).values
    try:
        wmap = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"wavelength must be {expected}, or a calints/x1dints path; got "
                             f"{type(value).__name__}") from None
    if wmap.shape == (n_rows,):
        wmap = np.repeat(wmap[:, None], n_cols, axis=1)
    if wmap.shape != (n_rows, n_cols):
        raise ParameterError(f"wavelength must be {expected}; got shape {wmap.shape}"
                             + (f" from {source}" if source != "user" else ""))
    return _positive(wmap), _attrs(source, None if primary is None else wavelength_provenance(primary))


def resolve_wavelength(shape, *, hdul=None, model=None, user_map=None, primary=None, preflight=None,
                       subarray=None, label="the frames", on_missing="warn"):
    """Wavelength map and its provenance from the first source that has it.

    Parameters
    ----------
    shape : tuple of int
        ``(n_rows, n_cols)`` of the frames.
    hdul : astropy.io.fits.HDUList, optional
        The open file, searched for a WAVELENGTH extension (and, unless
        `primary` is given, read for its primary header).
    model : stdatamodels DataModel or callable, optional
        A datamodel whose ``meta.wcs`` is evaluated, or a zero-argument
        callable returning one (opened only if earlier sources fail).
    user_map : array_like, DataArray, str or os.PathLike, optional
        A user's map, which wins if given: see :func:`user_wavelength`.
    primary : mapping, optional
        The file's primary-header keywords (plain values), for the
        provenance of its WAVELENGTH extension or WCS (``CRDS_CTX``,
        ``R_SPCWCS``, ``R_DISTOR``, ``CAL_VER``).  Default: the primary
        header of `hdul`, else the ``meta`` of `model` if it is a model.
    preflight : str, os.PathLike or mapping, optional
        For a file without a WCS of its own: its path (or primary header),
        on which the CRDS preflight runs *before* a callable `model` is
        opened, so that a refusal costs no datamodel.
    subarray : mapping, optional
        The file's ``SUBARRAY``, ``SUBSTRT1``, ``SUBSTRT2``, which decide
        whether the packaged solution serves it (default: read from
        `primary`); see :func:`packaged_solution_offset`.
    label : str, optional
        The file's name, for messages.
    on_missing : {"warn", "raise"}, optional
        When no source serves the subarray: NaN wavelengths and a
        :class:`~xmiri.exceptions.NoWavelengthWarning` (``"warn"``, so that
        every subarray opens), or
        :class:`~xmiri.exceptions.WavelengthUnavailableError`.

    Returns
    -------
    wmap : numpy.ndarray
        ``(n_rows, n_cols)`` float64 micron, NaN where undefined.
    attrs : dict
        ``units``, ``long_name``, ``source`` (one of ``"user"``,
        ``"WAVELENGTH extension"``, ``"assigned WCS"``, ``"AssignWcsStep"``,
        ``"xmiri default solution"``), ``crds_context``,
        ``reference_files`` and ``jwst_version`` (``"unknown"`` where not
        known); the default solution adds ``calibration`` and
        ``calibration_source``.  All values are strings.

    Raises
    ------
    ParameterError
        If ``user_map`` does not have the frame shape.
    WavelengthUnavailableError
        No source has a wavelength and the packaged solution does not serve
        the subarray (``on_missing="raise"``).

    Warns
    -----
    PackagedWavelengthWarning
        Once, whenever the packaged solution is used: where it came from
        and how to get the current solution; when CRDS is configured but
        ``AssignWcsStep`` could not be used (refused by the preflight, or
        failed), it names that cause and the fix (``source``
        ``"AssignWcsStep"``).
    """
    shape = tuple(int(s) for s in shape)
    if user_map is False:
        return np.full(shape, np.nan), _attrs("none (wavelength=False)")
    if user_map is not None:
        return user_wavelength(user_map, shape)
    if primary is None and hdul is not None:
        primary = hdul[0].header
    if subarray is None and primary is not None:
        subarray = {k: primary[k] for k in ("SUBARRAY", "SUBSTRT1", "SUBSTRT2") if k in primary}

    def file_provenance(loaded_model=None):
        if primary is not None:
            return wavelength_provenance(primary)
        candidate = loaded_model if loaded_model is not None else model
        if candidate is not None and hasattr(candidate, "meta"):
            return _model_provenance(candidate)
        return None

    if hdul is not None:
        wmap = wavelength_from_hdul(hdul, shape)
        if wmap is not None:
            return wmap, _attrs("WAVELENGTH extension", file_provenance())
    failure = checked = None
    opener = model is not None and callable(model) and not hasattr(model, "meta")
    if opener and preflight is not None and _crds_configured():
        from . import crds as _crds

        checked = _crds.assign_wcs_available(preflight, timeout=CRDS_TIMEOUT, details=True)
        if not checked[0]:  # the model would only have served AssignWcsStep
            failure, model = f"{checked[1]}. {_crds.fix_hint(checked[2])}", None
    if model is not None:
        if opener:
            from .crds import _routed_crds_log

            try:
                with _routed_crds_log():  # opening may import crds, which logs on import
                    model = model()
            except Exception as exc:
                log.info("could not open the file as a datamodel (%s)", exc)
                failure = f"the file cannot be opened as a jwst datamodel ({type(exc).__name__}: {exc})"
                model = None
        if model is not None:
            wmap = wavelength_from_datamodel(model, shape)
            if wmap is not None:
                return wmap, _attrs("assigned WCS", file_provenance(model))
            if _crds_configured():
                wmap, provenance, failure = _wavelength_from_assign_wcs(model, shape, checked)
                if wmap is not None:
                    return wmap, _attrs("AssignWcsStep", provenance)
    failure = failure if failure and _crds_configured() else None
    try:
        return packaged_wavelength(shape, subarray, label=label, failure=failure)
    except WavelengthUnavailableError as exc:
        if on_missing == "raise":
            raise
        name = str((subarray or {}).get("SUBARRAY") or "unknown")
        reason = str(exc).split(": ", 1)[-1]
        warnings.warn(NoWavelengthWarning(f"{exc}; its wavelengths are NaN",
                                          source="xmiri default solution", fallback="none",
                                          reason=reason, subarray=name), stacklevel=3)
        return np.full(shape, np.nan), _attrs("none (no wavelength source for this subarray)")
