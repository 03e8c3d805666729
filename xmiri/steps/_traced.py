"""``extract(trace_position="polynomial")``: apertures that follow a fitted, tilted trace.

The numerics are :mod:`xmiri.kernels.tracefit` (the trace polynomial of the
median frame, and one offset per integration) and
:mod:`xmiri.kernels.aperture` (fractional apertures, weighted box and optimal
extraction, the wavelength at the trace).  The reference trace is an
exposure-wide reduction (the median frame over the integrations of
:func:`~xmiri.steps._common.sample_index`); everything else is per chunk.
"""
import numpy as np

from ..kernels import aperture as _aperture
from ..kernels import background as _stats
from ..kernels import tracefit as _tracefit
from .._diagnostics import report
from ._common import IMAGE, apply, combine, report_optimal, sample_index, scalar

__all__ = ["reference_trace", "trace_centers", "extract_traced", "wavelength_along"]

#: Rows of the packed reference trace (field dimension).
_FIELDS = ("center", "sigma", "amplitude", "row_weight", "model_sigma")


def _reference_block(frames, *, order, cols, sigma_guess):
    """Median frame -> :func:`~xmiri.kernels.tracefit.fit_reference_trace`, packed in arrays."""
    frame = _stats.nanmedian(np.asarray(frames, dtype=np.float64), axis=0)
    ref = _tracefit.fit_reference_trace(frame, order=order, cols=cols, sigma_guess=sigma_guess)
    rows = np.arange(frame.shape[0], dtype=np.float64)
    model_sigma = _tracefit.evaluate_trace(ref.sigma_coefficients, rows)
    packed = np.stack([ref.row_fit.center, ref.row_fit.sigma, ref.row_fit.amplitude,
                       ref.row_weights, model_sigma])
    return packed, ref.coefficients


def reference_trace(data, *, order, cols, sigma_guess):
    """The exposure's reference trace: packed per-row fits and polynomial coefficients (lazy)."""
    frames = data.isel(integration=sample_index(data.sizes["integration"]))
    packed, coefficients = combine(
        _reference_block, frames, core=[["integration", *IMAGE]],
        out_core=[["trace_field", "row"], ["power"]], dtypes=[np.float64] * 2,
        sizes={"trace_field": len(_FIELDS), "power": order + 1},
        order=order, cols=cols, sigma_guess=sigma_guess)
    return packed.assign_coords(trace_field=list(_FIELDS)), coefficients


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
    offsets = _tracefit.integration_offsets(data, reference, packed[3], cols=cols)
    rows = np.arange(data.shape[1], dtype=np.float64)
    report("extract", "trace_center", np.count_nonzero(~np.isfinite(offsets)), offsets.size,
           "no fit of the reference trace to the integration")
    return _tracefit.evaluate_trace(coefficients, rows, offsets)


def trace_centers(data, packed, coefficients, cols):
    """``trace_center(integration, row)``: the polynomial plus each integration's offset."""
    return apply(_centers_block, data, packed, coefficients,
                 core=[IMAGE, ["trace_field", "row"], ["power"]], out_core=[["row"]],
                 dtypes=[np.float64], cols=cols)


def _report_flux(flux, cause):
    report("extract", "flux", np.count_nonzero(~np.isfinite(flux)), flux.size, cause)


def _box_block(data, err, center, *, left, right):
    weights = _aperture.aperture_weights(center, data.shape[-1], left, right)
    flux, flux_error = _aperture.box_extract_weighted(data, err, weights)
    _report_flux(flux, "NaN data or errors inside the aperture, or no trace centre")
    return flux, flux_error


def _optimal_block(data, variance0, center, q, *extra, left, right, has_profile, has_sky):
    """Optimal extraction in the traced aperture; ``extra``: P (or the model sigma) and the sky."""
    extra = list(extra)
    first = extra.pop(0)
    profile = first if has_profile else _aperture.gaussian_profile(center, first, data.shape[-1])
    sky = extra.pop(0) if has_sky else None
    weights = _aperture.aperture_weights(center, data.shape[-1], left, right)
    flux, flux_error = _aperture.optimal_extract_weighted(
        data, np.broadcast_to(profile, data.shape), np.broadcast_to(variance0, data.shape),
        weights, q=scalar(q), sky=sky)
    profile_sum = (weights * np.broadcast_to(profile, data.shape)).sum(axis=-1)
    report_optimal(flux, profile_sum, np.isfinite(center))
    return flux, flux_error


def extract_traced(ds, center, packed, *, method, left, right, variance0=None, profile=None,
                   q=None, sky=None):
    """Box or optimal flux and error in the fractional aperture around ``center`` (lazy).

    ``profile=None`` for optimal extraction uses the Gaussian model of the
    reference trace (width per row from the median frame), shifted with each
    integration's trace.  ``q`` is Horne's Q as a 0-d DataArray.
    """
    if method == "box":
        return apply(_box_block, ds["data"], ds["err"], center,
                     core=[IMAGE, IMAGE, ["row"]], out_core=[["row"], ["row"]],
                     dtypes=[np.float64, np.float64], left=left, right=right)
    args = [ds["data"], variance0, center, q]
    core = [IMAGE, IMAGE, ["row"], []]
    if profile is not None:
        args.append(profile)
        core.append(IMAGE)
    else:
        args.append(packed.isel(trace_field=_FIELDS.index("model_sigma"), drop=True))
        core.append(["row"])
    if sky is not None:
        args.append(sky)
        core.append(IMAGE)
    return apply(_optimal_block, *args, core=core, out_core=[["row"], ["row"]],
                 dtypes=[np.float64, np.float64], left=left, right=right,
                 has_profile=profile is not None, has_sky=sky is not None)


def _wavelength_block(wavelength, coefficients):
    coefficients = np.asarray(coefficients).reshape(-1, np.shape(coefficients)[-1])[0]
    rows = np.arange(wavelength.shape[0], dtype=np.float64)
    return _aperture.wavelength_at_trace(wavelength, _tracefit.evaluate_trace(coefficients, rows))


def wavelength_along(wavelength, coefficients):
    """``wavelength(row)`` read along the reference trace (the polynomial, without offsets)."""
    return combine(_wavelength_block, wavelength, coefficients, core=[IMAGE, ["power"]],
                   out_core=[["row"]], dtypes=[np.float64])
