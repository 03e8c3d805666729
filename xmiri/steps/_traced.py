"""``extract(trace_position="polynomial")``: the centre of a fitted, tilted trace in every row.

The numerics are :mod:`xmiri.kernels.tracefit` (the trace polynomial of the
median frame, and one offset per integration) and
:func:`xmiri.kernels.aperture.wavelength_at_trace`.  The reference trace is
an exposure-wide reduction (the median frame over the integrations of
:func:`~xmiri.steps._common.over_sample`); the centres are per chunk.  The
aperture weights and the flux are built from the centres by
:mod:`xmiri.steps.extract`, as for every ``trace_position``.
"""
import numpy as np

from .. import defaults as d
from ..kernels import aperture as _aperture
from ..kernels import tracefit as _tracefit
from ._diagnostics import report
from ._common import IMAGE, apply, combine, over_sample, sample_reduction

__all__ = ["reference_trace", "trace_centers", "model_sigma", "wavelength_along", "FIELDS"]

#: Rows of the packed reference trace (field dimension).
FIELDS = ("center", "sigma", "amplitude", "row_weight", "model_sigma")


def _reference_block(frame, *, order, cols, sigma_guess):
    """Median frame -> :func:`~xmiri.kernels.tracefit.fit_reference_trace`, packed in arrays."""
    ref = _tracefit.fit_reference_trace(
        frame, order=order, sigma_order=d.TRACE_SIGMA_POLY_ORDER, cols=cols, sigma_guess=sigma_guess,
        min_snr=d.TRACE_MIN_SNR, sigma_range=d.TRACE_SIGMA_RANGE,
        max_center_error=d.TRACE_MAX_CENTER_ERROR, clip_sigma=d.TRACE_CLIP_SIGMA,
        max_iter=d.TRACE_CLIP_MAX_ITER)
    rows = np.arange(frame.shape[0], dtype=np.float64)
    model_sigma = _tracefit.evaluate_trace(ref.sigma_coefficients, rows)
    packed = np.stack([ref.row_fit.center, ref.row_fit.sigma, ref.row_fit.amplitude,
                       ref.row_weights, model_sigma])
    return packed, ref.coefficients


def reference_trace(data, *, order, cols, sigma_guess):
    """The exposure's reference trace: packed per-row fits and polynomial coefficients (lazy)."""
    frame = over_sample(sample_reduction, data)
    packed, coefficients = combine(
        _reference_block, frame, core=[IMAGE],
        out_core=[["trace_field", "row"], ["power"]], dtypes=[np.float64] * 2,
        sizes={"trace_field": len(FIELDS), "power": order + 1},
        order=order, cols=cols, sigma_guess=sigma_guess)
    return packed.assign_coords(trace_field=list(FIELDS)), coefficients


def _exposure_wide(packed, coefficients):
    """The reference trace's arrays without the leading axes apply_ufunc broadcast them to."""
    packed = np.asarray(packed)
    coefficients = np.asarray(coefficients)
    return (packed.reshape(packed.shape[-2:]),
            coefficients.reshape(-1, coefficients.shape[-1])[0])


def _centers_block(data, packed, coefficients, *, cols):
    packed, coefficients = _exposure_wide(packed, coefficients)
    missing = np.full(packed.shape[-1], np.nan)
    reference = _tracefit.RowFit(center=packed[0], center_error=missing, amplitude=packed[2],
                                 amplitude_error=missing, sigma=packed[1], sigma_error=missing,
                                 baseline=missing)
    offsets = _tracefit.integration_offsets(data, reference, packed[3], cols=cols,
                                            half_width=d.TRACE_OFFSET_HALF_WIDTH,
                                            max_iter=d.TRACE_OFFSET_MAX_ITER, tol=d.TRACE_OFFSET_TOL)
    rows = np.arange(data.shape[1], dtype=np.float64)
    report("extract", "trace_center", np.count_nonzero(~np.isfinite(offsets)), offsets.size,
           "no fit of the reference trace to the integration")
    return _tracefit.evaluate_trace(coefficients, rows, offsets)


def trace_centers(data, packed, coefficients, cols):
    """``trace_center(integration, row)``: the polynomial plus each integration's offset."""
    return apply(_centers_block, data, packed, coefficients,
                 core=[IMAGE, ["trace_field", "row"], ["power"]], out_core=[["row"]],
                 dtypes=[np.float64], cols=cols)


def model_sigma(packed):
    """The Gaussian width of the reference trace in each row (pixels), deconvolved from the pixel."""
    return packed.isel(trace_field=FIELDS.index("model_sigma"), drop=True)


def _wavelength_block(wavelength, coefficients):
    coefficients = np.asarray(coefficients).reshape(-1, np.shape(coefficients)[-1])[0]
    rows = np.arange(wavelength.shape[0], dtype=np.float64)
    return _aperture.wavelength_at_trace(wavelength, _tracefit.evaluate_trace(coefficients, rows))


def wavelength_along(wavelength, coefficients):
    """``wavelength(row)`` read along the reference trace (the polynomial, without offsets)."""
    return combine(_wavelength_block, wavelength, coefficients, core=[IMAGE, ["power"]],
                   out_core=[["row"]], dtypes=[np.float64])
