"""The suite's comparison helpers (tests/conftest.py) fail when values differ, whatever the values."""
import numpy as np
import pytest

from tests.conftest import assert_close, worst_relative


@pytest.mark.parametrize("floor", [0.0, 1e-6])
def test_all_zero_expected_is_compared(floor):
    zeros = np.zeros(5)
    assert worst_relative(zeros, zeros, floor) == 0.0
    assert worst_relative(zeros + [0, 0, 1e-9, 0, 0], zeros, floor) == np.inf
    with pytest.raises(AssertionError):
        assert_close(np.ones(5), zeros, rtol=1e-3, floor=floor)


@pytest.mark.parametrize("floor", [0.0, 1e-6])
def test_zero_elements_are_compared(floor):
    expected = np.array([0.0, 1.0, 2.0])
    assert worst_relative(np.array([0.0, 1.0, 2.0]), expected, floor) == 0.0
    assert worst_relative(np.array([1e-3, 1.0, 2.0]), expected, floor) > 1.0
    with pytest.raises(AssertionError):
        assert_close(np.array([1e-3, 1.0, 2.0]), expected, rtol=1e-3, floor=floor)


def test_relative_difference_and_nan():
    expected = np.array([1.0, np.nan, 4.0])
    assert worst_relative(np.array([1.0, np.nan, 4.4]), expected, 1e-6) == pytest.approx(0.1)
    assert_close(np.array([1.0, np.nan, 4.0 + 4e-7]), expected, rtol=1e-6, floor=1e-6)
    with pytest.raises(AssertionError):
        assert_close(np.array([1.0, 2.0, 4.0]), expected, rtol=1e-6, floor=1e-6)  # NaN pattern
    with pytest.raises(AssertionError):
        assert_close(np.ones(2), np.ones(3))  # shape


def test_a_missing_module_skips_locally_and_fails_under_ci(monkeypatch):
    from tests.conftest import require_module

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_module("xmiri_no_such_module")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="xmiri_no_such_module is not installed under CI"):
        require_module("xmiri_no_such_module")
    assert require_module("numpy") is np


def test_a_missing_shared_file_skips_locally_and_fails_under_ci(monkeypatch, tmp_path):
    from tests.conftest import _require

    missing = tmp_path / "absent.fits"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _require(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="shared data file not found"):
        _require(missing)
