"""MIRI LRS slitless geometry and xmiri's default parameters, in one place.

Every pixel range and default that depends on the detector layout is
defined here once and used by the steps, the plots, the simulator and the
command line.  The constants below are SLITLESSPRISM's, 0-based within that
subarray; ranges are half-open ``(start, stop)`` pairs, as Python slices.
Every other LRS slitless subarray gets the same geometry *relative to the
star*: :data:`SUBARRAYS` holds each subarray's place on the detector and the
detector pixel at which target acquisition puts the star, and
:func:`geometry` translates the SLITLESSPRISM offsets from the star into the
pixels of a given file through its ``SUBSTRT1``/``SUBSTRT2`` (see
``docs/wavelength.rst``, "Subarrays").  Steps whose geometry keywords are
None (their default) resolve them with :func:`geometry`.

The values are those of ExoTiC-MIRI 1.0.1 (Grant et al.), whose keyword
names the steps keep, unless a comment says otherwise.

Examples
--------
>>> from xmiri import defaults
>>> defaults.FRAME_SHAPE
(416, 72)
>>> defaults.APERTURE_CENTER - defaults.APERTURE_LEFT_WIDTH, defaults.APERTURE_CENTER + defaults.APERTURE_RIGHT_WIDTH
(32, 40)
"""

__all__ = [
    "FRAME_SHAPE", "N_ROWS", "N_COLS", "APERTURE_CENTER", "APERTURE_LEFT_WIDTH",
    "APERTURE_RIGHT_WIDTH", "BACKGROUND_LEFT", "BACKGROUND_RIGHT", "PROFILE_COLUMNS",
    "TRACE_ROWS", "TRACE_COLUMNS", "PSF_SIGMA_GUESS", "TRACE_POLY_ORDER", "WINDOW_HEIGHTS",
    "DQ_BITS_TO_MASK", "ERR_THRESHOLD", "POLY_ORDER", "CLEAN_OUTLIER_THRESHOLD", "MAX_SHIFT",
    "WAVELENGTH_RANGE", "WAVELENGTH_BINS", "N_OUTLIER_WIDTHS", "MAX_GAP", "FILL_SPAN",
    "MIN_VALID_WEIGHT", "CLIP_WINDOW", "TEMPORAL_SCALE_WIDTH", "TRACE_SIGMA_POLY_ORDER", "TRACE_MIN_SNR",
    "TRACE_SIGMA_RANGE", "TRACE_MAX_CENTER_ERROR", "TRACE_CLIP_SIGMA", "TRACE_CLIP_MAX_ITER",
    "TRACE_OFFSET_HALF_WIDTH", "TRACE_OFFSET_MAX_ITER", "TRACE_OFFSET_TOL", "SHIFT_SPLINE_ORDER",
    "SHIFT_MIN_SAMPLES", "SHIFT_MAX_ITER", "SHIFT_TOL", "SHIFT_TOL_SIGMA",
    "CHUNK_TARGET_BYTES",
    "EXPOSURE_SAMPLE", "EXPOSURE_SAMPLE_APART", "Q_SAMPLE", "EXPOSURE_SAMPLING", "Q_SNR",
    "NETCDF_CHUNK_CACHE", "NETCDF_WRITE_BLOCK",
    "Subarray", "SUBARRAYS", "Geometry", "geometry", "subarray_of", "GEOMETRY_KEYWORDS",
    "from_slitlessprism",
]

import dataclasses
import math
import warnings

# --------------------------------------------------------------------------
# the subarray
#: (rows, columns) of a SLITLESSPRISM frame: rows run along the dispersion axis.
FRAME_SHAPE = (416, 72)
N_ROWS, N_COLS = FRAME_SHAPE

