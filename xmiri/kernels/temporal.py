"""Outliers along time: each pixel against a moving median of its own time series.

A spatial clean (:mod:`xmiri.kernels.clean`) judges a pixel by its
neighbours in the same frame, so a faint hit on the steep spectral trace is
hard to tell from the trace itself.  In a time series of a steady star the
same pixel of the neighbouring integrations is a much better reference: this
module compares every sample with a centred moving median of its pixel's
time series and flags it when the residual exceeds a multiple of a robust
scatter.

All functions here are pure numpy (plus :func:`bottleneck.move_median` and
:func:`bottleneck.move_sum`): arrays in, arrays out, axis 0 is
``integration``.

Blocks, halos and exactness
---------------------------
The kernel works on a *block* of consecutive integrations.  Every window is
clipped to the block: the window of position ``i`` is
``[i - h, i + h] & [0, n_block)``.  A block edge therefore acts as an
exposure edge.  To reproduce the exposure's result on a part of it, give the
kernel that part plus ``halo_depth(...)`` integrations of context on each
side that has more exposure beyond it (no context at the exposure's own
ends), and tell it how much context it got with ``halo=(before, after)``:
the context positions feed the medians and scales but get no output.  This
is what :func:`dask.array.map_overlap` does with ``boundary="none"``, and the
result is then bit-identical for any chunking, because every median is an
order statistic of the same samples (the same element, or the same float64
mean of two elements) whatever the block it is computed in.

Algorithms
----------
*Moving median* (:mod:`xmiri.kernels.movmedian`).  Pixel time series are
copied, a group of pixels at a time (about 2**20 samples per group, which
bounds the temporaries), into float64 rows padded with ``h`` NaN at both
ends, invalid samples set to NaN, and filtered by
:func:`bottleneck.move_median`, a running median costing O(log w) per
sample that skips NaN and releases the GIL, so that a window of 201
integrations costs about as much as one of 25 and dask's threads run in
parallel.  There are no Python loops over pixels or integrations, only
over groups of pixels.

*Moving MAD.*  With ``return_scatter=True`` it is a second such filter on
the absolute residuals.  Otherwise it is computed only for the samples
whose flag it can decide: counts over the scale windows bound the MAD
from below, which clears almost every sample, and the MAD of the others
(a few per cent) is taken from their own windows, or, for a pixel
holding many of them, from one running median over its row.  The flags
are the same either way.
"""
import numbers

import bottleneck as bn
import numpy as np

from ..defaults import TEMPORAL_SCALE_WIDTH
from ..exceptions import ParameterError
from .background import MAD_TO_SIGMA, nanmedian
from .movmedian import (_groups, _odd_width, _series_medians, _window_medians,  # noqa: F401
                        _window_medians_at, moving_median)

__all__ = [
    "temporal_outliers",
    "moving_median",
    "replace_outliers",
    "count_flagged",
    "halo_depth",
    "effective_window",
    "MAD_TO_SIGMA",
    "DEFAULT_SCALE_WIDTH",
]

#: ``scale_width`` (integrations) of the step's moving MAD: the name kept for
#: :data:`xmiri.defaults.TEMPORAL_SCALE_WIDTH`, which owns the value.
DEFAULT_SCALE_WIDTH = TEMPORAL_SCALE_WIDTH

_SCALES = ("mad", "err")
_REPLACE = ("median", "nan", None)
#: Fraction of a pixel's outputs from which its undecided samples get the moving MAD of the
#: whole row (one running median, ~10 us per row of 240) rather than one window each (a
#: partial sort, ~1 us per sample of a 101-wide window): frames built from four repeated
#: MIRISim integrations leave 7.6 % of the samples undecided, 86 % of them in 17 % of the
#: pixels (benchmarks/RESULTS.md).
_DENSE_CANDIDATES = 0.1


# --------------------------------------------------------------------------
# parameter checks
# --------------------------------------------------------------------------
def _check_scale(scale):
    if not isinstance(scale, str) or scale not in _SCALES:
        raise ParameterError(f"scale must be one of {_SCALES}, got {scale!r}")
    return scale


