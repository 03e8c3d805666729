"""The ``.lrs`` Dataset accessor: a stateless front to :mod:`xmiri.steps`.

Each method passes the Dataset and its arguments to the step function of the
same name and returns that function's new Dataset; signatures and docstrings
are the step functions' own, so ``ds.lrs.clean?`` in Jupyter shows them.
The steps (and the numerical kernels under them) are imported when a method
is first looked up, not when xmiri is imported.
"""
import functools
import importlib

import xarray as xr

from ._bind import bound_method

__all__ = ["LRSAccessor"]


@functools.lru_cache(maxsize=None)
def _step_method(name):
    return bound_method(getattr(importlib.import_module("xmiri.steps"), name))


class _Step:
    """Descriptor: ``ds.lrs.<name>`` is ``xmiri.steps.<name>`` bound to ``ds``."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        method = _step_method(self.name)
        return method if obj is None else method.__get__(obj, objtype)


@xr.register_dataset_accessor("lrs")
class LRSAccessor:
    """MIRI LRS slitless reduction steps on a Dataset: ``ds.lrs.clean(...)``.

    Methods return new Datasets, never modify ``ds``, and stay lazy on
    dask-backed input.  Keyword names match ExoTiC-MIRI's steps, so
    ``Step().call(model, **kw)`` becomes ``ds.lrs.step(**kw)``.
    """

    def __init__(self, ds):
        self._ds = ds

    clean_temporal = _Step()
    clean = _Step()
    subtract = _Step()
    extract = _Step()
    align = _Step()
    light_curves = _Step()
    optimize_aperture = _Step()

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
        from .dq import dq_summary

        return dq_summary(self._ds["dq"])

    @property
    def plot(self):
        """Diagnostic plots: ``ds.lrs.plot.frame()``, ``.waterfall()``, ... (matplotlib)."""
        from .plotting import Plotter

        return Plotter(self._ds)
