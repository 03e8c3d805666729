"""The wavelength coordinate of MIRI LRS slitless frames.

``wavelength(row, col)`` in micron comes from the first source that has it:

1. a map given by the user;
2. a non-zero ``WAVELENGTH`` extension in the file (calints after jwst
   ``assign_wcs``/``extract_2d``);
3. the file's own assigned WCS, read through ``stdatamodels``;
4. jwst's ``AssignWcsStep``, only when CRDS is configured (``CRDS_PATH`` or
   ``CRDS_SERVER_URL`` set) — never attempted otherwise, so that opening a
   file never waits on the network;
5. xmiri's packaged default solution (:func:`default_wavelength_map`).

The packaged solution is a not-a-knot cubic spline through 58 (row,
wavelength) nodes, derived by ``scripts/derive_wavelength_solution.py`` from
the WAVELENGTH extension that jwst 2.0.1 ``assign_wcs`` wrote for the MIRISim
NGTS-10 SLITLESSPRISM segment.  In that WCS the wavelength depends on the row
only and is defined on rows 7-394 and columns 4-71; elsewhere it is NaN.  The
spline reproduces the map to 7.3e-4 micron (see the JSON file's
``max_abs_error_um``).
"""
import functools
import json
import logging
import os
from importlib import resources

import numpy as np

from .exceptions import ParameterError

__all__ = ["default_wavelength_map", "wavelength_from_hdul", "wavelength_from_datamodel",
           "resolve_wavelength", "DEFAULT_SOLUTION"]

log = logging.getLogger(__name__)

DEFAULT_SOLUTION = "lrs_slitless_wavelength.json"


@functools.lru_cache(maxsize=1)
def _default_solution():
    text = resources.files("xmiri").joinpath("data").joinpath(DEFAULT_SOLUTION).read_text()
    return json.loads(text)


def default_wavelength_map(n_rows=416, n_cols=72):
    """Packaged default LRS slitless wavelength map.

    Parameters
    ----------
    n_rows, n_cols : int
        Frame shape (SLITLESSPRISM: 416 rows along the dispersion axis, 72
        columns).

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
    rows = np.arange(n_rows)
    profile = np.where((rows >= r0) & (rows <= r1), spline(rows), np.nan)
    wmap = np.repeat(profile[:, None], n_cols, axis=1)
    cols = np.arange(n_cols)
    wmap[:, (cols < c0) | (cols > c1)] = np.nan
    return wmap


def _attrs(source, **extra):
    return {"units": "micron", "long_name": "wavelength", "source": source, **extra}


def wavelength_from_hdul(hdul, shape):
    """Map from a non-zero WAVELENGTH extension, or None if there is none."""
    if "WAVELENGTH" not in hdul:
        return None
    wmap = np.asarray(hdul["WAVELENGTH"].data, dtype=float)
    if wmap.shape != tuple(shape) or not np.any(np.nan_to_num(wmap) != 0):
        return None
    wmap = np.where(wmap > 0, wmap, np.nan)
    return wmap


def wavelength_from_datamodel(model, shape):
    """Map from a datamodel's assigned WCS, or None if it has none or it fails."""
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
    return np.where(wmap > 0, wmap, np.nan)


def _crds_configured():
    return bool(os.environ.get("CRDS_SERVER_URL") or os.environ.get("CRDS_PATH"))


def _wavelength_from_assign_wcs(model, shape):
    try:
        from jwst.assign_wcs import AssignWcsStep

        result = AssignWcsStep.call(model)
    except Exception as exc:
        log.info("AssignWcsStep unavailable (%s); using the packaged solution", exc)
        return None
    return wavelength_from_datamodel(result, shape)


def resolve_wavelength(shape, *, hdul=None, model=None, user_map=None):
    """Wavelength map and its provenance from the first source that has it.

    Parameters
    ----------
    shape : tuple of int
        ``(n_rows, n_cols)`` of the frames.
    hdul : astropy.io.fits.HDUList, optional
        The open file, searched for a WAVELENGTH extension.
    model : stdatamodels DataModel or callable, optional
        A datamodel whose ``meta.wcs`` is evaluated, or a zero-argument
        callable returning one (opened only if earlier sources fail).
    user_map : array_like, optional
        A user-supplied ``(n_rows, n_cols)`` map in micron; wins if given.

    Returns
    -------
    wmap : numpy.ndarray
        ``(n_rows, n_cols)`` float64 micron, NaN where undefined.
    attrs : dict
        ``units``, ``long_name`` and ``source`` (one of ``"user"``,
        ``"WAVELENGTH extension"``, ``"assigned WCS"``, ``"AssignWcsStep"``,
        ``"xmiri default solution"``).

    Raises
    ------
    ParameterError
        If ``user_map`` does not have the frame shape.
    """
    shape = tuple(int(s) for s in shape)
    if user_map is not None:
        wmap = np.asarray(user_map, dtype=float)
        if wmap.shape != shape:
            raise ParameterError(f"wavelength: user map has shape {wmap.shape}, frames are {shape}")
        return wmap.copy(), _attrs("user")
    if hdul is not None:
        wmap = wavelength_from_hdul(hdul, shape)
        if wmap is not None:
            return wmap, _attrs("WAVELENGTH extension")
    if model is not None:
        if callable(model) and not hasattr(model, "meta"):
            try:
                model = model()
            except Exception as exc:
                log.info("could not open the file as a datamodel (%s)", exc)
                model = None
        if model is not None:
            wmap = wavelength_from_datamodel(model, shape)
            if wmap is not None:
                return wmap, _attrs("assigned WCS")
            if _crds_configured():
                wmap = _wavelength_from_assign_wcs(model, shape)
                if wmap is not None:
                    return wmap, _attrs("AssignWcsStep")
    sol = _default_solution()
    return default_wavelength_map(*shape), _attrs(
        "xmiri default solution", calibration=DEFAULT_SOLUTION,
        calibration_source=f"{sol['source']['file']} ({sol['source']['extension']}, "
                           f"jwst {sol['source']['CAL_VER']})")
