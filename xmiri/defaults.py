"""MIRI LRS SLITLESSPRISM geometry and xmiri's default parameters, in one place.

Every pixel range and default that depends on the detector layout is
defined here once and used by the kernels, the steps, the plots, the
simulator and the command line (whose configuration template is generated
from the step signatures, which use these values).  Pixel indices are
0-based within the SLITLESSPRISM subarray; ranges are half-open
``(start, stop)`` pairs, as Python slices.

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
    "WAVELENGTH_RANGE", "WAVELENGTH_BINS", "N_OUTLIER_WIDTHS", "CHUNK_TARGET_BYTES",
    "EXPOSURE_SAMPLE", "Q_SAMPLE", "NETCDF_CHUNK_CACHE", "NETCDF_WRITE_BLOCK",
]

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
#: Degree of the trace-centre polynomial of traced apertures (order 1 leaves
#: -0.29..+0.10 px residuals on the curved MIRISim trace; benchmarks/TRACE.md).
TRACE_POLY_ORDER = 2

# --------------------------------------------------------------------------
# step parameters
#: Heights (rows) of the spatial-profile fitting windows, cycled over the frame.
WINDOW_HEIGHTS = (40,)
#: DQ bits replaced by clean: 0 DO_NOT_USE, 11 HOT, 22-25 UNRELIABLE_BIAS, _DARK,
#: _SLOPE, _FLAT (measured to cost nothing: +3-5 replaced pixels per integration
#: in the aperture, same scatter and depth; benchmarks/DEFAULTS.md).
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

# --------------------------------------------------------------------------
# computing
#: Aimed-at bytes of one float32 variable's dask chunk (70 SLITLESSPRISM frames).
CHUNK_TARGET_BYTES = 8 * 2**20
#: Medians over the exposure that cannot be computed chunk by chunk (align's
#: templates, the median spatial profile, the median frame) use the first this
#: many integrations (all of a shorter exposure), so that long exposures stream
#: through in bounded memory (see xmiri.steps._common.sample_index).
EXPOSURE_SAMPLE = 512
#: Horne's Q is estimated from the bright pixels of the first this many
#: integrations (thousands of pixels each: the estimate is within 0.1 %).
Q_SAMPLE = 64
#: Bytes of netCDF-C chunk cache per variable while xmiri.to_netcdf writes
#: (netCDF-C's default, 64 MiB, fills with compressed chunks as a long exposure is
#: written: +80 MB at 16,000 integrations; 4 MiB keeps the writer's memory flat).
NETCDF_CHUNK_CACHE = 4 * 2**20
#: xmiri.to_netcdf merges consecutive integration chunks of a variable into
#: blocks of up to this many bytes before writing: each block is one write
#: task, and under dask.distributed each write task reopens the file and takes a
#: cluster-wide lock (measured on the 2,000-integration box chain, 2-worker
#: LocalCluster: 2.9 s unmerged, 2.24-2.53 s with 4 MiB).  Larger blocks cost
#: memory with threads (clean_temporal chain, 4,000 integrations: 1.0 GB
#: unmerged or 4 MiB, 1.4 GB with 16 MiB).
NETCDF_WRITE_BLOCK = 4 * 2**20
