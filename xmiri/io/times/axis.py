"""The time coordinate of one segment, and of several: the rules that choose a source and check it.

Part of the time rules of :mod:`xmiri.io.times`; see there.
"""
from dataclasses import dataclass, field

import numpy as np

from ...kernels.timeaxis import full_julian_dates, time_order
from ._common import (_FALLBACK, GEOCENTRIC_MAX_ERROR_S, MJD_OFFSET, SECONDS_PER_DAY, TT_MINUS_UTC, _number,
                      _warning, time_attrs)
from ._common import span as _span
from .header import _header_consistency, header_times, mjd_utc_to_bjd_tdb
from .table import _column, _match_rows, int_times_columns

__all__ = ["TimeAxis", "time_axis", "concat_time_axes", "issue_time_warnings", "check_times"]


@dataclass
class TimeAxis:
    """The time coordinate of one segment (or of several, concatenated).

    Parameters
    ----------
    times : numpy.ndarray
        ``(n,)`` float64 mid-integration times in days, NaN where unknown.
    attrs : dict
        Attributes for the coordinate (plain str and float values).
    warnings : list of TimeAxisWarning
        To issue, in order (``warnings.warn(w)`` uses the instance's class).
    utc : numpy.ndarray or None
        The same times in MJD UTC where known (the table's
        ``int_mid_MJD_UTC``, or the header times), used by
        :func:`concat_time_axes` when segments differ in time scale.
    """

    times: np.ndarray
    attrs: dict
    warnings: list = field(default_factory=list)
    utc: np.ndarray = None


# --------------------------------------------------------------------------
# checks


def check_times(times, *, label="file", source="INT_TIMES"):
    """Warnings for repeated or decreasing mid-times (NaN ignored).

    Parameters
    ----------
    times : array_like of float
        Mid-times in integration order.
    label, source : str, optional
        File name and time source for the messages.

    Returns
    -------
    list of TimeAxisWarning
        At most two: one for repeated values, one for decreases.

    Examples
    --------
    >>> [w.count for w in check_times([1.0, 2.0, 2.0, 1.5])]
    [1, 1]
    """
    repeats, back, first, step = time_order(times)
    warns = []
    if repeats:
        warns.append(_warning(f"{label}: {repeats} mid-integration time(s) repeat an earlier one "
                              f"({source}); check the time coordinate", source=source,
                              count=repeats))
    if back:
        warns.append(_warning(f"{label}: the mid-integration time decreases {back} time(s) "
                              f"({source}; first after the {first + 1}th valid time, by "
                              f"{-step * SECONDS_PER_DAY:.3f} s): the times are not in "
                              f"integration order", source=source, count=back))
    return warns


# --------------------------------------------------------------------------
# one segment, several segments


def time_axis(header, integrations, table=None, *, barycentric=False, label="file"):
    """The time coordinate of one segment, by the rules of this module.

    Parameters
    ----------
    header : mapping
        Primary-header keywords with plain values (at least those of
        :data:`TIME_KEYWORDS` the file has).
    integrations : array_like of int
        The segment's integration numbers (``INTSTART..INTEND``), 1-based.
    table : FITS_rec, structured array, mapping or None, optional
        The ``INT_TIMES`` table (``hdul["INT_TIMES"].data``, a datamodel's
        ``int_times``), or None when the file has none.
    barycentric : bool, optional
        Convert header-derived (MJD UTC) times to BJD_TDB with
        :func:`mjd_utc_to_bjd_tdb` when ``TARG_RA``/``TARG_DEC`` are in the
        header.  Times from INT_TIMES' BJD_TDB column are never changed.
    label : str, optional
        File name for the messages.

    Returns
    -------
    TimeAxis
        Times, attrs, warnings to issue, and MJD UTC times where known.

    Notes
    -----
    INT_TIMES wins when it gives a time for at least one of the segment's
    integrations (see :func:`match_int_times`); the others are NaN and a
    warning counts them.  Otherwise the header rule applies
    (:func:`header_times`) and one warning says so, what the times are
    (MJD UTC, not BJD_TDB) and any inconsistency of the header.  Repeated
    or decreasing times are always reported (:func:`check_times`).
    """
    ints = np.asarray(integrations, dtype=np.int64)
    n = ints.size
    warns = []
    columns = int_times_columns(table)
    why = "there is no INT_TIMES table"
    if columns is not None:
        numbers_ = _column(columns, "integration_number")
        bjd = _column(columns, "int_mid_BJD_TDB")
        utc = _column(columns, "int_mid_MJD_UTC")
        if numbers_ is None or (bjd is None and utc is None):
            why = "INT_TIMES has no integration_number or mid-time column"
        elif numbers_.size == 0:
            why = "the INT_TIMES table is empty"
        else:
            nints = _number(header, "NINTS")
            rows, rule, match_warns = _match_rows(numbers_, ints, nints, label)
            picked = {}
            for name, column in (("bjd", bjd), ("utc", utc)):
                values = np.full(n, np.nan)
                if column is not None:
                    have = rows >= 0
                    values[have] = np.asarray(column, dtype=np.float64)[rows[have]]
                    values[~(values > 0)] = np.nan
                picked[name] = values
            kind = None
            if np.isfinite(picked["bjd"]).any():
                kind, times = "INT_TIMES BJD_TDB", picked["bjd"]
            elif np.isfinite(picked["utc"]).any():
                kind, times = "INT_TIMES MJD_UTC", picked["utc"]
                warns.append(_warning(
                    f"{label}: INT_TIMES has no int_mid_BJD_TDB values; the time coordinate is "
                    f"its int_mid_MJD_UTC (MJD UTC at JWST, not barycentric)",
                    source="INT_TIMES", count=n))
            if kind is not None:
                warns.extend(match_warns)
                missing = int(np.isnan(times).sum())
                if missing:
                    lacking = ints[np.isnan(times)]
                    warns.append(_warning(
                        f"{label}: INT_TIMES lacks a time for {missing} of integrations "
                        f"{_span(ints)} (e.g. {int(lacking[0])}); the time coordinate is NaN there",
                        source="INT_TIMES", count=missing))
                attrs = time_attrs(kind, matched_by=rule)
                if kind == "INT_TIMES BJD_TDB" and full_julian_dates(times, MJD_OFFSET):
                    attrs["julian_date_offset"] = 0.0  # full Julian dates
                utc_values = picked["utc"] if np.isfinite(picked["utc"]).any() else None
                if kind == "INT_TIMES MJD_UTC" and barycentric:
                    times, attrs, note = _to_bjd(times, attrs, header)
                    warns.append(_warning(f"{label}: {note}", source="INT_TIMES", count=n))
                warns.extend(check_times(times, label=label, source=attrs["source"]))
                return TimeAxis(times, attrs, warns, utc_values)
            held = numbers_[np.isfinite(numbers_.astype(float))]
            why = (f"INT_TIMES holds no time for integrations {_span(ints)}"
                   + (f" (its integration_number runs {int(held.min())}..{int(held.max())})"
                      if held.size else ""))
    return _header_axis(header, ints, why, barycentric, label)


