"""Plots over time and aperture: the spectra waterfall, the white light curve, the shifts, the aperture scan."""
import numpy as np

from .. import defaults as d
from ..exceptions import MissingVariableError, ParameterError
from ..kernels.background import nanmedian
from ._common import (SHIFT_VARIABLES, color_limits, colorbar, get_axes, label_time, line_kwargs,
                      require, time_axis)

__all__ = ["waterfall", "white_light_curve", "shifts", "aperture_scan"]


def waterfall(spec, *, ax=None, normalise=True, wavelength_range=d.WAVELENGTH_RANGE, add_colorbar=True,
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
        all rows, against row number, when ``spec`` has no ``wavelength``
        coordinate or only NaN in it.
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
    xmiri.ParameterError
        No row has a wavelength in `wavelength_range`.
    """
    require(spec, "waterfall", "flux")
    if set(spec["flux"].dims) != {"integration", "row"}:
        raise MissingVariableError(
            f"waterfall needs spectra: 'flux' with dims (integration, row) (from ds.lrs.extract()); "
            f"this Dataset's 'flux' has dims {spec['flux'].dims} (binned light curves?)")
    flux = np.asarray(spec["flux"].transpose("integration", "row").values, dtype=float)
    if normalise:
        with np.errstate(all="ignore"):
            flux = flux / nanmedian(flux, axis=0)  # warning-free: all-NaN rows give NaN
    x = np.asarray(spec["wavelength"].values, dtype=float) if "wavelength" in spec.coords else None
    has_wavelength = x is not None and np.isfinite(x).any()
    if has_wavelength:
        good = np.isfinite(x) & (x >= wavelength_range[0]) & (x <= wavelength_range[1])
        if not good.any():
            raise ParameterError(
                f"waterfall: no row has a wavelength in wavelength_range={tuple(wavelength_range)} "
                f"micron; the spectra span {np.nanmin(x):.2f}-{np.nanmax(x):.2f} micron")
    else:  # no wavelengths (e.g. a subarray without a solution, opened with NaN ones): rows
        x = spec["row"].values
        good = np.ones(x.shape, bool)
    order = np.argsort(x[good])
    t, tlabel = time_axis(spec)
    shown = flux[:, good][:, order]
    if normalise:  # symmetric about 1: the diverging colours centre on the median
        limits = color_limits(kwargs, np.abs(shown - 1), (98, 98))
        limits = {"vmin": 1 - limits["vmax"], "vmax": 1 + limits["vmax"]} if limits else {}
    else:
        limits = color_limits(kwargs, shown, (2, 98))
    ax = get_axes(ax, figsize, "waterfall")
    mesh = ax.pcolormesh(x[good][order], t, shown,
                         **{"shading": "nearest", "cmap": "RdBu_r", **limits, **kwargs})
    colorbar(mesh, ax, add_colorbar, cbar_kwargs, "flux / median" if normalise else "flux")
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
    require(lc, "white_light_curve", "white_flux")
    t, tlabel = time_axis(lc)
    flux = np.asarray(lc["white_flux"].values, dtype=float)
    error = np.asarray(lc["white_flux_error"].values, dtype=float) if "white_flux_error" in lc else None
    flagged = np.asarray(lc["flagged"].values, dtype=bool) if "flagged" in lc else None
    ax = get_axes(ax, figsize, "white_light_curve")
    kw = line_kwargs({"fmt": ".", "markersize": 3, "color": "k", "ecolor": "0.7", "linewidth": 0.5},
                      kwargs)
    container = ax.errorbar(t, flux, error, **kw)
    if flagged is not None and flagged.any():
        ax.plot(t[flagged], flux[flagged], "x", color="tab:red", label="flagged")
        ax.legend()
    ax.set(ylabel=f"white flux ({lc['white_flux'].attrs.get('units', '')})", title="white light curve")
    label_time(ax, tlabel)
    return container


def shifts(spec, *, variables=SHIFT_VARIABLES, fig=None, axes=None, figsize=None, **kwargs):
    """Plot x_shift, y_shift and psf_sigma versus time, one panel each (shared x axis).

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
    require(spec, "shifts", *variables)
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
    t, tlabel = time_axis(spec)
    kw = line_kwargs({"linestyle": "none", "marker": ".", "markersize": 3}, kwargs)
    lines = []
    for ax, name in zip(axes, variables):
        lines.extend(ax.plot(t, np.asarray(spec[name].values, dtype=float), **kw))
        units = spec[name].attrs.get("units", "px")
        ax.set_ylabel(f"{name} ({units})" if units else name)
    label_time(axes[-1], tlabel)
    return lines


def aperture_scan(scan, *, ax=None, figsize=None, **kwargs):
    """Point-to-point scatter and median error against aperture width (``optimize_aperture``).

    Parameters
    ----------
    scan : xarray.Dataset
        The result of ``ds.lrs.optimize_aperture(...)``: ``scatter`` and
        ``median_error`` over ``width``, coordinate ``n_columns``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: pyplot's current axes).
    figsize : (float, float), optional
        Size of a new figure (not with ``ax``).
    **kwargs
        Passed to ``Axes.plot`` for the scatter.

    Returns
    -------
    list of matplotlib.lines.Line2D
        The scatter and the median-error lines; the best width is marked.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, xmiri
    >>> ds, _ = xmiri.simulate.simulate(12, seed=2, transit_depth=0.0)
    >>> scan = ds.lrs.subtract().lrs.optimize_aperture(widths=[2, 4])
    >>> lines = scan.lrs.plot.aperture_scan()
    >>> len(lines)
    2
    >>> plt.close("all")
    """
    require(scan, "aperture_scan", "scatter", "median_error")
    x = np.asarray(scan["n_columns"].values if "n_columns" in scan.coords else scan["width"].values)
    ax = get_axes(ax, figsize, "aperture_scan")
    lines = ax.plot(x, scan["scatter"].values * 1e6,
                    **line_kwargs({"marker": "o", "label": "point-to-point scatter"}, kwargs))
    lines += ax.plot(x, scan["median_error"].values * 1e6, marker="s", ls="--", color="0.5",
                     label="median error")
    best = scan.attrs.get("best_width_columns")
    if best is not None and best >= 0:
        ax.axvline(best, color="tab:red", lw=1, label=f"best: {best} columns")
    ax.set(xlabel="aperture width (columns)", ylabel="white-light scatter (ppm)",
           title="aperture widths")
    ax.legend(loc="best")
    return lines
