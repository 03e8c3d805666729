"""The ``.lrs`` Dataset accessor: a stateless front to :mod:`xmiri.steps`.

Each step method passes the Dataset and its arguments to the step function
of the same name and returns that function's new Dataset.  The methods are
written out with the steps' signatures (without the Dataset argument) and
docstrings by ``scripts/make_accessor.py`` into the mixin modules
:mod:`xmiri.accessor._frames` (the steps on frames) and
:mod:`xmiri.accessor._spectra` (the steps on spectra), so that IDEs,
``help()`` and static tools read them there; ``tests/test_accessor.py``
fails when they drift from the steps.  The steps (and the numerical
kernels under them) are imported when a method is first called, not when
xmiri is imported.
"""
import xarray as xr

from ._frames import FrameSteps
from ._spectra import SpectrumSteps

__all__ = ["LRSAccessor"]


@xr.register_dataset_accessor("lrs")
class LRSAccessor(FrameSteps, SpectrumSteps):
    """MIRI LRS slitless reduction steps on a Dataset: ``ds.lrs.clean(...)``.

    Methods return new Datasets, never modify ``ds``, and stay lazy on
    dask-backed input.  Keyword names match ExoTiC-MIRI's steps, so
    ``Step().call(model, **kw)`` becomes ``ds.lrs.step(**kw)``.

    Parameters
    ----------
    ds : xarray.Dataset
        The Dataset the accessor is reached from (``ds.lrs``).
    """

    def __init__(self, ds):
        self._ds = ds

    def dq_summary(self):
        """Number and fraction of pixels carrying each JWST DQ flag.

        Returns
        -------
        xarray.Dataset
            See :func:`xmiri.dq.dq_summary`; lazy on dask-backed input.

        Examples
        --------
        >>> import xmiri
        >>> ds, _ = xmiri.simulate.simulate(2, seed=1)
        >>> ds.lrs.dq_summary().n_pixels.sel(flag="HOT").item()
        12
        """
        from ..dq import dq_summary

        return dq_summary(self._ds["dq"])

    @property
    def plot(self):
        """Diagnostic plots: ``ds.lrs.plot.frame()``, ``.waterfall()``, ... (matplotlib)."""
        from ..plotting import Plotter

        return Plotter(self._ds)
