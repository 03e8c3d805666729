"""Run ExoTiC-MIRI 1.0.1 steps on plain numpy arrays, as an independent reference.

ExoTiC-MIRI is imported lazily and only by tests; the environment tweaks it
needs on numpy >= 2 and offline machines are applied here, once.
"""
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
