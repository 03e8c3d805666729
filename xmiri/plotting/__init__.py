"""Diagnostic plots (matplotlib), reached as ``ds.lrs.plot.<name>(...)``.

- :mod:`xmiri.plotting.frames`: :func:`frame`, :func:`trace`, :func:`cleaned_pixels`,
  :func:`spatial_profile`
- :mod:`xmiri.plotting.series`: :func:`waterfall`, :func:`white_light_curve`, :func:`shifts`,
  :func:`aperture_scan`
- here: :func:`save_all` and the ``ds.lrs.plot`` namespace, :class:`Plotter`

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
from pathlib import Path

from ._bind import bound_method
from ..exceptions import IntegrationNotFoundError
from ._common import SHIFT_VARIABLES
from .frames import cleaned_pixels, frame, replaced_counts, spatial_profile, trace
from .series import aperture_scan, shifts, waterfall, white_light_curve

__all__ = ["frame", "trace", "cleaned_pixels", "replaced_counts", "spatial_profile", "waterfall",
           "white_light_curve", "shifts", "aperture_scan", "save_all", "Plotter",
           "IntegrationNotFoundError"]


def shows_cleaned_pixels(frames):
    """Whether :func:`save_all` draws ``cleaned_pixels.png`` for `frames` (cleaned: ``dq`` and ``profile``)."""
    return "dq" in frames and "profile" in frames


def save_all(spec, directory, *, frames=None, light_curves=None, cleaned_counts=None, dpi=110):
    """Write every applicable diagnostic plot as a PNG.

    Each plot is drawn on its own ``matplotlib.figure.Figure``, outside
    pyplot: nothing is shown, no pyplot figure is left open, and pyplot is
    not imported.

    Parameters
    ----------
    spec : xarray.Dataset
        Spectra: ``waterfall.png`` (needs ``flux``), ``shifts.png`` (the
        variables of ``x_shift``, ``y_shift``, ``psf_sigma`` present) and,
        for traced apertures, ``trace.png`` (and the traced aperture on
        ``frame.png``).
    directory : str or pathlib.Path
        Output folder, created if needed; existing files are overwritten.
    frames : xarray.Dataset, optional
        Frames: ``frame.png`` (first integration), and ``cleaned_pixels.png``
        and ``spatial_profile.png`` when they were cleaned (have ``profile``).
    light_curves : xarray.Dataset, optional
        Light curves: ``white_light_curve.png``.  Default: computed from
        ``spec`` when it has a ``wavelength`` coordinate.
    cleaned_counts : array_like, optional
        :func:`replaced_counts` of `frames`, already computed (e.g. with the
        spectra): ``cleaned_pixels.png`` then does not read ``frames.dq``,
        which on lazy frames would run ``clean`` over the exposure again.
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
            traced = spec if "trace_center" in spec else None
            save("frame", (4, 6), lambda fig: frame(frames, ax=fig.add_subplot(), trace=traced))
        if shows_cleaned_pixels(frames):
            save("cleaned_pixels", (4, 6), lambda fig: cleaned_pixels(frames, counts=cleaned_counts,
                                                                      ax=fig.add_subplot()))
        if "profile" in frames:
            save("spatial_profile", (6, 4), lambda fig: spatial_profile(frames, ax=fig.add_subplot()))
    if "trace_center" in spec:
        save("trace", (7, 4), lambda fig: trace(spec, ax=fig.add_subplot()))
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


class Plotter:
    """``ds.lrs.plot``: the plotting functions of :mod:`xmiri.plotting` bound to a Dataset.

    ``ds.lrs.plot.frame(integration=1847, ax=ax)`` is
    ``xmiri.plotting.frame(ds, integration=1847, ax=ax)``: same arguments,
    same returned artist.

    Parameters
    ----------
    ds : xarray.Dataset
        The Dataset the accessor is reached from (``ds.lrs.plot``).
    """

    def __init__(self, ds):
        self._ds = ds

    frame = bound_method(frame)
    cleaned_pixels = bound_method(cleaned_pixels)
    spatial_profile = bound_method(spatial_profile)
    waterfall = bound_method(waterfall)
    white_light_curve = bound_method(white_light_curve)
    shifts = bound_method(shifts)
    trace = bound_method(trace)
    aperture_scan = bound_method(aperture_scan)
