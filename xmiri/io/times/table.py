"""Matching the rows of an ``INT_TIMES`` table to integrations, rollover-safe.

Part of the time rules of :mod:`xmiri.io.times`; see there.
"""
import numpy as np

from ._common import ROLLOVER, _warning
from ._common import span as _span

__all__ = ["int_times_columns", "match_int_times"]


def int_times_columns(table):
    """Plain numpy columns of an INT_TIMES table, or None if there is no table.

    Parameters
    ----------
    table : FITS_rec, numpy structured array, astropy Table, mapping or None
        The INT_TIMES table of a segment; None when the file has none.

    Returns
    -------
    dict or None
        Column name -> 1-D numpy array; names as in the table.
    """
    if table is None:
        return None
    if isinstance(table, dict):
        names = list(table)
    else:
        names = getattr(table, "names", None) or getattr(getattr(table, "dtype", None), "names",
                                                         None) or getattr(table, "colnames", None)
        if names is None:
            return None
    return {str(name): np.asarray(table[name]) for name in names}


def _column(columns, name):
    for key, value in columns.items():
        if key.lower() == name.lower():
            return value
    return None


def _first_rows(keys, wanted):
    """Row of the first occurrence of each wanted key in `keys`, -1 where absent."""
    unique, first = np.unique(np.asarray(keys, dtype=np.int64), return_index=True)
    wanted = np.asarray(wanted, dtype=np.int64)
    if unique.size == 0:
        return np.full(wanted.shape, -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(unique, wanted), 0, unique.size - 1)
    return np.where(unique[pos] == wanted, first[pos], -1).astype(np.int64)


