"""The packaged wavelength solution of :mod:`xmiri.io.wavelength` (the last source).

A not-a-knot cubic spline through (row, wavelength) nodes, packaged as
``xmiri/data/lrs_slitless_wavelength.json`` (see :mod:`xmiri.io.wavelength`
for where it comes from and how closely it reproduces the map), used only
for a subarray whose star sits where it was derived, and announced by a
:class:`~xmiri.exceptions.PackagedWavelengthWarning` at every use.  Also the
provenance attributes every wavelength map carries.
"""
import functools
import json
import os
import warnings
from importlib import resources

import numpy as np

from ..exceptions import PackagedWavelengthWarning, WavelengthUnavailableError

__all__ = ["default_wavelength_map", "packaged_solution_offset", "packaged_wavelength", "DEFAULT_SOLUTION",
           "DEFAULT_CRDS_CONTEXT", "DEFAULT_REFERENCE_FILES"]

DEFAULT_SOLUTION = "lrs_slitless_wavelength.json"
#: CRDS context with which jwst 2.0.1 assigned the WCS the packaged solution was derived from
#: (the source calints file's ``CRDS_CTX``; the JSON's ``source.CRDS_CTX`` wins if present).
DEFAULT_CRDS_CONTEXT = "jwst_1535.pmap"
#: Reference files of that WCS (the source file's ``R_SPCWCS`` and ``R_DISTOR``).
DEFAULT_REFERENCE_FILES = "specwcs: jwst_miri_specwcs_0009.fits; distortion: jwst_miri_distortion_0142.asdf"
UNKNOWN = "unknown"
# Primary-header keywords of the references assign_wcs uses -> reference type, in the
# order they are listed (the LRS ones first).
_WCS_REFERENCE_KEYWORDS = {
    "R_SPCWCS": "specwcs", "R_DISTOR": "distortion", "R_FILOFF": "filteroffset",
    "R_REGION": "regions", "R_WAVRAN": "wavelengthrange", "R_CAMERA": "camera",
    "R_COLLIM": "collimator", "R_DISPER": "disperser", "R_FORE": "fore", "R_FPA": "fpa",
    "R_IFUFOR": "ifufore", "R_IFUPOS": "ifupost", "R_IFUSLI": "ifuslicer", "R_MSA": "msa",
    "R_OTE": "ote",
}


@functools.lru_cache(maxsize=1)
def _default_solution():
    text = resources.files("xmiri").joinpath("data").joinpath(DEFAULT_SOLUTION).read_text()
    return json.loads(text)


def default_wavelength_map(n_rows=416, n_cols=72, offset=(0, 0)):
    """Packaged default LRS slitless (SLITLESSPRISM) wavelength map.

    Parameters
    ----------
    n_rows, n_cols : int
        Frame shape (SLITLESSPRISM: 416 rows along the dispersion axis, 72
        columns).
    offset : (int, int), optional
        (rows, columns) added to a pixel of the frame to give the
        SLITLESSPRISM pixel it is (:func:`packaged_solution_offset`).

    Returns
    -------
    numpy.ndarray
        ``(n_rows, n_cols)`` float64 wavelengths in micron; NaN outside the
        calibrated region (rows 7-394, columns 4-71).

    Examples
    --------
    >>> wl = default_wavelength_map()
    >>> wl.shape
    (416, 72)
    >>> bool(4.9 < wl[389, 36] < 5.0)
    True
    """
    from scipy.interpolate import CubicSpline

    sol = _default_solution()
    spline = CubicSpline(sol["node_rows"], sol["node_wavelengths"])
    r0, r1 = sol["rows_defined"]
    c0, c1 = sol["cols_defined"]
    rows = np.arange(n_rows) + int(offset[0])
    profile = np.where((rows >= r0) & (rows <= r1), spline(rows), np.nan)
    wmap = np.repeat(profile[:, None], n_cols, axis=1)
    cols = np.arange(n_cols) + int(offset[1])
    wmap[:, (cols < c0) | (cols > c1)] = np.nan
    return wmap


def packaged_solution_offset(subarray, shape):
    """(rows, columns) from a file's pixels to the packaged solution's, or why there are none.

    Parameters
    ----------
    subarray : mapping or None
        The file's ``SUBARRAY``, ``SUBSTRT1`` and ``SUBSTRT2`` (plain
        values); without ``SUBARRAY`` the frames are SLITLESSPRISM if they
        have its shape.
    shape : (int, int)
        ``(n_rows, n_cols)`` of the frames.

    Returns
    -------
    offset : (int, int) or None
        What to add to a pixel of the file to get the pixel of the subarray
        the solution was derived from; None if the solution does not serve
        this subarray.
    why : str
        ``""``, or why not, in words.

    Examples
    --------
    >>> packaged_solution_offset({"SUBARRAY": "SLITLESSPRISM", "SUBSTRT1": 1, "SUBSTRT2": 529}, (416, 72))
    ((0, 0), '')
    >>> packaged_solution_offset({"SUBARRAY": "SLITLESSPRISM_IP"}, (384, 68))[0] is None
    True
    """
    from ..defaults import FRAME_SHAPE, SUBARRAYS, subarray_of

    subarray = dict(subarray or {})
    derived = SUBARRAYS[_default_solution()["source"].get("SUBARRAY", "SLITLESSPRISM")]
    if not subarray.get("SUBARRAY") and tuple(shape) != FRAME_SHAPE:
        return None, (f"the frames ({shape[0]} x {shape[1]}) name no SUBARRAY and do not have "
                      f"{derived.name}'s {FRAME_SHAPE[0]} x {FRAME_SHAPE[1]} pixels")
    name, corner = subarray_of(subarray)
    if name not in SUBARRAYS:
        return None, f"xmiri knows no subarray {name!r}"
    if corner is None:
        return None, f"the file has no SUBSTRT1/SUBSTRT2 to place {name} on the detector"
    if SUBARRAYS[name].reference != derived.reference:
        ref, own = derived.reference, SUBARRAYS[name].reference
        return None, (f"the solution was derived for {derived.name}, whose star sits at detector "
                      f"column {ref[1]}, row {ref[0]}; {name} places it at column {own[1]}, row "
                      f"{own[0]}, where every pixel sees another wavelength")
    return (corner[0] - derived.corner[0], corner[1] - derived.corner[1]), ""