# --------------------------------------------------------------------------
# where the star is
#: Column of the trace centre, the default aperture centre (ExoTiC-MIRI: 36).
APERTURE_CENTER = 36
#: Columns included left and right of the aperture centre (a 9-column box).
APERTURE_LEFT_WIDTH = 4
APERTURE_RIGHT_WIDTH = 4
#: Sky regions either side of the trace, columns [start, stop).
BACKGROUND_LEFT = (8, 17)
BACKGROUND_RIGHT = (56, 72)
#: Columns [start, stop) over which the spatial profile P is normalised.
PROFILE_COLUMNS = (26, 47)
#: Rows and columns [start, stop) of the cross-dispersion profile used to
#: fit the trace position and measure x shifts: the bright part of the trace.
TRACE_ROWS = (200, 390)
TRACE_COLUMNS = (12, 68)
#: Starting Gaussian sigma of the cross-dispersion trace fit, pixels.
PSF_SIGMA_GUESS = 1.59
#: Degree of the trace-centre polynomial of traced apertures (why 2: the curved
#: MIRISim trace, benchmarks/TRACE.md).
TRACE_POLY_ORDER = 2

# --------------------------------------------------------------------------
# step parameters
#: Heights (rows) of the spatial-profile fitting windows, cycled over the frame.
WINDOW_HEIGHTS = (40,)
#: DQ bits replaced by clean: 0 DO_NOT_USE, 11 HOT, 22-25 UNRELIABLE_BIAS, _DARK,
#: _SLOPE, _FLAT (what masking them costs: docs/defaults.rst, benchmarks/DEFAULTS.md).
DQ_BITS_TO_MASK = (0, 11, 22, 23, 24, 25)
#: clean also replaces pixels whose ERR is more than this many times the error
#: their own rate implies (xmiri.kernels.noise.outlying_errors).
ERR_THRESHOLD = 5.0
#: Order of the windowed polynomial along the rows.
POLY_ORDER = 4
#: Outlier cut of clean, in residual standard deviations.
CLEAN_OUTLIER_THRESHOLD = 4.0
#: Largest measurable shift of align, pixels.
MAX_SHIFT = 5.0
#: Band of the white light curve and of equal-width bins, micron.
WAVELENGTH_RANGE = (5.0, 12.0)
#: Number of equal-width spectroscopic bins.
WAVELENGTH_BINS = 10
#: clean's n_outliers counts replaced pixels within 0..N-1 columns of the trace.
N_OUTLIER_WIDTHS = 5
#: clean: a run of at most this many missing pixels (rows) in a profile column that
#: the neighbouring rows cannot fill takes the column's polynomial fit; a longer run
#: stays NaN, flagged DO_NOT_USE (docs/clean.rst).
MAX_GAP = 3
#: clean: longest stretch of rows with missing pixels, between the two complete rows
#: that bracket it, that the neighbouring rows may fill (rows; docs/clean.rst).
FILL_SPAN = 40
#: extract gives a row up (NaN) when its valid pixels hold less than this fraction
#: (0..1) of the aperture's profile weight ``sum(w P)`` (docs/extract.rst).
MIN_VALID_WEIGHT = 0.5
#: light_curves: width (integrations) of the running median its sigma clipping
#: compares every point with.
CLIP_WINDOW = 31
#: clean_temporal: odd width (integrations) of the moving window of the MAD that
#: scales the residuals (xmiri.kernels.temporal.temporal_outliers; benchmarks/TEMPORAL.md).
TEMPORAL_SCALE_WIDTH = 101

