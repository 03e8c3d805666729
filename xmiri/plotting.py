"""Diagnostic plots (matplotlib), reached as ``ds.lrs.plot.<name>(...)``.

Every function returns the matplotlib ``Axes`` (or ``Figure``) it drew on,
never calls ``plt.show()`` and works headless.  Numerical code never imports
this module.
"""
from pathlib import Path

import numpy as np

__all__ = ["frame", "cleaned_pixels", "spatial_profile", "waterfall", "white_light_curve",
           "shifts", "save_all", "Plotter"]


def _axes(ax, figsize=(6, 4)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


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


def frame(ds, integration=0, *, ax=None, aperture=(36, 4, 4), background=((8, 17), (56, 72)),
          robust=(1, 99)):
    """One frame with the extraction aperture and background regions.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data``.
    integration : int
        Position (not number) of the integration to show.
    aperture : (int, int, int) or None
        ``(center, left_width, right_width)`` in columns.
    background : sequence of (int, int) or None
        Background column ranges ``[start, end)``.
    robust : (float, float)
        Percentiles setting the colour limits.
    """
    ax = _axes(ax, (4, 6))
    img = np.asarray(ds["data"].isel(integration=integration).values, dtype=float)
    lo, hi = np.nanpercentile(img, robust)
    im = ax.imshow(img, origin="lower", aspect="auto", vmin=lo, vmax=hi, cmap="viridis",
                   interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, label=ds["data"].attrs.get("units", ""))
    if aperture is not None:
        c, left, right = aperture
        for x in (c - left - 0.5, c + right + 0.5):
            ax.axvline(x, color="w", lw=1)
    for start, end in background or ():
        ax.axvspan(start - 0.5, end - 0.5, color="tab:orange", alpha=0.25, lw=0)
    ax.set(xlabel="column", ylabel="row (dispersion)",
           title=f"integration {int(ds['integration'].values[integration])}")
    return ax


def cleaned_pixels(ds, *, ax=None):
    """Number of integrations in which each pixel was replaced by ``clean``."""
    from .dq import OUTLIER

    from matplotlib.colors import LogNorm

    ax = _axes(ax, (4, 6))
    counts = ((ds["dq"] & OUTLIER) > 0).sum("integration").values
    shown = np.ma.masked_equal(counts, 0)
    im = ax.imshow(shown, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest",
                   norm=LogNorm(vmin=1, vmax=max(int(counts.max()), 2)))
    ax.set_facecolor("0.92")
    ax.figure.colorbar(im, ax=ax, label="integrations replaced (log)")
    ax.set(xlabel="column", ylabel="row (dispersion)", title="cleaned pixels")
    return ax


def spatial_profile(ds, integration=0, *, ax=None, rows=(200, 390)):
    """The spatial profile P, averaged over a row range, for one integration."""
    ax = _axes(ax)
    p = ds["profile"].isel(integration=integration, row=slice(*rows)).mean("row")
    ax.plot(ds["col"].values, p.values, drawstyle="steps-mid")
    ax.set(xlabel="column", ylabel="P (normalised)",
           title=f"spatial profile, rows {rows[0]}-{rows[1] - 1}")
    return ax


def waterfall(spec, *, ax=None, normalise=True, wavelength_range=(5.0, 12.0)):
    """Spectra versus time, each divided by the median spectrum.

    Only rows whose wavelength lies in ``wavelength_range`` (micron) are
    shown; the colour scale is symmetric about 1 (2nd-98th percentile).
    """
    ax = _axes(ax, (7, 4))
    flux = np.asarray(spec["flux"].values, dtype=float)
    if normalise:
        with np.errstate(all="ignore"):
            flux = flux / np.nanmedian(flux, axis=0)
    if "wavelength" in spec.coords:
        x = np.asarray(spec["wavelength"].values, dtype=float)
        good = np.isfinite(x) & (x >= wavelength_range[0]) & (x <= wavelength_range[1])
    else:
        x = spec["row"].values
        good = np.ones(x.shape, bool)
    order = np.argsort(x[good])
    t, tlabel = _time_axis(spec)
    shown = flux[:, good][:, order]
    if normalise:
        half = np.nanpercentile(np.abs(shown - 1), 98) if np.isfinite(shown).any() else 1.0
        lo, hi = 1 - half, 1 + half
    else:
        lo, hi = np.nanpercentile(shown, (2, 98))
    im = ax.pcolormesh(x[good][order], t, shown, shading="nearest", vmin=lo, vmax=hi, cmap="RdBu_r")
    ax.figure.colorbar(im, ax=ax, label="flux / median" if normalise else "flux")
    ax.set(xlabel="wavelength (micron)" if "wavelength" in spec.coords else "row", ylabel=tlabel,
           title="spectra")
    return ax


def white_light_curve(lc, *, ax=None):
    """White light curve with errors; flagged integrations marked."""
    ax = _axes(ax, (7, 3.5))
    t, tlabel = _time_axis(lc)
    ax.errorbar(t, lc["white_flux"].values, lc["white_flux_error"].values, fmt=".", ms=3,
                color="k", ecolor="0.7", lw=0.5)
    if "flagged" in lc:
        f = lc["flagged"].values.astype(bool)
        ax.plot(t[f], lc["white_flux"].values[f], "x", color="tab:red", label="flagged")
        ax.legend()
    ax.set(ylabel=f"white flux ({lc['white_flux'].attrs.get('units', '')})", title="white light curve")
    _label_time(ax, tlabel)
    return ax


def shifts(spec, *, fig=None):
    """x_shift, y_shift and psf_sigma versus time (a Figure with three panels)."""
    from matplotlib.figure import Figure

    fig = fig or Figure(figsize=(7, 6), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    t, tlabel = _time_axis(spec)
    for ax, name in zip(axes, ("x_shift", "y_shift", "psf_sigma")):
        if name in spec:
            ax.plot(t, spec[name].values, ".", ms=3)
        ax.set_ylabel(f"{name} (px)")
    _label_time(axes[-1], tlabel)
    return fig


def save_all(spec, directory, *, frames=None, light_curves=None, dpi=110):
    """Write every applicable diagnostic plot as PNG; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def save(obj, name):
        fig = getattr(obj, "figure", obj)
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        written.append(path)

    if frames is not None:
        save(frame(frames), "frame")
        if "dq" in frames and "profile" in frames:
            save(cleaned_pixels(frames), "cleaned_pixels")
        if "profile" in frames:
            save(spatial_profile(frames), "spatial_profile")
    save(waterfall(spec), "waterfall")
    save(shifts(spec), "shifts")
    if light_curves is None and "wavelength" in spec.coords:
        light_curves = spec.lrs.light_curves().compute()
    if light_curves is not None:
        save(white_light_curve(light_curves), "white_light_curve")
    return written


class Plotter:
    """``ds.lrs.plot``: the plotting functions bound to a Dataset."""

    def __init__(self, ds):
        self._ds = ds

    def frame(self, integration=0, **kwargs):
        return frame(self._ds, integration, **kwargs)

    def cleaned_pixels(self, **kwargs):
        return cleaned_pixels(self._ds, **kwargs)

    def spatial_profile(self, integration=0, **kwargs):
        return spatial_profile(self._ds, integration, **kwargs)

    def waterfall(self, **kwargs):
        return waterfall(self._ds, **kwargs)

    def white_light_curve(self, **kwargs):
        return white_light_curve(self._ds, **kwargs)

    def shifts(self, **kwargs):
        return shifts(self._ds, **kwargs)
