"""Counter-based random numbers: every value depends only on its key, not on the order of calls.

The truth of a simulation (jitter, hits, hot pixels) is drawn from a
splitmix64 hash of ``(seed, stream, k, ...)`` (Steele, Lea & Flood 2014), so
integration ``k`` gets the same numbers whatever the chunking.
"""
import numpy as np

# Random streams: (seed, stream, k, ...) keys never collide between uses.
_S_JITTER_X, _S_JITTER_Y, _S_NHITS, _S_HIT_POS, _S_HIT_SNR, _S_NOISE, _S_HOT = range(1, 8)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(z):
    """splitmix64 finaliser (Steele, Lea & Flood 2014) on a uint64 array."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _uniform(seed, stream, *keys):
    """Uniform (0, 1) numbers that depend only on ``(seed, stream, *keys)``."""
    with np.errstate(over="ignore"):
        h = _mix64(np.atleast_1d(np.uint64(seed % 2 ** 64)) + _GOLDEN)
        for key in (stream,) + keys:
            key = np.asarray(key).astype(np.uint64)
            h = _mix64((h ^ key) + _GOLDEN)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def _normal(seed, stream, *keys):
    """Standard normal numbers keyed like :func:`_uniform` (Box-Muller)."""
    u1 = _uniform(seed, stream, *keys, 0)
    u2 = _uniform(seed, stream, *keys, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
