"""The layout of a frames Dataset: variables, dtypes, attributes and coordinates.

One definition, used by every producer of frames: the FITS reader
(:func:`xmiri.open_rateints`), :func:`xmiri.from_datamodel` and the
simulator (:func:`xmiri.simulate.simulate`), so that all three give the same
names, dtypes and attributes.

=================  =========================  ========  =============================
name               dims                       dtype     meaning
=================  =========================  ========  =============================
``data``           integration, row, col      float32   SCI (count rate)
``err``            integration, row, col      float32   ERR (1 sigma)
``dq``             integration, row, col      uint32    DQ bit field (JWST flags)
``var_poisson``    integration, row, col      float32   VAR_POISSON (optional)
``var_rnoise``     integration, row, col      float32   VAR_RNOISE (optional)
``integration``    integration                int64     1-based number in the exposure
``time``           integration                float64   mid-integration time, days
``row``, ``col``   row / col                  int64     pixel indices in the subarray
``wavelength``     row, col                   float64   micron, NaN where undefined
=================  =========================  ========  =============================
"""
import numpy as np
import xarray as xr

__all__ = ["DIMS", "VARIABLES", "REQUIRED", "DTYPES", "variable_attrs", "frames_dataset"]

DIMS = ("integration", "row", "col")
#: Dataset variable name -> FITS extension name; the first three are required.
VARIABLES = {"data": "SCI", "err": "ERR", "dq": "DQ",
             "var_poisson": "VAR_POISSON", "var_rnoise": "VAR_RNOISE"}
REQUIRED = ("data", "err", "dq")
DTYPES = {"data": np.dtype(np.float32), "err": np.dtype(np.float32), "dq": np.dtype(np.uint32),
          "var_poisson": np.dtype(np.float32), "var_rnoise": np.dtype(np.float32)}
_LONG_NAMES = {
    "data": "count rate (SCI)",
    "err": "count-rate uncertainty, 1 sigma (ERR)",
    "dq": "JWST pixel data-quality bit field (DQ)",
    "var_poisson": "Poisson variance of the count rate (VAR_POISSON)",
    "var_rnoise": "read-noise variance of the count rate (VAR_RNOISE)",
}
_COORD_ATTRS = {
    "integration": {"long_name": "integration number within the exposure (1-based)"},
    "row": {"long_name": "detector row in the subarray (dispersion axis)"},
    "col": {"long_name": "detector column in the subarray (cross-dispersion axis)"},
}


def variable_attrs(name, bunit):
    """Attributes of frame variable `name` whose SCI unit is `bunit` (None if unknown).

    Parameters
    ----------
    name : str
        A frame variable of :data:`VARIABLES` (``"data"``, ``"dq"``, ...).
    bunit : str or None
        The SCI extension's BUNIT.

    Returns
    -------
    dict
        ``long_name``, ``fits_extension`` and ``units`` (or the DQ flag
        masks and meanings for ``dq``).

    Examples
    --------
    >>> variable_attrs("var_rnoise", "DN/s")["units"]
    '(DN/s)^2'
    """
    attrs = {"long_name": _LONG_NAMES[name], "fits_extension": VARIABLES[name]}
    if name == "dq":
        from .dq import FLAG_NAMES, FLAGS

        attrs["flag_masks"] = np.array(list(FLAGS.values()), dtype=np.uint32)
        attrs["flag_meanings"] = " ".join(FLAG_NAMES)
    elif bunit:
        attrs["units"] = bunit if name in ("data", "err") else f"({bunit})^2"
    return attrs


def frames_dataset(variables, *, integrations, times, time_attrs, wavelength, wavelength_attrs,
                   attrs, bunit="DN/s", encoding=None, drop=()):
    """Assemble a frames Dataset in the layout above.

    Parameters
    ----------
    variables : dict
        Frame variable name -> array of shape ``(n_int, n_rows, n_cols)``
        (numpy, dask, or a lazily indexed backend array).
    integrations : array_like of int, shape (n_int,)
        1-based integration numbers.
    times : array_like of float, shape (n_int,)
        Mid-integration times, days (NaN where unknown).
    time_attrs : dict
        Attributes of ``time`` (scale, format, source).
    wavelength : array_like, shape (n_rows, n_cols)
        Wavelength map, micron.
    wavelength_attrs : dict
        Attributes of ``wavelength`` (its source and calibration).
    attrs : dict
        Dataset attributes.
    bunit : str or None, optional
        Unit of ``data`` (the SCI extension's BUNIT).
    encoding : dict, optional
        Encoding given to every frame variable (e.g. ``preferred_chunks``).
    drop : iterable of str, optional
        Variables or coordinates to leave out.

    Returns
    -------
    xarray.Dataset
        The frames, coordinates and attributes of :mod:`xmiri.layout`.

    Examples
    --------
    >>> import numpy as np
    >>> cube = np.zeros((2, 4, 3), np.float32)
    >>> ds = frames_dataset({"data": cube, "err": cube, "dq": cube.astype(np.uint32)},
    ...                     integrations=[1, 2], times=[np.nan, np.nan], time_attrs={},
    ...                     wavelength=np.full((4, 3), 7.0), wavelength_attrs={}, attrs={})
    >>> ds.data.attrs["units"], ds.err.attrs["fits_extension"], ds.sizes["row"]
    ('DN/s', 'ERR', 4)
    """
    drop = set(drop)
    first = next(iter(variables.values()))
    n_rows, n_cols = first.shape[1:]
    data_vars = {name: xr.Variable(DIMS, array, variable_attrs(name, bunit), encoding)
                 for name, array in variables.items() if name not in drop}
    coords = {
        "integration": ("integration", np.asarray(integrations, dtype=np.int64),
                        dict(_COORD_ATTRS["integration"])),
        "time": ("integration", np.asarray(times, dtype=np.float64), dict(time_attrs)),
        "row": ("row", np.arange(n_rows, dtype=np.int64), dict(_COORD_ATTRS["row"])),
        "col": ("col", np.arange(n_cols, dtype=np.int64), dict(_COORD_ATTRS["col"])),
        "wavelength": (("row", "col"), np.asarray(wavelength, dtype=np.float64),
                       dict(wavelength_attrs)),
    }
    coords = {k: v for k, v in coords.items() if k not in drop}
    return xr.Dataset(data_vars, coords=coords, attrs=dict(attrs))