def _to_bjd(times, attrs, header):
    """Convert MJD UTC `times` to BJD_TDB if the header has the target; (times, attrs, note)."""
    ra, dec = _number(header, "TARG_RA"), _number(header, "TARG_DEC")
    if ra is None or dec is None:
        return times, attrs, ("BJD_TDB was asked for, but TARG_RA/TARG_DEC are not in the header; "
                              "the times stay MJD UTC")
    converted = mjd_utc_to_bjd_tdb(times, ra, dec)
    extra = {k: v for k, v in attrs.items() if k in ("cadence_s", "reset_frames_between_integrations",
                                                     "matched_by")}
    new = time_attrs("header BJD_TDB", target_ra_deg=ra, target_dec_deg=dec, **extra)
    if attrs.get("source", "").startswith("INT_TIMES"):
        new["source"] = (f"{attrs['source']}, converted from MJD UTC to BJD_TDB by astropy for "
                         f"TARG_RA/TARG_DEC at the Earth's centre")
        new["long_name"] = ("mid-integration time, barycentric Julian date (BJD_TDB), with the "
                            "light time from the Earth's centre")
        new.pop("cadence_rule", None)
    return converted, new, (f"converted to BJD_TDB for TARG_RA {ra:g}, TARG_DEC {dec:g} with the "
                            f"light time from the Earth's centre: JWST's position is not in the "
                            f"file, so the times may be off by up to ~{GEOCENTRIC_MAX_ERROR_S:g} s "
                            f"(nearly constant over an exposure)")


def _header_axis(header, ints, why, barycentric, label):
    n = ints.size
    expstart, effinttm = _number(header, "EXPSTART"), _number(header, "EFFINTTM")
    if n == 0:
        return TimeAxis(np.zeros(0), time_attrs("header"), [], np.zeros(0))
    if expstart is None or effinttm is None:
        missing = " and ".join(k for k, v in (("EXPSTART", expstart), ("EFFINTTM", effinttm))
                               if v is None)
        message = (f"{label}: no mid-integration time for {n} integrations: {why}, and the header "
                   f"has no {missing} to compute them from; the time coordinate is NaN")
        attrs = time_attrs("header", source="none: " + why)
        return TimeAxis(np.full(n, np.nan), attrs, [_warning(message, source="none", count=n)],
                        None)
    tframe = _number(header, "TFRAME")
    nresets = _number(header, "NRESETS")
    drpfrms3 = _number(header, "DRPFRMS3")
    times, attrs, notes = header_times(int(ints[0]), n, expstart, effinttm, tframe, nresets,
                                       drpfrms3=drpfrms3)
    if n > 1 and not np.all(np.diff(ints) == 1):  # not contiguous: use the numbers themselves
        times = expstart + (ints - 0.5) * (attrs["cadence_s"] / SECONDS_PER_DAY)
    utc = times.copy()
    cadence = attrs["cadence_s"]
    notes = notes + _header_consistency(header, ints, cadence, tframe)
    terms = f"EFFINTTM {effinttm:g} s"
    if cadence != effinttm:
        terms += f" + {(cadence - effinttm) / tframe:g} x TFRAME {tframe:g} s"
    text = (f"{label}: {why}; mid-integration times computed from the header as EXPSTART + "
            f"(INTSTART - 1 + i + 0.5) x {cadence:.5f} s ({terms}) in MJD UTC")
    if barycentric:
        times, attrs, note = _to_bjd(times, attrs, header)
        text += f", then {note}"
    if attrs["time_scale"] == "UTC":
        text += (f"; they are not BJD_TDB (which differs by {TT_MINUS_UTC:g} s plus up to "
                 f"+/-8.5 min of light time)")
    if notes:
        text += "; header: " + "; ".join(notes)
    warns = [_warning(text, source=_FALLBACK, count=n)]
    warns.extend(check_times(times, label=label, source=_FALLBACK))
    return TimeAxis(times, attrs, warns, utc)


