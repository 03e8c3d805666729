"""Order checks on a sequence of mid-integration times (pure numpy)."""
import numpy as np

__all__ = ["time_order", "full_julian_dates"]


def time_order(times):
    """Repeated values and decreases in a sequence of times, NaN left out.

    Parameters
    ----------
    times : array_like of float, shape (n,)
        Mid-integration times in integration order, days; NaN where unknown.

    Returns
    -------
    repeats : int
        Finite values equal to an earlier one.
    decreases : int
        Places where a finite value is smaller than the finite value before it.
    first : int
        Position, among the finite values, of the value before the first
        decrease; -1 without decreases.
    step : float
        The first decrease (negative), days; NaN without decreases.

    Examples
    --------
    >>> time_order([1.0, 2.0, np.nan, 2.0, 1.5])
    (1, 1, 2, -0.5)
    """
    t = np.asarray(times, dtype=np.float64)
    t = t[np.isfinite(t)]
    if t.size < 2:
        return 0, 0, -1, float("nan")
    repeats = t.size - np.unique(t).size
    steps = np.diff(t)
    down = steps < 0
    if not down.any():
        return int(repeats), 0, -1, float("nan")
    first = int(np.argmax(down))
    return int(repeats), int(down.sum()), first, float(steps[first])


def full_julian_dates(times, offset):
    """Whether times are full Julian dates rather than ones less `offset`, by their median.

    Parameters
    ----------
    times : array_like of float, shape (n,)
        Times, days; NaN ignored.
    offset : float
        The offset the times usually have subtracted, days (e.g. 2400000.5 for MJD).

    Returns
    -------
    bool
        True where the median finite time exceeds `offset` (False without one).

    Examples
    --------
    >>> full_julian_dates([2460000.1, np.nan], 2400000.5), full_julian_dates([60000.1], 2400000.5)
    (True, False)
    """
    times = np.asarray(times, dtype=np.float64)
    finite = times[np.isfinite(times)]
    return bool(finite.size) and bool(np.median(finite) > offset)
