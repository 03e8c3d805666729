"""The stage-2 steps as functions of xarray Datasets; one module per step.

Each function checks its arguments before any work, maps a numpy kernel from
:mod:`xmiri.kernels` over integration chunks (:func:`xarray.apply_ufunc` with
one :func:`dask.array.blockwise` layer per kernel, ``xmiri.steps._blockwise``),
and returns a new Dataset: inputs are never
modified, coordinates and attributes are kept, and a line is appended to the
``history`` attribute.  On dask-backed input nothing is computed: results
stay lazy until ``.compute()`` or ``.to_netcdf()``.  Reductions over all
integrations (median profile, alignment templates, normalisation) are kernels
applied to the whole exposure's small per-integration products, whose results
enter the per-chunk kernels as arguments.

- :func:`clean_temporal` (:mod:`xmiri.steps.temporal`): :mod:`xmiri.kernels.temporal`
- :func:`clean` (:mod:`xmiri.steps.clean`): :mod:`xmiri.kernels.clean`
- :func:`subtract` (:mod:`xmiri.steps.subtract`): :mod:`xmiri.kernels.background`
- :func:`extract` (:mod:`xmiri.steps.extract`): :mod:`xmiri.kernels.extract`,
  :mod:`xmiri.kernels.trace`
- :func:`align` (:mod:`xmiri.steps.align`): :mod:`xmiri.kernels.align`
- :func:`light_curves` (:mod:`xmiri.steps.lightcurves`): :mod:`xmiri.kernels.lightcurves`

The accessor :class:`xmiri.accessor.LRSAccessor` exposes these functions as
``ds.lrs.<step>``.
"""
from . import _diagnostics
from .align import align
from .clean import clean
from .extract import extract
from .lightcurves import light_curves
from .optimize import optimize_aperture
from .subtract import subtract
from .temporal import clean_temporal

__all__ = ["clean_temporal", "clean", "subtract", "extract", "align", "light_curves",
           "optimize_aperture"]

_diagnostics.install()
