"""Map a kernel over dask blocks without :func:`dask.array.apply_gufunc`'s extra layers.

``xr.apply_ufunc(..., dask="parallelized")`` hands dask inputs to
:func:`dask.array.apply_gufunc`, which ends every output with
``transpose(list_of_axes)``.  dask's identity check compares that list with
a tuple, so even an identity permutation becomes a graph layer.  Once the
optimiser fuses it into the kernel it leaves an alias task per output chunk
(about a third of the tasks of the box chain), and a Dataset holding several
outputs of chained kernels then fails in ``dask.compute(ds)`` with "Missing
dependency ('transpose-...', 0)" (dask 2026.8, xarray 2026.9;
``ds.compute()`` is unaffected).

:func:`gufunc` does the same mapping with one :func:`dask.array.blockwise`
layer, plus one ``getitem`` layer per output when the kernel returns several.
It is called by ``xr.apply_ufunc(..., dask="allowed")``, so xarray still does
the alignment, broadcasting and dimension bookkeeping.

This is xmiri's one workaround for dask dropping the keys of a Dataset's
variable when ``dask.compute(ds)`` fuses it into the only other layer that
uses it; ``tests/test_dask_upstream.py`` reproduces that behaviour on
plain dask arrays and fails once dask no longer has it, and
``tests/test_blockwise.py`` checks ``dask.compute`` of every chain.
"""
import functools
import operator
import sys

import numpy as np

__all__ = ["gufunc"]


def _kernel_name(func):
    """The name of the kernel inside `func`'s partials."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", "kernel")


#: Whether this process's malloc was tuned as a dask worker's (:func:`_in_worker`).
_TUNED = [False]


def _whole(block):
    """The block of an input whose core dimensions are each one chunk.

    Blocks are mapped with ``concatenate=False``: where a core dimension is
    not in the output, dask hands over a list of that dimension's blocks
    (nested per dimension), here always of one block.  ``concatenate=True``
    would pass the same array through ``concatenate3``, which copies it
    (about 1.8 ms per 12 MB input, on every block of every step).  Arrays
    come as read-only views: a chunk is shared by every step that uses it,
    and a kernel must not write into its inputs.
    """
    while isinstance(block, list):
        (block,) = block
    if isinstance(block, np.ndarray):
        block = block.view()
        block.flags.writeable = False
    return block


def _in_worker(kernel, *args):
    """Run `kernel` on a block (each input as :func:`_whole` hands it over); first, in a
    dask.distributed worker, tune its malloc (once per process).

    A nanny-started worker inherits distributed's ``MALLOC_TRIM_THRESHOLD_``,
    which makes every chunk temporary a fresh mapping (:mod:`xmiri.parallel`):
    the steps apply :func:`xmiri.parallel.tune_malloc` on the workers their
    blocks run on, so an untuned cluster is as fast as one given
    ``tune_workers``.  Nothing happens outside a worker (the threaded
    scheduler, the user's process).
    """
    if not _TUNED[0]:
        dist = sys.modules.get("distributed")  # imported in every worker process
        if dist is not None:
            try:
                dist.get_worker()
            except ValueError:  # not in a worker
                pass
            else:
                from ..parallel import tune_malloc

                _TUNED[0] = True
                tune_malloc()
    return kernel(*map(_whole, args))


def _is_dask(x):
    return hasattr(x, "dask") and hasattr(x, "chunks")


def gufunc(func, *args, core, out_core, dtypes, sizes=None, allow_rechunk=False):
    """Apply `func` block by block over the loop (leading) axes of `args`.

    Parameters
    ----------
    func : callable
        Kernel taking numpy arrays shaped (loop..., core...) and returning one
        array, or a tuple of ``len(out_core)`` arrays, shaped (loop...,
        out_core...).
    *args : numpy.ndarray, dask.array.Array or scalar
        As ``xr.apply_ufunc`` passes them: loop axes first (numpy-style
        broadcasting from the right), then the axes named in `core`.
    core, out_core : list of list of str
        Core dimension names of each input and each output.
    dtypes : list of numpy.dtype
        dtype of each output.
    sizes : dict of str to int, optional
        Sizes of output core dimensions that no input has.
    allow_rechunk : bool, default False
        Merge chunked core dimensions into one chunk; otherwise a core
        dimension in several chunks raises ValueError (as apply_ufunc does).

    Returns
    -------
    numpy.ndarray or dask.array.Array, or a tuple of them
        One per output; plain numpy when no input is a dask array.
    """
    if not any(_is_dask(a) for a in args):
        return func(*args)
    import dask.array as da

    name = _kernel_name(func)
    func = functools.partial(_in_worker, func)  # layers keep the kernel's name (token below)
    sizes = dict(sizes or {})
    n_loop = max(np.ndim(a) - len(c) for a, c in zip(args, core))
    index = {}  # core dimension name -> blockwise index
    blockwise_args = []
    for a, dims in zip(args, core):
        if np.ndim(a) == 0 and not dims and not _is_dask(a):
            blockwise_args += [a, None]  # a plain scalar goes to every block as it is
            continue
        a = da.asarray(a)
        n = a.ndim - len(dims)
        for axis, dim in enumerate(dims, start=n):
            index.setdefault(dim, f"c{len(index)}")
            sizes.setdefault(dim, a.shape[axis])
            if len(a.chunks[axis]) > 1:
                if not allow_rechunk:
                    raise ValueError(f"core dimension {dim!r} of a {name} input is in "
                                     f"{len(a.chunks[axis])} chunks")
                a = a.rechunk({axis: -1})
        blockwise_args += [a, tuple(f"l{i}" for i in range(n_loop - n, n_loop))
                           + tuple(index[d] for d in dims)]
    loop = tuple(f"l{i}" for i in range(n_loop))
    if len(out_core) == 1:
        dims = out_core[0]
        return da.blockwise(func, loop + tuple(index.get(d, f"n_{d}") for d in dims), *blockwise_args,
                            token=name.strip("_"),
                            new_axes={f"n_{d}": sizes[d] for d in dims if d not in index},
                            concatenate=False, dtype=dtypes[0],
                            meta=np.empty((0,) * (n_loop + len(dims)), dtypes[0]))
    packed = da.blockwise(func, loop, *blockwise_args, concatenate=False, dtype=object,
                          token=name.strip("_"),
                          meta=np.empty((0,) * n_loop, object))
    outputs = []
    for i, (dims, dtype) in enumerate(zip(out_core, dtypes)):
        outputs.append(packed.map_blocks(
            operator.getitem, i, dtype=dtype, meta=np.empty((0,) * (n_loop + len(dims)), dtype),
            new_axis=list(range(n_loop, n_loop + len(dims))),
            chunks=packed.chunks + tuple((sizes[d],) for d in dims)))
    return tuple(outputs)