# --------------------------------------------------------------------------
# trace fits and shift measurements (xmiri.kernels.tracefit, .traceoffsets, .align)
#: Degree of the polynomial in row fitted to the pixel-deconvolved Gaussian width of
#: a traced aperture's reference trace (its Gaussian optimal-extraction profile).
TRACE_SIGMA_POLY_ORDER = 2
#: A row of the reference frame locates the star when its Gaussian amplitude is at
#: least this many times its uncertainty (signal-to-noise ratio; benchmarks/TRACE.md).
TRACE_MIN_SNR = 10.0
#: Gaussian widths (min, max) of a row's trace fit accepted as the star, pixels.
TRACE_SIGMA_RANGE = (0.5, 4.0)
#: Largest trace-centre uncertainty of a row accepted as the star, pixels.
TRACE_MAX_CENTER_ERROR = 0.5
#: Sigma clipping of the trace polynomial: threshold in robust standard deviations of
#: the normalised residuals, and most fits (>= 1).
TRACE_CLIP_SIGMA = 4.0
TRACE_CLIP_MAX_ITER = 10
#: Each row's fit of an integration's trace offset spans this many columns either side
#: of the rounded reference centre, pixels.
TRACE_OFFSET_HALF_WIDTH = 8
#: Most Gauss-Newton iterations of an integration's trace offset, and the convergence
#: threshold on its update, pixels.
TRACE_OFFSET_MAX_ITER = 10
TRACE_OFFSET_TOL = 1e-6
#: Degree (odd, 1-9) of the spline that interpolates align's template.
SHIFT_SPLINE_ORDER = 5
#: Fewest usable samples of a signal for align to fit its shift.
SHIFT_MIN_SAMPLES = 10
#: Most Gauss-Newton iterations of align's shift fit, and the convergence threshold
#: on the shift update, pixels.
SHIFT_MAX_ITER = 30
SHIFT_TOL = 1e-6
#: A shift fit has also converged when its update is below this fraction of the
#: shift's formal 1-sigma error (a faint star's fits converge slowly: docs/align.rst).
SHIFT_TOL_SIGMA = 0.01

# --------------------------------------------------------------------------
# computing
#: Aimed-at bytes of one float32 variable's dask chunk (70 SLITLESSPRISM frames).
CHUNK_TARGET_BYTES = 8 * 2**20
#: Medians over the exposure that cannot be computed chunk by chunk (align's
#: templates, the median spatial profile, the median frame) use this many
#: integrations (all of a shorter exposure), so that long exposures stream
#: through in bounded memory (see xmiri.steps._common.sample_index).
EXPOSURE_SAMPLE = 512
#: An exposure longer than this many samples (EXPOSURE_SAMPLE, Q_SAMPLE) computes
#: its samples apart from the exposure's pass (xmiri.steps._common.over_sample:
#: the sample's upstream work is done twice, at most 1 / EXPOSURE_SAMPLE_APART
#: of the exposure's, instead of dask holding the sample's planes until its
#: median exists); a shorter one holds them (docs/scaling.rst).
EXPOSURE_SAMPLE_APART = 2
#: Horne's Q is estimated from the bright pixels of this many integrations
#: (thousands of pixels each; its accuracy: benchmarks/DEFAULTS.md).
Q_SAMPLE = 64
#: Where the exposure-wide samples (EXPOSURE_SAMPLE, Q_SAMPLE) come from:
#: "first", the first integrations (known after the first chunks, so the
#: rest streams through in bounded memory), or "spread", evenly across the
#: whole exposure (a settling ramp weighs in proportion to its length, but
#: the sample is known only when the last chunk is read: the upstream work of
#: every chunk is done twice, or, where dask cannot clone the graph, every
#: chunk is held until then; docs/systematics.rst, docs/scaling.rst).
EXPOSURE_SAMPLING = "first"
#: Only pixels brighter than this many read-noise sigmas estimate Q (read noise
#: negligible; xmiri.kernels.noise.estimate_q).
Q_SNR = 20.0
#: Bytes of netCDF-C chunk cache per variable while xmiri.to_netcdf writes
#: (netCDF-C's default, 64 MiB, fills with compressed chunks as a long exposure is
#: written; 4 MiB keeps the writer's memory flat: docs/scaling.rst).
NETCDF_CHUNK_CACHE = 4 * 2**20
#: xmiri.to_netcdf merges consecutive integration chunks of a variable into
#: blocks of up to this many bytes before writing: each block is one write
#: task, and under dask.distributed each write task reopens the file and takes a
#: cluster-wide lock.  Larger blocks cost memory with threads (measurements of
#: both: docs/scaling.rst, "Writing from a cluster").
NETCDF_WRITE_BLOCK = 4 * 2**20


