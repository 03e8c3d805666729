"""xmiri: JWST MIRI LRS slitless time-series reduction, the xarray way.

>>> import xmiri
>>> ds, truth = xmiri.simulate.simulate(4)            # doctest: +SKIP
>>> spec = ds.lrs.clean().lrs.subtract().lrs.extract().lrs.align()  # doctest: +SKIP
"""
from . import accessor as _accessor  # noqa: F401  (registers the .lrs accessor)
from . import simulate
from ._version import __version__
from .dq import dq_mask
from .exceptions import (InvalidFileError, MissingVariableError, OutputExistsError,
                         ParameterError, SegmentMismatchError, SegmentWarning,
                         SkyNotSubtractedWarning, TimeAxisWarning, UnmeasuredWarning,
                         UnsupportedModeError, WavelengthWarning, XmiriError,
                         XmiriFutureWarning, XmiriWarning)
from .io import from_datamodel, open_rateints, to_netcdf
from .wavelength import default_wavelength_map

__all__ = [
    "__version__", "open_rateints", "from_datamodel", "to_netcdf", "simulate", "dq_mask",
    "default_wavelength_map", "XmiriError", "InvalidFileError", "UnsupportedModeError",
    "SegmentMismatchError", "ParameterError", "MissingVariableError", "OutputExistsError",
    "XmiriWarning", "UnmeasuredWarning", "TimeAxisWarning", "WavelengthWarning", "SegmentWarning",
    "SkyNotSubtractedWarning", "XmiriFutureWarning",
]