def _check_halo(halo, n):
    try:
        before, after = halo
    except (TypeError, ValueError):
        raise ParameterError(f"halo must be a (before, after) pair of integers, got {halo!r}") from None
    for value in (before, after):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
            raise ParameterError(f"halo must hold integers >= 0, got {halo!r}")
    before, after = int(before), int(after)
    if before + after > n:
        raise ParameterError(f"halo={halo!r} is longer than the block of {n} integrations")
    return before, after


def halo_depth(window_width, scale, scale_width):
    """Integrations of context a block needs on each side for exact results.

    With ``h = window_width // 2`` and ``hs = scale_width // 2`` this is
    ``h + hs`` for ``scale="mad"`` (the scale of position ``i`` is a median
    of residuals ``j`` in ``[i - hs, i + hs]``, each of which needs the
    samples ``[j - h, j + h]``) and ``h`` for ``scale="err"``.

    Parameters
    ----------
    window_width : int
        As in :func:`temporal_outliers`.
    scale : {"mad", "err"}
        As in :func:`temporal_outliers`.
    scale_width : int
        As in :func:`temporal_outliers`; ignored for ``scale="err"``.

    Returns
    -------
    int
        Depth along ``integration`` for :func:`dask.array.map_overlap`.

    Examples
    --------
    >>> halo_depth(25, "mad", 101), halo_depth(25, "err", 101)
    (62, 12)
    """
    half = _odd_width("window_width", window_width) // 2
    if _check_scale(scale) == "err":
        return half
    return half + _odd_width("scale_width", scale_width) // 2


def effective_window(n_integrations, window_width):
    """Window width giving jwst's convention for short exposures.

    jwst's TSO outlier detection takes one median over the whole exposure
    when it has no more integrations than the window.  With clipped windows
    that happens by itself only when ``n <= h + 1``; a window of
    ``2 n - 1`` or more integrations covers the whole exposure from every
    position.  The step layer, which knows the exposure length, can pass
    ``effective_window(n, window_width)`` as the kernel's window.

    Parameters
    ----------
    n_integrations : int
        Integrations in the whole exposure, >= 1.
    window_width : int
        Requested (odd) window width (the step uses
        :data:`xmiri.steps.temporal.WINDOW_WIDTH`).

    Returns
    -------
    int
        `window_width` if the exposure is longer than it, else
        ``2 * n_integrations - 1`` (odd).

    Examples
    --------
    >>> effective_window(1000, 25), effective_window(20, 25), effective_window(25, 25)
    (25, 39, 49)
    """
    width = _odd_width("window_width", window_width)
    if isinstance(n_integrations, (bool, np.bool_)) or not isinstance(n_integrations, numbers.Integral):
        raise ParameterError(f"n_integrations must be an integer >= 1, got {n_integrations!r}")
    n = int(n_integrations)
    if n < 1:
        raise ParameterError(f"n_integrations must be >= 1, got {n}")
    return width if n > width else 2 * n - 1


# --------------------------------------------------------------------------
# the moving MAD's shortcut (the moving median itself: xmiri.kernels.movmedian)
# --------------------------------------------------------------------------
def _undecided(absolute, usable, deviation, good, half, core, threshold):
    """Valid output samples whose flag the moving MAD could decide.

    absolute : (g, L) float32 absolute residuals, usable : (g, L) bool,
    deviation : (g, L) float64 absolute residuals, good : (g, n_out) bool
    valid outputs at positions `core` of the L residuals; the scale window
    of position ``j`` is ``[j - half, j + half] & [0, L)``.

    For each row a level ``t`` (0.6 times the median of every eighth usable
    absolute residual; any value would give exact flags, this one few
    candidates) is compared with the windows: where fewer than half of a
    window's usable residuals are below ``t`` (``count <= (m - 1) // 2``),
    its lower middle and hence its median is at least ``t``, so its
    sample is not flagged if ``deviation <= threshold * (t * 1.4826)``
    (the same floating-point operations as the flag test, which are
    monotonic).  Returns the (g, n_out) bool mask of the other valid
    samples with a finite residual.
    """
    sample = np.where(usable[:, ::8], absolute[:, ::8], np.nan)
    level = (0.6 * nanmedian(sample, axis=1)).astype(np.float32)
    level[~np.isfinite(level)] = 0.0
    below = _window_counts(usable & (absolute < level[:, None]), half, core)
    in_window = _window_counts(usable, half, core)
    # at least one usable residual, fewer than half of them below t (with none, (m - 1) // 2 is -1)
    bounded = below <= (in_window - 1) // 2
    floor = threshold * (level.astype(np.float64) * MAD_TO_SIGMA)
    residual = deviation[:, core]
    with np.errstate(invalid="ignore"):
        safe = bounded & (residual <= floor[:, None])
        return good & ~safe & np.isfinite(residual)