# --------------------------------------------------------------------------
# every LRS slitless subarray
@dataclasses.dataclass(frozen=True)
class Subarray:
    """Where an LRS slitless subarray sits on the MIRIMAGE detector, and where the star is.

    Parameters
    ----------
    name : str
        The ``SUBARRAY`` keyword.
    corner : (int, int)
        1-based detector (row, column) of the subarray's first pixel: the
        nominal ``(SUBSTRT2, SUBSTRT1)``.
    size : (int, int)
        (rows, columns): the nominal ``(SUBSIZE2, SUBSIZE1)``.
    reference : (float, float)
        1-based detector (row, column) of the aperture's reference point,
        where target acquisition places the star (SIAF ``YDetRef``,
        ``XDetRef``).
    """

    name: str
    corner: tuple
    size: tuple
    reference: tuple


#: The LRS slitless subarrays, from the MIRI SIAF aperture definitions
#: (``MIRIM_SLITLESSPRISM``, ``MIRIM_SLITLESSPRISM_IP``,
#: ``MIRIM_SLITLESSPRISM_IPS``: ``XCorner``/``YCorner``, ``XSciSize``/``YSciSize``,
#: ``XDetRef``/``YDetRef`` in pysiaf's
#: ``pysiaf/source_data/MIRI/delivery/miri_siaf_aperture_definition.txt``,
#: spacetelescope/pysiaf; SLITLESSPRISM's corner agrees with the ``SUBSTRT``
#: keywords of the MIRISim files).
SUBARRAYS = {
    "SLITLESSPRISM": Subarray("SLITLESSPRISM", (529, 1), (416, 72), (829.0, 38.5)),
    "SLITLESSPRISM_IP": Subarray("SLITLESSPRISM_IP", (631, 13), (384, 68), (920.5, 46.5)),
    "SLITLESSPRISM_IPS": Subarray("SLITLESSPRISM_IPS", (753, 13), (256, 52), (916.5, 38.5)),
}


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The pixel geometry of one file, 0-based in its own pixels; ranges ``[start, stop)``.

    Parameters
    ----------
    subarray : str
        The file's ``SUBARRAY`` (``"SLITLESSPRISM"`` when the Dataset does not say).
    source : str
        ``"defaults"`` (SLITLESSPRISM at its nominal place: the constants of
        this module), ``"SIAF"`` (translated from the subarray's reference
        point) or ``"data"`` (the trace located in the median frame).
    aperture_center : int
        Column of the trace centre.
    background_left, background_right : (int, int)
        Sky columns either side of the trace.
    profile_columns : (int, int)
        Columns of clean's spatial profile.
    trace_rows, trace_columns : (int, int)
        Rows and columns of the cross-dispersion profile (trace fit, align).
    shift : (float, float)
        (rows, columns) added to SLITLESSPRISM's pixel positions (None when
        located in the data).
    """

    subarray: str
    source: str
    aperture_center: int
    background_left: tuple
    background_right: tuple
    profile_columns: tuple
    trace_rows: tuple
    trace_columns: tuple
    shift: tuple = None


#: Step keyword -> how it is read off a :class:`Geometry` (ExoTiC-MIRI's names).
GEOMETRY_KEYWORDS = {
    "aperture_center": lambda g: g.aperture_center,
    "bkg_col_left_start": lambda g: g.background_left[0],
    "bkg_col_left_end": lambda g: g.background_left[1],
    "bkg_col_right_start": lambda g: g.background_right[0],
    "bkg_col_right_end": lambda g: g.background_right[1],
    "spatial_profile_left_idx": lambda g: g.profile_columns[0],
    "spatial_profile_right_idx": lambda g: g.profile_columns[1],
    "trace_rows": lambda g: g.trace_rows,
    "trace_cols": lambda g: g.trace_columns,
}


def subarray_of(attrs):
    """``(name, corner)`` of a Dataset's attrs: ``SUBARRAY`` and 1-based ``(SUBSTRT2, SUBSTRT1)``.

    A Dataset without ``SUBARRAY`` is taken as SLITLESSPRISM (xmiri's frames
    before subarrays were read); missing ``SUBSTRT`` keywords take the named
    subarray's nominal corner (None for an unknown subarray).

    Parameters
    ----------
    attrs : Mapping
        The Dataset's attrs (or a FITS header's keywords).

    Returns
    -------
    name : str
        The subarray, upper case.
    corner : (int, int) or None
        1-based detector (row, column) of the subarray's first pixel; None
        when neither the keywords nor the known subarrays give it.

    Examples
    --------
    >>> subarray_of({"SUBARRAY": "SLITLESSPRISM_IP", "SUBSTRT1": 13, "SUBSTRT2": 631})
    ('SLITLESSPRISM_IP', (631, 13))
    >>> subarray_of({})
    ('SLITLESSPRISM', (529, 1))
    """
    name = str(attrs.get("SUBARRAY") or "SLITLESSPRISM").strip().upper()
    nominal = SUBARRAYS[name].corner if name in SUBARRAYS else (None, None)
    corner = []
    for key, default in zip(("SUBSTRT2", "SUBSTRT1"), nominal):
        try:
            corner.append(int(attrs[key]) if key in attrs else default)
        except (TypeError, ValueError):
            corner.append(default)
    return name, (None if None in corner else tuple(corner))


def _round(x):
    """Half-pixel positions round up (x.5 -> x + 1), the same way at every subarray."""
    return int(math.floor(x + 0.5))


def _moved(pair, by, size):
    """A SLITLESSPRISM ``[start, stop)`` moved by `by` pixels and clipped to ``[0, size]``."""
    start, stop = (min(max(_round(v + by), 0), size) for v in pair)
    return start, stop


def _siaf_geometry(name, corner, shape):
    """Geometry of a known subarray: SLITLESSPRISM's, moved with the star; None if it does not fit."""
    sp, sub = SUBARRAYS["SLITLESSPRISM"], SUBARRAYS[name]
    # file pixel = SLITLESSPRISM pixel + (star's detector position, minus the first pixel's),
    # differenced between the subarray and SLITLESSPRISM
    shift = tuple((sub.reference[k] - sp.reference[k]) - (corner[k] - sp.corner[k]) for k in (0, 1))
    if shift == (0.0, 0.0) and name == "SLITLESSPRISM":
        return Geometry("SLITLESSPRISM", "defaults", APERTURE_CENTER, BACKGROUND_LEFT,
                        BACKGROUND_RIGHT, PROFILE_COLUMNS, TRACE_ROWS, TRACE_COLUMNS, shift)
    n_rows, n_cols = shape
    center = _round(APERTURE_CENTER + shift[1])
    geo = Geometry(name, "SIAF", center,
                   _moved(BACKGROUND_LEFT, shift[1], n_cols), _moved(BACKGROUND_RIGHT, shift[1], n_cols),
                   _moved(PROFILE_COLUMNS, shift[1], n_cols), _moved(TRACE_ROWS, shift[0], n_rows),
                   _moved(TRACE_COLUMNS, shift[1], n_cols), shift)
    ranges = (geo.background_left, geo.background_right, geo.profile_columns, geo.trace_rows,
              geo.trace_columns)
    if not 0 <= center < n_cols or any(stop - start < 1 for start, stop in ranges):
        return None
    return geo