def _unavailable(label, subarray, why, failure=None):
    name = str((subarray or {}).get("SUBARRAY") or "unknown")
    tried = f" (CRDS: {' '.join(str(failure).split())})" if failure else ""
    return WavelengthUnavailableError(
        f"{label}: no wavelength for subarray {name}: the file has no WCS or WAVELENGTH "
        f"extension{tried}, and xmiri's packaged solution does not serve it ({why}). Pass "
        f"wavelength='<the matching _calints.fits>' (or its x1dints file, or a map in micron; "
        f"xmiri reduce and info: --wavelength FILE), or configure CRDS (CRDS_PATH, "
        f"CRDS_SERVER_URL) so that jwst AssignWcsStep assigns the WCS; wavelength=False opens the "
        f"frames without wavelengths")


def packaged_wavelength(shape, subarray=None, *, label="the frames", warn=True, failure=None):
    """The packaged solution on a file's pixels, announced, or WavelengthUnavailableError.

    Parameters
    ----------
    shape : (int, int)
        ``(n_rows, n_cols)`` of the frames.
    subarray : mapping, optional
        ``SUBARRAY``, ``SUBSTRT1``, ``SUBSTRT2`` (see
        :func:`packaged_solution_offset`).
    label : str, optional
        The file's name, for the messages.
    warn : bool, optional
        Issue the :class:`~xmiri.exceptions.PackagedWavelengthWarning`
        (the simulator, whose scene is built on this solution, does not).
    failure : str, optional
        Why jwst AssignWcsStep could not be used (CRDS configured): said in
        the warning, whose ``source`` is then ``"AssignWcsStep"``.

    Returns
    -------
    wmap : numpy.ndarray
        Wavelength map in micron, (row, col) of the file's pixels.
    attrs : dict
        As :func:`resolve_wavelength`, ``source`` ``"xmiri default solution"``.

    Raises
    ------
    WavelengthUnavailableError
        The solution does not serve the subarray; the message says what to
        provide instead.
    """
    offset, why = packaged_solution_offset(subarray, shape)
    if offset is None:
        raise _unavailable(label, subarray, why, failure)
    sol = _default_solution()
    provenance = _default_provenance()
    name = str((subarray or {}).get("SUBARRAY") or "SLITLESSPRISM")
    if warn:
        origin = (f"derived by scripts/derive_wavelength_solution.py from the "
                  f"{sol['source']['extension']} of {sol['source']['file']} ({sol['source']['SUBARRAY']}, "
                  f"jwst {sol['source']['CAL_VER']}, CRDS context {provenance['crds_context']}, "
                  f"{provenance['reference_files']})")
        fix = ("for the current calibration pass wavelength='<the matching _calints.fits>' "
               "(xmiri reduce and info: --wavelength FILE), or configure CRDS (CRDS_PATH, "
               "CRDS_SERVER_URL) so that jwst AssignWcsStep assigns it")
        if failure:
            reason = " ".join(str(failure).split())
            message = (f"wavelength from the xmiri default solution, not jwst AssignWcsStep: "
                       f"{reason}; the solution was {origin}")
            fields = dict(source="AssignWcsStep", fallback="xmiri default solution", reason=reason)
        else:
            message = f"{label}: wavelengths from xmiri's packaged solution, {origin}; {fix}"
            fields = dict(source="xmiri default solution", fallback=None, reason=f"{origin}; {fix}")
        warnings.warn(PackagedWavelengthWarning(
            message, subarray=name, crds_context=provenance["crds_context"],
            reference_files=provenance["reference_files"], **fields), stacklevel=4)
    return default_wavelength_map(*shape, offset=offset), _attrs(
        "xmiri default solution", provenance, calibration=DEFAULT_SOLUTION,
        calibration_source=f"{sol['source']['file']} ({sol['source']['extension']}, "
                           f"jwst {sol['source']['CAL_VER']})",
        calibration_subarray=sol["source"].get("SUBARRAY", "SLITLESSPRISM"),
        calibration_offset=f"{offset[0]} {offset[1]}")


def _attrs(source, provenance=None, **extra):
    prov = {"crds_context": UNKNOWN, "reference_files": UNKNOWN, "jwst_version": UNKNOWN}
    prov.update(provenance or {})
    return {"units": "micron", "long_name": "wavelength", "source": source, **prov, **extra}


def _reference_name(value):
    """``crds://jwst_miri_specwcs_0009.fits`` -> ``jwst_miri_specwcs_0009.fits``; None for N/A."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.upper() in ("N/A", "NONE", "UNDEFINED"):
        return None
    if text.lower().startswith("crds://"):
        text = text[len("crds://"):]
    return os.path.basename(text)


def _default_provenance():
    source = _default_solution().get("source", {})
    refs = "; ".join(f"{reftype}: {name}" for key, reftype in _WCS_REFERENCE_KEYWORDS.items()
                     if (name := _reference_name(source.get(key))))
    return {"crds_context": str(source.get("CRDS_CTX") or DEFAULT_CRDS_CONTEXT),
            "reference_files": refs or DEFAULT_REFERENCE_FILES,
            "jwst_version": str(source.get("CAL_VER") or UNKNOWN)}
