"""What every step shares: argument checks, mapping a kernel over chunks, history."""
import functools
import warnings

import numpy as np
import xarray as xr

from ..kernels import _validate as v
from .._version import __version__
from ..exceptions import XmiriFutureWarning
from ._blockwise import gufunc

__all__ = ["IMAGE", "prepare", "apply", "combine", "call_repr", "with_history", "renamed",
           "sample_index", "over_sample", "sample_reduction", "exposure_q"]

#: The core dimensions of a frame.
IMAGE = ["row", "col"]


def call_repr(name, **kwargs):
    """``name(k=v, ...)`` as written in the history attribute; arrays by their shape only.

    Examples
    --------
    >>> call_repr("extract", method="optimal", readnoise=np.ones((416, 72)))
    "extract(method='optimal', readnoise=<array (416, 72)>)"
    """
    def short(val):
        return f"<array {tuple(np.shape(val))}>" if hasattr(val, "shape") and np.ndim(val) else repr(val)

    args = ", ".join(f"{k}={short(val)}" for k, val in kwargs.items())
    return f"{name}({args})"


def with_history(ds, line):
    """Append ``xmiri <version>: line`` to ``ds.attrs["history"]`` (in place; returns ds)."""
    history = ds.attrs.get("history", "")
    ds.attrs["history"] = (history + "\n" if history else "") + f"xmiri {__version__}: {line}"
    return ds


def prepare(ds, names, step):
    """Check the variables a step needs; make row/col single chunks."""
    v.require(ds, names, step)
    if "integration" not in ds.dims:
        raise v.ParameterError(f"{step} needs an 'integration' dimension; the Dataset has dims "
                               f"{dict(ds.sizes)}")
    try:
        chunks = ds.chunks
    except ValueError:  # variables chunked differently, e.g. a netCDF file opened with chunks={}
        ds = ds.unify_chunks()
        chunks = ds.chunks
    if chunks:
        unchunk = {d: -1 for d in ("row", "col") if d in chunks and len(chunks[d]) > 1}
        if unchunk:
            ds = ds.chunk(unchunk)
    return ds


def _ufunc(func, args, kwargs, core, out_core, dtypes, sizes=None, allow_rechunk=False):
    kernel = functools.partial(func, **kwargs) if kwargs else func
    return xr.apply_ufunc(
        functools.partial(gufunc, kernel, core=core, out_core=out_core, dtypes=dtypes, sizes=sizes,
                          allow_rechunk=allow_rechunk),
        *args,
        input_core_dims=core,
        output_core_dims=out_core,
        dask="allowed",
        keep_attrs=False,
    )


def apply(func, *args, core, out_core, dtypes, sizes=None, **kwargs):
    """Map the block function `func` over integration chunks.

    `kwargs` are bound with :func:`functools.partial`, which pickles for
    dask.distributed.  Attributes are not kept (the step sets its own).
    One blockwise layer per call (:mod:`xmiri.steps._blockwise`).
    """
    return _ufunc(func, args, kwargs, core, out_core, dtypes, sizes)


def combine(func, *args, core, out_core, dtypes, sizes=None, **kwargs):
    """Apply a kernel that needs every integration at once (an exposure-wide reduction).

    The ``integration`` dimension is among `core` and is gathered into one
    chunk before `func` runs; the result has no ``integration`` dimension
    unless `out_core` names it (one chunk).  The inputs must be small
    (per-integration spectra or profiles, not frames).
    """
    return _ufunc(func, args, kwargs, core, out_core, dtypes, sizes, allow_rechunk=True)


def sample_index(n, cap=None):
    """The integrations a median over the exposure uses: the first ``cap``, or ``cap`` spread.

    All ``n`` (a slice) when ``n <= cap`` (``cap``:
    :data:`xmiri.defaults.EXPOSURE_SAMPLE`, 512).  Else, with
    :data:`xmiri.defaults.EXPOSURE_SAMPLING` ``= "first"`` (default), the
    first ``cap`` as a slice: the sample is known after the first chunks and
    the rest of the exposure streams through in bounded memory.  With
    ``"spread"``, ``cap`` indices spread evenly from the first integration to
    the last (``np.linspace`` rounded, a sorted integer array: one dask
    ``take`` per chunk, each reading that chunk only), so that a settling
    ramp weighs in proportion to its length; but the sample is then known
    only when the last chunk has been read: where :func:`over_sample` cannot
    compute it apart, dask holds every chunk the later steps still need until
    then (memory grows with the exposure), and where it can, the upstream
    work of every chunk is done twice.
    The choice depends on ``n`` only, not on the chunks, so results are the
    same for any chunking.

    Examples
    --------
    >>> sample_index(5, cap=16)
    slice(0, 5, None)
    >>> sample_index(10, cap=4)
    slice(0, 4, None)
    """
    from .. import defaults as d
    from ..exceptions import ParameterError

    cap = d.EXPOSURE_SAMPLE if cap is None else cap
    if n <= cap:
        return slice(0, n)
    mode = d.EXPOSURE_SAMPLING
    if mode == "first":
        return slice(0, cap)
    if mode != "spread":
        raise ParameterError(
            f"xmiri.defaults.EXPOSURE_SAMPLING must be 'spread' or 'first', got {mode!r}")
    return np.unique(np.round(np.linspace(0, n - 1, cap)).astype(np.intp))


