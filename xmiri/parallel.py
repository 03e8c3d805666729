"""Running xmiri on :mod:`dask.distributed` workers.

A worker process started by a dask *nanny* (every ``LocalCluster`` with
processes, ``dask worker``, dask-jobqueue) inherits the environment
variable ``MALLOC_TRIM_THRESHOLD_=65536`` from distributed's default
``distributed.nanny.pre-spawn-environ``.  On glibc (Linux), setting any
malloc threshold switches off glibc's *dynamic* mmap threshold, so every
array larger than 128 KiB is then mapped fresh from the kernel and
returned to it when freed.  xmiri's kernels make many short-lived
integration-chunk temporaries of tens of MB; each then costs page faults
and zero-filling.  Measured on the 2,000-integration box chain
(benchmarks/RESULTS.md) one untuned worker took 6.6-7.5 s against 3.2-3.4 s
with the thresholds below.

The functions here restore the behaviour glibc's dynamic threshold
settles at (arrays up to 32 MiB reused from the heap, the heap trimmed
above 64 MiB of free memory), either for worker processes yet to be
started (:func:`worker_env`) or for running workers (:func:`tune_workers`).
On other platforms they do nothing.

Examples
--------
>>> from xmiri.parallel import worker_env
>>> sorted(worker_env())
['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']
"""
import ctypes
import ctypes.util
import logging
import sys

from distributed import WorkerPlugin

__all__ = ["optimize", "tune_malloc", "tune_workers", "worker_env", "TuneMallocPlugin"]

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameter numbers (``<malloc.h>``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Largest allocation served from the heap [bytes]: glibc's own upper limit
#: for its dynamic mmap threshold on 64-bit systems.
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap kept before trimming [bytes]: twice
#: the mmap threshold, as glibc's dynamic rule sets it.
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


def optimize(dsk, keys, **kwargs):
    """Dask's array optimisation (deprecated: call dask's own).

    xmiri 0.2.1 also inlined the tasks that do no work into their consumers
    here, through dask's private task specification; 0.3 uses public dask
    APIs only, so this is now :func:`dask.array.optimization.optimize`, and
    goes in the next release.

    Parameters
    ----------
    dsk : Mapping or dask.highlevelgraph.HighLevelGraph
        The graph of the arrays to compute.
    keys : list
        Their output keys.
    **kwargs
        Passed on to :func:`dask.array.optimization.optimize`.

    Returns
    -------
    Mapping
        The optimised graph.

    Warns
    -----
    xmiri.XmiriFutureWarning
        Always.
    """
    import warnings

    from dask.array.optimization import optimize as dask_optimize

    from .exceptions import XmiriFutureWarning

    warnings.warn(XmiriFutureWarning("xmiri.parallel.optimize is dask.array.optimization.optimize now and "
                                     "will be removed; leave dask's array_optimize setting alone",
                                     old="xmiri.parallel.optimize",
                                     new="dask.array.optimization.optimize"), stacklevel=2)
    return dask_optimize(dsk, keys, **kwargs)


def worker_env():
    """Environment variables for dask worker processes that run xmiri.

    Pass them to ``LocalCluster(env=...)`` or ``Nanny(env=...)``, export
    them in a batch job's prologue (dask-jobqueue's
    ``job_script_prologue``), or set them in the shell before ``dask
    worker``: a value already in the environment takes precedence over
    distributed's ``MALLOC_TRIM_THRESHOLD_=65536``.

    Returns
    -------
    dict of str to str
        ``MALLOC_MMAP_THRESHOLD_`` (32 MiB) and ``MALLOC_TRIM_THRESHOLD_``
        (64 MiB), in bytes.

    Examples
    --------
    >>> worker_env()["MALLOC_MMAP_THRESHOLD_"]
    '33554432'
    """
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


def tune_malloc():
    """Set this process's glibc malloc thresholds to :func:`worker_env`'s values.

    Returns
    -------
    bool
        True when glibc accepted both settings; False on other C
        libraries (macOS, Windows, musl), where nothing is changed.

    Examples
    --------
    >>> tune_malloc() in (True, False)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def tune_workers(client):
    """Apply :func:`tune_malloc` on every worker of `client`, now and on workers that join later.

    Registers a worker plugin named ``"xmiri-malloc"`` (registering again
    replaces it).  ``xmiri reduce --scheduler`` calls this itself.

    Parameters
    ----------
    client : distributed.Client
        The client of the cluster that will run the reduction.

    Returns
    -------
    dict
        Worker address -> True where the thresholds were set, False where
        the platform does not support it.

    Examples
    --------
    >>> from distributed import Client
    >>> client = Client("tcp://scheduler:8786")  # doctest: +SKIP
    >>> xmiri.parallel.tune_workers(client)  # doctest: +SKIP
    {'tcp://10.0.0.5:40211': True, 'tcp://10.0.0.6:35529': True}
    """
    client.register_plugin(TuneMallocPlugin(), name="xmiri-malloc")
    return client.run(tune_malloc)


class TuneMallocPlugin(WorkerPlugin):
    """Worker plugin that runs :func:`tune_malloc` in each worker as it starts."""

    idempotent = True

    def setup(self, worker):
        """Tune the worker's malloc (:func:`tune_malloc`) when the plugin is registered.

        Parameters
        ----------
        worker : distributed.Worker
            The worker (unused: the setting is per process).
        """
        tune_malloc()
