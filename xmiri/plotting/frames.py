"""Plots of frames: one frame with the aperture, the fitted trace, the cleaned-pixel map, the spatial profile."""
import warnings

import numpy as np

from .. import defaults as d
from ..exceptions import MissingVariableError, ParameterError, XmiriWarning
from ._common import (color_limits, colorbar, get_axes, line_kwargs, one_integration, require,
                      select_integration)

__all__ = ["frame", "trace", "cleaned_pixels", "replaced_counts", "spatial_profile"]

_AUTO = "auto"


def _geometry_aperture(ds):
    """(center, left, right) of the file's subarray (:func:`xmiri.defaults.geometry`)."""
    return (d.geometry(ds).aperture_center, d.APERTURE_LEFT_WIDTH, d.APERTURE_RIGHT_WIDTH)


def _geometry_background(ds):
    geo = d.geometry(ds)
    return (geo.background_left, geo.background_right)


def frame(ds, integration=None, *, isel=None, ax=None, aperture=_AUTO,
          background=_AUTO, robust=(1, 99), add_colorbar=True, cbar_kwargs=None,
          figsize=None, trace=None, **kwargs):
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
    aperture : (int, int, int), "auto" or None
        ``(center, left_width, right_width)`` in columns, drawn as two white
        vertical lines; ``"auto"``: the default aperture of the file's
        subarray (:func:`xmiri.defaults.geometry`; 4 + 4 columns); None:
        not drawn.
    background : sequence of (int, int), "auto" or None
        Background column ranges ``[start, end)``, shaded orange;
        ``"auto"``: the file's subarray's default regions.
    robust : (float, float)
        Percentiles of the finite pixels setting the colour limits, unless
        ``vmin`` and ``vmax`` (or ``norm``) are given.
    add_colorbar : bool
        Add a colorbar (reached as ``image.colorbar``).
    cbar_kwargs : dict, optional
        Keyword arguments of ``Figure.colorbar``.
    figsize : (float, float), optional
        Draw on a new pyplot figure of this size (not with ``ax``).
    trace : xarray.Dataset or xarray.DataArray, optional
        A traced aperture to draw instead of the straight one: spectra from
        ``extract(trace_position="polynomial")`` (their ``trace_center``), or
        a ``trace_center`` DataArray (``(integration, row)`` or ``(row,)``,
        pixels).  Its edges ``trace_center - left - 0.5`` and
        ``trace_center + right + 0.5`` are drawn for the integration shown,
        with ``left`` and ``right`` from ``aperture``.
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
    >>> import matplotlib.pyplot as plt, xmiri
    >>> ds, _ = xmiri.simulate.simulate(3, seed=1)
    >>> image = ds.lrs.plot.frame(integration=2)
    >>> image.axes.get_title()
    'integration 2'
    >>> fig, ax = plt.subplots()
    >>> image = ds.lrs.plot.frame(isel=-1, ax=ax, cmap="gray")
    >>> plt.close("all")
    """
    require(ds, "frame", "data")
    if isinstance(aperture, str) and aperture == _AUTO:
        aperture = _geometry_aperture(ds)
    if isinstance(background, str) and background == _AUTO:
        background = _geometry_background(ds)
    pos, label = select_integration(ds, "frame", integration, isel)
    img = np.asarray(one_integration(ds["data"], pos).values, dtype=float)
    if img.ndim != 2:
        raise ParameterError(f"frame: expected one (row, col) image, got dims "
                             f"{one_integration(ds['data'], pos).dims}")
    ax = get_axes(ax, figsize, "frame")
    kw = {"origin": "lower", "aspect": "auto", "cmap": "viridis", "interpolation": "nearest",
          **color_limits(kwargs, img, robust), **kwargs}
    im = ax.imshow(img, **kw)
    colorbar(im, ax, add_colorbar, cbar_kwargs, ds["data"].attrs.get("units", ""))
    if trace is not None:
        _, left, right = aperture if aperture is not None else _geometry_aperture(ds)
        center = _trace_of(trace, pos, label, ds)
        rows = np.asarray(center["row"].values if "row" in center.coords
                          else np.arange(center.shape[-1]))
        values = np.asarray(center.values, dtype=float)
        for edge in (values - left - 0.5, values + right + 0.5):
            ax.plot(edge, rows, color="w", lw=1)
    elif aperture is not None:
        c, left, right = aperture
        for x in (c - left - 0.5, c + right + 0.5):
            ax.axvline(x, color="w", lw=1)
    for start, end in background or ():
        ax.axvspan(start - 0.5, end - 0.5, color="tab:orange", alpha=0.25, lw=0)
    ax.set(xlabel="column", ylabel="row (dispersion)",
           title="frame" if label is None else f"integration {label}")
    return im


def _trace_of(trace, pos, label, ds):
    """The (row,) trace centre of the integration shown, from spectra or a DataArray."""
    if hasattr(trace, "data_vars"):
        require(trace, "frame(trace=...)", "trace_center")
        trace = trace["trace_center"]
    if "integration" not in trace.dims:
        return trace
    if label is not None and "integration" in trace.coords:
        matches = np.flatnonzero(np.asarray(trace["integration"].values) == label)
        if matches.size:
            return trace.isel(integration=int(matches[0]))
    return trace.isel(integration=0 if pos is None else pos)


def trace(spec, *, ax=None, figsize=None, **kwargs):
    """The fitted trace centre against row, with its spread over integrations.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra from ``extract(trace_position="polynomial")``, with
        ``trace_center`` (integration, row) in pixels and
        ``trace_coefficients``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: pyplot's current axes).
    figsize : (float, float), optional
        Size of a new figure (not with ``ax``).
    **kwargs
        Passed to ``Axes.plot`` for the median centre.

    Returns
    -------
    list of matplotlib.lines.Line2D
        The median trace centre over integrations (the shaded band is the
        16th-84th percentile range of the integrations' centres).

    Examples
    --------
    >>> import matplotlib.pyplot as plt, xmiri
    >>> ds, _ = xmiri.simulate.simulate(6, seed=1, trace_curve=(0.0, 1.6))
    >>> spec = ds.lrs.subtract().lrs.extract(trace_position="polynomial")
    >>> lines = spec.lrs.plot.trace()
    >>> lines[0].axes.get_xlabel()
    'row (dispersion)'
    >>> plt.close("all")
    """
    require(spec, "trace", "trace_center")
    center = np.asarray(spec["trace_center"].transpose(..., "row").values, dtype=float)
    center = center.reshape(-1, center.shape[-1])
    rows = np.asarray(spec["row"].values)
    ax = get_axes(ax, figsize, "trace")
    with np.errstate(all="ignore"):
        lo, mid, hi = (np.nanpercentile(center, q, axis=0) for q in (16, 50, 84))
    lines = ax.plot(rows, mid, **line_kwargs({"color": "k", "lw": 1, "label": "median centre"},
                                             kwargs))
    ax.fill_between(rows, lo, hi, color="tab:blue", alpha=0.3, lw=0,
                    label="16-84% of integrations")
    ax.set(xlabel="row (dispersion)", ylabel="trace centre (column)", title="trace")
    ax.legend(loc="best")
    return lines


def replaced_counts(ds):
    """Per pixel, the number of integrations in which ``clean`` replaced it (lazy on dask input).

    A pixel counts when its ``dq`` carries the OUTLIER bit
    (``xmiri.dq.FLAGS["OUTLIER"]``, 16).  Compute it together with other
    products (``dask.compute(spec, counts)``) so that ``clean`` runs once, and
    pass it to :func:`cleaned_pixels` as ``counts``.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames after ``ds.lrs.clean()``, with ``dq``.

    Returns
    -------
    xarray.DataArray
        int64 counts, dims ``(row, col)``.

    Raises
    ------
    xmiri.exceptions.MissingVariableError
        ``ds`` has no ``dq``.
    """
    from ..dq import OUTLIER

    require(ds, "replaced_counts", "dq")
    dq = ds["dq"]
    outlier = np.asarray(OUTLIER, dtype=dq.dtype)
    return ((dq & outlier) > 0).sum([d for d in ("integration",) if d in dq.dims]).rename(
        "replaced_counts").assign_attrs(long_name="integrations in which clean replaced the pixel",
                                        units="1")


def cleaned_pixels(ds, *, counts=None, ax=None, add_colorbar=True, cbar_kwargs=None, figsize=None,
                   **kwargs):
    """Number of integrations in which each pixel was replaced by ``clean``.

    A pixel counts when its ``dq`` carries the OUTLIER bit
    (``xmiri.dq.FLAGS["OUTLIER"]``, 16), which ``ds.lrs.clean()`` sets on every
    pixel it replaces.  Pixels never replaced are left blank (grey).

    Parameters
    ----------
    ds : xarray.Dataset
        Frames after ``ds.lrs.clean()``, with ``dq``.  Without `counts` the
        whole ``dq`` is read: its OUTLIER bits are summed over integrations
        (lazily on dask input, then computed once), which on lazy frames runs
        ``clean`` over the whole exposure again.
    counts : array_like, optional
        The counts already computed, ``(row, col)``: :func:`replaced_counts`
        of `ds`, e.g. computed with the spectra.  Then ``dq`` is not read.
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
    xmiri.exceptions.ParameterError
        `counts` does not have the frames' ``(row, col)`` shape.

    Warns
    -----
    xmiri.exceptions.XmiriWarning
        ``ds`` was cleaned (it has ``profile``) but no pixel carries the
        OUTLIER bit: clean replaced nothing and the map is empty.
    """
    from matplotlib.colors import LogNorm

    require(ds, "cleaned_pixels", "dq")
    counts = np.asarray(replaced_counts(ds) if counts is None else counts)
    shape = tuple(ds.sizes[dim] for dim in ("row", "col") if dim in ds.sizes)
    if counts.shape != shape:
        raise ParameterError(f"cleaned_pixels: counts must have the frames' shape {shape} "
                             f"(row, col), got {counts.shape}")
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
    ax = get_axes(ax, figsize, "cleaned_pixels")
    shown = np.ma.masked_equal(counts, 0)
    kw = {"origin": "lower", "aspect": "auto", "cmap": "viridis", "interpolation": "nearest",
          **({} if "norm" in kwargs or "vmin" in kwargs or "vmax" in kwargs
             else {"norm": LogNorm(vmin=1, vmax=max(int(counts.max()), 2))}),
          **kwargs}
    im = ax.imshow(shown, **kw)
    ax.set_facecolor("0.92")
    colorbar(im, ax, add_colorbar, cbar_kwargs, "integrations replaced")
    ax.set(xlabel="column", ylabel="row (dispersion)",
           title=f"cleaned pixels ({total} replacements in {n_int} integrations)")
    return im


def spatial_profile(ds, integration=None, *, isel=None, ax=None, rows=None, figsize=None,
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
    rows : (int, int), optional
        Row range ``[start, stop)`` (positions) averaged; None: the trace
        rows of the file's subarray (SLITLESSPRISM: 200, 390;
        :func:`xmiri.defaults.geometry`).
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
    require(ds, "spatial_profile", "profile")
    rows = d.resolve(ds, trace_rows=rows)
    pos, label = select_integration(ds, "spatial_profile", integration, isel)
    p = one_integration(ds["profile"], pos).isel(row=slice(*rows)).mean("row")
    values = np.asarray(p.values, dtype=float)
    cols = ds["col"].values if "col" in ds.coords else np.arange(values.size)
    ax = get_axes(ax, figsize, "spatial_profile")
    lines = ax.plot(cols, values, **line_kwargs({"drawstyle": "steps-mid"}, kwargs))
    where = "" if label is None else f"integration {label}, "
    ax.set(xlabel="column", ylabel="P (normalised)",
           title=f"spatial profile, {where}rows {rows[0]}-{rows[1] - 1}")
    return lines
