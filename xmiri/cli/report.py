"""``xmiri reduce``: the table of what could not be measured, printed at the end."""
import contextlib
import warnings

import numpy as np

from ..config import SECTIONS
from ..exceptions import NoiseRatioWarning, UnmeasuredWarning, XmiriError
from ..kernels.lightcurves import second_differences

__all__ = ["summary", "recording_unmeasured", "holding", "noise_summary", "NOISE_RATIO_RANGE",
           "NOISE_RATIO_SIGMAS"]

#: White-light scatter / error ratios taken as honest errors by ``reduce``'s
#: check; outside, a :class:`~xmiri.NoiseRatioWarning`.
NOISE_RATIO_RANGE = (0.8, 1.25)
#: A ratio outside the range warns only when it also differs from 1 by more than
#: this many of its own standard errors (a short exposure measures it poorly).
NOISE_RATIO_SIGMAS = 2.0


@contextlib.contextmanager
def holding(category, into):
    """Append the warnings of `category` issued in the block to list `into`; show the others after it."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", category)
            yield
    finally:
        for w in caught:
            if issubclass(w.category, category):
                into.append(w.message)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def recording_unmeasured(into):
    """Append the UnmeasuredWarnings issued in the block to list `into`; show the others after it.

    The step layer issues one UnmeasuredWarning per step, quantity and cause
    per compute; ``reduce`` prints them as one table (:func:`summary`).
    """
    return holding(UnmeasuredWarning, into)


def _unmeasured_rows(unmeasured):
    """One row (step, quantity, "count / total", cause) per step, quantity and cause, in chain order.

    A step computed twice over the same data (e.g. clean again for a plot)
    reports the same values again: the first report is kept.
    """
    rows = {}
    for w in unmeasured:
        rows.setdefault((w.step, w.quantity, w.cause), (w.step, w.quantity, f"{w.count} / {w.total}",
                                                       w.cause))
    order = list(SECTIONS)
    return sorted(rows.values(), key=lambda row: order.index(row[0]) if row[0] in order else len(order))


def _nan_where(isnan, values, most=5):
    """Where the NaN of DataArray `values` are, per dimension: ``"integration: all 8; row: 0, 415"``.

    Labels are listed when at most `most` along a dimension hold NaN, else counted.
    """
    if not values.dims:
        return "(a single value)"
    parts = []
    for axis, dim in enumerate(values.dims):
        hit = isnan.any(axis=tuple(i for i in range(isnan.ndim) if i != axis))
        labels = values[dim].values[hit] if dim in values.coords else np.flatnonzero(hit)
        if hit.all():
            parts.append(f"{dim}: all {hit.size}")
        elif hit.sum() <= most:
            parts.append(f"{dim}: {', '.join(str(label) for label in labels)}")
        else:
            parts.append(f"{dim}: {int(hit.sum())} of {hit.size}")
    return "; ".join(parts)


def _nan_rows(products):
    """One row (file, variable, "NaN / values", where) per floating-point data variable holding NaN.

    Parameters
    ----------
    products : dict of str to xarray.Dataset
        File name -> the computed Dataset written there.
    """
    rows = []
    for name, ds in products.items():
        for var, values in ds.data_vars.items():
            if values.dtype.kind in "fc":
                isnan = np.isnan(values.values)
                if isnan.any():
                    rows.append((name, var, f"{int(isnan.sum())} / {isnan.size}",
                                 _nan_where(isnan, values)))
    return rows


def _table(header, rows, indent="  "):
    """`header` and `rows` (tuples of str) as lines of left-aligned columns."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, *rows]]