_LOCATED = {}  # dask name of the data -> Geometry located in it (one median frame per exposure)
#: A located trace's bright rows hold at least this fraction of its column's peak
#: (xmiri.kernels.trace.locate_trace).
_LOCATE_BRIGHT_FRACTION = 0.2


def _located_geometry(ds, name, why):
    """Geometry around the trace located in the median frame, with a SubarrayGeometryWarning."""
    import numpy as np

    from .exceptions import ParameterError, SubarrayGeometryWarning
    from .kernels.trace import locate_trace

    data = ds["data"]
    key = getattr(data.data, "name", None)
    if key is not None and key in _LOCATED:
        return _LOCATED[key]
    n_int, n_cols = data.sizes["integration"], data.sizes["col"]
    sample = np.unique(np.linspace(0, n_int - 1, min(n_int, 64)).round().astype(int))
    frame = np.asarray(data.isel(integration=sample).median("integration").values, dtype=float)
    located = locate_trace(frame, bright_fraction=_LOCATE_BRIGHT_FRACTION)
    if located is None:
        raise ParameterError(f"subarray {name!r}: {why}, and the median frame holds no finite "
                             f"pixel to locate the trace in; pass the geometry keywords "
                             f"({', '.join(GEOMETRY_KEYWORDS)}) yourself")
    center, rows = located
    by = center - APERTURE_CENTER
    geo = Geometry(name, "data", center, _moved(BACKGROUND_LEFT, by, n_cols),
                   _moved(BACKGROUND_RIGHT, by, n_cols), _moved(PROFILE_COLUMNS, by, n_cols), rows,
                   _moved(TRACE_COLUMNS, by, n_cols), None)
    warnings.warn(SubarrayGeometryWarning(
        f"subarray {name!r}: {why}; the trace was located in the median frame at column "
        f"{center} (rows {rows[0]}-{rows[1] - 1}), and the aperture, background, profile and "
        f"trace columns were placed around it as in SLITLESSPRISM; pass the geometry keywords "
        f"to choose them yourself", subarray=name, aperture_center=center, reason=why),
        stacklevel=4)
    if key is not None:
        _LOCATED[key] = geo
    return geo