def over_sample(build, *arrays, cap=None):
    """``build(*sample)``: an exposure-wide product of each array's integrations of
    :func:`sample_index`, computed apart from the exposure's pass.

    The arrays' dask data are cloned (:func:`dask.graph_manipulation.clone`:
    the same tasks under new keys, back to the files) before they are sliced.
    A median over the first integrations then no longer makes dask hold every
    plane of those integrations that the exposure's own pass needs (read,
    cleaned, the sky) until the median exists: the sample's chunks are
    computed twice and dropped as soon as the median has used them
    (benchmarks/RESULTS.md measures the memory and the cost).  Only for
    exposures longer than :data:`xmiri.defaults.EXPOSURE_SAMPLE_APART` (2)
    samples, so that the work done twice is at most half the exposure's: a
    shorter exposure holds its sample (at most that many integrations).  Where dask
    cannot run the cloned graph (dask/dask#12455: a clone of some graphs,
    e.g. from :func:`dask.array.from_delayed`, fails when optimised), `build`
    is given the arrays as they are, with the same values.  Arrays without
    dask chunks are sliced as they are.

    Parameters
    ----------
    build : callable
        Takes the sampled arrays (xarray.DataArray, in the order given) and
        returns a DataArray or a tuple of them (lazy).
    *arrays : xarray.DataArray
        Arrays with an ``integration`` dimension of the same length.
    cap : int, optional
        Largest sample (default :data:`xmiri.defaults.EXPOSURE_SAMPLE`).
    """
    import dask
    from dask.graph_manipulation import clone

    from .. import defaults as d

    n = arrays[0].sizes["integration"]
    index = sample_index(n, cap)
    cap = d.EXPOSURE_SAMPLE if cap is None else cap
    if all(a.chunks is None for a in arrays) or n <= d.EXPOSURE_SAMPLE_APART * cap:
        return build(*(a.isel(integration=index) for a in arrays))
    # Only the data are cloned: coordinates under new keys would be compared, i.e. computed,
    # when xarray merges them with the originals.  The whole arrays are cloned, then sliced
    # (a clone of dask's slicing layer meets dask/dask#12455 at once).
    data = clone(*[a.data for a in arrays], seed="xmiri-exposure-sample")
    data = data if len(arrays) > 1 else (data,)  # clone returns one collection as it is
    result = build(*(a.copy(deep=False, data=x).isel(integration=index)
                     for a, x in zip(arrays, data)))
    try:  # optimising the product's graph (the sample's chunks only) meets dask/dask#12455
        dask.optimize(*[r.data for r in (result if isinstance(result, tuple) else (result,))])
    except ValueError:
        return build(*(a.isel(integration=index) for a in arrays))
    return result


def _by_rows(values, *, reduce):
    """`reduce` of a slab shaped (row, integration, ...), as :func:`sample_reduction` hands it."""
    return reduce(np.moveaxis(values, 0, 1))


