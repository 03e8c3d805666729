"""Run ExoTiC-MIRI 1.0.1 steps on plain numpy arrays, as an independent reference.

ExoTiC-MIRI is imported lazily and only by tests; the environment tweaks it
needs on numpy >= 2 and offline machines are applied here, once.
"""
import contextlib
import os
import warnings

import numpy as np

from tests.conftest import require_module


def _import_exotic():
    os.environ.setdefault("STPIPE_DISABLE_CRDS_STEPPARS", "true")
    if not hasattr(np, "RankWarning"):  # removed in numpy 2; ExoTiC-MIRI uses it
        np.RankWarning = np.exceptions.RankWarning
    stage_2 = require_module("exotic_miri.stage_2")  # a skip locally, a failure under CI
    from stdatamodels.jwst import datamodels
    import logging

    for name in ("stpipe", "jwst", "CRDS"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return stage_2, datamodels


def cube_model(data, err=None, dq=None):
    """A jwst CubeModel holding copies of the given arrays."""
    _, datamodels = _import_exotic()
    data = np.array(data, dtype=np.float32)
    err = np.ones_like(data) if err is None else np.array(err, dtype=np.float32)
    dq = np.zeros(data.shape, np.uint32) if dq is None else np.array(dq, dtype=np.uint32)
    return datamodels.CubeModel(data=data, err=err, dq=dq)


def _call(step_name, *args, **kwargs):
    stage_2, _ = _import_exotic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(stage_2, step_name)().call(*args, **kwargs)


def clean(data, err=None, dq=None, **kwargs):
    """CleanOutliersStep -> (cleaned data, dq, P, n_outliers) as arrays."""
    model, P, n_out = _call("CleanOutliersStep", cube_model(data, err, dq), **kwargs)
    return np.asarray(model.data), np.asarray(model.dq), np.asarray(P), np.asarray(n_out)


def subtract(data, **kwargs):
    """BackgroundSubtractStep -> (subtracted data, background)."""
    model, bkg = _call("BackgroundSubtractStep", cube_model(data), **kwargs)
    return np.asarray(model.data), np.asarray(bkg)


def box(data, err, wavelength_map, **kwargs):
    """Extract1DBoxStep -> (wavelengths, flux, flux_error, trace_sigmas)."""
    return _call("Extract1DBoxStep", cube_model(data, err), wavelength_map, **kwargs)


def optimal(data, err, wavelength_map, P, readnoise, **kwargs):
    """Extract1DOptimalStep -> (wavelengths, flux, flux_error, trace_sigmas)."""
    return _call("Extract1DOptimalStep", cube_model(data, err), wavelength_map,
                 np.array(P, dtype=float), np.array(readnoise, dtype=float), **kwargs)


def align(data, spec, spec_err, **kwargs):
    """AlignSpectraStep -> (spectra, errors, x_shifts, y_shifts)."""
    return _call("AlignSpectraStep", cube_model(data), np.asarray(spec), np.asarray(spec_err), **kwargs)


class _NumpyWithIntegerBits:
    """numpy, except that ``binary_repr`` gives the bits as integers, not characters.

    ExoTiC-MIRI 1.0.1 decodes a DQ value as
    ``np.flip(list(np.binary_repr(v, width=32))).astype(bool)``: under
    numpy >= 2 every character, '0' included, casts to True, so every pixel
    counts as flagged.  Integer bits cast as they did under numpy 1.
    """

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def binary_repr(num, width=None):
        return [int(c) for c in np.binary_repr(num, width=width)]


@contextlib.contextmanager
def numpy1_dq_decoding():
    """Inside, ExoTiC-MIRI's CleanOutliersStep reads DQ bits as it did under numpy 1."""
    _import_exotic()
    from exotic_miri.stage_2 import clean_outliers_step as module

    saved = module.np
    module.np = _NumpyWithIntegerBits()
    try:
        yield
    finally:
        module.np = saved


def published_chain(data, err, dq, wavelength_map, *, clean_kwargs, subtract_kwargs,
                    extract_kwargs):
    """ExoTiC-MIRI's published stage 2 from rateints, step for step.

    ``docs/source/views/complete_pipelines.rst`` in ExoTiC-MIRI's repository
    (the flat field, which needs CRDS, left out): clean a model ``proc``
    into ``temp``, the background of ``temp``, ``proc.data -= bkg``, clean
    ``proc`` again, ERR NaN -> 0, box extraction, AlignSpectraStep with
    ``align_spectra=False``.  Its CleanOutliersStep writes the cleaned values
    into ``proc`` too, so the background is subtracted from the once-cleaned
    frames; ``proc.dq`` stays as read.  DQ bits are decoded as under numpy 1
    (:func:`numpy1_dq_decoding`).

    Returns
    -------
    dict
        ``flux``, ``flux_error`` (integration, row), ``psf_sigma``,
        ``x_shift``, ``y_shift`` (integration), ``background`` (integration,
        row, col) and ``mutated``: the number of ``proc`` pixels the first
        clean changed.
    """
    stage_2, _ = _import_exotic()
    proc = cube_model(data, err, dq)
    raw = proc.data.copy()
    with warnings.catch_warnings(), numpy1_dq_decoding():
        warnings.simplefilter("ignore")
        temp, _, _ = stage_2.CleanOutliersStep().call(proc, **clean_kwargs)
        mutated = int(np.count_nonzero(proc.data != raw))
        _, bkg = stage_2.BackgroundSubtractStep().call(temp, **subtract_kwargs)
        proc.data -= bkg
        proc, _, _ = stage_2.CleanOutliersStep().call(proc, **clean_kwargs)
        proc.err[~np.isfinite(proc.err)] = 0.0
        _, spec, spec_unc, sigmas = stage_2.Extract1DBoxStep().call(
            proc, np.asarray(wavelength_map), **extract_kwargs)
        spec, spec_unc, x_shifts, y_shifts = stage_2.AlignSpectraStep().call(
            proc, spec, spec_unc, align_spectra=False)
    return {"flux": np.asarray(spec), "flux_error": np.asarray(spec_unc),
            "psf_sigma": np.asarray(sigmas), "x_shift": np.asarray(x_shifts),
            "y_shift": np.asarray(y_shifts), "background": np.asarray(bkg), "mutated": mutated}
