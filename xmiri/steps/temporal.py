"""``clean_temporal``: outliers along time, against each pixel's moving median."""
import functools

import numpy as np

from ..kernels import _validate as v
from .. import defaults as d
from .. import dq as _dq
from ..kernels import temporal as _temporal
from ._common import call_repr, prepare, with_history

__all__ = ["clean_temporal"]

#: Default DQ bits excluded from the medians: 0 DO_NOT_USE, 11 HOT (``clean``'s
#: choice in xmiri 0.1, with which benchmarks/TEMPORAL.md measured this step;
#: ``clean`` now also masks the UNRELIABLE_* bits 22-25).
DQ_BITS_TO_MASK = (0, 11)
#: Default window of the moving median, integrations (jwst's rolling_window_width).
WINDOW_WIDTH = 25
#: Default threshold, in units of the robust scatter.
OUTLIER_THRESHOLD = 5.0
#: Working blocks along ``integration`` are at least this many halo depths long
#: (consecutive input chunks are merged until they are): a block of ``c``
#: integrations costs the kernel ``c + 2 * depth``, at most twice its output
#: for blocks of ``2 * depth`` (124 integrations for the defaults; default
#: chunks of 70 are merged in pairs).  Longer blocks cost less CPU but more
#: memory: in the chain of ``benchmarks/TEMPORAL.md`` blocks of ``4 * depth``
#: took 5-12% less CPU time and 30% more peak memory, above 1 GB.
MIN_BLOCK_DEPTHS = 2

#: Samples (integrations x pixels) of one call of the kernel inside a block.
_SLAB_SAMPLES = 1 << 20
_DIMS = ("integration", "row", "col")
_SCALES = ("mad", "err")
_REPLACE = ("median", "nan", None)


def _odd(name, value):
    value = v.integer(name, value, minimum=1)
    if value % 2 == 0:
        raise v.ParameterError(
            f"{name} must be odd (a centred window of 2h + 1 integrations), got {value}")
    return value


def _working_chunks(chunks, minimum):
    """Merge consecutive `chunks` until each is at least `minimum` long (a short tail joins the last).

    The boundaries kept are a subset of the input's, so every input chunk lies
    inside one working chunk.

    Examples
    --------
    >>> _working_chunks((70, 70, 70, 70, 70, 20), 120)
    (140, 230)
    >>> _working_chunks((10, 10), 62)
    (20,)
    """
    out, run = [], 0
    for size in chunks:
        run += size
        if run >= minimum:
            out.append(run)
            run = 0
    if run:
        if out:
            out[-1] += run
        else:
            out.append(run)
    return tuple(out)


