"""Diagnostic plots (matplotlib), reached as ``ds.lrs.plot.<name>(...)``.

The plots follow the conventions of xarray's own ``.plot()``:

* **Where they draw.**  On ``ax`` when one is given, otherwise on pyplot's
  current axes (``plt.gca()``), which pyplot creates when there is none.  In
  Jupyter the figure is therefore shown inline below the cell, and in a
  script ``plt.savefig(...)`` or ``plt.show()`` see it.  :func:`shifts`, which
  draws three panels, takes ``fig=`` or ``axes=`` instead (see there).
* **What they return.**  The matplotlib artist they drew, as xarray does:
  the ``AxesImage`` of ``imshow``, the ``QuadMesh`` of ``pcolormesh``, a list
  of ``Line2D`` for line plots, the ``ErrorbarContainer`` of ``errorbar``.
  The Axes is ``artist.axes`` (``lines[0].axes``), the figure ``artist.figure``.
* **Which integration.**  ``integration=1847`` selects by *label*, the value
  of the ``integration`` coordinate (the 1-based integration number within
  the exposure), like ``ds.sel(integration=1847)``; a positional argument is
  a label too.  ``isel=0`` selects by *position*, like ``ds.isel``.  The
  default is the first integration.  A label the Dataset does not have raises
  :class:`IntegrationNotFoundError` (a ``KeyError`` and a
  :class:`~xmiri.exceptions.ParameterError`) naming the integrations it has.
* **The wrong Dataset.**  A plot that needs a variable the Dataset does not
  have raises :class:`~xmiri.exceptions.MissingVariableError` naming the
  plot, the variable and the step that produces it, before drawing anything.
* **Lazy input.**  A plot computes only what it draws: one frame of ``data``
  for :func:`frame`, the sum of the ``dq`` OUTLIER bits over integrations for
  :func:`cleaned_pixels`.
* Other keyword arguments go to the matplotlib function that draws the main
  artist (``cmap=``, ``vmin=``, ``color=``, ...); ``add_colorbar=False`` and
  ``cbar_kwargs=`` work as in xarray.

Nothing here calls ``plt.show()``; pyplot is imported only when a plot is
called without ``ax`` (never at import), and :func:`save_all` draws on
``matplotlib.figure.Figure`` objects without pyplot, so the command line and
headless workers never touch a GUI backend.  Numerical code never imports
this module.
"""
import inspect
import operator
import warnings
from pathlib import Path

import numpy as np

from .exceptions import MissingVariableError, ParameterError, XmiriWarning

__all__ = ["frame", "cleaned_pixels", "spatial_profile", "waterfall", "white_light_curve",
           "shifts", "save_all", "Plotter", "IntegrationNotFoundError"]

#: What produces each variable a plot needs (for the MissingVariableError message).
_PRODUCED_BY = {
    "data": "xmiri.open_rateints(); spectra and light curves have no frames",
    "dq": "xmiri.open_rateints()",
    "profile": "ds.lrs.clean()",
    "flux": "ds.lrs.extract()",
    "psf_sigma": "ds.lrs.extract()",
    "x_shift": "ds.lrs.align()",
    "y_shift": "ds.lrs.align()",
    "white_flux": "ds.lrs.light_curves()",
}

SHIFT_VARIABLES = ("x_shift", "y_shift", "psf_sigma")


class IntegrationNotFoundError(ParameterError, KeyError):
    """An ``integration=`` label that the Dataset does not have.

    A ``KeyError``, like ``ds.sel(integration=...)`` with a missing label, and
    a :class:`~xmiri.exceptions.ParameterError` (so a ``ValueError``).
    """

    def __str__(self):  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------
# helpers


def _require(ds, plot, *names):
    """Raise MissingVariableError unless every name is a variable of ``ds``."""
    missing = [n for n in names if n not in ds.variables]
    if missing:
        needs = ", ".join(f"{n!r} (from {_PRODUCED_BY.get(n, 'an xmiri step')})" for n in missing)
        has = ", ".join(map(str, ds.data_vars)) or "no data variables"
        raise MissingVariableError(
            f"{plot} needs {needs}, which this Dataset does not have (it has: {has})")


