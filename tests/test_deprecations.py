"""Renamed keywords keep working for one release, with an XmiriFutureWarning naming the new one."""
import numpy as np
import pytest

import xmiri
from xmiri import ParameterError, XmiriFutureWarning


@pytest.fixture(scope="module")
def frames():
    ds, _ = xmiri.simulate.simulate(2, seed=4, n_cosmic_rays=3)
    return ds


def test_clean_trace_center_is_aperture_center(frames):
    new = frames.lrs.clean(aperture_center=30).compute()
    with pytest.warns(XmiriFutureWarning) as caught:
        old = frames.lrs.clean(trace_center=30).compute()
    assert (caught[0].message.old, caught[0].message.new) == ("trace_center", "aperture_center")
    np.testing.assert_array_equal(old["n_outliers"].values, new["n_outliers"].values)


def test_clean_refuses_both_names(frames):
    with pytest.raises(ParameterError, match="not both"):
        frames.lrs.clean(aperture_center=30, trace_center=31)


def test_clean_unknown_keyword_is_a_type_error(frames):
    with pytest.raises(TypeError, match="trace_centre"):
        frames.lrs.clean(trace_centre=30)


def test_simulate_readnoise_is_readnoise_sigma():
    new, _ = xmiri.simulate.simulate(2, seed=1, readnoise_sigma=0.5)
    with pytest.warns(XmiriFutureWarning) as caught:
        old, _ = xmiri.simulate.simulate(2, seed=1, readnoise=0.5)
    assert (caught[0].message.old, caught[0].message.new) == ("readnoise", "readnoise_sigma")
    np.testing.assert_array_equal(old["var_rnoise"].values, new["var_rnoise"].values)
    np.testing.assert_allclose(new["var_rnoise"].values, 0.25, rtol=1e-6)


def test_simulate_bad_old_name_still_refused():
    with pytest.warns(XmiriFutureWarning), pytest.raises(ParameterError, match="readnoise"):
        xmiri.simulate.simulate(2, readnoise=-1.0)