def sample_reduction(values, reduce=None):
    """`reduce` over the ``integration`` axis of an exposure sample, in slabs of rows.

    `values` has dimensions ``(integration, row, ...)``; `reduce` maps a numpy
    array shaped like it to one without the ``integration`` axis, row by row
    (each row's result depends on that row only); by default the median over
    integrations, NaN ignored (:func:`xmiri.kernels.background.nanmedian`).
    The sample is rechunked into slabs of rows of about
    :data:`xmiri.defaults.CHUNK_TARGET_BYTES` (as float64), so that no task
    holds a second copy of the whole sample; the result is one chunk.
    """
    from .. import defaults as d
    from ..kernels.background import nanmedian

    reduce = functools.partial(nanmedian, axis=0) if reduce is None else reduce
    rest = [dim for dim in values.dims if dim not in ("integration", "row")]
    per_row = 8 * values.sizes["integration"] * int(np.prod([values.sizes[dim] for dim in rest]))
    slab = max(1, d.CHUNK_TARGET_BYTES // max(1, per_row))
    if values.chunks is not None:  # the data only: coordinates on `row` stay numpy
        values = values.copy(deep=False, data=values.data.rechunk({values.get_axis_num("row"): slab}))
    result = combine(_by_rows, values, core=[["integration", *rest]], out_core=[rest],
                     dtypes=[np.float64], reduce=reduce)
    if result.chunks is None:
        return result
    return result.copy(deep=False, data=result.data.rechunk({result.get_axis_num("row"): -1}))


def scalar(value):
    """A (lazily computed) exposure-wide number, as apply_ufunc hands it to a block."""
    return float(np.asarray(value).ravel()[0])


def report_optimal(flux, profile_sum, has_aperture):
    """Count NaN optimal fluxes by cause: a profile that is 0 in the whole aperture, or NaN data."""
    from ._diagnostics import report

    bad = ~np.isfinite(flux) & has_aperture
    zero = np.broadcast_to(profile_sum == 0, flux.shape)
    total = int(np.broadcast_to(has_aperture, flux.shape).sum())
    report("extract", "flux", np.count_nonzero(bad & zero), total,
           "the spatial profile is 0 throughout the aperture: rows without starlight")
    report("extract", "flux", np.count_nonzero(bad & ~zero), total,
           "NaN data or errors inside the aperture")


def _q_block(rate, var_poisson, var_rnoise, dq, *, bad_mask):
    from .. import defaults as d
    from ..kernels import noise

    bad = (np.asarray(dq) & np.uint32(bad_mask)) != 0  # exposure_q passes zeros when dq is absent
    return np.asarray(noise.estimate_q(rate, var_poisson, var_rnoise, bad, snr=d.Q_SNR))


def exposure_q(ds):
    """Horne's Q of the exposure (electrons per DN/s), lazily, or None without the variances.

    :func:`xmiri.kernels.noise.estimate_q` over the first
    :data:`xmiri.defaults.Q_SAMPLE` integrations (:func:`over_sample`): the median of
    ``rate / var_poisson`` over bright pixels without a DO_NOT_USE,
    SATURATED, HOT, NON_SCIENCE, REFERENCE_PIXEL or UNRELIABLE_* flag, with
    ``rate`` the count rate before any sky subtraction (``data`` plus the
    Dataset's ``background``).
    """
    from .. import defaults as d
    from ..dq import dq_mask

    if "var_poisson" not in ds.variables or "var_rnoise" not in ds.variables:
        return None
    rate = ds["data"] + ds["background"] if "background" in ds.variables else ds["data"]
    bad = dq_mask(["DO_NOT_USE", "SATURATED", "HOT", "NON_SCIENCE", "REFERENCE_PIXEL",
                   "UNRELIABLE_BIAS", "UNRELIABLE_DARK", "UNRELIABLE_SLOPE", "UNRELIABLE_FLAT"])
    dq = ds["dq"] if "dq" in ds.variables else xr.zeros_like(ds["data"], np.uint32)
    frame = [["integration", *IMAGE]]

    def build(*planes):
        return combine(_q_block, *planes, core=frame * 4, out_core=[[]], dtypes=[np.float64],
                       bad_mask=bad)

    q = over_sample(build, rate, ds["var_poisson"], ds["var_rnoise"], dq, cap=d.Q_SAMPLE)
    return q.assign_attrs(long_name="Horne's Q: detected electrons per DN/s, median rate / var_poisson",
                          units="electron s / DN")


def renamed(kwargs, old, new, value, default, step):
    """Resolve a keyword renamed from `old` to `new`; `old` works with a FutureWarning.

    `kwargs` holds the caller's extra keywords; `value` is what was passed as
    `new` (`default` if not given).  Returns the value to use.
    """
    if old not in kwargs:
        return value
    old_value = kwargs.pop(old)
    if value is not default and value != default:
        raise v.ParameterError(f"{step}: give {new}= or its old name {old}=, not both")
    warnings.warn(XmiriFutureWarning(
        f"{step}: {old}= is renamed {new}=; {old}= will stop working in the next release",
        old=old, new=new), stacklevel=4)
    return old_value


def refuse_unknown(kwargs, step):
    """Raise the TypeError Python gives for an unexpected keyword, if any is left."""
    if kwargs:
        name = next(iter(kwargs))
        raise TypeError(f"{step}() got an unexpected keyword argument {name!r}")