def geometry(ds):
    """The pixel geometry of a frames Dataset, from its subarray (``ds.attrs``).

    Parameters
    ----------
    ds : xarray.Dataset
        Frames, with the ``SUBARRAY``, ``SUBSTRT1`` and ``SUBSTRT2`` attrs of
        :func:`xmiri.open_rateints` (a Dataset without ``SUBARRAY`` is
        SLITLESSPRISM).

    Returns
    -------
    Geometry
        SLITLESSPRISM at its nominal place: this module's constants
        (``source="defaults"``).  Another known subarray (:data:`SUBARRAYS`):
        the same offsets from the star, moved by the difference between the
        subarrays' reference points and first pixels on the detector
        (``source="SIAF"``; positions at half pixels round up, ranges are
        clipped to the frame).  An unknown subarray, or one whose geometry
        does not fit the file's pixels: the trace located in the median
        frame (``source="data"``), with a warning.

    Warns
    -----
    xmiri.SubarrayGeometryWarning
        When the geometry was located in the data.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(attrs={"SUBARRAY": "SLITLESSPRISM_IP", "SUBSTRT1": 13, "SUBSTRT2": 631})
    >>> ds = ds.assign_coords(row=range(384), col=range(68))
    >>> g = geometry(ds)
    >>> g.aperture_center, g.background_left, g.background_right, g.trace_rows
    (32, (4, 13), (52, 68), (190, 380))
    """
    name, corner = subarray_of(getattr(ds, "attrs", {}))
    shape = (ds.sizes.get("row", N_ROWS), ds.sizes.get("col", N_COLS)) if hasattr(ds, "sizes") else FRAME_SHAPE
    if name in SUBARRAYS and corner is not None:
        geo = _siaf_geometry(name, corner, shape)
        if geo is not None:
            return geo
        why = (f"its SLITLESSPRISM-relative geometry does not fit the file's {shape[0]} x "
               f"{shape[1]} pixels at SUBSTRT1={corner[1]}, SUBSTRT2={corner[0]}")
    elif name in SUBARRAYS:
        why = "the file has no SUBSTRT1/SUBSTRT2"
    else:
        why = (f"xmiri knows the geometry of {', '.join(SUBARRAYS)} only")
    if not hasattr(ds, "variables") or "data" not in ds.variables:
        from .exceptions import ParameterError

        raise ParameterError(f"subarray {name!r}: {why}, and the Dataset has no data to locate "
                             f"the trace in")
    return _located_geometry(ds, name, why)


