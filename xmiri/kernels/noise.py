"""The noise model of a count-rate pixel: Horne's Q from the file, expected errors, outlying ERR.

The variance of a rate ``R`` (DN/s) is ``R / Q + V_read``, with ``Q`` the
detected electrons per DN/s (gain times effective integration time) and
``V_read`` the read-noise variance (the file's ``var_rnoise``).  A rateints
file does not state the gain, but its Poisson variance plane does:
``var_poisson = R / Q``, so ``Q`` is the median of ``R / var_poisson`` over
bright pixels (:func:`estimate_q`).  Measured on simulations (the defaults
study, ``benchmarks/DEFAULTS.md``) the estimate is within 0.1 % of the true
Q for faint and bright stars, a gain of 2 and 10 s integrations; a quoted
MIRI gain (3.1 e-/DN x EFFINTTM = 148) disagrees with the shared MIRISim
file's own ``var_poisson`` (38.6).

Pure numpy, no warnings machinery.
"""
import numpy as np

from .background import nanmedian

__all__ = ["estimate_q", "expected_error", "outlying_errors"]

#: Pixels brighter than this many read-noise sigmas estimate Q (read noise negligible).
Q_SNR = 20.0


def estimate_q(rate, var_poisson, var_rnoise, bad=None, snr=Q_SNR):
    """Horne's Q (electrons per DN/s) from a file's own Poisson variance.

    Parameters
    ----------
    rate : array_like
        Count rates, DN/s, *before* sky subtraction (the rate the Poisson
        variance was computed from).
    var_poisson, var_rnoise : array_like, same shape
        The file's Poisson and read-noise variances, (DN/s)**2.
    bad : array_like of bool, optional
        Pixels to leave out (e.g. flagged in DQ).
    snr : float, optional
        Only pixels with ``rate > snr * sqrt(median(var_rnoise))`` count.

    Returns
    -------
    float
        ``median(rate / var_poisson)`` over the finite, unflagged, bright
        pixels with ``var_poisson > 0``; NaN if there is none.

    Examples
    --------
    >>> rate = np.array([100.0, 200.0, 1.0, 400.0])
    >>> estimate_q(rate, rate / 38.0, np.full(4, 0.07))
    38.0
    """
    rate = np.asarray(rate, dtype=np.float64)
    var_poisson = np.asarray(var_poisson, dtype=np.float64)
    var_rnoise = np.asarray(var_rnoise, dtype=np.float64)
    floor = snr * np.sqrt(nanmedian(var_rnoise.ravel()))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(rate) & np.isfinite(var_poisson) & (var_poisson > 0) & (rate > floor)
        if bad is not None:
            ok &= ~np.asarray(bad, dtype=bool)
        if not ok.any():
            return float("nan")
        return float(np.median(rate[ok] / var_poisson[ok]))


def expected_error(rate, q, var_rnoise):
    """The 1-sigma error a pixel of count rate ``rate`` should have: ``sqrt(max(rate, 0) / q + V_read)``.

    Parameters
    ----------
    rate : array_like
        Count rate before sky subtraction, DN/s.
    q : float
        Electrons per DN/s (:func:`estimate_q`).
    var_rnoise : array_like or float
        Read-noise variance, (DN/s)**2.

    Returns
    -------
    numpy.ndarray
        DN/s.

    Examples
    --------
    >>> expected_error(np.array([38.0, -5.0]), 38.0, 0.0).tolist()
    [1.0, 0.0]
    """
    rate = np.asarray(rate, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.maximum(rate, 0.0) / q + np.asarray(var_rnoise, dtype=np.float64))


def outlying_errors(err, rate, q, var_rnoise, threshold):
    """Pixels whose ERR is more than ``threshold`` times the error their own rate implies.

    A pipeline ERR far above ``sqrt(max(rate, 0) / Q + V_read)`` marks a pixel
    whose noise the pipeline distrusted (an unreliable dark or flat, a
    poorly fitted ramp) even when no DQ bit says so; its ERR would dominate
    the error of every spectrum and light-curve bin that sums it.

    Parameters
    ----------
    err, rate : array_like
        The file's ERR and the count rate before sky subtraction, DN/s.
    q : float
        Electrons per DN/s.
    var_rnoise : array_like or float
        Read-noise variance, (DN/s)**2 (e.g. the median of the file's).
    threshold : float
        How many times the expected error counts as outlying.

    Returns
    -------
    numpy.ndarray of bool
        True where ``err > threshold * expected_error(rate, q, var_rnoise)``
        (never where ERR or the rate is NaN).

    Examples
    --------
    >>> outlying_errors(np.array([1.0, 52.8]), np.array([38.0, 38.0]), 38.0, 0.0, 5.0).tolist()
    [False, True]
    """
    expected = expected_error(rate, q, var_rnoise)
    with np.errstate(invalid="ignore"):
        return np.asarray(err, dtype=np.float64) > threshold * expected
