"""Fewer tasks per chunk: dask's array optimisation, then cheap tasks inlined.

xmiri's kernels that return several outputs are one dask task per chunk,
followed by one ``getitem`` task per output that picks it out of the
returned tuple; dask's optimiser adds an alias task under the old key of
every chain it fuses.  Neither does any work, but on :mod:`dask.distributed`
each is scheduled, sent to a worker and reported like any other task.  In
the 2,000-integration box chain they were 118 of 358 tasks, and without
them 2 workers took 5 % less time (docs/scaling.rst).

:func:`optimize` runs :func:`dask.array.optimization.optimize` and then
puts those tasks inside the tasks that use them: an alias is replaced by
the key it points to, and a ``getitem`` of one input is computed inside its
consumer.  The results are the same objects: ``operator.getitem`` of a tuple
returns its element, an alias its target; a slice of an array is inlined
only into a single consumer, so nothing is sliced twice.

:func:`inlined_cheap_tasks` applies it on a :mod:`dask.distributed` client
only (:func:`xmiri.to_netcdf` uses it).  It relies on dask's task
specification (``dask._task_spec``, dask >= 2024.12).  With an older dask,
or a graph in another form, it returns dask's optimised graph unchanged.
"""
import contextlib
import logging
import operator
import sys

__all__ = ["optimize", "inlined_cheap_tasks", "on_distributed"]

log = logging.getLogger(__name__)


def optimize(dsk, keys, **kwargs):
    """Dask's array optimisation, then alias and ``getitem`` tasks inlined into their consumers.

    Use it for a compute of your own on a :mod:`dask.distributed` cluster
    with ``dask.config.set(array_optimize=xmiri.parallel.optimize)``;
    :func:`xmiri.to_netcdf` uses it itself there.  A consumer of one output
    of a kernel then holds the kernel's whole tuple of outputs, which stays
    in memory until the last of them is used: on the threaded scheduler
    that cost the full chain 30 MB and saved no time.

    Parameters
    ----------
    dsk : Mapping or dask.highlevelgraph.HighLevelGraph
        The graph of the arrays to compute.
    keys : list
        Their output keys (never inlined).
    **kwargs
        Passed on to :func:`dask.array.optimization.optimize`.

    Returns
    -------
    Mapping
        The optimised graph.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> x = da.ones((4, 3), chunks=(2, 3))
    >>> pair = x.map_blocks(lambda b: (b, 2 * b), dtype=object, meta=x._meta)
    >>> y = pair.map_blocks(operator.getitem, 1, dtype=x.dtype) + 1
    >>> with dask.config.set(array_optimize=optimize):
    ...     y.sum().compute()
    np.float64(36.0)
    """
    from dask.array.optimization import optimize as dask_optimize
    from dask.core import flatten

    dsk = dask_optimize(dsk, keys, **kwargs)
    try:
        from dask._task_spec import Alias, GraphNode, Task
        from dask.array.chunk import getitem as chunk_getitem
    except ImportError:  # dask < 2024.12
        return dsk
    if not all(isinstance(node, GraphNode) for node in dsk.values()):
        return dsk
    try:
        return _inline_cheap(dict(dsk), set(flatten(keys)), Alias, Task, chunk_getitem)
    except (AttributeError, TypeError) as err:  # a dask whose task objects differ
        log.debug("tasks not inlined (%s); dask's optimised graph is used as it is", err)
        return dsk


def _inline_cheap(dsk, outputs, Alias, Task, chunk_getitem):
    dependents = {}
    for key, node in dsk.items():
        for dep in node.dependencies:
            dependents.setdefault(dep, set()).add(key)

    def cheap(key, node):
        users = dependents.get(key)
        if key in outputs or not users:
            return False
        if isinstance(node, Alias):
            return True
        if not isinstance(node, Task) or len(node.dependencies) != 1:
            return False
        # a tuple element is free to pick; a slice is inlined only where it runs once
        return node.func is operator.getitem or (node.func is chunk_getitem and len(users) == 1)

    inlined = {key for key, node in dsk.items() if cheap(key, node)}
    resolved = {}

    def resolve(key):
        # what a reference to the cheap task `key` becomes: a key or a nested task
        if key not in resolved:
            node = dsk[key]
            if isinstance(node, Alias):
                target = node.target
                resolved[key] = resolve(target) if target in inlined else target
            else:
                resolved[key] = node.substitute(
                    {d: resolve(d) for d in node.dependencies if d in inlined})
        return resolved[key]

    out = {}
    for key, node in dsk.items():
        if key in inlined:
            continue
        subs = {d: resolve(d) for d in node.dependencies if d in inlined}
        out[key] = node.substitute(subs) if subs else node
    return out


def on_distributed():
    """Whether dask computes on a :mod:`dask.distributed` client now (without importing distributed)."""
    if "distributed" not in sys.modules:
        return False
    from dask.base import get_scheduler
    from distributed import Client

    return isinstance(getattr(get_scheduler(), "__self__", None), Client)


@contextlib.contextmanager
def inlined_cheap_tasks():
    """Context in which dask arrays are optimised with :func:`optimize`, on a dask.distributed client only.

    On the threaded scheduler the graph stays as dask makes it: there
    inlining saved no measurable time and cost the full chain on 4,000
    integrations 30 MB (a kernel's tuple of outputs stays in memory until
    the last consumer of any of them has run).
    """
    if not on_distributed():
        yield
        return
    import dask

    with dask.config.set(array_optimize=optimize):
        yield
