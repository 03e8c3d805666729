"""The ``time`` coordinate of a segment: rules as pure functions on headers and tables.

Nothing here opens a file.  The reader passes plain values: a dict of
primary-header keywords (:data:`TIME_KEYWORDS`), the integration numbers
of the segment, and the ``INT_TIMES`` table (any object indexable by column
name: a FITS_rec, a numpy structured array, a dict of arrays), and gets a
:class:`TimeAxis` back -- times, plain attributes for the coordinate, and a
list of :class:`~xmiri.exceptions.TimeAxisWarning` to issue.

Where the times come from
-------------------------
1. ``INT_TIMES`` ``int_mid_BJD_TDB`` when the table has the segment's
   integrations (``int_mid_MJD_UTC`` if it has no BJD_TDB values).  Rows
   are matched to integrations by :func:`match_int_times`; integrations the
   table lacks are NaN, with a warning.
2. Otherwise (no table, an empty table as in MIRISim files and some real
   ones, or a table holding none of the segment's integrations) the header:
   :func:`header_times`, in **MJD UTC**, labelled as such (``time_scale``
   ``"UTC"``, ``time_format`` ``"MJD"``), with a warning.  On request
   (``barycentric=True``) and when ``TARG_RA``/``TARG_DEC`` are present,
   converted to BJD_TDB by :func:`mjd_utc_to_bjd_tdb`, at the cost stated
   there.

The cadence rule
----------------
MIRI resets the detector between integrations, and the keyword dictionary
gives the exposure's duration as ``DURATION = TFRAME x ((NGROUPS x NFRAMES
+ (NGROUPS - 1) x GROUPGAP + DRPFRMS1) x NINTS + DRPFRMS3 x NINTS +
NRSTSTRT + NRESETS x (NINTS - 1))``.  Per integration, the time from one
start to the next is therefore::

    cadence = EFFINTTM + (NRESETS + DRPFRMS3) x TFRAME     [s]

(for MIRI, ``EFFINTTM = NGROUPS x TFRAME`` with NFRAMES = 1, GROUPGAP = 0
and no dropped frames), and the mid-time of integration ``k`` (1-based,
``k = INTSTART + i`` in a segment) is::

    t_k = EXPSTART + (k - 1 + 0.5) x cadence / 86400       [MJD UTC]

jwst's own fallback (``tso_photometry``) uses EFFINTTM alone as the cadence;
that is this rule with NRESETS = 0.  **The drift risk:** a cadence wrong by
one frame (0.159 s in FAST mode on SLITLESSPRISM) shifts integration ``k``
by ``(k - 1) x 0.159`` s -- 26.5 minutes at integration 10,000 -- so the
reset count matters.  Missing ``NRESETS`` is taken as 0 (jwst's convention)
with a warning that states the drift one reset would cause; missing
``TFRAME`` drops the reset term, likewise with a warning; missing
``EXPSTART`` or ``EFFINTTM`` leaves the times NaN.  When the segment ends the
exposure (``INTEND = NINTS``), ``(EXPEND - EXPSTART) / NINTS`` is compared
with the cadence and a disagreement larger than half a frame is reported.
Where, within the first reset, EXPSTART falls is not documented: the
mid-times may carry a constant offset of up to ``(NRSTSTRT + NRESETS / 2)
x TFRAME`` (a fraction of a second); it does not grow with ``k``.
"""
from ._common import (CADENCE_RULE, GEOCENTRIC_MAX_ERROR_S, HEADER_SOURCE, MJD_OFFSET, ROLLOVER, SECONDS_PER_DAY,
                      TIME_KEYWORDS, TT_MINUS_UTC, time_attrs)
from .axis import TimeAxis, check_times, concat_time_axes, issue_time_warnings, time_axis
from .header import cadence_seconds, header_times, mjd_utc_to_bjd_tdb
from .table import int_times_columns, match_int_times

__all__ = ["TimeAxis", "time_axis", "concat_time_axes", "issue_time_warnings", "match_int_times", "header_times",
           "cadence_seconds", "mjd_utc_to_bjd_tdb", "check_times", "time_attrs",
           "int_times_columns", "TIME_KEYWORDS", "ROLLOVER", "MJD_OFFSET", "SECONDS_PER_DAY", "TT_MINUS_UTC",
           "GEOCENTRIC_MAX_ERROR_S", "HEADER_SOURCE", "CADENCE_RULE"]
