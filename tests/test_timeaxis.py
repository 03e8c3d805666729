"""Time axis rules (xmiri._timeaxis): INT_TIMES matching with rollover, header fallback, BJD."""
import numpy as np
import pytest
from astropy.io import fits

from xmiri.io import times as ta
from xmiri.exceptions import TimeAxisWarning

DAY = 86400.0
TFRAME = 0.15904
EFFINTTM = 47.712
CADENCE = EFFINTTM + TFRAME  # one reset frame between integrations


def wrap16(numbers):
    """integration_number as jwst #8067 stores it: wrapped like int16, in a 32-bit column."""
    return (((np.asarray(numbers, dtype=np.int64) + 32768) % 65536) - 32768).astype(np.int32)


def exposure_table(n, t0=59791.0, cadence=CADENCE, rows=None):
    """INT_TIMES of an n-integration exposure (rows: which integrations, default all)."""
    true = np.arange(1, n + 1) if rows is None else np.asarray(rows)
    mid = t0 + (true - 0.5) * cadence / DAY
    return {"integration_number": wrap16(true), "int_mid_MJD_UTC": mid - 69.184 / DAY,
            "int_mid_BJD_TDB": mid}, true, mid


def header(**overrides):
    h = {"EXPSTART": 60000.0, "EFFINTTM": EFFINTTM, "TFRAME": TFRAME, "NRESETS": 1,
         "INTSTART": 1, "INTEND": 4, "NINTS": 4, "TARG_RA": 217.3266, "TARG_DEC": -3.4445}
    h["EXPEND"] = h["EXPSTART"] + h["NINTS"] * CADENCE / DAY
    h.update(overrides)
    return {k: v for k, v in h.items() if v is not None}


def empty_table():
    return {"integration_number": np.zeros(0, np.int32), "int_mid_BJD_TDB": np.zeros(0),
            "int_mid_MJD_UTC": np.zeros(0)}


# --------------------------------------------------------------------------
# header fallback


@pytest.mark.parametrize("table", ["empty", "none"])
def test_empty_table_falls_back_to_the_header(table):
    ax = ta.time_axis(header(), np.arange(1, 5), empty_table() if table == "empty" else None,
                      label="seg")
    expected = 60000.0 + (np.arange(4) + 0.5) * (EFFINTTM + TFRAME) / DAY
    np.testing.assert_allclose(ax.times, expected, rtol=0, atol=1e-11)
    assert ax.attrs["time_scale"] == "UTC" and ax.attrs["time_format"] == "MJD"
    assert ax.attrs["source"] == "EXPSTART + (INTSTART - 1 + i + 0.5) x cadence"
    assert ax.attrs["cadence_s"] == pytest.approx(47.87104, abs=1e-12)
    assert ax.attrs["units"] == "d"
    assert all(isinstance(v, (str, float, int)) for v in ax.attrs.values())
    (w,) = ax.warnings
    assert isinstance(w, TimeAxisWarning)
    assert w.source == "EXPSTART+EFFINTTM" and w.count == 4
    assert ("empty" if table == "empty" else "no INT_TIMES") in str(w)
    assert "MJD UTC" in str(w) and "not BJD_TDB" in str(w) and "header:" not in str(w)
    np.testing.assert_array_equal(ax.utc, ax.times)


def test_segment_counts_from_intstart():
    h = header(INTSTART=1001, INTEND=1003, NINTS=3000, EXPEND=60000.0 + 3000 * CADENCE / DAY)
    ax = ta.time_axis(h, np.arange(1001, 1004), empty_table())
    expected = 60000.0 + (1000 + np.arange(3) + 0.5) * CADENCE / DAY
    np.testing.assert_allclose(ax.times, expected, rtol=0, atol=1e-11)
    times, attrs, notes = ta.header_times(1001, 3, 60000.0, EFFINTTM, TFRAME, 1)
    np.testing.assert_array_equal(times, ax.times)
    assert notes == []


def test_shared_rateints_header(rateints_path):
    """MIRISim: empty INT_TIMES, NRESETS = 0, and a header that contradicts itself."""
    hdr = dict(fits.getheader(rateints_path))
    table = fits.getdata(rateints_path, "INT_TIMES")
    ax = ta.time_axis(hdr, np.arange(1847, 1851), table, label="seg041")
    expected = hdr["EXPSTART"] + (1846 + np.arange(4) + 0.5) * hdr["EFFINTTM"] / DAY
    np.testing.assert_allclose(ax.times, expected, rtol=0, atol=1e-11)
    (w,) = ax.warnings
    assert "INTEND 1850 exceeds NINTS 4" in str(w) and "after EXPEND" in str(w)


