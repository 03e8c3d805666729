"""xmiri: JWST MIRI LRS slitless time-series reduction, the xarray way.

Importing xmiri registers the ``.lrs`` Dataset accessor and is light: the
readers, the steps and their numerical kernels, the simulator and the jwst
data models are imported when first used.

>>> import xmiri
>>> ds, truth = xmiri.simulate.simulate(4, seed=1)
>>> spec = ds.lrs.subtract().lrs.clean().lrs.extract().lrs.align()
>>> spec.flux.dims
('integration', 'row')
"""
import importlib

from . import accessor as _accessor  # noqa: F401  (registers the .lrs accessor)
from ._version import __version__
from .exceptions import (IntegrationNotFoundError, InvalidFileError, MissingVariableError, OutputExistsError,
                         NoWavelengthWarning, PackagedWavelengthWarning, ParameterError, SegmentMismatchError,
                         SegmentWarning, NoiseRatioWarning, SkyNotSubtractedWarning, SubarrayGeometryWarning,
                         TimeAxisWarning, UnmeasuredWarning, UnsupportedModeError,
                         WavelengthUnavailableError, WavelengthWarning, XmiriError,
                         XmiriFutureWarning, XmiriWarning)

__all__ = [
    "__version__", "open_rateints", "from_datamodel", "to_netcdf", "simulate", "dq_mask",
    "default_wavelength_map", "XmiriError", "InvalidFileError", "UnsupportedModeError",
    "SegmentMismatchError", "ParameterError", "MissingVariableError", "OutputExistsError",
    "IntegrationNotFoundError", "WavelengthUnavailableError",
    "XmiriWarning", "PackagedWavelengthWarning", "NoWavelengthWarning",
    "SubarrayGeometryWarning", "UnmeasuredWarning", "TimeAxisWarning", "WavelengthWarning", "SegmentWarning",
    "SkyNotSubtractedWarning", "NoiseRatioWarning", "XmiriFutureWarning",
]

# name -> module that defines it, imported on first access (PEP 562)
_LAZY = {
    "open_rateints": "xmiri.io.reader", "from_datamodel": "xmiri.io.datamodel",
    "to_netcdf": "xmiri.io.netcdf", "dq_mask": "xmiri.dq",
    "default_wavelength_map": "xmiri.io.wavelength",
}
_MOVED = {"wavelength": "xmiri.io.wavelength"}  # xmiri.wavelength, kept as an alias
_SUBMODULES = ("simulate", "steps", "kernels", "io", "dq", "wavelength", "plotting", "cli",
               "defaults", "layout", "config", "parallel")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_MOVED.get(name, f"xmiri.{name}"))
    else:
        raise AttributeError(f"module 'xmiri' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