def resolve(ds, **keywords):
    """Step keywords with None replaced by the file's geometry, in the order given.

    Parameters
    ----------
    ds : xarray.Dataset
        The step's input (see :func:`geometry`).
    **keywords
        Keywords of :data:`GEOMETRY_KEYWORDS` with the caller's values; an
        explicit value wins, None takes the geometry's.

    Returns
    -------
    tuple
        The values, in the order of `keywords` (one value: that value).

    Examples
    --------
    >>> import xarray as xr
    >>> resolve(xr.Dataset(), aperture_center=None, trace_rows=(10, 20))
    (36, (10, 20))
    """
    if any(value is None for value in keywords.values()) and hasattr(ds, "attrs"):
        geo = geometry(ds)
        keywords = {k: GEOMETRY_KEYWORDS[k](geo) if v is None else v for k, v in keywords.items()}
    values = tuple(keywords.values())
    return values[0] if len(values) == 1 else values


def _positions(value, pair):
    """True for a finite real number (not a bool), or with `pair` a sequence of two of them."""
    from .exceptions import ParameterError
    from .kernels import _validate as v

    if pair and isinstance(value, (str, bytes)):
        return False
    try:
        values = list(value) if pair else [value]  # a list, tuple or 1-d array for a pair
        for number in values:
            v.real("position", number)  # the steps' own test of a finite real number
    except (TypeError, ParameterError):
        return False
    return len(values) == (2 if pair else 1)


#: Geometry keywords that start and stop one range of columns, ``[start, stop)``.
_RANGE_KEYWORDS = (("bkg_col_left_start", "bkg_col_left_end"),
                   ("bkg_col_right_start", "bkg_col_right_end"),
                   ("spatial_profile_left_idx", "spatial_profile_right_idx"))


def from_slitlessprism(ds, **keywords):
    """Geometry keywords given in SLITLESSPRISM's pixels, moved with the star into `ds`'s.

    A position chosen on SLITLESSPRISM frames (e.g. ExoTiC-MIRI's published
    sky columns 12-22 and 50-68) names the same place relative to the star
    in another subarray once moved by the offset :func:`geometry` finds
    between the two: the difference of their reference points and first
    pixels on the detector, or, when the trace is located in the data, its
    column minus :data:`APERTURE_CENTER`.  This is how the default geometry
    of every subarray is made from SLITLESSPRISM's, so the defaults moved
    are the file's defaults.

    Parameters
    ----------
    ds : xarray.Dataset
        The frames (see :func:`geometry`).
    **keywords
        Keywords of :data:`GEOMETRY_KEYWORDS` with values in SLITLESSPRISM's
        0-based pixels; None stays None.

    Returns
    -------
    dict
        The same keywords in `ds`'s pixels: positions at half pixels round
        up, range ends (and ``trace_rows``/``trace_cols``) are clipped to
        the frame; ``aperture_center`` an int, pairs as lists.

    Raises
    ------
    xmiri.ParameterError
        For a keyword not in :data:`GEOMETRY_KEYWORDS`; for ``trace_rows``
        when the trace was located in the data (the row offset is then
        unknown); when a moved ``aperture_center`` falls outside the frame
        or a moved range holds no pixel (the message gives both places).

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(coords={"row": range(384), "col": range(68)},
    ...                 attrs={"SUBARRAY": "SLITLESSPRISM_IP", "SUBSTRT1": 13, "SUBSTRT2": 631})
    >>> moved = from_slitlessprism(ds, aperture_center=36, bkg_col_right_start=50,
    ...                            bkg_col_right_end=68)
    >>> moved
    {'aperture_center': 32, 'bkg_col_right_start': 46, 'bkg_col_right_end': 64}
    >>> from_slitlessprism(ds, aperture_center=APERTURE_CENTER) == {"aperture_center":
    ...                                                          geometry(ds).aperture_center}
    True
    """
    from .exceptions import ParameterError

    unknown = sorted(set(keywords) - set(GEOMETRY_KEYWORDS))
    if unknown:
        raise ParameterError(f"from_slitlessprism: unknown keyword(s) {unknown}; known: "
                             f"{', '.join(GEOMETRY_KEYWORDS)}")
    geo = geometry(ds)
    n_rows, n_cols = ds.sizes.get("row", N_ROWS), ds.sizes.get("col", N_COLS)
    by_row, by_col = geo.shift if geo.shift is not None else (None, geo.aperture_center - APERTURE_CENTER)
    where = f"{geo.subarray} ({n_rows} x {n_cols} pixels)"
    out = {}
    for key, value in keywords.items():
        pair = key in ("trace_rows", "trace_cols")
        if value is not None and not _positions(value, pair):
            raise ParameterError(f"{key} must be {'a pair of numbers' if pair else 'a number'} "
                                 f"(SLITLESSPRISM pixels), got {value!r}")
        if value is None:
            out[key] = None
        elif key in ("trace_rows", "trace_cols"):
            if key == "trace_rows" and by_row is None:
                raise ParameterError(
                    f"trace_rows={list(value)} in SLITLESSPRISM pixels cannot be moved into "
                    f"{where}: its trace was located in the data, which gives no row offset; "
                    f"give trace_rows in the file's own rows")
            out[key] = list(_moved(tuple(value), by_row if key == "trace_rows" else by_col,
                                   n_rows if key == "trace_rows" else n_cols))
            if out[key][1] - out[key][0] < 1:
                raise ParameterError(f"{key}={list(value)} in SLITLESSPRISM pixels falls outside "
                                     f"{where} once moved with the star: {out[key]}")
        elif key == "aperture_center":
            out[key] = _round(value + by_col)
            if not 0 <= out[key] < n_cols:
                raise ParameterError(f"aperture_center={value} in SLITLESSPRISM pixels is column "
                                     f"{out[key]} of {where}, outside the frame")
        else:  # one end of a range of columns
            out[key] = min(max(_round(value + by_col), 0), n_cols)
    for start, stop in _RANGE_KEYWORDS:
        if out.get(start) is not None and out.get(stop) is not None and out[stop] <= out[start]:
            raise ParameterError(
                f"{start}={keywords[start]}, {stop}={keywords[stop]} in SLITLESSPRISM pixels hold "
                f"no column of {where} once moved with the star ({out[start]}, {out[stop]})")
    return out


