"""The header fallback of the time axis: the cadence rule, mid-times from EXPSTART, barycentric conversion.

Part of the time rules of :mod:`xmiri.io.times`; see there for the cadence rule and its risks.
"""
import numpy as np

from ._common import SECONDS_PER_DAY, _number, time_attrs

__all__ = ["cadence_seconds", "header_times", "mjd_utc_to_bjd_tdb"]


# --------------------------------------------------------------------------
# header fallback


def cadence_seconds(effinttm, tframe=None, nresets=None, drpfrms3=None):
    """Seconds from the start of one integration to the next, and what was assumed.

    Parameters
    ----------
    effinttm : float
        ``EFFINTTM``, the effective integration time (s).
    tframe : float, optional
        ``TFRAME``, the frame time (s).
    nresets : int, optional
        ``NRESETS``, reset frames between integrations; missing -> 0.
    drpfrms3 : int, optional
        ``DRPFRMS3``, frames dropped between integrations; missing -> 0.

    Returns
    -------
    cadence : float
        ``EFFINTTM + (NRESETS + DRPFRMS3) x TFRAME``.
    notes : list of str
        What was assumed for missing keywords, and the drift per
        integration it risks.

    Examples
    --------
    >>> cadence_seconds(47.712, 0.15904, 1)
    (47.87104, [])
    """
    notes = []
    extra = 0.0
    if nresets is None:
        notes.append("NRESETS is missing and taken as 0 (jwst's convention)"
                     + (f"; one reset frame per integration would add TFRAME = {tframe:g} s "
                        f"per integration" if tframe else ""))
        nresets = 0
    frames = float(nresets) + float(drpfrms3 or 0)
    if frames:
        if tframe is None:
            notes.append(f"TFRAME is missing, so the {frames:g} reset/dropped frame(s) between "
                         f"integrations are left out of the cadence")
        else:
            extra = frames * float(tframe)
    return float(effinttm) + extra, notes


def header_times(intstart, n, expstart, effinttm, tframe=None, nresets=None, *, drpfrms3=None):
    """Mid-integration times from the header, in MJD UTC.

    Parameters
    ----------
    intstart : int
        ``INTSTART``, the first integration of the segment (1-based).
    n : int
        Number of integrations in the segment.
    expstart : float
        ``EXPSTART``, the exposure's start (MJD UTC).
    effinttm : float
        ``EFFINTTM`` (s).
    tframe : float, optional
        ``TFRAME`` (s).
    nresets : int, optional
        ``NRESETS``; missing -> 0, noted.
    drpfrms3 : int, optional
        ``DRPFRMS3``; missing -> 0.

    Returns
    -------
    times : numpy.ndarray
        ``EXPSTART + (INTSTART - 1 + i + 0.5) x cadence / 86400``,
        ``i = 0..n-1``, float64 MJD UTC.
    attrs : dict
        :func:`time_attrs` ``("header")`` with ``cadence_s``,
        ``reset_frames_between_integrations``.
    notes : list of str
        Assumptions made for missing keywords (see :func:`cadence_seconds`).

    Examples
    --------
    >>> t, attrs, _ = header_times(1001, 2, 60000.0, 47.712, 0.15904, 1)
    >>> round(float(t[0] - 60000.0) * 86400, 3), attrs["cadence_s"]  # 1000.5 cadences
    (47894.976, 47.87104)
    """
    cadence, notes = cadence_seconds(effinttm, tframe, nresets, drpfrms3)
    k = int(intstart) - 1 + np.arange(int(n), dtype=np.float64) + 0.5
    times = float(expstart) + k * (cadence / SECONDS_PER_DAY)
    attrs = time_attrs("header", cadence_s=float(cadence),
                       reset_frames_between_integrations=float(nresets or 0))
    return times, attrs, notes


def _header_consistency(header, ints, cadence, tframe):
    """Notes where the header contradicts itself about the times."""
    notes = []
    nints = _number(header, "NINTS")
    expstart = _number(header, "EXPSTART")
    expend = _number(header, "EXPEND")
    last = int(ints[-1])
    if nints is not None and last > nints:
        notes.append(f"INTEND {last} exceeds NINTS {int(nints)}")
    if expend is not None and expstart is not None:
        end = expstart + last * cadence / SECONDS_PER_DAY
        if end > expend + cadence / SECONDS_PER_DAY:
            notes.append(f"integration {last} would end {(end - expend) * SECONDS_PER_DAY:.1f} s "
                         f"after EXPEND")
        elif nints is not None and last == nints and nints > 0:
            implied = (expend - expstart) * SECONDS_PER_DAY / nints
            tolerance = 0.5 * tframe if tframe else 0.05
            if abs(implied - cadence) > tolerance:
                notes.append(f"(EXPEND - EXPSTART) / NINTS = {implied:.5f} s differs from the "
                             f"cadence {cadence:.5f} s by more than half a frame (the times drift "
                             f"by {abs(implied - cadence) * nints:.1f} s over the exposure)")
    return notes


# --------------------------------------------------------------------------
# barycentric


def mjd_utc_to_bjd_tdb(mjd_utc, ra_deg, dec_deg):
    """MJD UTC -> BJD_TDB (as ``BJD - 2400000.5``, like JWST's INT_TIMES), geocentric.

    Parameters
    ----------
    mjd_utc : array_like of float
        Times in MJD, UTC scale (NaN passes through).
    ra_deg, dec_deg : float
        Target ICRS coordinates in degrees (``TARG_RA``, ``TARG_DEC``).

    Returns
    -------
    numpy.ndarray
        BJD_TDB minus 2400000.5, float64.

    Notes
    -----
    astropy converts UTC to TDB and adds the light travel time from the
    observer to the solar-system barycentre along the target direction,
    with its built-in ephemeris (no download).  The file does not give
    JWST's position, so the observer is the **Earth's centre**.  JWST orbits
    L2 at 1.2-1.8 million km from the Earth, so the light time along the
    line of sight differs from the true one by up to
    ``1.8e6 km / c`` = about 6 s (:data:`GEOCENTRIC_MAX_ERROR_S`); the
    error changes with JWST's ~6-month orbit, so within one exposure of
    hours it is nearly constant (it changes by at most a few hundredths of
    a second).  Use it for transit-shape work and relative timing, not for
    absolute ephemerides at the second level: the pipeline's
    ``int_mid_BJD_TDB`` uses JWST's position.  The result differs from
    MJD UTC by TDB - UTC (69.184 s) plus up to +/-8.5 minutes of light
    time across the Earth's orbit.
    """
    import astropy.units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    values = np.asarray(mjd_utc, dtype=np.float64)
    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg)):
        raise ValueError(f"target coordinates must be finite, got {ra_deg}, {dec_deg}")
    out = np.full(values.shape, np.nan)
    good = np.isfinite(values)
    if not good.any():
        return out
    geocentre = EarthLocation.from_geocentric(0.0, 0.0, 0.0, unit=u.m)
    t = Time(values[good], format="mjd", scale="utc", location=geocentre)
    target = SkyCoord(float(ra_deg) * u.deg, float(dec_deg) * u.deg, frame="icrs")
    light_time = t.light_travel_time(target, kind="barycentric", ephemeris="builtin")
    out[good] = (t.tdb + light_time).mjd
    return out
