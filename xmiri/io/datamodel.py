"""Wrapping a jwst datamodel already in memory as a lazy Dataset."""
import types
import uuid

import numpy as np

from ..exceptions import InvalidFileError, ParameterError, UnsupportedModeError
from ..layout import DTYPES, REQUIRED, VARIABLES, frames_dataset
from .wavelength import PROVENANCE_KEYWORDS, resolve_wavelength
from .chunks import integration_chunks
from .fitsfile import PRIMARY_KEYWORDS, check_mode, plain
from .reader import dataset_attrs, subarray_provenance
from .times import TIME_KEYWORDS, issue_time_warnings, time_axis

__all__ = ["from_datamodel"]


def _instance_get(instance, dotted):
    node = instance
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _model_keywords(model):
    from stdatamodels import schema

    out = {}
    for key in set(PRIMARY_KEYWORDS + TIME_KEYWORDS + PROVENANCE_KEYWORDS + ("S_WCS",)):
        for location in schema.find_fits_keyword(model.schema, key):
            value = plain(_instance_get(model.instance, location))
            if value is not None:
                out[key] = value
                break
    return out


class _ModelArray:
    """Read-only stand-in for a model array: indexing returns copies of `dtype`.

    dask slices it chunk by chunk when computing; nothing handed out is a
    view of the model's memory, so nothing downstream can modify the model.
    """

    def __init__(self, array, dtype):
        self._array = array
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(n) for n in np.shape(array))
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        return np.asarray(self._array[key]).astype(self.dtype, copy=True)


def from_datamodel(model, chunks=None, *, wavelength=None, barycentric=False):
    """Wrap a jwst CubeModel (or SlitModel with 3-D data) in memory as a lazy Dataset.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel or SlitModel
        The model; read, never modified.
    chunks : int, "auto", dict or None, optional
        As in :func:`open_rateints`.
    wavelength : array_like, optional
        As in :func:`open_rateints`.  Otherwise the model's ``wavelength``
        array, its assigned WCS or the packaged default is used.
    barycentric : bool, optional
        As in :func:`open_rateints`; the time rules are the same
        (:mod:`xmiri.io.times`), with the model's ``int_times`` table.

    Returns
    -------
    xarray.Dataset
        The layout of :func:`open_rateints`; the variables are dask arrays
        over the model's arrays, copied chunk by chunk only when computed.

    Raises
    ------
    UnsupportedModeError
        ``meta.exposure.type`` or ``meta.instrument.name`` is missing or not
        MIRI LRS slitless.
    ParameterError
        The model has no 3-D ``data`` or lacks ``err`` or ``dq``.

    Examples
    --------
    >>> import numpy as np
    >>> from stdatamodels.jwst import datamodels
    >>> model = datamodels.CubeModel(data=np.ones((3, 416, 72), np.float32),
    ...                              err=np.ones((3, 416, 72), np.float32),
    ...                              dq=np.zeros((3, 416, 72), np.uint32))
    >>> model.meta.instrument.name, model.meta.exposure.type = "MIRI", "MIR_LRS-SLITLESS"
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")   # no INT_TIMES in this bare model
    ...     ds = from_datamodel(model)
    >>> ds.data.dims, ds.data.dtype.name, float(ds.data.sum())
    (('integration', 'row', 'col'), 'float32', 89856.0)
    """
    import dask.array as da

    instance = getattr(model, "instance", None)
    if not isinstance(instance, dict):
        raise ParameterError(f"from_datamodel needs a jwst datamodel, got {type(model).__name__}")
    label = plain(_instance_get(instance, "meta.filename")) or type(model).__name__
    primary = _model_keywords(model)
    try:
        check_mode(label, primary)
    except InvalidFileError as exc:
        raise UnsupportedModeError(
            f"{exc}; set model.meta.instrument.name = 'MIRI' and model.meta.exposure.type = "
            f"'MIR_LRS-SLITLESS' if this is LRS slitless data") from None
    shape = tuple(np.shape(instance["data"])) if instance.get("data") is not None else None
    if shape is None or len(shape) != 3:
        what = "no data array" if shape is None else f"{len(shape)}-D data with shape {shape}"
        raise ParameterError(f"{label}: the model has {what}; xmiri needs (integration, row, col) "
                             f"cubes (a CubeModel, or a SlitModel with 3-D data)")
    arrays = {}
    for var in VARIABLES:
        value = instance.get(var)
        if value is None:
            if var in REQUIRED:
                raise ParameterError(f"{label}: the model has no {var} array")
            continue
        arrays[var] = value
    for var, value in arrays.items():
        if tuple(np.shape(value)) != shape:
            raise ParameterError(f"{label}: {var} has shape {np.shape(value)}, data has {shape}")
    n_int, n_rows, n_cols = shape
    n_chunk = integration_chunks(chunks, n_rows, n_cols)
    start = int(primary.get("INTSTART", 1))
    if "INTEND" in primary and int(primary["INTEND"]) - start + 1 != n_int:
        start = 1  # inconsistent header: number the integrations 1..n
    integrations = np.arange(start, start + n_int, dtype=np.int64)
    axis = time_axis(primary, integrations, instance.get("int_times"),
                     barycentric=bool(barycentric), label=label)
    hdul_like = None  # resolve_wavelength looks up hdul["WAVELENGTH"].data
    if instance.get("wavelength") is not None:
        hdul_like = {"WAVELENGTH": types.SimpleNamespace(data=instance["wavelength"])}
    wmap, wattrs = resolve_wavelength((n_rows, n_cols), hdul=hdul_like, model=model,
                                      user_map=wavelength, primary=primary, label=label)
    wattrs = subarray_provenance(wattrs, primary)
    bunit = plain(_instance_get(instance, "meta.bunit_data"))
    token = uuid.uuid4().hex  # a model in memory has no stable identity to hash cheaply
    variables = {}
    for var, value in arrays.items():
        dtype = DTYPES[var]
        variables[var] = da.from_array(_ModelArray(value, dtype), chunks=(n_chunk, -1, -1),
                                       name=f"xmiri-model-{var}-{token}",
                                       meta=np.empty((0, 0, 0), dtype))
    ds = frames_dataset(variables, integrations=integrations, times=axis.times,
                        time_attrs=axis.attrs, wavelength=wmap, wavelength_attrs=wattrs,
                        bunit=bunit, attrs=dataset_attrs(primary, [label], "from_datamodel",
                                                         integrations))
    issue_time_warnings(axis.warnings, stacklevel=3)
    return ds
