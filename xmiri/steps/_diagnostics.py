"""Warnings that a long run can read: one per step and cause per compute, with the total.

The step layer's block functions run inside dask tasks, once per chunk.
Issuing a warning there would print one near-identical line per chunk (a
100-chunk exposure: 100 lines), and :func:`warnings.catch_warnings` is not
safe in worker threads.  Instead a block function calls :func:`report` with
its counts.  While a dask computation runs in this process (the local
threaded, synchronous or process schedulers), the counts are added up, and
when the computation finishes :class:`FlushOnFinish` issues one
:class:`~xmiri.exceptions.UnmeasuredWarning` per (step, quantity, cause)
with the total.  Outside a dask computation (numpy-backed input, whose step
functions run the block function once, at call time) the warning is issued
at once.  On ``dask.distributed`` workers no local computation runs, so each
task's warning is issued on its worker (and appears in the worker's log); the
products still say what could not be measured (NaN values, DQ flags), and
``xmiri reduce`` prints a table of them.
"""
import threading
import warnings
from collections import OrderedDict

from dask.callbacks import Callback

from ..exceptions import UnmeasuredWarning

__all__ = ["report", "FlushOnFinish", "unmeasured_message"]

_LOCK = threading.Lock()
_STATE = {"active": 0}
_TALLY = OrderedDict()  # (step, quantity, cause) -> [count, total]


def unmeasured_message(step, quantity, count, total, cause):
    """The text of an :class:`~xmiri.exceptions.UnmeasuredWarning`."""
    return (f"{step}: {count} of {total} {quantity} value(s) could not be measured ({cause}); "
            f"they are NaN")


def report(step, quantity, count, total, cause):
    """Record `count` of `total` values of `quantity` that `step` could not measure.

    Issued at the end of the running dask computation (added up with the other
    chunks' counts), or at once when no computation is running.
    """
    count, total = int(count), int(total)
    if not count:
        return
    with _LOCK:
        if _STATE["active"]:
            entry = _TALLY.setdefault((step, quantity, cause), [0, 0])
            entry[0] += count
            entry[1] += total
            return
    _warn(step, quantity, count, total, cause, stacklevel=4)


def _warn(step, quantity, count, total, cause, stacklevel):
    """Issue the UnmeasuredWarning; `stacklevel` counts from this function."""
    warnings.warn(UnmeasuredWarning(unmeasured_message(step, quantity, count, total, cause),
                                    step=step, quantity=quantity, count=count, total=total,
                                    cause=cause), stacklevel=stacklevel)


def _flush():
    with _LOCK:
        items = list(_TALLY.items())
        _TALLY.clear()
    for (step, quantity, cause), (count, total) in items:
        _warn(step, quantity, count, total, cause, stacklevel=3)


class FlushOnFinish(Callback):
    """Dask callback that counts running computations and flushes the tally after the last.

    Registered once, globally, when :mod:`xmiri.steps` is imported.  It
    defines only the start and finish hooks, so it costs nothing per task.
    """

    def _start(self, dsk):
        with _LOCK:
            _STATE["active"] += 1

    def _finish(self, dsk, state, errored):
        with _LOCK:
            _STATE["active"] = max(0, _STATE["active"] - 1)
            last = _STATE["active"] == 0
        if last:
            _flush()


_CALLBACK = None


def install():
    """Register :class:`FlushOnFinish` (once per process)."""
    global _CALLBACK
    if _CALLBACK is None:
        _CALLBACK = FlushOnFinish()
        _CALLBACK.register()