def test_matches_simulate_without_drift():
    """xmiri.simulate: cadence EFFINTTM + TFRAME, NRESETS = 1; header times have no drift.

    simulate puts the mid-time 0.5 x EFFINTTM after each integration's start; the
    header rule puts it mid-cadence, half a reset frame later: a constant offset.
    """
    from xmiri.simulate import MJD_OFFSET, TDB_MINUS_UTC, simulate

    ds, _ = simulate(8, intstart=2001, noise=False, n_cosmic_rays=0)
    hdr = dict(ds.attrs)
    ax = ta.time_axis(hdr, ds["integration"].values, None)
    truth_mjd_utc = ds["time"].values - MJD_OFFSET - TDB_MINUS_UTC / DAY
    offset = (ax.times - truth_mjd_utc) * DAY
    # simulate's times are full Julian dates: float64 resolves them to ~40 microseconds;
    # a cadence wrong by one frame would be off by 2000 x 0.159 s here
    np.testing.assert_allclose(offset, 0.5 * TFRAME, atol=1e-4)
    assert ax.attrs["cadence_s"] == pytest.approx(hdr["EFFINTTM"] + hdr["TFRAME"], abs=1e-12)


def test_missing_nresets_is_zero_and_said():
    ax = ta.time_axis(header(NRESETS=None), np.arange(1, 5), None)
    assert ax.attrs["cadence_s"] == EFFINTTM
    assert "NRESETS is missing" in str(ax.warnings[0]) and "TFRAME = 0.15904" in str(ax.warnings[0])


def test_missing_tframe_drops_the_resets():
    cadence, notes = ta.cadence_seconds(EFFINTTM, None, 1)
    assert cadence == EFFINTTM and "TFRAME is missing" in notes[0]


def test_missing_expstart_gives_nan():
    ax = ta.time_axis(header(EXPSTART=None, EXPEND=None), np.arange(1, 5), None)
    assert np.isnan(ax.times).all()
    assert "EXPSTART" in str(ax.warnings[0]) and ax.warnings[0].count == 4


def test_expend_disagreeing_with_the_cadence_is_reported():
    """Segment ending the exposure, EXPEND one frame per integration later than the keywords."""
    h = header(NINTS=1000, INTSTART=998, INTEND=1000, EXPEND=60000.0 + 1000 * (CADENCE + TFRAME) / DAY)
    ax = ta.time_axis(h, np.arange(998, 1001), None)
    text = str(ax.warnings[0])
    assert "(EXPEND - EXPSTART) / NINTS" in text and "159.0 s over the exposure" in text


# --------------------------------------------------------------------------
# INT_TIMES matching


def test_table_holding_the_segment_matches_by_row():
    table, true, mid = exposure_table(5000, rows=np.arange(1001, 1101))
    ax = ta.time_axis(header(NINTS=5000), np.arange(1001, 1101), table)
    np.testing.assert_array_equal(ax.times, mid)
    assert ax.attrs["matched_by"] == "row position (the table holds this segment)"
    assert ax.attrs["source"] == "INT_TIMES int_mid_BJD_TDB" and ax.attrs["time_scale"] == "TDB"
    assert ax.warnings == []


def test_table_holding_the_exposure_matches_by_row():
    table, true, mid = exposure_table(5000)
    ax = ta.time_axis(header(NINTS=5000), np.arange(1001, 1101), table)
    np.testing.assert_array_equal(ax.times, mid[1000:1100])
    assert ax.attrs["matched_by"] == "row position (the table holds the exposure)"
    assert ax.warnings == []


@pytest.mark.parametrize("segment", [(32760, 32780), (65530, 65545), (69990, 70000)],
                         ids=["past-32767", "past-65535", "end"])
def test_rollover_whole_exposure(segment):
    table, true, mid = exposure_table(70000)
    assert table["integration_number"][32767] == -32768 and table["integration_number"][65535] == 0
    ints = np.arange(segment[0], segment[1] + 1)
    times, rule, warns = ta.match_int_times(table["integration_number"], table["int_mid_BJD_TDB"],
                                            ints, n_exposure=70000)
    np.testing.assert_array_equal(times, mid[ints - 1])
    assert rule.startswith("row position") and warns == []


@pytest.mark.parametrize("segment", [(32760, 32780), (65530, 65545)], ids=["past-32767", "past-65535"])
def test_rollover_exposure_with_rows_missing_is_unwrapped(segment):
    keep = np.setdiff1d(np.arange(1, 70001), np.arange(100, 111))  # 11 rows lost
    table, true, mid = exposure_table(70000, rows=keep)
    ints = np.arange(segment[0], segment[1] + 1)
    times, rule, warns = ta.match_int_times(table["integration_number"], table["int_mid_BJD_TDB"], ints)
    np.testing.assert_array_equal(times, 59791.0 + (ints - 0.5) * CADENCE / DAY)
    assert rule == "integration_number, unwrapped past 65535" and warns == []