def _match_rows(numbers_, integrations, n_exposure=None, label="file"):
    """Rows of INT_TIMES for `integrations` (-1 where absent), the rule used, warnings."""
    ints = np.asarray(integrations, dtype=np.int64)
    raw = np.asarray(numbers_)
    n, nt = ints.size, raw.size
    rows = np.full(n, -1, dtype=np.int64)
    warns = []
    if nt == 0 or n == 0:
        return rows, "none", warns
    valid = np.isfinite(raw.astype(float))
    stored = np.where(valid, np.nan_to_num(raw.astype(float)), -1).astype(np.int64)
    res = np.where(valid, np.mod(stored, ROLLOVER), -1)
    # rule 1: one row per integration of this segment, in order
    if nt == n and valid.all() and np.all(np.mod(stored - ints, ROLLOVER) == 0):
        return np.arange(n, dtype=np.int64), "row position (the table holds this segment)", warns
    # rule 2: the table holds the exposure from integration 1 on, in order
    if (valid.all() and ints.min() >= 1 and ints.max() <= nt
            and np.all(np.mod(stored - np.arange(1, nt + 1), ROLLOVER) == 0)):
        rule = "row position (the table holds the exposure)"
        if n_exposure is not None and nt != int(n_exposure):
            warns.append(_warning(
                f"{label}: INT_TIMES has {nt} rows but NINTS is {int(n_exposure)}; rows were "
                f"matched to integrations by position from integration 1", source="INT_TIMES",
                count=n))
        return ints - 1, rule, warns
    # rule 3: match integration_number modulo 65536 (unwrapped when residues repeat)
    ok = res >= 0
    counts = np.bincount(res[ok], minlength=1) if ok.any() else np.zeros(1, int)
    repeated = bool((counts > 1).any())
    steps = np.mod(np.diff(res[ok]), ROLLOVER)
    forward = bool(np.all((steps > 0) & (steps < ROLLOVER // 2)))
    if repeated and forward:
        # true = residue + 65536 x (number of wraps so far), the first row in the first cycle
        cycles = np.concatenate([[0], np.cumsum(np.diff(res[ok]) < 0)])
        keys = np.full(nt, -1, dtype=np.int64)
        keys[ok] = res[ok] + ROLLOVER * cycles
        wanted = ints
        rule = "integration_number, unwrapped past 65535"
    else:
        keys, wanted = res, np.mod(ints, ROLLOVER)
        rule = "integration_number modulo 65536"
    rows = _first_rows(np.where(ok, keys, -2), wanted)
    if repeated and not forward:  # several rows for one number, and no order to tell them apart
        used = rows[rows >= 0]
        dup = int(np.sum(counts[res[used]] > 1)) if used.size else 0
        if dup:
            warns.append(_warning(
                f"{label}: INT_TIMES is inconsistent: {dup} of integrations {_span(ints)} appear in "
                f"several rows (same integration_number modulo 65536); the first row of each was "
                f"used", source="INT_TIMES", count=dup))
    return rows, rule, warns


def match_int_times(numbers, mid_times, integrations, *, n_exposure=None, label="file"):
    """Mid-times of `integrations` from an INT_TIMES table, with the 16-bit rollover handled.

    Parameters
    ----------
    numbers : array_like of int
        The table's ``integration_number`` column, as stored: past 32,767
        it may have wrapped like a signed 16-bit integer (jwst #8067:
        32768 -> -32768, 65535 -> -1, 65536 -> 0), although the column is
        32-bit; stored and true numbers agree modulo 65,536.
    mid_times : array_like of float
        The table's mid-time column (``int_mid_BJD_TDB`` or
        ``int_mid_MJD_UTC``), same length.  Non-finite or non-positive
        values count as missing.
    integrations : array_like of int
        The segment's integration numbers, 1-based (``INTSTART..INTEND``).
    n_exposure : int, optional
        ``NINTS``, the exposure's number of integrations (for a warning
        when the table has another number of rows).
    label : str, optional
        File name for the messages.

    Returns
    -------
    times : numpy.ndarray
        ``(len(integrations),)`` float64, NaN where the table lacks the
        integration or its time.
    rule : str
        The rule that matched rows (``"none"`` for an empty table).
    warnings : list of TimeAxisWarning
        Inconsistencies found (repeated rows, rows missing, row count
        differing from NINTS).

    Notes
    -----
    The first rule that applies wins:

    1. **Row position, segment**: the table has exactly one row per
       integration of the segment and every row's number agrees, modulo
       65,536, with ``INTSTART + row``.
    2. **Row position, exposure**: every row's number agrees, modulo
       65,536, with ``1 + row`` and the table reaches ``INTEND``: row
       ``k - 1`` is integration ``k``.
    3. **Number, modulo 65,536**: each integration takes the first row
       whose number is congruent to it modulo 65,536.  If residues repeat
       (more than 65,536 rows) and the numbers increase along the rows,
       they are first unwrapped (``+65536`` at each wrap, the first row
       taken in the first cycle) and matched exactly; if they do not
       increase, the first matching row is used and a warning says the
       table is inconsistent.

    Rules 1 and 2 only apply when rows and numbers agree, so they never
    contradict rule 3; they decide what numbers alone cannot (more than
    65,536 rows).  A table from another segment is not matched by
    position: its numbers disagree, and rule 3 finds none of them.

    Examples
    --------
    >>> stored = (np.arange(32766, 32771) + 32768) % 65536 - 32768  # int16 wrap
    >>> stored.tolist()
    [32766, 32767, -32768, -32767, -32766]
    >>> t, rule, _ = match_int_times(stored[::-1], np.arange(5.0)[::-1] + 1,
    ...                              np.arange(32766, 32771))
    >>> t.tolist(), rule
    ([1.0, 2.0, 3.0, 4.0, 5.0], 'integration_number modulo 65536')
    """
    ints = np.asarray(integrations, dtype=np.int64)
    mid = np.asarray(mid_times, dtype=np.float64)
    if np.shape(numbers) != mid.shape:
        raise ValueError(f"INT_TIMES columns differ in length: {np.shape(numbers)} and {mid.shape}")
    rows, rule, warns = _match_rows(numbers, ints, n_exposure, label)
    times = np.full(ints.size, np.nan)
    have = rows >= 0
    times[have] = mid[rows[have]]
    times[~(times > 0)] = np.nan  # NaN, zero or negative: no time
    missing = int(np.isnan(times).sum())
    if missing and rows.size and np.size(numbers):
        lacking = ints[np.isnan(times)]
        warns.append(_warning(
            f"{label}: INT_TIMES lacks a time for {missing} of integrations {_span(ints)} "
            f"(e.g. {int(lacking[0])}); the time coordinate is NaN there",
            source="INT_TIMES", count=missing))
    return times, rule, warns


