"""The noise model (issue 14's defaults) against known truth: Horne's Q, the ERR rule, repaired errors.

The simulator draws Poisson noise with ``gain`` e-/DN over ``integration_time``
seconds, so Q = gain x time is known; its ``var_poisson`` plane is
``rate / Q`` of the noiseless rate, as the pipeline's is of its own fit.
"""
import numpy as np
import pytest

import xmiri
from xmiri.kernels import noise
from xmiri.defaults import Q_SNR

OUTLIER = 16  # DQ bit 4, set by clean on every pixel it replaced


@pytest.mark.parametrize("gain, seconds, flux", [(0.8, 47.712, 430.0), (2.0, 10.0, 430.0),
                                                 (0.8, 47.712, 40.0)],
                         ids=["miri-like", "gain2-10s", "faint"])
def test_clean_stores_q_equal_to_gain_times_time(gain, seconds, flux):
    ds, _ = xmiri.simulate.simulate(4, seed=3, gain=gain, integration_time=seconds,
                                    stellar_flux=flux, chunks=2)
    q = float(ds.lrs.clean()["horne_q"].values)
    assert q == pytest.approx(gain * seconds, rel=2e-3)  # measured: within 0.06 %


def test_clean_q_has_the_units_of_electrons_per_rate():
    import astropy.units as u

    ds, _ = xmiri.simulate.simulate(2, seed=1)
    q = ds.lrs.clean()["horne_q"]
    assert u.Unit(q.attrs["units"]) == u.electron / (u.DN / u.s)


def test_estimate_q_leaves_out_flagged_faint_and_unusable_pixels():
    """Analytic: only the bright, unflagged pixels with var_poisson > 0 set the median."""
    rate = np.array([100.0, 200.0, 400.0, 800.0, 300.0, 0.5, 250.0, np.nan])
    var = rate / 38.0
    var[4] = rate[4] / 500.0  # flagged below: its wrong variance must not count
    var[5] = rate[5] / 900.0  # fainter than 20 read-noise sigmas: left out
    var[6] = 0.0              # no Poisson variance: left out
    bad = np.zeros(rate.size, bool)
    bad[4] = True
    assert noise.estimate_q(rate, var, np.full(rate.size, 0.01), bad=bad, snr=Q_SNR) == pytest.approx(38.0)
    assert np.isnan(noise.estimate_q(rate[:1], var[:1], [0.01], bad=[True], snr=Q_SNR))
    # each rule alone, against a majority it must leave out (the median would move otherwise)
    rn = np.full(3, 0.01)
    assert noise.estimate_q([100.0, 300.0, 300.0], [100 / 38, 0.6, 0.6], rn,
                            bad=[False, True, True], snr=Q_SNR) == pytest.approx(38.0)  # 500 if bad ignored
    assert noise.estimate_q([100.0, 0.5, 0.5], [100 / 38, 0.5 / 900, 0.5 / 900],
                            rn, snr=Q_SNR) == pytest.approx(38.0)  # 900 if the read-noise floor ignored
    assert noise.estimate_q([100.0, 300.0, 300.0], [100 / 38, 0.0, 0.0], rn, snr=Q_SNR) == pytest.approx(38.0)


@pytest.fixture(scope="module")
def exposure():
    ds, _ = xmiri.simulate.simulate(4, seed=8, n_cosmic_rays=0, n_hot_pixels=0, chunks=2)
    return ds


def test_err_rule_replaces_exactly_the_pixels_with_inflated_err(exposure):
    """ERR 10x too large (no DQ bit, data untouched): replaced with the rule, kept without it."""
    rng = np.random.default_rng(5)
    n_int, n_rows, n_cols = exposure["data"].shape
    where = (rng.integers(0, n_int, 40), rng.integers(20, n_rows - 20, 40), rng.integers(30, 43, 40))
    err = exposure["err"].values.copy()
    err[where] *= 10.0
    inflated = exposure.assign(err=(exposure["err"].dims, err))
    with_rule = inflated.lrs.clean(err_threshold=5.0).compute()
    without = inflated.lrs.clean(err_threshold=None).compute()
    assert np.all(with_rule["dq"].values[where] & OUTLIER)
    assert not np.any(without["dq"].values[where] & OUTLIER)
    # the rule adds no other pixel: the simulator's own ERR follows the noise model
    added = (with_rule["dq"].values & OUTLIER) & ~(without["dq"].values & OUTLIER)
    assert np.count_nonzero(added) == len(set(zip(*where)))


def test_repaired_err_is_the_noise_model_of_the_replacement(exposure):
    """Replaced pixels: ERR = sqrt(max(D, 0) / Q + median var_rnoise); the others keep theirs."""
    frames = exposure.compute()
    data = frames["data"].values.copy()
    data[1, 200, 36] = 5e4  # an outlier on the trace, replaced by the profile fit
    frames = frames.assign(data=(frames["data"].dims, data))
    out = frames.lrs.clean()
    replaced = (out["dq"].values & OUTLIER) > 0
    assert replaced[1, 200, 36]
    q = float(out["horne_q"])
    read = np.median(frames["var_rnoise"].values.reshape(frames.sizes["integration"], -1),
                     axis=1)[:, None, None]
    model = np.sqrt(np.maximum(out["data"].values.astype(float), 0.0) / q + read)
    np.testing.assert_allclose(out["err"].values[replaced], np.broadcast_to(model, replaced.shape)[replaced],
                               rtol=1e-6)
    np.testing.assert_allclose(out["var_rnoise"].values[replaced],
                               np.broadcast_to(read, replaced.shape)[replaced], rtol=1e-6)
    np.testing.assert_array_equal(out["err"].values[~replaced], frames["err"].values[~replaced])
    kept = frames.lrs.clean(repair_errors=False)
    np.testing.assert_array_equal(kept["err"].values, frames["err"].values)
