"""Reading MIRI LRS slitless rateints/calints files, and writing results.

============================  ===================================================
module                        what it holds
============================  ===================================================
:mod:`xmiri.io.reader`        :func:`open_rateints`: segments -> one lazy Dataset
:mod:`xmiri.io.fitsfile`      checks and header reading of one FITS file
:mod:`xmiri.io.segments`      path expansion, ordering and checks of segments
:mod:`xmiri.io.array`         :class:`FitsImageArray`, the lazy image reader
:mod:`xmiri.io.chunks`        what ``chunks=`` means; :func:`default_chunks`
:mod:`xmiri.io.backend`       the ``engine="xmiri"`` xarray backend (light import)
:mod:`xmiri.io.datamodel`     :func:`from_datamodel`: a jwst model in memory
:mod:`xmiri.io.netcdf`        :func:`to_netcdf`, atomic netCDF-4 writer
:mod:`xmiri.io.atomic`        the atomic-write helper shared with the simulator
============================  ===================================================

The names below are imported on first use, so that importing
:mod:`xmiri.io.backend` (which xarray does for every ``open_dataset``) stays
light.
"""
import importlib

__all__ = ["open_rateints", "from_datamodel", "to_netcdf", "default_chunks",
           "XmiriBackendEntrypoint", "FitsImageArray", "VARIABLES", "PRIMARY_KEYWORDS",
           "SUPPORTED_EXP_TYPES"]

_HOME = {
    "open_rateints": "reader", "from_datamodel": "datamodel", "to_netcdf": "netcdf",
    "default_chunks": "chunks", "XmiriBackendEntrypoint": "backend", "FitsImageArray": "array",
    "PRIMARY_KEYWORDS": "fitsfile", "SUPPORTED_EXP_TYPES": "fitsfile",
}


def __getattr__(name):
    if name == "VARIABLES":
        from ..layout import VARIABLES

        return VARIABLES
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