def _window_counts(mask, half, core):
    """Number of True samples in each clipped window, float32 (exact below 2**24).

    mask : (g, L) bool; returns (g, n_out) counts over
    ``[j - half, j + half] & [0, L)`` for the positions ``j`` of `core`, by
    :func:`bottleneck.move_sum` (a running sum that releases the GIL) over
    the rows extended with zeros where a window passes their end.
    """
    g, length = mask.shape
    end = core.stop + half  # the trailing window of position j ends at j + half
    ones = np.zeros((g, max(end, length)), np.float32)
    ones[:, :length] = mask
    # a trailing window longer than the row covers all of it before each position, as one of
    # the row's length does (bottleneck accepts no longer window)
    sums = bn.move_sum(ones, min(2 * half + 1, ones.shape[1]), min_count=1, axis=1)
    return sums[:, core.start + half : end]


# --------------------------------------------------------------------------
# the outlier kernel
# --------------------------------------------------------------------------
def temporal_outliers(data, valid=None, err=None, *, window_width, scale="mad", scale_width,
                      outlier_threshold, halo=(0, 0), return_scatter=False):
    """Flag samples that stand out from their pixel's moving median in time.

    For every pixel and integration ``i`` of the block:

    1. ``median[i]`` is the median of the pixel's valid samples in the
       centred window ``[i - h, i + h]``, ``h = window_width // 2``,
       clipped to the block (see Notes);
    2. the residual is ``r[i] = data[i] - median[i]``;
    3. the scatter ``s[i]`` is, for ``scale="mad"``,
       ``1.4826 * median(|r[j]|)`` over the valid ``j`` in
       ``[i - hs, i + hs]``, ``hs = scale_width // 2``, clipped likewise
       (a moving median absolute residual, which follows slow changes of the
       noise but needs no exposure-wide statistic), or, for
       ``scale="err"``, the sample's own ``err`` (jwst's convention);
    4. the sample is flagged when it is valid and
       ``|r[i]| > outlier_threshold * s[i]``: positive and negative
       outliers alike.  A sample whose median or scatter is NaN (no valid
       sample in the window, NaN ``err``) is never flagged.

    Parameters
    ----------
    data : array_like, shape (n, n_row, n_col)
        Rates in DN/s (any unit works; the outputs share it), a block of
        ``n`` consecutive integrations including any halo.  float32 data are
        selected in float32 (medians of an odd number of samples are exact
        samples), anything else in float64.
    valid : array_like of bool, shape (n, n_row, n_col), optional
        False for samples to exclude from every median and MAD and never
        flag (e.g. DQ bits of ``dq_bits_to_mask``).  Non-finite `data` are
        always excluded.  Default: all finite samples are valid.
    err : array_like, shape (n, n_row, n_col), optional
        1-sigma uncertainty of `data` in DN/s; required for ``scale="err"``,
        ignored otherwise.
    window_width : int
        Odd width of the moving-median window in integrations (the step uses
        :data:`xmiri.steps.temporal.WINDOW_WIDTH`, jwst's
        ``rolling_window_width``).
    scale : {"mad", "err"}, optional
        How the scatter ``s`` is measured.  Default ``"mad"``.
    scale_width : int
        Odd width (integrations) of the moving window of the MAD, for
        ``scale="mad"`` (the step uses
        :data:`xmiri.defaults.TEMPORAL_SCALE_WIDTH`).
    outlier_threshold : float
        Threshold in units of ``s``, finite and > 0 (the step uses
        :data:`xmiri.steps.temporal.OUTLIER_THRESHOLD`).
    halo : (int, int), optional
        Integrations of context at the start and end of the block: they
        enter the windows but get no output.  Default ``(0, 0)``.
    return_scatter : bool, optional
        Also return the scatter ``s`` of every sample.  For ``scale="mad"``
        this costs a second running filter (about 50% more time); without
        it ``s`` is computed only where it can decide a flag (see Notes).
        The flags are the same either way.  Default False.

    Returns
    -------
    median : numpy.ndarray, shape (n - before - after, n_row, n_col)
        float64 moving median in DN/s of the output integrations
        (``(before, after) = halo``); NaN where the window holds no valid
        sample.
    flagged : numpy.ndarray, same shape
        bool, True for the outliers.
    scatter : numpy.ndarray, same shape
        Only with `return_scatter`: float64 scatter ``s`` in DN/s (the
        MAD-based sigma or `err`); NaN where undefined.

    Raises
    ------
    ParameterError
        For arrays of the wrong shape, a missing `err` with
        ``scale="err"``, an even or non-positive width, a non-positive
        threshold, an unknown `scale` or an invalid `halo`.

    See Also
    --------
    halo_depth : Context needed for exact results on part of an exposure.
    effective_window : The jwst convention for exposures shorter than the window.
    replace_outliers : Replace flagged samples by the median or NaN.
    count_flagged : Flagged samples per integration.
    moving_median : The moving median on its own.

    Notes
    -----
    **Window rule.**  Windows are centred and clipped to the block, never
    shifted or wrapped: at the first integration the median is over the
    first ``h + 1`` samples.  A block edge without halo must be an exposure
    edge.  With ``halo=(before, after)`` and at least
    :func:`halo_depth` integrations of context wherever ``before`` or
    ``after`` is not 0, the outputs equal those of the whole exposure bit
    for bit.  Clipped windows near an edge are short and slightly biased by
    a trend (``slope * h / 2`` at the first sample, where a shifted window
    would be biased by ``slope * h``), but always centred on the sample as
    far as the data allow, so a linear ramp, a slow transit or a step in the
    flux is followed by the median and not flagged (a step closer than
    ``h`` to an exposure edge is the exception: the samples between the
    step and the edge are then in the minority of their window).  An
    exposure of at most ``h + 1`` integrations gets one median over all of
    it; use :func:`effective_window` for jwst's rule (one median whenever
    the exposure is not longer than the window).

    **Scale rule.**  ``"mad"`` uses the residuals of the sample's own
    moving-median window, so a transit or a drift does not inflate it, and
    a window ``scale_width`` wide, so that it is precise: the relative
    scatter of a MAD of ``N`` Gaussian samples is about ``1.17 / sqrt(N)``
    (23% for 25, 12% for 101), and an underestimated scale turns noise into
    false flags.  About one residual in ``window_width`` is exactly 0 (the
    sample that is its own window's median), which lowers the MAD by ~5%
    for ``window_width=25``; the measurements in ``benchmarks/TEMPORAL.md``
    include that effect.  The absolute residuals are rounded to float32
    before their median is taken (irrelevant for a scale, and 30% faster).

    **Cost.**  One 1-D running rank filter over the block (about 1 ms per
    416 x 72 integration, nearly independent of the window) plus, for
    ``scale="mad"``, the scale of the few samples whose flag it decides.
    For each pixel a level ``t`` below its typical absolute residual is
    chosen; integer counts over the scale windows show where the moving MAD
    is certainly at least ``t``, and there a sample with
    ``|r| <= outlier_threshold * 1.4826 * t`` cannot be flagged.  The MAD
    of every other valid sample (2.4% of them on
    :func:`xmiri.simulate.simulate` frames, 7.6% on the realistic benchmark
    frames, whose pixels repeat four MIRISim integrations) is computed
    exactly from its window, or, for a pixel where a tenth of the outputs
    or more are left, by a rank filter over its row, so the flags are those
    of the full computation (``return_scatter=True`` runs a second rank
    filter instead).  A window holding an even number of valid samples (at
    an exposure end, around invalid samples) gets the mean of its middle
    two from the same running median.

    References
    ----------
    .. [1] jwst ``outlier_detection`` step, TSO mode: a rolling median over
       ``rolling_window_width`` (25) integrations of each pixel, and pixels
       deviating from it by more than a multiple of their ``err`` flagged as
       OUTLIER; a plain median when the exposure is not longer than the
       window.  https://jwst-pipeline.readthedocs.io
    .. [2] exoTEDRF (Radica et al.): time-domain outlier rejection against a
       short (5-integration) median filter of each pixel, with a threshold
       of 10 robust standard deviations.
       https://github.com/radicamc/exoTEDRF
    .. [3] Eureka! (Bell et al. 2022, JOSS 7, 4503): Stage 3 optionally
       sigma-clips each pixel's time series (background region or full
       frame) iteratively about its median, warning that deep transits can
       be clipped.  https://github.com/kevin218/Eureka

    Examples
    --------
    One noisy pixel (sigma 0.1 DN/s) with a positive and a negative hit:

    >>> rng = np.random.default_rng(0)
    >>> data = 10.0 + 0.1 * rng.standard_normal((60, 1, 1))
    >>> data[7] += 2.0
    >>> data[30] -= 2.0
    >>> median, flagged, scatter = temporal_outliers(
    ...     data, window_width=25, scale_width=101, outlier_threshold=5.0, return_scatter=True)
    >>> np.flatnonzero(flagged).tolist()
    [7, 30]
    >>> round(float(median[7, 0, 0]), 2), round(float(scatter[7, 0, 0]), 2)
    (9.98, 0.08)
    >>> count_flagged(flagged)[5:9].tolist()
    [0, 0, 1, 0]
    """
    block = _Block(data, valid, err, window_width=window_width, scale=scale, scale_width=scale_width,
                   outlier_threshold=outlier_threshold, halo=halo)
    n_out, m = block.n_out, block.m
    median = np.empty((n_out, m))
    flagged = np.empty((n_out, m), bool)
    scatter = np.empty((n_out, m)) if return_scatter else None
    for p0, p1, med, hit, sigma in block.groups(return_scatter):
        median[:, p0:p1] = med.T
        flagged[:, p0:p1] = hit.T
        if return_scatter:
            scatter[:, p0:p1] = sigma.T
    shape = (n_out,) + block.shape[1:]
    if return_scatter:
        return median.reshape(shape), flagged.reshape(shape), scatter.reshape(shape)
    return median.reshape(shape), flagged.reshape(shape)


