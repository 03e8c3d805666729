"""Constants, the time coordinate's attributes and small helpers shared by the modules of :mod:`xmiri.io.times`."""
import numbers

import numpy as np

from ...exceptions import TimeAxisWarning

#: integration_number in INT_TIMES wraps like a signed 16-bit integer (jwst #8067):
#: 32768 is stored as -32768, 65535 as -1, 65536 as 0; stored == true modulo 65536.
ROLLOVER = 65536
#: Primary-header keywords the rules read (the reader should collect them).
TIME_KEYWORDS = ("EXPSTART", "EXPEND", "EFFINTTM", "TFRAME", "NRESETS", "DRPFRMS3", "NRSTSTRT",
                 "NINTS", "INTSTART", "INTEND", "TARG_RA", "TARG_DEC")
MJD_OFFSET = 2400000.5
SECONDS_PER_DAY = 86400.0
#: TT - UTC since 2017 (37 leap seconds + 32.184 s).
TT_MINUS_UTC = 69.184
#: Largest distance of JWST from the Earth's centre in its L2 halo orbit, km (1.2-1.8e6).
JWST_MAX_DISTANCE_KM = 1.8e6
#: Largest error of the geocentric barycentric correction, s (JWST_MAX_DISTANCE / c).
GEOCENTRIC_MAX_ERROR_S = round(JWST_MAX_DISTANCE_KM / 299792.458, 1)
HEADER_SOURCE = "EXPSTART + (INTSTART - 1 + i + 0.5) x cadence"
CADENCE_RULE = "EFFINTTM + (NRESETS + DRPFRMS3) x TFRAME"
_FALLBACK = "EXPSTART+EFFINTTM"


def _warning(message, *, source, count, reason=None):
    return TimeAxisWarning(message, source=source, count=int(count),
                           reason=reason if reason is not None else message)


def _number(header, key):
    """A finite float from `header[key]`, or None (missing, text, bool or non-finite)."""
    value = header.get(key) if header is not None else None
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (numbers.Real, np.number)):
        value = float(value)
        return value if np.isfinite(value) else None
    try:
        value = float(str(value).strip())
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def span(ints):
    ints = np.asarray(ints)
    if ints.size == 0:
        return "none"
    return f"{int(ints[0])}" if ints.size == 1 else f"{int(ints[0])}-{int(ints[-1])}"


# --------------------------------------------------------------------------
# attributes


def time_attrs(kind, **extra):
    """Attributes of the ``time`` coordinate for each way of getting it.

    Parameters
    ----------
    kind : {"INT_TIMES BJD_TDB", "INT_TIMES MJD_UTC", "header", "header BJD_TDB"}
        Where the times came from.
    **extra
        Further attributes (plain str or numbers), e.g. ``matched_by`` or
        ``cadence_s``; they override the defaults.

    Returns
    -------
    dict
        ``long_name``, ``units`` (``"d"``), ``time_scale`` (``"TDB"`` or
        ``"UTC"``), ``time_format`` (``"BJD"`` or ``"MJD"``),
        ``julian_date_offset`` (values are JD minus this: 2400000.5, as in
        JWST's INT_TIMES, or 0.0 for full Julian dates), ``time_reference``
        (where the light arrives) and ``source``.

    Examples
    --------
    >>> time_attrs("header")["time_scale"]
    'UTC'
    """
    base = {"units": "d", "julian_date_offset": MJD_OFFSET}
    if kind == "INT_TIMES BJD_TDB":
        base.update(long_name="mid-integration time, barycentric Julian date (BJD_TDB)",
                    time_scale="TDB", time_format="BJD", time_reference="solar-system barycentre",
                    source="INT_TIMES int_mid_BJD_TDB")
    elif kind == "INT_TIMES MJD_UTC":
        base.update(long_name="mid-integration time, modified Julian date (MJD UTC), "
                              "not barycentric",
                    time_scale="UTC", time_format="MJD", time_reference="JWST",
                    source="INT_TIMES int_mid_MJD_UTC")
    elif kind == "header":
        base.update(long_name="mid-integration time, modified Julian date (MJD UTC), not "
                              "barycentric, computed from the header",
                    time_scale="UTC", time_format="MJD", time_reference="JWST",
                    source=HEADER_SOURCE, cadence_rule=CADENCE_RULE)
    elif kind == "header BJD_TDB":
        base.update(long_name="mid-integration time, barycentric Julian date (BJD_TDB), computed "
                              "from the header with the light time from the Earth's centre",
                    time_scale="TDB", time_format="BJD",
                    time_reference="solar-system barycentre (geocentric approximation)",
                    source=f"{HEADER_SOURCE}, converted from MJD UTC to BJD_TDB by astropy for "
                           f"TARG_RA/TARG_DEC at the Earth's centre",
                    cadence_rule=CADENCE_RULE,
                    barycentric_max_error_s=GEOCENTRIC_MAX_ERROR_S)
    else:
        raise ValueError(f"unknown kind of time axis {kind!r}")
    base.update(extra)
    return base
