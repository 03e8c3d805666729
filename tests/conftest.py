"""Shared pytest fixtures.

The two real-format MIRI LRS files live in ``../shared/data`` beside the
repository (never copied into it).  Set ``XMIRI_SHARED_DATA`` to point
elsewhere.
"""
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("XMIRI_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
RATEINTS = SHARED_DATA / "mirisim_ngts10_seg041_rateints.fits"
CALINTS = SHARED_DATA / "mirisim_ngts10_seg041_calints.fits"


def _require(path):
    if not path.exists():
        message = f"shared data file not found: {path} (set XMIRI_SHARED_DATA)"
        if os.environ.get("CI"):  # CI has ../shared: a missing file there is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def rateints_path():
    """Path of the shared MIRISim NGTS-10 rateints file (jwst 1.4.1, no WCS)."""
    return _require(RATEINTS)


@pytest.fixture(scope="session")
def calints_path():
    """Path of the shared MIRISim NGTS-10 calints file (jwst 2.0.1, WCS + WAVELENGTH)."""
    return _require(CALINTS)