def _get_axes(ax, figsize, plot):
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


def _as_int(value, name, plot):
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy / 0-d DataArray
        value = value.item()
    if isinstance(value, bool):
        raise ParameterError(f"{plot}: {name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ParameterError(f"{plot}: {name} must be an integer, got {value!r}") from None


def _describe_labels(labels):
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


def _select_integration(ds, plot, integration, isel):
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
        pos = _as_int(isel, "isel", plot)
        if not -n <= pos < n:
            raise ParameterError(f"{plot}: isel={pos} is out of range for {n} integrations "
                                 f"(positions 0-{n - 1}, or negative from the end)")
        pos %= n
        return pos, labels[pos].item()
    if integration is None:
        return 0, labels[0].item()
    label = _as_int(integration, "integration", plot)
    hits = np.flatnonzero(labels == label)
    if hits.size == 0:
        raise IntegrationNotFoundError(
            f"{plot}: integration={label} is not in this Dataset, which has integrations "
            f"{_describe_labels(labels)}.  integration= is the integration number (a label, "
            f"like .sel); to select by position use isel= (isel=0 is the first)")
    return int(hits[0]), label


def _one_integration(da, pos):
    return da if pos is None else da.isel(integration=pos)


def _colorbar(artist, ax, add_colorbar, cbar_kwargs, label):
    if add_colorbar:
        ax.figure.colorbar(artist, ax=ax, **{"label": label, **(cbar_kwargs or {})})
    elif cbar_kwargs:
        raise ParameterError("cbar_kwargs= given with add_colorbar=False")


def _color_limits(kwargs, values, percentiles):
    """Default ``vmin``/``vmax`` from percentiles, unless given or a ``norm`` is."""
    if "norm" in kwargs or ("vmin" in kwargs and "vmax" in kwargs):
        return {}
    finite = np.isfinite(values)
    if not finite.any():
        return {}
    lo, hi = np.percentile(values[finite], percentiles)
    return {"vmin": lo, "vmax": hi}


def _line_kwargs(defaults, kwargs):
    """``defaults`` updated by ``kwargs``, matplotlib aliases (``ms``, ``lw``, ``c``) resolved."""
    from matplotlib import cbook
    from matplotlib.lines import Line2D

    return {**cbook.normalize_kwargs(defaults, Line2D), **cbook.normalize_kwargs(kwargs, Line2D)}


def _label_time(ax, label):
    """Set the x label; integer ticks when the axis is the integration number."""
    ax.set_xlabel(label)
    if label == "integration":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _time_axis(ds):
    if "time" in ds.coords and np.isfinite(ds["time"].values).any():
        t = ds["time"].values
        return (t - np.nanmin(t)) * 24.0, "time since first integration (h)"
    return ds["integration"].values, "integration"


# --------------------------------------------------------------------------
# plots


def frame(ds, integration=None, *, isel=None, ax=None, aperture=(36, 4, 4),
          background=((8, 17), (56, 72)), robust=(1, 99), add_colorbar=True, cbar_kwargs=None,
          figsize=None, **kwargs):
    """One frame with the extraction aperture and background regions.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data``, dims ``(integration, row, col)`` (or one frame,
        ``(row, col)``).  Only the frame shown is computed.
    integration : int, optional
        Integration *number* to show: a label of the ``integration``
        coordinate, like ``ds.sel(integration=...)``.  A positional argument
        is this label.  Default: the first integration.
    isel : int, optional
        Integration to show by *position* (``0`` is the first, ``-1`` the
        last), like ``ds.isel(integration=...)``.  Not with ``integration``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.  Default: pyplot's current axes (``plt.gca()``).
    aperture : (int, int, int) or None
        ``(center, left_width, right_width)`` in columns, drawn as two white
        vertical lines.
    background : sequence of (int, int) or None
        Background column ranges ``[start, end)``, shaded orange.
    robust : (float, float)
        Percentiles of the finite pixels setting the colour limits, unless
        ``vmin`` and ``vmax`` (or ``norm``) are given.
    add_colorbar : bool
        Add a colorbar (reached as ``image.colorbar``).
    cbar_kwargs : dict, optional
        Keyword arguments of ``Figure.colorbar``.
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``ax``).
    **kwargs
        Passed to ``Axes.imshow`` (``cmap=``, ``vmin=``, ``norm=``, ...).

    Returns
    -------
    matplotlib.image.AxesImage
        The image of the frame; its Axes is ``image.axes``.

    Raises
    ------
    IntegrationNotFoundError
        ``integration`` is not an integration number of ``ds``.
    xmiri.exceptions.ParameterError
        ``isel`` is out of range, or both ``integration`` and ``isel`` are given.
    xmiri.exceptions.MissingVariableError
        ``ds`` has no ``data`` (it is not a Dataset of frames).

    Notes
    -----
    Earlier versions took a position as the positional argument: now it is a
    label, so ``frame(ds, 0)`` raises :class:`IntegrationNotFoundError`
    (integration numbers start at 1) with a message pointing to ``isel=0``,
    and ``frame(ds, 5)`` shows integration 5, which is position 4 in an
    exposure that starts at integration 1.

    Examples
    --------
    >>> frames.lrs.plot.frame(integration=1847)            # doctest: +SKIP
    >>> frames.lrs.plot.frame(isel=-1, ax=ax, cmap="gray")  # doctest: +SKIP
    """
    _require(ds, "frame", "data")
    pos, label = _select_integration(ds, "frame", integration, isel)
    img = np.asarray(_one_integration(ds["data"], pos).values, dtype=float)
    if img.ndim != 2:
        raise ParameterError(f"frame: expected one (row, col) image, got dims "
                             f"{_one_integration(ds['data'], pos).dims}")
    ax = _get_axes(ax, figsize, "frame")
    kw = {"origin": "lower", "aspect": "auto", "cmap": "viridis", "interpolation": "nearest",
          **_color_limits(kwargs, img, robust), **kwargs}
    im = ax.imshow(img, **kw)
    _colorbar(im, ax, add_colorbar, cbar_kwargs, ds["data"].attrs.get("units", ""))
    if aperture is not None:
        c, left, right = aperture
        for x in (c - left - 0.5, c + right + 0.5):
            ax.axvline(x, color="w", lw=1)
    for start, end in background or ():
        ax.axvspan(start - 0.5, end - 0.5, color="tab:orange", alpha=0.25, lw=0)
    ax.set(xlabel="column", ylabel="row (dispersion)",
           title="frame" if label is None else f"integration {label}")
    return im


def cleaned_pixels(ds, *, ax=None, add_colorbar=True, cbar_kwargs=None, figsize=None, **kwargs):
    """Number of integrations in which each pixel was replaced by ``clean``.

    A pixel counts when its ``dq`` carries the OUTLIER bit
    (``xmiri.dq.FLAGS["OUTLIER"]``, 16), which ``ds.lrs.clean()`` sets on every
    pixel it replaces.  Pixels never replaced are left blank (grey).

    Parameters
    ----------
    ds : xarray.Dataset
        Frames after ``ds.lrs.clean()``, with ``dq``.  The whole ``dq`` is read:
        its OUTLIER bits are summed over integrations (lazily on dask input,
        then computed once).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.  Default: pyplot's current axes (``plt.gca()``).
    add_colorbar : bool
        Add a colorbar (reached as ``image.colorbar``).
    cbar_kwargs : dict, optional
        Keyword arguments of ``Figure.colorbar``.
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``ax``).
    **kwargs
        Passed to ``Axes.imshow`` (``cmap=``, ``norm=``, ...).  The default
        colour scale is logarithmic.

    Returns
    -------
    matplotlib.image.AxesImage
        The map of counts (a masked array, masked where the count is 0).

    Raises
    ------
    xmiri.exceptions.MissingVariableError
        ``ds`` has no ``dq``; or no pixel carries the OUTLIER bit and ``ds``
        has no ``profile``, i.e. it was never cleaned.

    Warns
    -----
    xmiri.exceptions.XmiriWarning
        ``ds`` was cleaned (it has ``profile``) but no pixel carries the
        OUTLIER bit: clean replaced nothing and the map is empty.
    """
    from matplotlib.colors import LogNorm

    from .dq import FLAGS

    _require(ds, "cleaned_pixels", "dq")
    dq = ds["dq"]
    outlier = np.asarray(FLAGS["OUTLIER"], dtype=dq.dtype)
    counts = np.asarray(((dq & outlier) > 0).sum([d for d in ("integration",) if d in dq.dims])
                        .values)
    n_int = ds.sizes.get("integration", 1)
    total = int(counts.sum())
    if total == 0:
        if "profile" not in ds.variables:
            raise MissingVariableError(
                "cleaned_pixels needs frames from ds.lrs.clean(): this Dataset was never cleaned "
                "(it has no 'profile', and no pixel of 'dq' carries the OUTLIER bit)")
        warnings.warn(XmiriWarning(
            f"cleaned_pixels: clean replaced no pixel in {n_int} integration(s) (no OUTLIER bit "
            "set in 'dq'); the map is empty"), stacklevel=3)
    ax = _get_axes(ax, figsize, "cleaned_pixels")
    shown = np.ma.masked_equal(counts, 0)
    kw = {"origin": "lower", "aspect": "auto", "cmap": "viridis", "interpolation": "nearest",
          **({} if "norm" in kwargs or "vmin" in kwargs or "vmax" in kwargs
             else {"norm": LogNorm(vmin=1, vmax=max(int(counts.max()), 2))}),
          **kwargs}
    im = ax.imshow(shown, **kw)
    ax.set_facecolor("0.92")
    _colorbar(im, ax, add_colorbar, cbar_kwargs, "integrations replaced")
    ax.set(xlabel="column", ylabel="row (dispersion)",
           title=f"cleaned pixels ({total} replacements in {n_int} integrations)")
    return im


def spatial_profile(ds, integration=None, *, isel=None, ax=None, rows=(200, 390), figsize=None,
                    **kwargs):
    """The spatial profile P, averaged over a row range, for one integration.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames after ``ds.lrs.clean()``, with ``profile``.  Only the rows
        shown of one integration are computed.
    integration : int, optional
        Integration *number* (a label, like ``.sel``); a positional argument
        is this label.  Default: the first integration.
    isel : int, optional
        Integration by *position* (like ``.isel``).  Not with ``integration``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.  Default: pyplot's current axes (``plt.gca()``).
    rows : (int, int)
        Row range ``[start, stop)`` (positions) averaged.
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``ax``).
    **kwargs
        Passed to ``Axes.plot`` (``color=``, ``label=``, ...).

    Returns
    -------
    list of matplotlib.lines.Line2D
        The profile, one line (as xarray's ``.plot.line`` returns).

    Raises
    ------
    IntegrationNotFoundError
        ``integration`` is not an integration number of ``ds``.
    xmiri.exceptions.ParameterError
        ``isel`` is out of range, or both ``integration`` and ``isel`` are given.
    xmiri.exceptions.MissingVariableError
        ``ds`` has no ``profile`` (run ``ds.lrs.clean()``).
    """
    _require(ds, "spatial_profile", "profile")
    pos, label = _select_integration(ds, "spatial_profile", integration, isel)
    p = _one_integration(ds["profile"], pos).isel(row=slice(*rows)).mean("row")
    values = np.asarray(p.values, dtype=float)
    cols = ds["col"].values if "col" in ds.coords else np.arange(values.size)
    ax = _get_axes(ax, figsize, "spatial_profile")
    lines = ax.plot(cols, values, **_line_kwargs({"drawstyle": "steps-mid"}, kwargs))
    where = "" if label is None else f"integration {label}, "
    ax.set(xlabel="column", ylabel="P (normalised)",
           title=f"spatial profile, {where}rows {rows[0]}-{rows[1] - 1}")
    return lines


def waterfall(spec, *, ax=None, normalise=True, wavelength_range=(5.0, 12.0), add_colorbar=True,
              cbar_kwargs=None, figsize=None, **kwargs):
    """Spectra versus time, each divided by the median spectrum.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra from ``ds.lrs.extract()``, with ``flux`` (integration, row).
        The whole ``flux`` is drawn, so it is computed.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.  Default: pyplot's current axes (``plt.gca()``).
    normalise : bool
        Divide every row by its median over integrations; the colour scale
        is then symmetric about 1 (98th percentile of ``|flux / median - 1|``).
        Otherwise the 2nd-98th percentiles of the flux.
    wavelength_range : (float, float)
        Only rows whose wavelength (micron) lies in this range are shown;
        all rows when ``spec`` has no ``wavelength`` coordinate.
    add_colorbar : bool
        Add a colorbar (reached as ``mesh.colorbar``).
    cbar_kwargs : dict, optional
        Keyword arguments of ``Figure.colorbar``.
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``ax``).
    **kwargs
        Passed to ``Axes.pcolormesh`` (``cmap=``, ``vmin=``, ...).

    Returns
    -------
    matplotlib.collections.QuadMesh
        The mesh (wavelength or row on x, time or integration on y).

    Raises
    ------
    xmiri.exceptions.MissingVariableError
        ``spec`` has no ``flux`` with dims ``(integration, row)`` (run
        ``ds.lrs.extract()``).
    """
    _require(spec, "waterfall", "flux")
    if set(spec["flux"].dims) != {"integration", "row"}:
        raise MissingVariableError(
            f"waterfall needs spectra: 'flux' with dims (integration, row) (from ds.lrs.extract()); "
            f"this Dataset's 'flux' has dims {spec['flux'].dims} (binned light curves?)")
    flux = np.asarray(spec["flux"].transpose("integration", "row").values, dtype=float)
    if normalise:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
            flux = flux / np.nanmedian(flux, axis=0)
    has_wavelength = "wavelength" in spec.coords
    if has_wavelength:
        x = np.asarray(spec["wavelength"].values, dtype=float)
        good = np.isfinite(x) & (x >= wavelength_range[0]) & (x <= wavelength_range[1])
    else:
        x = spec["row"].values
        good = np.ones(x.shape, bool)
    order = np.argsort(x[good])
    t, tlabel = _time_axis(spec)
    shown = flux[:, good][:, order]
    limits = {}
    if not ("norm" in kwargs or ("vmin" in kwargs and "vmax" in kwargs)):
        finite = shown[np.isfinite(shown)]
        if normalise:
            half = np.percentile(np.abs(finite - 1), 98) if finite.size else 1.0
            limits = {"vmin": 1 - half, "vmax": 1 + half}
        elif finite.size:
            lo, hi = np.percentile(finite, (2, 98))
            limits = {"vmin": lo, "vmax": hi}
    ax = _get_axes(ax, figsize, "waterfall")
    mesh = ax.pcolormesh(x[good][order], t, shown,
                         **{"shading": "nearest", "cmap": "RdBu_r", **limits, **kwargs})
    _colorbar(mesh, ax, add_colorbar, cbar_kwargs, "flux / median" if normalise else "flux")
    ax.set(xlabel="wavelength (micron)" if has_wavelength else "row", ylabel=tlabel,
           title="spectra")
    return mesh


def white_light_curve(lc, *, ax=None, figsize=None, **kwargs):
    """White light curve with error bars; integrations in ``flagged`` marked.

    Parameters
    ----------
    lc : xarray.Dataset
        Light curves from ``ds.lrs.light_curves()``, with ``white_flux`` (and
        ``white_flux_error``, drawn as error bars when present).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.  Default: pyplot's current axes (``plt.gca()``).
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``ax``).
    **kwargs
        Passed to ``Axes.errorbar`` (``fmt=``, ``color=``, ``ms=``, ...).

    Returns
    -------
    matplotlib.container.ErrorbarContainer
        The points and their error bars; the Axes is
        ``container.lines[0].axes``.

    Raises
    ------
    xmiri.exceptions.MissingVariableError
        ``lc`` has no ``white_flux`` (run ``ds.lrs.light_curves()``).
    """
    _require(lc, "white_light_curve", "white_flux")
    t, tlabel = _time_axis(lc)
    flux = np.asarray(lc["white_flux"].values, dtype=float)
    error = np.asarray(lc["white_flux_error"].values, dtype=float) if "white_flux_error" in lc else None
    flagged = np.asarray(lc["flagged"].values, dtype=bool) if "flagged" in lc else None
    ax = _get_axes(ax, figsize, "white_light_curve")
    kw = _line_kwargs({"fmt": ".", "markersize": 3, "color": "k", "ecolor": "0.7", "linewidth": 0.5},
                      kwargs)
    container = ax.errorbar(t, flux, error, **kw)
    if flagged is not None and flagged.any():
        ax.plot(t[flagged], flux[flagged], "x", color="tab:red", label="flagged")
        ax.legend()
    ax.set(ylabel=f"white flux ({lc['white_flux'].attrs.get('units', '')})", title="white light curve")
    _label_time(ax, tlabel)
    return container


def shifts(spec, *, variables=SHIFT_VARIABLES, fig=None, axes=None, figsize=None, **kwargs):
    """x_shift, y_shift and psf_sigma versus time, one panel each (shared x axis).

    Like xarray's faceted plots, this draws several Axes, so it takes a
    figure rather than one Axes.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra from ``ds.lrs.extract().lrs.align()``.
    variables : sequence of str
        Variables to plot, one panel each, top to bottom.  ``x_shift`` and
        ``y_shift`` come from ``align``, ``psf_sigma`` from ``extract``: pass
        ``variables=["psf_sigma"]`` for spectra that were not aligned.
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, optional
        Figure on which to add the panels.  Default: pyplot's current figure
        if it holds no Axes yet (a new figure otherwise, as xarray's faceted
        plots start one), so in Jupyter the panels are shown inline.
    axes : sequence of matplotlib.axes.Axes, optional
        Draw on these Axes, one per variable, instead (not with ``fig`` or
        ``figsize``).
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``fig`` or ``axes``).
    **kwargs
        Passed to ``Axes.plot`` for every panel (``color=``, ``ms=``, ...).

    Returns
    -------
    list of matplotlib.lines.Line2D
        One line per panel, in the order of ``variables``; the panels are
        ``[line.axes for line in lines]`` and the figure ``lines[0].figure``.

    Raises
    ------
    xmiri.exceptions.MissingVariableError
        A variable is missing (e.g. ``x_shift`` before ``ds.lrs.align()``).
    xmiri.exceptions.ParameterError
        ``axes`` does not hold one Axes per variable, or conflicting
        ``fig``, ``axes`` and ``figsize``.
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    if not variables:
        raise ParameterError("shifts: variables must name at least one variable")
    _require(spec, "shifts", *variables)
    if axes is not None:
        if fig is not None or figsize is not None:
            raise ParameterError("shifts: pass axes= alone, not with fig= or figsize=")
        axes = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(axes) != len(variables):
            raise ParameterError(f"shifts: axes= has {len(axes)} Axes for {len(variables)} "
                                 f"variable(s) {variables}")
    else:
        if fig is not None and figsize is not None:
            raise ParameterError("shifts: pass either fig= or figsize=, not both")
        if fig is None:
            import matplotlib.pyplot as plt

            if figsize is not None or not plt.get_fignums() or plt.gcf().axes:
                fig = plt.figure(figsize=figsize or (7, 2 * len(variables)), layout="constrained")
            else:
                fig = plt.gcf()
        axes = list(fig.subplots(len(variables), 1, sharex=True, squeeze=False)[:, 0])
    t, tlabel = _time_axis(spec)
    kw = _line_kwargs({"linestyle": "none", "marker": ".", "markersize": 3}, kwargs)
    lines = []
    for ax, name in zip(axes, variables):
        lines.extend(ax.plot(t, np.asarray(spec[name].values, dtype=float), **kw))
        units = spec[name].attrs.get("units", "px")
        ax.set_ylabel(f"{name} ({units})" if units else name)
    _label_time(axes[-1], tlabel)
    return lines


def save_all(spec, directory, *, frames=None, light_curves=None, dpi=110):
    """Write every applicable diagnostic plot as a PNG.

    Each plot is drawn on its own ``matplotlib.figure.Figure``, outside
    pyplot: nothing is shown, no pyplot figure is left open, and pyplot is
    not imported.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra: ``waterfall.png`` (needs ``flux``) and ``shifts.png`` (the
        variables of ``x_shift``, ``y_shift``, ``psf_sigma`` present).
    directory : str or pathlib.Path
        Output folder, created if needed; existing files are overwritten.
    frames : xarray.Dataset, optional
        Frames: ``frame.png`` (first integration), and ``cleaned_pixels.png``
        and ``spatial_profile.png`` when they were cleaned (have ``profile``).
    light_curves : xarray.Dataset, optional
        Light curves: ``white_light_curve.png``.  Default: computed from
        ``spec`` when it has a ``wavelength`` coordinate.
    dpi : int
        Resolution of the PNGs.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from matplotlib.figure import Figure

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def save(name, figsize, draw):
        fig = Figure(figsize=figsize, layout="constrained")
        draw(fig)
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        written.append(path)

    if frames is not None:
        if "data" in frames:
            save("frame", (4, 6), lambda fig: frame(frames, ax=fig.add_subplot()))
        if "dq" in frames and "profile" in frames:
            save("cleaned_pixels", (4, 6), lambda fig: cleaned_pixels(frames, ax=fig.add_subplot()))
        if "profile" in frames:
            save("spatial_profile", (6, 4), lambda fig: spatial_profile(frames, ax=fig.add_subplot()))
    if "flux" in spec:
        save("waterfall", (7, 4), lambda fig: waterfall(spec, ax=fig.add_subplot()))
    present = [name for name in SHIFT_VARIABLES if name in spec]
    if present:
        save("shifts", (7, 2 * len(present)), lambda fig: shifts(spec, variables=present, fig=fig))
    if light_curves is None and "wavelength" in spec.coords and "flux" in spec:
        light_curves = spec.lrs.light_curves().compute()
    if light_curves is not None:
        save("white_light_curve", (7, 3.5),
             lambda fig: white_light_curve(light_curves, ax=fig.add_subplot()))
    return written


# --------------------------------------------------------------------------
# the ds.lrs.plot namespace


def _bound(func):
    """``func(ds, ...)`` as a Plotter method, with ``func``'s signature (minus ``ds``) and docstring."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())[1:]

    def method(self, *args, **kwargs):
        return func(self._ds, *args, **kwargs)

    method.__name__ = method.__qualname__ = func.__name__
    method.__doc__ = func.__doc__
    method.__signature__ = signature.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    return method


class Plotter:
    """``ds.lrs.plot``: the plotting functions of :mod:`xmiri.plotting` bound to a Dataset.

    ``ds.lrs.plot.frame(integration=1847, ax=ax)`` is
    ``xmiri.plotting.frame(ds, integration=1847, ax=ax)``: same arguments,
    same returned artist.
    """

    def __init__(self, ds):
        self._ds = ds

    frame = _bound(frame)
    cleaned_pixels = _bound(cleaned_pixels)
    spatial_profile = _bound(spatial_profile)
    waterfall = _bound(waterfall)
    white_light_curve = _bound(white_light_curve)
    shifts = _bound(shifts)
