"""The ``.lrs`` Dataset accessor: a stateless front to :mod:`xmiri.steps`.

Each method passes the Dataset and its arguments to the step function of the
same name and returns that function's new Dataset; signatures and docstrings
are the step functions' own, so ``ds.lrs.clean?`` in Jupyter shows them.
"""
import inspect

import xarray as xr

from . import steps

__all__ = ["LRSAccessor"]


def _step_method(func):
    signature = inspect.signature(func)
    params = list(signature.parameters.values())[1:]  # drop the Dataset argument

    def method(self, *args, **kwargs):
        return func(self._ds, *args, **kwargs)

    method.__name__ = method.__qualname__ = func.__name__
    method.__doc__ = func.__doc__
    method.__signature__ = signature.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    return method


@xr.register_dataset_accessor("lrs")
class LRSAccessor:
    """MIRI LRS slitless reduction steps on a Dataset: ``ds.lrs.clean(...)``.

    Methods return new Datasets, never modify ``ds``, and stay lazy on
    dask-backed input.  Keyword names match ExoTiC-MIRI's steps, so
    ``Step().call(model, **kw)`` becomes ``ds.lrs.step(**kw)``.
    """

    def __init__(self, ds):
        self._ds = ds

    clean = _step_method(steps.clean)
    subtract = _step_method(steps.subtract)
    extract = _step_method(steps.extract)
    align = _step_method(steps.align)
    light_curves = _step_method(steps.light_curves)

    def dq_summary(self):
        """Number and fraction of pixels carrying each JWST DQ flag.

        Returns
        -------
        xarray.Dataset
            See :func:`xmiri.dq.dq_summary`; lazy on dask-backed input.
        """
        from .dq import dq_summary

        return dq_summary(self._ds["dq"])

    @property
    def plot(self):
        """Diagnostic plots: ``ds.lrs.plot.frame()``, ``.waterfall()``, ... (matplotlib)."""
        from .plotting import Plotter

        return Plotter(self._ds)