def _flags_and_medians(data, valid=None, err=None, *, window_width, scale="mad", scale_width,
                       outlier_threshold, halo=(0, 0)):
    """:func:`temporal_outliers`' flags, with its medians at the flagged samples only.

    Takes the arguments of :func:`temporal_outliers` (without
    `return_scatter`) and returns ``(flagged, median_at)``: `flagged` as
    there, and the float64 moving medians of the flagged samples, in the
    order of ``data[flagged]`` (what a replacement needs), bit for bit those
    of the full median array, which is never made.
    """
    block = _Block(data, valid, err, window_width=window_width, scale=scale, scale_width=scale_width,
                   outlier_threshold=outlier_threshold, halo=halo)
    n_out, m = block.n_out, block.m
    flagged = np.empty((n_out, m), bool)
    where, values = [], []
    for p0, p1, med, hit, _ in block.groups(False):
        flagged[:, p0:p1] = hit.T
        pixel, position = np.nonzero(hit)
        where.append(position * m + (p0 + pixel))
        values.append(med[pixel, position])
    where, values = np.concatenate(where or [[]]), np.concatenate(values or [[]])
    return flagged.reshape((n_out,) + block.shape[1:]), values[np.argsort(where, kind="stable")]


class _Block:
    """A checked block of :func:`temporal_outliers` and its per-group work.

    Validates the arguments (raising :class:`ParameterError` as documented
    there) and keeps the block flattened to ``(n, m)`` pixels;
    :meth:`groups` yields, for each group of pixels ``p0:p1``, the moving
    medians, flags and scatter of its output integrations, each
    ``(p1 - p0, n_out)`` (one pixel per row).
    """

    def __init__(self, data, valid, err, *, window_width, scale, scale_width, outlier_threshold,
                 halo):
        data = np.asarray(data)
        if data.ndim != 3:
            raise ParameterError(f"data must be 3-D (integration, row, col), got shape {data.shape}")
        if not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)):
            raise ParameterError(f"data must hold real numbers, got dtype {data.dtype}")
        self.scale = _check_scale(scale)
        self.half = _odd_width("window_width", window_width) // 2
        self.scale_half = _odd_width("scale_width", scale_width) // 2 if scale == "mad" else 0
        if not isinstance(outlier_threshold, numbers.Real) or isinstance(outlier_threshold,
                                                                         (bool, np.bool_)):
            raise ParameterError(f"outlier_threshold must be a number, got {outlier_threshold!r}")
        self.threshold = float(outlier_threshold)
        if not (np.isfinite(self.threshold) and self.threshold > 0):
            raise ParameterError(f"outlier_threshold must be finite and > 0, got {outlier_threshold!r}")
        n = data.shape[0]
        self.before, after = _check_halo(halo, n)
        if valid is not None:
            valid = np.asarray(valid)
            if valid.shape != data.shape:
                raise ParameterError(f"valid shape {valid.shape} differs from data shape {data.shape}")
        if scale == "err":
            if err is None:
                raise ParameterError('scale="err" needs the err array')
            err = np.asarray(err)
            if err.shape != data.shape:
                raise ParameterError(f"err shape {err.shape} differs from data shape {data.shape}")

        x = data if data.dtype == np.float32 else data.astype(np.float64, copy=False)
        self.shape, self.n, self.m = data.shape, n, int(np.prod(data.shape[1:]))
        self.x = x.reshape(n, self.m)
        self.ok = np.isfinite(self.x)
        if valid is not None:
            self.ok &= valid.reshape(n, self.m).astype(bool, copy=False)
        self.err = err.reshape(n, self.m) if scale == "err" else None
        self.stop = n - after
        self.n_out = self.stop - self.before
        # medians are needed wherever a residual is: at the outputs and, for
        # "mad", over the scale windows around them
        self.lo = max(self.before - self.scale_half, 0)
        self.hi = min(self.stop + self.scale_half, n)
        self.core = slice(self.before - self.lo, self.stop - self.lo)

    def groups(self, return_scatter):
        """Yield ``(p0, p1, median, flagged, scatter)`` per group of pixels (see the class)."""
        if self.n_out == 0:
            return
        before, stop, core, threshold = self.before, self.stop, self.core, self.threshold
        for p0, p1 in _groups(self.n, self.m):
            good = np.ascontiguousarray(self.ok[:, p0:p1].T)  # (g, n), one pixel per row
            series = np.ascontiguousarray(self.x[:, p0:p1].T)
            med = _series_medians(series, good, self.half, self.lo, self.hi)
            with np.errstate(invalid="ignore"):
                deviation = np.abs(series[:, self.lo:self.hi] - med)  # float64
            candidate = good[:, before:stop]
            if self.scale == "err":
                sigma = self.err[before:stop, p0:p1].T.astype(np.float64)
            else:
                absolute = deviation.astype(np.float32)
                usable = good[:, self.lo:self.hi] & ~np.isnan(absolute)
                if return_scatter:
                    sigma = _series_medians(absolute, usable, self.scale_half, core.start, core.stop)
                    sigma *= MAD_TO_SIGMA
                else:
                    candidate = _undecided(absolute, usable, deviation, candidate, self.scale_half,
                                           core, threshold)
                    sigma = _undecided_scale(absolute, usable, candidate, self.scale_half, core)
            with np.errstate(invalid="ignore"):
                hit = candidate & (deviation[:, core] > threshold * sigma)
            yield p0, p1, med[:, core], hit, sigma