def test_rollover_segment_table_past_65535_shuffled():
    """A segment-only table beyond 65,536, rows out of order and one missing: modulo matching."""
    rows = np.arange(70001, 70011)
    table, true, mid = exposure_table(80000, rows=rows)
    order = np.random.default_rng(1).permutation(rows.size)[:-1]  # shuffled, last dropped
    numbers, mids = table["integration_number"][order], table["int_mid_BJD_TDB"][order]
    times, rule, warns = ta.match_int_times(numbers, mids, rows)
    lost = rows[np.setdiff1d(np.arange(rows.size), order)]
    expected = np.where(np.isin(rows, lost), np.nan, mid)
    np.testing.assert_array_equal(times, expected)
    assert rule == "integration_number modulo 65536"
    (w,) = warns
    assert w.count == 1 and f"e.g. {lost[0]}" in str(w)


def test_int16_wrap_in_a_fits_table(tmp_path):
    """The wrapped values survive a FITS 'J' column and a FITS_rec goes straight in."""
    table, true, mid = exposure_table(40000)
    cols = [fits.Column(name="integration_number", format="J", array=table["integration_number"]),
            fits.Column(name="int_mid_MJD_UTC", format="D", array=table["int_mid_MJD_UTC"]),
            fits.Column(name="int_mid_BJD_TDB", format="D", array=table["int_mid_BJD_TDB"])]
    path = tmp_path / "t.fits"
    fits.BinTableHDU.from_columns(cols, name="INT_TIMES").writeto(path)
    data = fits.getdata(path, "INT_TIMES")
    assert data["integration_number"].min() == -32768
    ints = np.arange(32000, 33500)
    ax = ta.time_axis(header(NINTS=40000), ints, data)
    np.testing.assert_array_equal(ax.times, mid[ints - 1])


def test_table_of_other_integrations_falls_back_to_the_header():
    table, _, _ = exposure_table(200, rows=np.arange(1, 101))
    h = header(INTSTART=101, INTEND=104, NINTS=200, EXPEND=60000.0 + 200 * CADENCE / DAY)
    ax = ta.time_axis(h, np.arange(101, 105), table)
    assert ax.attrs["time_scale"] == "UTC"
    assert "INT_TIMES holds no time for integrations 101-104" in str(ax.warnings[0])
    assert "runs 1..100" in str(ax.warnings[0])


def test_table_lacking_some_integrations():
    table, _, mid = exposure_table(100, rows=np.r_[1:50, 52:101])
    ax = ta.time_axis(header(NINTS=100), np.arange(41, 61), table)
    assert np.isnan(ax.times).sum() == 2
    (w,) = ax.warnings
    assert w.source == "INT_TIMES" and w.count == 2 and "e.g. 50" in str(w)


def test_duplicate_rows_are_reported():
    numbers = np.array([1, 2, 2, 3, 4], np.int32)
    mids = np.array([1.0, 2.0, 2.5, 3.0, 4.0]) + 60000
    times, rule, warns = ta.match_int_times(numbers, mids, np.arange(1, 5))
    np.testing.assert_array_equal(times, [60001.0, 60002.0, 60003.0, 60004.0])
    (w,) = warns
    assert w.count == 1 and "several rows" in str(w)


def test_more_rows_than_nints_is_reported():
    table, _, mid = exposure_table(120)
    ax = ta.time_axis(header(NINTS=100), np.arange(1, 11), table)
    np.testing.assert_array_equal(ax.times, mid[:10])
    assert any("120 rows but NINTS is 100" in str(w) for w in ax.warnings)


def test_zero_times_count_as_missing():
    table, _, _ = exposure_table(4)
    table["int_mid_BJD_TDB"] = np.zeros(4)
    ax = ta.time_axis(header(), np.arange(1, 5), table)  # falls to the UTC column
    assert ax.attrs["source"] == "INT_TIMES int_mid_MJD_UTC" and ax.attrs["time_scale"] == "UTC"
    assert "no int_mid_BJD_TDB values" in str(ax.warnings[0])


def test_structured_array_as_from_a_datamodel():
    table, _, mid = exposure_table(10)
    arr = np.zeros(10, dtype=[("integration_number", "i4"), ("int_mid_MJD_UTC", "f8"),
                              ("int_mid_BJD_TDB", "f8")])
    for name in arr.dtype.names:
        arr[name] = table[name]
    ax = ta.time_axis(header(NINTS=10), np.arange(3, 7), arr)
    np.testing.assert_array_equal(ax.times, mid[2:6])


def test_full_julian_dates_are_labelled():
    table, _, mid = exposure_table(4, t0=2459791.0)
    ax = ta.time_axis(header(), np.arange(1, 5), table)
    assert ax.attrs["julian_date_offset"] == 0.0


