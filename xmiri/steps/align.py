"""``align``: measure (and undo) the drifts of the spectra between integrations."""
import numpy as np

from ..kernels import _validate as v
from .. import defaults as d
from ._diagnostics import report
from ..kernels import align as _align
from ._common import apply, call_repr, combine, prepare, sample_index, with_history

__all__ = ["align"]


def _shift_block(signals, template, *, quantity, **kwargs):
    shifts = _align.measure_shifts(signals, template, spline_order=d.SHIFT_SPLINE_ORDER,
                                   min_samples=d.SHIFT_MIN_SAMPLES, max_iter=d.SHIFT_MAX_ITER,
                                   tol=d.SHIFT_TOL, tol_sigma=d.SHIFT_TOL_SIGMA, **kwargs)
    report("align", quantity, np.count_nonzero(~np.isfinite(shifts)), shifts.size,
           "no fit of the shifted template: too few usable samples, no convergence, or a "
           "shift beyond max_shift")
    return shifts


def _template(signals, dim):
    """:func:`xmiri.kernels.align.median_template` over the exposure (:func:`sample_index`)."""
    sample = signals.isel(integration=sample_index(signals.sizes["integration"]))
    return combine(_align.median_template, sample, core=[["integration", dim]],
                   out_core=[[dim]], dtypes=[np.float64])


def _resampled(spec, y_shift):
    """``flux``, ``flux_error`` (and ``sky_flux_error``) re-sampled at ``row + y_shift``.

    The error of the pixels (independent between rows) is re-sampled as a
    variance (:func:`xmiri.kernels.align.resample`: sums over rows stay
    right); the sky's part, ``sky_flux_error`` when the spectra carry it
    (correlated between rows), is interpolated linearly, which keeps a
    coherent sum over rows right; ``flux_error`` is their quadrature sum
    (:func:`xmiri.kernels.align.resample_with_sky`, one kernel for the three).
    """
    out = {}
    if "sky_flux_error" in spec and spec["sky_flux_error"].dims == spec["flux_error"].dims:
        # one kernel for the three outputs: dask.compute of a Dataset loses the keys of an
        # output consumed by one other layer (xmiri.steps._blockwise, tests/test_dask_upstream.py)
        flux, flux_error, sky_error = apply(
            _align.resample_with_sky, spec["flux"], spec["flux_error"], spec["sky_flux_error"], y_shift,
            core=[["row"], ["row"], ["row"], []], out_core=[["row"], ["row"], ["row"]],
            dtypes=[np.float64] * 3)
        out["sky_flux_error"] = sky_error.astype(spec["sky_flux_error"].dtype).assign_attrs(
            spec["sky_flux_error"].attrs)
    else:
        flux, flux_error = apply(_align.resample, spec["flux"], spec["flux_error"], y_shift,
                                 core=[["row"], ["row"], []], out_core=[["row"], ["row"]],
                                 dtypes=[np.float64, np.float64])
    out["flux"] = flux.assign_attrs(spec["flux"].attrs, aligned="True")
    out["flux_error"] = flux_error.assign_attrs(
        spec["flux_error"].attrs, resampled="interpolated variance: sums over rows stay right "
        "(docs/errors.rst)")
    return out


def align(spec, align_spectra=True, max_shift=d.MAX_SHIFT):
    """Measure and optionally correct the trace's drifts between integrations.

    The numerics are :mod:`xmiri.kernels.align`: a template (the median
    signal after matching scales, over the first 512 integrations: all of a
    shorter exposure; see :func:`~xmiri.steps._common.sample_index`), a
    Gauss-Newton fit of a shifted, scaled copy of it to every signal, and a
    resampling.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra from :func:`extract`: ``flux``, ``flux_error`` (integration,
        row) and ``cross_dispersion_profile`` (integration, col).
    align_spectra : bool, default True
        Re-sample ``flux`` and ``flux_error`` (and ``sky_flux_error`` when
        present) onto the median spectrum's row grid by linear interpolation
        at ``row + y_shift``.  Errors are re-sampled so that the variance of
        a sum over rows stays right (a single row's is overestimated by up
        to 2): see :func:`xmiri.kernels.align.resample` and ``docs/errors.rst``.
    max_shift : float, default 5.0
        Largest shift in pixels accepted as measured; larger ones are NaN.

    Returns
    -------
    xarray.Dataset
        ``spec`` with ``x_shift`` (cross-dispersion) and ``y_shift``
        (dispersion) in pixels per integration, relative to the median
        profile and median spectrum; flux and flux_error re-sampled when
        ``align_spectra``.

    Warns
    -----
    xmiri.UnmeasuredWarning
        When computed, once per compute, counting the shifts that could not
        be measured (NaN).

    Notes
    -----
    ExoTiC-MIRI's ``AlignSpectraStep`` is not reproduced: its unnormalised
    cross-correlation is biased whenever the spectrum is still bright at an
    end of the row range (docs/exotic_miri.rst, "Alignment fits a shifted,
    scaled template"), and it raises 'zero-size array' on a spectrum holding one NaN
    and on the all-zero frames its own DQ decoding makes of the shared
    MIRISim data.  xmiri fits a shifted, scaled template instead (see
    :mod:`xmiri.kernels.align`).  Re-sampled samples that would need data
    beyond the ends are NaN (ExoTiC-MIRI extrapolates).

    Examples
    --------
    >>> import numpy as np, xmiri
    >>> ds, truth = xmiri.simulate.simulate(12, seed=3, jitter_x=0.2)
    >>> spec = ds.lrs.subtract().lrs.extract().lrs.align().compute()
    >>> bool(np.corrcoef(spec.x_shift, truth.x_shift)[0, 1] > 0.99)
    True
    """
    spec = prepare(spec, ["flux", "flux_error", "cross_dispersion_profile"], "align")
    max_shift = v.positive_number("max_shift", max_shift)
    margin = 2 * _align.shift_margin(max_shift)  # samples the lag search leaves out at both ends
    for name, size in (("row", spec.sizes["row"]),
                       ("col", spec["cross_dispersion_profile"].sizes["col"])):
        if size - margin < d.SHIFT_MIN_SAMPLES:
            raise v.ParameterError(
                f"max_shift={max_shift} leaves fewer than {d.SHIFT_MIN_SAMPLES} of the {size} samples "
                f"along {name!r} "
                f"to measure shifts on; use a smaller max_shift")
    y_shift = apply(_shift_block, spec["flux"], _template(spec["flux"], "row"),
                    core=[["row"], ["row"]], out_core=[[]], dtypes=[np.float64],
                    quantity="y_shift", max_shift=max_shift)
    x_shift = apply(_shift_block, spec["cross_dispersion_profile"],
                    _template(spec["cross_dispersion_profile"], "col"),
                    core=[["col"], ["col"]], out_core=[[]], dtypes=[np.float64],
                    quantity="x_shift", max_shift=max_shift)
    out = spec.copy()
    if align_spectra:
        out.update(_resampled(spec, y_shift))
    out["y_shift"] = y_shift.assign_attrs(long_name="dispersion-axis shift from the median spectrum",
                                          units="pixel")
    out["x_shift"] = x_shift.assign_attrs(
        long_name="cross-dispersion shift from the median profile", units="pixel")
    return with_history(out, call_repr("align", align_spectra=bool(align_spectra),
                                       max_shift=max_shift))