def _undecided_scale(absolute, usable, candidate, half, core):
    """The moving MAD's sigma of the `candidate` samples, NaN elsewhere.

    absolute, usable : (g, L) as in :func:`_undecided`; candidate : (g,
    n_out) bool at positions `core` of the L residuals.  Returns (g, n_out)
    float64 ``1.4826 * median`` of the usable absolute residuals of each
    candidate's scale window.  Pixels holding many candidates (at least
    :data:`_DENSE_CANDIDATES` of their outputs) get the running median of
    their whole row, the others one window per candidate: the same values
    (both are the order statistics of the same float32 samples).
    """
    sigma = np.full(candidate.shape, np.nan)
    per_pixel = np.count_nonzero(candidate, axis=1)
    dense = per_pixel >= max(1, _DENSE_CANDIDATES * candidate.shape[1])
    if dense.any():
        sparse = candidate & ~dense[:, None]
        sigma[dense] = MAD_TO_SIGMA * _series_medians(absolute[dense], usable[dense], half,
                                                      core.start, core.stop)
    else:
        sparse = candidate
    rows, cols = np.nonzero(sparse)
    if rows.size:
        sigma[rows, cols] = MAD_TO_SIGMA * _window_medians_at(absolute, usable, half, rows,
                                                              cols + core.start)
    return sigma


