"""What every plot shares: axes, integration selection, variable checks, colour limits."""
import operator

import numpy as np

from ..exceptions import IntegrationNotFoundError, MissingVariableError, ParameterError

PRODUCED_BY = {
    "data": "xmiri.open_rateints(); spectra and light curves have no frames",
    "dq": "xmiri.open_rateints()",
    "profile": "ds.lrs.clean()",
    "flux": "ds.lrs.extract()",
    "psf_sigma": "ds.lrs.extract()",
    "trace_center": "ds.lrs.extract(trace_position='polynomial')",
    "scatter": "ds.lrs.optimize_aperture()",
    "median_error": "ds.lrs.optimize_aperture()",
    "x_shift": "ds.lrs.align()",
    "y_shift": "ds.lrs.align()",
    "white_flux": "ds.lrs.light_curves()",
}

SHIFT_VARIABLES = ("x_shift", "y_shift", "psf_sigma")


def require(ds, plot, *names):
    """Raise MissingVariableError unless every name is a variable of ``ds``."""
    missing = [n for n in names if n not in ds.variables]
    if missing:
        needs = ", ".join(f"{n!r} (from {PRODUCED_BY.get(n, 'an xmiri step')})" for n in missing)
        has = ", ".join(map(str, ds.data_vars)) or "no data variables"
        raise MissingVariableError(
            f"{plot} needs {needs}, which this Dataset does not have (it has: {has})")


def get_axes(ax, figsize, plot):
    """``ax`` if given, else pyplot's current axes (on a new figure if ``figsize``)."""
    if ax is not None:
        if figsize is not None:
            raise ParameterError(f"{plot}: pass either ax= or figsize=, not both "
                                 "(figsize= makes a new figure)")
        return ax
    import matplotlib.pyplot as plt

    if figsize is not None:
        plt.figure(figsize=figsize)
    return plt.gca()


def as_int(value, name, plot):
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy / 0-d DataArray
        value = value.item()
    if isinstance(value, bool):
        raise ParameterError(f"{plot}: {name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ParameterError(f"{plot}: {name} must be an integer, got {value!r}") from None


def describe_labels(labels):
    """``'1-500, 1001-1500 (1000 integrations)'``: the labels as runs of consecutive numbers."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return "none"
    if not np.issubdtype(labels.dtype, np.integer):
        return f"{labels.min()}-{labels.max()} ({labels.size} integrations)"
    s = np.unique(labels)
    breaks = np.flatnonzero(np.diff(s) != 1)
    starts, ends = np.r_[s[0], s[breaks + 1]], np.r_[s[breaks], s[-1]]
    runs = [f"{a}-{b}" if a != b else f"{a}" for a, b in zip(starts, ends)]
    if len(runs) > 4:
        runs = runs[:2] + ["..."] + runs[-1:]
    return f"{', '.join(runs)} ({labels.size} integrations)"


def select_integration(ds, plot, integration, isel):
    """Position and label of the integration chosen by ``integration=`` (label) or ``isel=``.

    Returns ``(position, label)``; ``position`` is ``None`` when ``ds`` has no
    ``integration`` dimension (a single frame, e.g. ``ds.isel(integration=3)``).
    """
    if integration is not None and isel is not None:
        raise ParameterError(f"{plot}: give integration= (a label, like .sel) or isel= "
                             "(a position, like .isel), not both")
    if "integration" not in ds.dims:
        if integration is not None or isel is not None:
            raise ParameterError(f"{plot}: this Dataset has no 'integration' dimension to select from")
        label = ds["integration"].item() if "integration" in ds.coords else None
        return None, label
    n = ds.sizes["integration"]
    labels = ds["integration"].values if "integration" in ds.coords else np.arange(n)
    if n == 0:
        raise ParameterError(f"{plot}: the Dataset has no integration")
    if isel is not None:
        pos = as_int(isel, "isel", plot)
        if not -n <= pos < n:
            raise ParameterError(f"{plot}: isel={pos} is out of range for {n} integrations "
                                 f"(positions 0-{n - 1}, or negative from the end)")
        pos %= n
        return pos, labels[pos].item()
    if integration is None:
        return 0, labels[0].item()
    label = as_int(integration, "integration", plot)
    hits = np.flatnonzero(labels == label)
    if hits.size == 0:
        raise IntegrationNotFoundError(
            f"{plot}: integration={label} is not in this Dataset, which has integrations "
            f"{describe_labels(labels)}.  integration= is the integration number (a label, "
            f"like .sel); to select by position use isel= (isel=0 is the first)")
    return int(hits[0]), label


def one_integration(da, pos):
    return da if pos is None else da.isel(integration=pos)


def colorbar(artist, ax, add_colorbar, cbar_kwargs, label):
    if add_colorbar:
        ax.figure.colorbar(artist, ax=ax, **{"label": label, **(cbar_kwargs or {})})
    elif cbar_kwargs:
        raise ParameterError("cbar_kwargs= given with add_colorbar=False")


def color_limits(kwargs, values, percentiles):
    """Default ``vmin``/``vmax`` from percentiles, unless given or a ``norm`` is."""
    if "norm" in kwargs or ("vmin" in kwargs and "vmax" in kwargs):
        return {}
    finite = np.isfinite(values)
    if not finite.any():
        return {}
    lo, hi = np.percentile(values[finite], percentiles)
    return {"vmin": lo, "vmax": hi}


def line_kwargs(defaults, kwargs):
    """``defaults`` updated by ``kwargs``, matplotlib aliases (``ms``, ``lw``, ``c``) resolved."""
    from matplotlib import cbook
    from matplotlib.lines import Line2D

    return {**cbook.normalize_kwargs(defaults, Line2D), **cbook.normalize_kwargs(kwargs, Line2D)}


def label_time(ax, label):
    """Set the x label; integer ticks when the axis is the integration number."""
    ax.set_xlabel(label)
    if label == "integration":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def time_axis(ds):
    if "time" in ds.coords and np.isfinite(ds["time"].values).any():
        t = ds["time"].values
        return (t - np.nanmin(t)) * 24.0, "time since first integration (h)"
    return ds["integration"].values, "integration"