def concat_time_axes(axes):
    """One TimeAxis for segments in integration order.

    Parameters
    ----------
    axes : sequence of TimeAxis
        One per segment, in the order of the concatenated integrations.

    Returns
    -------
    TimeAxis
        Times concatenated; attributes shared by every segment, those that
        differ joined with ``"; "`` (as strings); every segment's warnings.
        If the segments differ in time scale (BJD_TDB from INT_TIMES in some,
        MJD UTC from the header in others), the whole coordinate is MJD UTC
        -- the table's ``int_mid_MJD_UTC`` column where there is one -- with
        one more warning; segments without MJD UTC times are NaN then.
    """
    axes = list(axes)
    if not axes:
        return TimeAxis(np.zeros(0), time_attrs("header"), [], np.zeros(0))
    if len(axes) == 1:
        return axes[0]
    warns = [w for a in axes for w in a.warnings]
    scales = {(a.attrs.get("time_scale"), a.attrs.get("time_format")) for a in axes}
    utc_parts = [a.utc if a.utc is not None else np.full(a.times.size, np.nan) for a in axes]
    utc = np.concatenate(utc_parts)
    if len(scales) == 1:
        times = np.concatenate([a.times for a in axes])
        attrs = _merge_attrs([a.attrs for a in axes])
        return TimeAxis(times, attrs, warns, utc)
    sources = [a.attrs.get("source", "") for a in axes]
    attrs = _merge_attrs([_utc_attrs(a.attrs) for a in axes])
    lost = int(sum(a.times.size for a in axes if a.utc is None))
    warns.append(_warning(
        f"segments give times in different scales ({'; '.join(sorted(set(sources)))}); the time "
        f"coordinate is MJD UTC for all of them (INT_TIMES int_mid_MJD_UTC where the table has "
        f"it)" + (f"; {lost} integrations without MJD UTC times are NaN" if lost else ""),
        source="mixed", count=utc.size))
    return TimeAxis(utc, attrs, warns, utc)


def _utc_attrs(attrs):
    if str(attrs.get("source", "")).startswith("INT_TIMES"):
        return time_attrs("INT_TIMES MJD_UTC", matched_by=attrs.get("matched_by", ""))
    extra = {k: attrs[k] for k in ("cadence_s", "reset_frames_between_integrations") if k in attrs}
    return time_attrs("header", **extra)


def _merge_attrs(parts):
    merged = {}
    keys = []
    for part in parts:
        keys.extend(k for k in part if k not in keys)
    for key in keys:
        values = [p[key] for p in parts if key in p]
        distinct = []
        for v in values:
            if v not in distinct:
                distinct.append(v)
        merged[key] = distinct[0] if len(distinct) == 1 else "; ".join(str(v) for v in distinct)
    return merged


def issue_time_warnings(found, stacklevel=2):
    """Issue a time axis's warnings, one per source: a 40-segment exposure is not 40 lines.

    Warnings with the same ``source`` (e.g. every segment falling back on the
    header) become one :class:`~xmiri.exceptions.TimeAxisWarning` with the
    first message, the number of segments and the total count.

    Parameters
    ----------
    found : iterable of TimeAxisWarning
        The warnings of one or more time axes (:attr:`TimeAxis.warnings`).
    stacklevel : int, default 2
        As in :func:`warnings.warn`, counted from the caller.
    """
    import warnings

    groups = {}
    for w in found:
        groups.setdefault(w.source, []).append(w)
    for source, group in groups.items():
        first = group[0]
        if len(group) == 1:
            warnings.warn(first, stacklevel=stacklevel + 1)
            continue
        count = sum(int(w.count or 0) for w in group)
        warnings.warn(_warning(f"{first} (and likewise for {len(group) - 1} more segment(s): "
                               f"{count} integrations in all)", source=source, count=count,
                               reason=first.reason), stacklevel=stacklevel + 1)