def replace_outliers(data, median, flagged, replace="median"):
    """Replace the flagged samples of `data`.

    Parameters
    ----------
    data : array_like, shape (n, n_row, n_col)
        Rates in DN/s (the output part of the block, without halo).
    median : array_like, same shape
        Moving median from :func:`temporal_outliers`, DN/s.
    flagged : array_like of bool, same shape
        Outliers from :func:`temporal_outliers`.
    replace : {"median", "nan", None}, optional
        ``"median"`` puts the moving median in place of each outlier,
        ``"nan"`` sets it to NaN, ``None`` leaves the data as they are (flag
        only).  Default ``"median"``.

    Returns
    -------
    numpy.ndarray, same shape
        float64 copy of `data` with the outliers replaced.

    Raises
    ------
    ParameterError
        For an unknown `replace` or arrays of different shapes.

    Examples
    --------
    >>> replace_outliers([1.0, 9.0, 1.0], [1.0, 1.0, 1.0], [False, True, False]).tolist()
    [1.0, 1.0, 1.0]
    """
    if replace not in _REPLACE:
        raise ParameterError(f"replace must be one of {_REPLACE}, got {replace!r}")
    cleaned = np.array(data, dtype=np.float64)
    median = np.asarray(median)
    flagged = np.asarray(flagged, dtype=bool)
    if median.shape != cleaned.shape or flagged.shape != cleaned.shape:
        raise ParameterError(
            f"data {cleaned.shape}, median {median.shape} and flagged {flagged.shape} must have one shape"
        )
    if replace == "median":
        np.copyto(cleaned, median, where=flagged)
    elif replace == "nan":
        cleaned[flagged] = np.nan
    return cleaned


def count_flagged(flagged):
    """Number of flagged samples of each integration.

    Parameters
    ----------
    flagged : array_like of bool, shape (n, ...)
        Outliers from :func:`temporal_outliers`.

    Returns
    -------
    numpy.ndarray, shape (n,)
        int64 counts.

    Examples
    --------
    >>> count_flagged(np.eye(3, dtype=bool)[:, :, None]).tolist()
    [1, 1, 1]
    """
    flagged = np.asarray(flagged, dtype=bool)
    if flagged.ndim == 0:
        raise ParameterError("flagged must have at least one dimension (integration)")
    return flagged.reshape(flagged.shape[0], -1).sum(axis=1, dtype=np.int64)
