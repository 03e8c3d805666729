"""The earlier kernels' calls, written as calls of the one box and one optimal kernel.

The equivalence tests (ExoTiC-MIRI, brute force, noise realisations) were
written against ``box_extract_block(data, err, mask)``,
``optimal_extract_block(data, profile, variance0, mask, ...)`` and their
fractional-weight twins.  Since 0.3 one kernel of each kind serves every
aperture (:func:`xmiri.kernels.extract.box_extract`,
:func:`xmiri.kernels.extract.optimal_extract`); these helpers pass a mask as
0/1 weights and ``min_valid_weight=1`` (a row with a missing pixel is given
up, ExoTiC-MIRI's behaviour), so those tests check the one path unchanged.
"""
import numpy as np

from xmiri.kernels.aperture import aperture_cutout, expand_cutout
from xmiri.kernels.extract import box_extract, optimal_extract

__all__ = ["box_extract_block", "optimal_extract_block", "box_extract_weighted",
           "optimal_extract_weighted", "mask_weights", "aperture_cutout"]


def mask_weights(mask):
    """A whole-pixel aperture mask (n_int, n_col) as 0/1 weights (n_int, 1, n_col)."""
    return np.asarray(mask, dtype=bool)[:, np.newaxis, :].astype(np.float64)


def box_extract_weighted(data, err, weights):
    out = box_extract(data, err, weights, 1.0, None, None, min_valid_weight=1.0)
    return out.flux, out.flux_error


def optimal_extract_weighted(data, profile, variance0, weights, *, q=1.0, sky=None):
    out = optimal_extract(data, profile, variance0, weights, None, None, q=q, sky=sky,
                          min_valid_weight=1.0)
    return out.flux, out.flux_error


def box_extract_block(data, err, mask):
    data = np.asarray(data, dtype=np.float64)
    return box_extract_weighted(data, err, mask_weights(mask))


def optimal_extract_block(data, profile, variance0, mask, *, median_profile=None, q=1.0, sky=None):
    data = np.asarray(data, dtype=np.float64)
    if median_profile is not None:
        profile = expand_cutout(median_profile, mask)
    return optimal_extract_weighted(data, profile, variance0, mask_weights(mask), q=q,
                                    sky=sky)