# --------------------------------------------------------------------------
# checks of the times


def test_check_times_duplicates_and_decreases():
    warns = ta.check_times([1.0, 2.0, 2.0, 3.0, 2.5, 4.0, np.nan], label="seg")
    assert [w.count for w in warns] == [1, 1]
    assert "repeat" in str(warns[0]) and "decreases" in str(warns[1])
    assert ta.check_times([1.0, np.nan, 2.0]) == []


def test_non_monotonic_table_times_are_reported():
    table, _, mid = exposure_table(6)
    table["int_mid_BJD_TDB"] = table["int_mid_BJD_TDB"][[0, 1, 3, 2, 4, 5]]
    ax = ta.time_axis(header(NINTS=6), np.arange(1, 7), table)
    assert any("decreases" in str(w) for w in ax.warnings)


# --------------------------------------------------------------------------
# barycentric


def _independent_bjd(mjd_utc, ra, dec):
    """BJD_TDB from the Earth's barycentric position . target direction / c (astropy pieces)."""
    import astropy.units as u
    from astropy.constants import c
    from astropy.coordinates import SkyCoord, get_body_barycentric
    from astropy.time import Time

    t = Time(mjd_utc, format="mjd", scale="utc")
    earth = get_body_barycentric("earth", t.tdb, ephemeris="builtin").xyz.to(u.m).value
    n = SkyCoord(ra * u.deg, dec * u.deg).cartesian.xyz.value
    light_s = np.einsum("i...,i->...", earth, n) / c.value
    return t.tdb.mjd + light_s / DAY


def test_bjd_conversion():
    mjd = 59791.0 + np.linspace(0, 365, 13)
    ra, dec = 217.3266, -3.4445  # WASP-39
    bjd = ta.mjd_utc_to_bjd_tdb(mjd, ra, dec)
    delta = (bjd - mjd) * DAY - ta.TT_MINUS_UTC
    assert np.all(np.abs(delta) < 8.5 * 60)
    assert np.ptp(delta) > 600  # the light time swings over a year
    np.testing.assert_allclose(bjd, _independent_bjd(mjd, ra, dec), rtol=0, atol=1e-3 / DAY)


def test_bjd_passes_nan_and_refuses_bad_coordinates():
    assert np.isnan(ta.mjd_utc_to_bjd_tdb([np.nan], 10.0, 10.0)).all()
    with pytest.raises(ValueError):
        ta.mjd_utc_to_bjd_tdb([60000.0], np.nan, 0.0)


def test_header_times_to_bjd_on_request():
    ax = ta.time_axis(header(), np.arange(1, 5), None, barycentric=True)
    assert ax.attrs["time_scale"] == "TDB" and ax.attrs["time_format"] == "BJD"
    assert ax.attrs["barycentric_max_error_s"] == ta.GEOCENTRIC_MAX_ERROR_S
    np.testing.assert_allclose(ax.times, ta.mjd_utc_to_bjd_tdb(ax.utc, 217.3266, -3.4445))
    assert "Earth's centre" in str(ax.warnings[0]) and "not BJD_TDB" not in str(ax.warnings[0])


def test_bjd_request_without_coordinates():
    ax = ta.time_axis(header(TARG_RA=None, TARG_DEC=None), np.arange(1, 5), None, barycentric=True)
    assert ax.attrs["time_scale"] == "UTC"
    assert "TARG_RA/TARG_DEC are not in the header" in str(ax.warnings[0])


# --------------------------------------------------------------------------
# several segments


def test_concat_same_scale():
    table, _, mid = exposure_table(20)
    parts = [ta.time_axis(header(NINTS=20), np.arange(a, a + 10), table) for a in (1, 11)]
    ax = ta.concat_time_axes(parts)
    np.testing.assert_array_equal(ax.times, mid)
    assert ax.attrs["source"] == "INT_TIMES int_mid_BJD_TDB"


def test_concat_mixed_scales_is_utc_for_all():
    table, _, mid = exposure_table(20, rows=np.arange(1, 11))
    first = ta.time_axis(header(NINTS=20), np.arange(1, 11), table)
    second = ta.time_axis(header(NINTS=20, EXPSTART=59791.0 - 69.184 / DAY), np.arange(11, 21),
                          empty_table())
    ax = ta.concat_time_axes([first, second])
    assert ax.attrs["time_scale"] == "UTC"
    np.testing.assert_allclose(ax.times[:10], table["int_mid_MJD_UTC"])
    np.testing.assert_allclose(np.diff(ax.times) * DAY, CADENCE, atol=1e-4)
    assert ax.warnings[-1].source == "mixed" and "different scales" in str(ax.warnings[-1])