def anchored_windows(ds, heights, minimum=1):
    """clean's window heights, anchored where SLITLESSPRISM's windows fall relative to the star.

    clean cycles ``heights`` from row 0 of the file.  In a subarray whose
    rows are SLITLESSPRISM's moved by ``shift`` (:func:`geometry`), the same
    cycle started at SLITLESSPRISM's row 0 gives the windows of the same
    star rows, so that the profile fits (and the pixels they replace) do not
    depend on the subarray.  SLITLESSPRISM itself, and files whose geometry
    is located in the data, keep ``heights``.

    Parameters
    ----------
    ds : xarray.Dataset
        The frames.
    heights : sequence of int
        Window heights, cycled.
    minimum : int, optional
        A first, partial window shorter than this joins the next one.

    Returns
    -------
    tuple of int
        ``heights`` itself, or explicit heights that cover every row.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(coords={"row": range(384), "col": range(68)},
    ...                 attrs={"SUBARRAY": "SLITLESSPRISM_IP", "SUBSTRT1": 13, "SUBSTRT2": 631})
    >>> anchored_windows(ds, (40,))[:3], sum(anchored_windows(ds, (40,))) >= 384
    ((30, 40, 40), True)
    """
    heights = tuple(int(h) for h in heights)
    name, corner = subarray_of(getattr(ds, "attrs", {}))
    if name not in SUBARRAYS or corner is None or not hasattr(ds, "sizes"):
        return heights
    shape = (ds.sizes.get("row", N_ROWS), ds.sizes.get("col", N_COLS))
    geo = _siaf_geometry(name, corner, shape)
    if geo is None or geo.shift is None:
        return heights
    start = -_round(geo.shift[0])  # the file's row 0 in SLITLESSPRISM rows
    if start <= 0:
        return heights
    edge, k = 0, 0
    while edge + heights[k % len(heights)] <= start:  # SLITLESSPRISM's windows before row 0
        edge += heights[k % len(heights)]
        k += 1
    out = [edge + heights[k % len(heights)] - start]
    k += 1
    while sum(out) < shape[0]:
        out.append(heights[k % len(heights)])
        k += 1
    if out[0] < minimum and len(out) > 1:
        out[1] += out.pop(0)
    return tuple(out)