def _block(data, valid, err=None, *, depth, window_width, scale, scale_width, threshold, replace,
           block_info=None):
    """One block (with halos) in, its core out: cleaned data and flags as one record array.

    Runs the kernel of :func:`xmiri.kernels.temporal.temporal_outliers`
    once on every pixel of the block, a slab of rows at a time (pixels are
    independent, so the slabs change nothing but the size of the
    temporaries), asking only for the flags and the medians of the flagged
    samples (no float64 median of the whole block).  The halo is ``depth``
    on each side that is not an exposure end (dask's ``block_info``; none
    when called without it, on the whole exposure).  Returns a ``(n_core, n_row, n_col)`` record array with
    fields ``data`` (the dtype of `data`, outliers replaced) and ``flag``
    (bool).
    """
    halo = (0, 0)
    if block_info is not None:
        where, count = block_info[0]["chunk-location"][0], block_info[0]["num-chunks"][0]
        halo = (0 if where == 0 else depth, 0 if where == count - 1 else depth)
    n, n_row, n_col = data.shape
    core = slice(halo[0], n - halo[1])
    out = np.empty((n - halo[0] - halo[1], n_row, n_col), _record(data.dtype))
    cleaned, flags = out["data"], out["flag"]
    cleaned[...] = data[core]
    step = max(1, _SLAB_SAMPLES // max(n * n_col, 1))
    for r0 in range(0, n_row, step):
        rows = slice(r0, r0 + step)
        flagged, median = _temporal._flags_and_medians(
            data[:, rows], valid[:, rows], None if err is None else err[:, rows],
            window_width=window_width, scale=scale, scale_width=scale_width,
            outlier_threshold=threshold, halo=halo)
        flags[:, rows] = flagged
        if replace is not None and flagged.any():
            # only the flagged samples go through the (float64) replacement
            part = cleaned[:, rows]
            part[flagged] = _temporal.replace_outliers(
                part[flagged], median, np.ones(median.size, bool), replace)
    return out


def _is_read(array):
    """Whether dask `array` is only its chunks read from a source (each chunk one task of a from_array).

    Every layer of its graph but its own must be one task without dependencies
    (the array object :func:`dask.array.from_array` wraps, e.g. a file).
    """
    graph = array.dask
    return all(name == array.name or (len(layer) == 1 and not graph.dependencies[name])
               for name, layer in graph.layers.items())


def _mask_source(dq):
    """`dq` to derive the valid-sample mask from: read a second time when it is a file's.

    The mask of a working block is needed a halo ahead of the block, but the
    new ``dq`` (the OUTLIER bit OR-ed in) only once the block's flags exist:
    with one read, dask held every ``dq`` chunk in between (11-14 chunks,
    ~100 MB in the temporal chain of ``benchmarks/bench.py``).  When `dq` is
    only read from its source (:func:`_is_read`), the mask gets its own read
    (:func:`dask.graph_manipulation.clone`: the same tasks under new keys),
    so each of the two reads is dropped as soon as it is used; a computed
    `dq` (which a clone would compute twice) and numpy `dq` are used as they
    are.  The values are the same either way.
    """
    if not hasattr(dq, "dask") or not _is_read(dq):
        return dq
    from dask.graph_manipulation import clone

    return clone(dq, seed="xmiri-temporal-valid")


def _record(dtype):
    return np.dtype([("data", dtype), ("flag", np.bool_)])


def _data_of(result):
    """The cleaned data of a block's record array, contiguous."""
    return np.ascontiguousarray(result["data"])


def _dq_of(result, dq, *, outlier):
    """`dq` with the `outlier` bit (JWST OUTLIER) OR-ed in where the record array flags a sample."""
    return dq | (result["flag"] * np.asarray(outlier, dq.dtype))


def _count_of(result):
    """Flagged samples of each integration of a block's record array, int32."""
    return _temporal.count_flagged(result["flag"]).astype(np.int32)


def clean_temporal(ds, window_width=WINDOW_WIDTH, outlier_threshold=OUTLIER_THRESHOLD, scale="mad",
                   replace="median", dq_bits_to_mask=DQ_BITS_TO_MASK,
                   scale_width=d.TEMPORAL_SCALE_WIDTH):
    """Flag and replace outliers along time: each pixel against its moving median.

    For every pixel, a centred moving median over ``window_width``
    integrations of the exposure is compared with each sample; a sample is
    an outlier when ``|data - median| > outlier_threshold * s``, positive and
    negative alike, ``s`` being a robust scatter of the pixel's residuals
    (``scale="mad"``) or the sample's ``err`` (``scale="err"``).  Outliers
    get the OUTLIER bit (2**4) in ``dq`` and are replaced per `replace`.
    The numerics are :func:`xmiri.kernels.temporal.temporal_outliers`; the
    measurements behind the defaults are in ``benchmarks/TEMPORAL.md``.

    Parameters
    ----------
    ds : xarray.Dataset
        Frames with ``data`` (DN/s) and ``dq`` (and ``err`` for
        ``scale="err"``), dims ``(integration, row, col)``.
    window_width : int, default 25
        Odd width of the moving-median window, in integrations (jwst's
        ``rolling_window_width``).  Windows are centred and clipped at the
        ends of the exposure; an exposure not longer than the window gets one
        median over all of it.
    outlier_threshold : float, default 5.0
        Threshold on ``|data - median|``, in units of ``s``; finite and > 0.
    scale : {"mad", "err"}, default "mad"
        The scatter ``s``: ``"mad"``, 1.4826 times the moving median absolute
        residual of the pixel over ``scale_width`` integrations, or ``"err"``,
        the sample's ``err`` (jwst's convention, which needs ``err``).
    replace : {"median", "nan", None}, default "median"
        What becomes of an outlier's ``data``: the moving median (DN/s),
        NaN, or nothing (flag only: ``None``, or ``"none"`` in a TOML file).
    dq_bits_to_mask : sequence of int or str, default (0, 11)
        DQ bit indices (0 = DO_NOT_USE, 11 = HOT, ...) or JWST flag names of
        samples left out of every median and never flagged; ``[]`` masks
        none.
    scale_width : int, default 101
        Odd width, in integrations, of the moving window of the MAD
        (``scale="mad"`` only).

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with ``data`` (same dtype) where outliers are
        replaced; ``dq`` with the OUTLIER bit (2**4) OR-ed in at every
        outlier (also with ``replace=None``); a new ``n_temporal_outliers``
        (integration) int32, the number of outliers in each integration.
        Other variables, coordinates and attributes are kept, and ``data``,
        ``dq`` and ``n_temporal_outliers`` keep the input's chunks.

    Raises
    ------
    xmiri.ParameterError
        On an invalid argument (an even or non-positive width, a threshold
        <= 0, an unknown `scale` or `replace`, an unknown DQ bit), before
        any work.
    xmiri.MissingVariableError
        If ``data`` or ``dq`` is missing, or ``err`` with ``scale="err"``.

    See Also
    --------
    clean : Spatial outliers, flagged pixels and the spatial profile; run it
        after this step.  With its default ``dq_bits_to_mask`` it keeps the
        moving medians put in by this step; with bit 4 (OUTLIER) added,
        ``[0, 4, 11, 22, 23, 24, 25]``, it replaces them by its spatial fits.

    Notes
    -----
    **Windows.**  Position ``i`` gets the median of its pixel's valid
    samples in ``[i - h, i + h]``, ``h = window_width // 2``, clipped to the
    exposure (never wrapped): 13 samples at the first integration for the
    default.  A slow transit, a ramp or a step is followed by the median and
    not flagged, except a step closer than ``h`` to an end of the exposure.
    When the exposure has no more integrations than ``window_width``, one
    median over the whole exposure is used, as jwst does
    (:func:`xmiri.kernels.temporal.effective_window`).

    **Compared with clean.**  On a simulated exposure (1,000 integrations,
    20 hits of 5-100 ``err`` per integration, ``benchmarks/TEMPORAL.md``)
    this step finds 100% of the hits of 8 ``err`` or more and 84% of those
    of 5-8, where ``clean`` finds 91-96% and 63%, with 3.2e-5 false flags
    (``clean``: 8e-6).  Its replacements are closer to the truth (rms 0.27
    ``err``, against 0.52 for ``clean``'s fits), and after
    ``clean_temporal()`` then ``clean()`` no box-extracted flux is more than
    3 sigma off the hit-free result (``clean`` alone: 2.6e-4 of them, up to
    22 sigma).  Letting ``clean`` refit the flagged samples
    (``dq_bits_to_mask=[0, 4, 11]``) is worse: rms 0.97 ``err``, 7.4e-5 of
    the fluxes beyond 3 sigma.  The price: FITS to box spectra of 16,000
    realistic integrations takes about 2.3 times as long on 2 cores (245-271
    against 513-604 integrations/s) and 1.6 times the memory (832-920 against
    510-545 MB; ``benchmarks/RESULTS.md``).

    **Scale.**  ``"mad"`` needs no trust in ``err`` and includes pointing
    jitter; its window of 101 integrations makes it precise (12.5% scatter,
    where 25 integrations give 24% and 5e-4 false flags): on simulated data
    with hits of 6-30 sigma it finds 99.1% of them (100% of those >= 8
    sigma) with 3.5e-5 false flags.  ``"err"`` does as well when ``err`` is
    exact and jitter small, but flags 1.8e-4 of the samples at 0.1 pixel of
    jitter, which ``err`` knows nothing of.  The MAD is 4% below sigma (one
    residual in 25 is 0), so the effective threshold is ~4.8 sigma.

    **Masked samples.**  Non-finite samples and samples carrying a bit of
    `dq_bits_to_mask` are left out of every median and never flagged; a
    pixel with no valid sample in a window gets no median there and is not
    flagged (no warning: its DQ already says why).  JUMP_DET (bit 2) is not
    masked by default: ramp fitting has already dealt with the jumps, and
    in exposures where many samples carry it masking it would make the
    medians several times slower (docs/clean_temporal.rst).

    **Chunks.**  The kernel runs once per block of integrations with
    :func:`dask.array.map_overlap` and a halo of
    :func:`xmiri.kernels.temporal.halo_depth` integrations (62 for the
    defaults) on each side that is not an end of the exposure, so results
    are bit-identical for any chunking, segment split or scheduler.  Input
    chunks shorter than ``2 * depth`` are merged with their neighbours for
    this step (so that the halos at most double the kernel's work); the
    outputs keep the input's chunks.  Memory is bounded by a few working
    blocks and their halos, whatever the length of the exposure.

    **Other pipelines.**  jwst's ``outlier_detection`` (TSO mode): a
    rolling median over ``rolling_window_width`` = 25 integrations and a
    threshold of 5 times ``err`` (``scale="err", outlier_threshold=5``
    here).  exoTEDRF: a median filter of 5 integrations and 10 robust
    standard deviations.  Eureka!: iterative sigma-clipping of each pixel's
    time series about its median (not a moving one), which can clip a deep
    transit; a moving median cannot.

    References
    ----------
    .. [1] jwst ``outlier_detection`` step, TSO mode.
       https://jwst-pipeline.readthedocs.io
    .. [2] Radica, M. et al., exoTEDRF. https://github.com/radicamc/exoTEDRF
    .. [3] Bell, T. J. et al. 2022, JOSS, 7, 4503 (Eureka!).

    Examples
    --------
    >>> import xmiri
    >>> ds, truth = xmiri.simulate.simulate(40, seed=2, n_cosmic_rays=1)
    >>> out = ds.lrs.clean_temporal()
    >>> hit = truth.hit_snr.argmax("hit").item()
    >>> where = dict(integration=truth.hit_integration[hit].item(),
    ...              row=truth.hit_row[hit].item(), col=truth.hit_col[hit].item())
    >>> bool(out.dq.sel(where) & 16), out.n_temporal_outliers.sel(integration=where["integration"]).item() >= 1
    (True, True)
    >>> ds.data.sel(where).item() > out.data.sel(where).item()   # replaced by the moving median
    True

    The chain: temporal outliers first, then ``clean`` for the pipeline's
    bad pixels and the spatial outliers (adding bit 4, OUTLIER, to its
    ``dq_bits_to_mask`` would make it refit the samples flagged here as well):

    >>> spec = ds.lrs.clean_temporal().lrs.clean().lrs.subtract().lrs.extract()
    >>> spec.flux.dims
    ('integration', 'row')
    """
    window = _odd("window_width", window_width)
    threshold = v.positive_number("outlier_threshold", outlier_threshold)
    scale = v.choice("scale", scale, _SCALES)
    if isinstance(replace, str) and replace.lower() == "none":
        replace = None
    replace = v.choice("replace", replace, _REPLACE)
    mask = _dq.dq_mask(dq_bits_to_mask)
    scale_width = _odd("scale_width", scale_width)
    names = ["data", "dq"] + (["err"] if scale == "err" else [])
    ds = prepare(ds, names, "clean_temporal")
    for name in names:
        if set(ds[name].dims) != set(_DIMS):
            raise v.ParameterError(f"clean_temporal needs {name} on dims {_DIMS}, got "
                                   f"{ds[name].dims}")

    n = ds.sizes["integration"]
    width = _temporal.effective_window(n, window)
    depth = _temporal.halo_depth(width, scale, scale_width)
    data_var, dq_var = ds["data"].transpose(*_DIMS), ds["dq"].transpose(*_DIMS)
    data, dq = data_var.data, dq_var.data
    if not np.issubdtype(data.dtype, np.floating):
        raise v.ParameterError(f"clean_temporal needs floating-point data, got {data.dtype}")
    arrays = [data, (_mask_source(dq) & np.array(mask, np.int64).astype(dq.dtype)) == 0]
    if scale == "err":
        arrays.append(ds["err"].transpose(*_DIMS).data)
    block = functools.partial(_block, depth=depth, window_width=width, scale=scale,
                              scale_width=scale_width, threshold=threshold, replace=replace)
    record = _record(data.dtype)

    lazy = any(hasattr(a, "dask") for a in arrays)
    if lazy:
        import dask.array as da

        chunks = next(a.chunks[0] for a in arrays if hasattr(a, "dask"))
        work = _working_chunks(chunks, max(depth, MIN_BLOCK_DEPTHS * depth, 1))
        arrays = [da.asarray(a).rechunk((work, -1, -1)) for a in arrays]
        out_chunks = (work,) + arrays[0].chunks[1:]
        meta = np.empty((0, 0, 0), record)
        if len(work) == 1:
            result = da.map_blocks(block, *arrays, chunks=out_chunks, dtype=record, meta=meta)
        else:
            result = da.map_overlap(block, *arrays, depth={0: depth, 1: 0, 2: 0},
                                    boundary="none", trim=False, chunks=out_chunks,
                                    dtype=record, meta=meta)
        if work != chunks:
            result = result.rechunk((chunks, -1, -1))
        dq = da.asarray(dq).rechunk((chunks, -1, -1))
        cleaned = da.map_blocks(_data_of, result, dtype=data.dtype,
                                meta=np.empty((0, 0, 0), data.dtype))
        new_dq = da.map_blocks(_dq_of, result, dq, outlier=_dq.OUTLIER, dtype=dq.dtype,
                               meta=np.empty((0, 0, 0), dq.dtype))
        counts = da.map_blocks(_count_of, result, drop_axis=[1, 2], dtype=np.int32,
                               meta=np.empty((0,), np.int32))
    else:
        result = block(*(np.asarray(a) for a in arrays))
        cleaned, counts = _data_of(result), _count_of(result)
        new_dq = _dq_of(result, np.asarray(dq), outlier=_dq.OUTLIER)

    out = ds.copy()
    out["data"] = data_var.copy(data=cleaned)
    out["dq"] = dq_var.copy(data=new_dq)
    out["n_temporal_outliers"] = (("integration",), counts, {
        "long_name": "samples flagged by clean_temporal", "units": "1",
        "description": f"outliers along time in each integration (moving median over {width} "
                       f"integrations, threshold {threshold} x {scale})"})
    return with_history(out, call_repr(
        "clean_temporal", window_width=window, outlier_threshold=threshold, scale=scale,
        replace=replace, dq_bits_to_mask=list(np.atleast_1d(dq_bits_to_mask).tolist())
        if dq_bits_to_mask is not None else [], scale_width=scale_width))
