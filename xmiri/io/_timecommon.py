"""Constants and small helpers shared by :mod:`xmiri.io.times` and :mod:`xmiri.io.int_times`."""
import numbers

import numpy as np

from ..exceptions import TimeAxisWarning

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