def summary(unmeasured, products, *, distributed=False):
    """The lines ``reduce`` prints at the end about values that could not be measured.

    Parameters
    ----------
    unmeasured : list of xmiri.UnmeasuredWarning
        The warnings issued while computing: a table of step, quantity,
        count / total and cause.
    products : dict of str to xarray.Dataset
        File name -> computed Dataset written there: a table of the NaN
        values of each floating-point data variable, and where they are.
    distributed : bool, optional
        The computation ran on dask.distributed workers, which issue the
        steps' warnings themselves (in their logs): say so.

    Returns
    -------
    list of str
        One line saying that every value was measured, or the tables.
    """
    steps, nans = _unmeasured_rows(unmeasured), _nan_rows(products)
    if not steps and not nans:
        if distributed:  # the steps reported in the workers, not here
            return ["every value was measured: the written files hold no NaN (the steps' own "
                    "reports are in the dask workers' logs)"]
        return ["every value was measured: no step reported an unmeasured value and the written "
                "files hold no NaN"]
    lines = []
    if steps:
        lines += ["could not be measured (NaN in the products):"]
        lines += _table(("step", "quantity", "count / total", "cause"), steps)
    if nans:
        lines += ["NaN values in the written files:"]
        lines += _table(("file", "variable", "NaN / values", "where"), nans)
        if distributed:
            lines += ["  (the steps' counts of what they could not measure are in the dask "
                      "workers' logs)"]
    return lines




def noise_summary(spec, light_curves=None):
    """The line ``reduce`` prints about the white light curve's scatter / error; warns outside range.

    Parameters
    ----------
    spec : xarray.Dataset
        The computed spectra; their white light curve (the ``light_curves``
        defaults) gives the ratio when `light_curves` is None.
    light_curves : xarray.Dataset, optional
        Computed light curves holding ``white_noise_ratio``.

    Returns
    -------
    list of str
        One line, or none when the ratio cannot be measured.

    Warns
    -----
    xmiri.NoiseRatioWarning
        When the ratio is outside :data:`NOISE_RATIO_RANGE` and, where the
        light curves hold ``white_flux``, differs from 1 by more than
        :data:`NOISE_RATIO_SIGMAS` standard errors.

    Notes
    -----
    The ratio's standard error is ``ratio / sqrt(n)`` for ``n`` second
    differences of the white flux (the relative standard error of
    :func:`xmiri.kernels.lightcurves.second_difference_scatter` on white
    noise, 0.98-1.00 / sqrt(n) in simulations from 8 to 4,000 integrations):
    31 % from 12 integrations, 3 % from 1,000.  A dozen integrations
    spanning a transit can give 1.9 with honest errors.
    """
    if light_curves is None or "white_noise_ratio" not in light_curves:
        try:  # the two values used below, in one compute
            light_curves = spec.lrs.light_curves(wavelength_bins=1)[
                ["white_noise_ratio", "white_flux"]].compute()
        except XmiriError:  # spectra without what light curves need: nothing to say
            return []
    ratio = float(light_curves["white_noise_ratio"])
    if not np.isfinite(ratio):
        return []
    low, high = NOISE_RATIO_RANGE
    spread, measured = None, ""
    if "white_flux" in light_curves:
        n = int(np.isfinite(second_differences(light_curves["white_flux"].values)).sum())
        spread = ratio / np.sqrt(n) if n else None
        measured = f" ± {spread:.2f} from {n} second differences" if spread else ""
    line = (f"white light curve: measured scatter / propagated error = {ratio:.2f}{measured} (1 "
            "for honest errors; white_noise_ratio in the light curves, docs/errors.rst)")
    if spread is not None and abs(ratio - 1.0) <= NOISE_RATIO_SIGMAS * spread:
        if not low <= ratio <= high:
            line += (f"; outside {low}-{high}, but within {NOISE_RATIO_SIGMAS:g} standard errors "
                     "of 1: too few integrations to tell")
        return [line]
    if ratio < low:
        warnings.warn(NoiseRatioWarning(
            f"the white light curve scatters {ratio:.2f} times its propagated error (below {low}): "
            "the file's ERR and VAR_* overstate the noise, so flux_error is too large; rescale "
            "the errors in the light-curve fit or fit an error-inflation factor",
            ratio=ratio, low=low, high=high), stacklevel=2)
    elif ratio > high:
        warnings.warn(NoiseRatioWarning(
            f"the white light curve scatters {ratio:.2f} times its propagated error (above {high}): "
            "the data hold noise the errors do not model (pointing jitter, 1/f or correlated "
            "detector noise, hits left in) or the file's ERR understates it; flux_error is too "
            "small: fit an error-inflation factor or a systematics model",
            ratio=ratio, low=low, high=high), stacklevel=2)
    return [line]
