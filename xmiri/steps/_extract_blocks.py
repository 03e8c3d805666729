"""``extract``'s block functions: one block of integrations in, the flux of every row out.

Each block goes centre -> aperture weights -> spatial profile -> flux
(:func:`xmiri.kernels.extract.box_extract`,
:func:`xmiri.kernels.extract.optimal_extract`) -> what was given up is
reported and the subtracted sky's variance added.  :mod:`xmiri.steps.extract`
maps them over the chunks; they are module-level functions so that
dask.distributed can pickle them.
"""
import numpy as np

from ..kernels import aperture as _aperture
from ..kernels import extract as _extract
from ..kernels import noise as _noise
from ..kernels import profile as _profiles
from ..kernels import trace as _trace
from ._common import scalar
from ._diagnostics import report

#: The DQ bit clean sets on the pixels it replaced (2**4, OUTLIER).
_REPLACED_BIT = 4
#: Rows on each side whose profile stands in for a row with missing pixels
#: (docs/extract.rst, "Missing and saturated pixels").
_PROFILE_HALF_HEIGHT = 5
#: Gauss-Newton iterations and derivative half-step (pixels) of the fit that places the moving
#: median profile on each integration (``profile_follows_trace``; docs/extract.rst).
_SHIFT_ITERATIONS = 4
_SHIFT_STEP = 0.01


def _trace_block(data, **kwargs):
    center, sigma = _trace.fit_trace_block(data, **kwargs)
    report("extract", "trace_position", np.count_nonzero(~np.isfinite(center)), center.size,
           "the Gaussian fit of the cross-dispersion profile failed")
    return center, sigma


def _cutout_block(values, center, *, left, right):
    center = np.broadcast_to(center, values.shape[:1])
    mask = _aperture.aperture_mask(center, values.shape[-1], left, right)
    return _aperture.aperture_cutout(values, mask)


def _weights(a, shape, *, left, right, whole_pixels):
    """Step 2 of every block: the aperture weights of each (integration, row) from its centre.

    Computed once for a centre shared by the integrations (e.g. one per row)
    and broadcast: a read-only view."""
    center = np.asarray(a["center"])
    np.broadcast_to(center, shape[:2])  # the shapes' check
    center = center.reshape((1,) * (2 - center.ndim) + center.shape)
    return np.broadcast_to(_aperture.edge_weights(
        *_aperture.aperture_edges(center, left, right, whole_pixels), shape[-1]), shape)


def _pixel_flags(a, shape, dq_mask):
    """Usable pixels (no `dq_mask` bit) and pixels ``clean`` replaced (OUTLIER bit), or None."""
    if "dq" not in a:
        return None, None
    dq = np.asarray(a["dq"]).astype(np.uint32, copy=False)
    usable = (dq & np.uint32(dq_mask)) == 0 if dq_mask else None
    return usable, np.broadcast_to((dq & np.uint32(1 << _REPLACED_BIT)) != 0, shape)


def _finish(result, a, weights, *, min_valid_weight, zero_profile, columns=None):
    """Report what was given up; add the subtracted sky's variance; the block's outputs.

    `columns`: the frame's columns that `weights` and the result's linear
    weights hold (None: all)."""
    has_aperture = np.any(weights > 0, axis=-1)  # rows without a centre: counted by the fits
    unmeasured = ~np.isfinite(result.flux) & has_aperture
    with np.errstate(invalid="ignore"):  # some but too few valid pixels (none: NaN data)
        too_little = (unmeasured & ~zero_profile & (result.missing_fraction > 1.0 - min_valid_weight)
                      & (result.missing_fraction < 1.0 - 1e-9))
    total = int(has_aperture.sum())
    report("extract", "flux", np.count_nonzero(too_little), total,
           "less than min_valid_weight of the aperture's profile weight on valid pixels "
           "(NaN or DQ-masked pixels)")
    report("extract", "flux", np.count_nonzero(unmeasured & zero_profile), total,
           "the spatial profile is 0 throughout the aperture: rows without starlight")
    report("extract", "flux", np.count_nonzero(unmeasured & ~too_little & ~zero_profile), total,
           "NaN data or errors inside the aperture")
    out = [result.flux, result.flux_error, result.missing_fraction]
    if "sky_error" in a:
        coefficients = np.asarray(a["sky_coefficient"])
        coefficients = coefficients.reshape(-1, *coefficients.shape[-2:])[0]
        sky_variance = _noise.sky_flux_variance(result.linear_weights, coefficients,
                                                np.broadcast_to(a["sky_error"], (
                                                    *result.flux.shape, coefficients.shape[0])),
                                                columns=columns)
        sky_variance = np.where(np.isfinite(result.flux), sky_variance, np.nan)
        out[1] = np.sqrt(result.flux_error**2 + sky_variance)
        out.append(np.sqrt(sky_variance))
    return tuple(out)


def _profile(a, shape, weights, usable, finite):
    """Step 3 of every block: the spatial profile P the flux is weighted or scaled with.

    The method's profile (``clean``'s P, the median P, the traced Gaussian or
    the median frame's) on every valid pixel.  A missing pixel takes the
    profile of the neighbouring rows of the same integration, which follows
    that integration's pointing, completed with the exposure's profile and scaled to the
    method's profile over the row's valid pixels
    (:func:`xmiri.kernels.profile.complete_profile`)."""
    frame_profile = np.broadcast_to(a["frame_profile"], shape)
    if "moving_profile" in a:  # the median P in the trace's frame, at this integration's centre
        moving = np.asarray(a["moving_profile"])
        moving = moving.reshape(-1, *moving.shape[-2:])[0]
        shift = np.broadcast_to(np.asarray(a["profile_shift"], dtype=np.float64), shape[:1])
        valid = finite if usable is None else finite & usable
        rows = slice(*a["shift_rows"])  # the fit's rows only
        shift = _profiles.fit_profile_shift(np.where(valid[:, rows], a["data"][:, rows], np.nan),
                                            moving[rows], shift, rows=(0, moving[rows].shape[0]),
                                            iterations=_SHIFT_ITERATIONS, step=_SHIFT_STEP)
        profile = _profiles.move_template(moving, shift)
    elif "median_profile" in a:  # ExoTiC-MIRI's median P, in aperture columns
        cutout = np.asarray(a["median_profile"])
        cutout = cutout.reshape(-1, *cutout.shape[-2:])[0]
        profile = _aperture.expand_cutout(cutout, weights[:, 0, :] > 0)
    elif "model_sigma" in a:  # a Gaussian that follows the traced centre
        center = np.broadcast_to(a["center"], shape[:2])
        profile = _aperture.gaussian_profile(center, a["model_sigma"], shape[-1])
    elif "profile" in a:  # clean's P, completed where it is undefined
        profile = _profiles.fill_profile(np.broadcast_to(a["profile"], shape), frame_profile)
    else:
        profile = frame_profile
    valid = finite if usable is None else finite & usable
    return _profiles.complete_profile(profile, a["data"], valid, weights, frame_profile,
                                      half_height=_PROFILE_HALF_HEIGHT)


def _box_block(*arrays, names, left, right, whole_pixels, dq_mask, min_valid_weight):
    """Box flux of one block: centre -> weights -> :func:`xmiri.kernels.extract.box_extract`.

    Everything works on the band of columns that the block's apertures touch
    (:func:`xmiri.kernels.aperture.band_weights`; every weight outside it is
    0), with the same results as on whole frames: the profile's row scales
    and the sky's variance are summed over whole rows
    (:func:`xmiri.kernels.profile.fill_profile_columns`,
    :func:`xmiri.kernels.profile.complete_profile_columns`,
    :func:`xmiri.kernels.noise.sky_flux_variance`)."""
    a = dict(zip(names, arrays))
    shape = a["data"].shape
    weights, band = _aperture.band_weights(  # once per row for a centre the same in every
        *_aperture.aperture_edges(a["center"], left, right, whole_pixels), shape[-1])  # integration
    weights = np.broadcast_to(weights, (*shape[:2], weights.shape[-1]))
    cut = {name: np.asarray(np.asarray(a[name])[..., band], dtype=np.float64)
           for name in ("data", "err") if name in a}
    if "dq" in a:
        cut["dq"] = np.asarray(a["dq"])[..., band]
    data = cut["data"]
    usable, replaced = _pixel_flags(cut, data.shape, dq_mask)
    valid = np.isfinite(data) & np.isfinite(cut["err"])
    if usable is not None:
        valid &= usable
    frame_profile = np.broadcast_to(a["frame_profile"], shape)
    if "profile" in a:  # clean's P, completed where it is undefined
        profile = _profiles.fill_profile_columns(np.broadcast_to(a["profile"], shape),
                                                 frame_profile, band)
    else:
        profile = frame_profile[..., band]
    profile = _profiles.complete_profile_columns(profile, data, valid, weights,
                                                 frame_profile[..., band],
                                                 half_height=_PROFILE_HALF_HEIGHT, columns=band,
                                                 n_cols=shape[-1])
    result = _extract.box_extract(data, cut["err"], weights, profile, usable, replaced,
                                  min_valid_weight=min_valid_weight)
    return _finish(result, a, weights, min_valid_weight=min_valid_weight,
                   zero_profile=np.zeros(result.flux.shape, bool), columns=band)


def _trace_frame_flux(result, a, profile, weights):
    """An optimal extraction's flux (and its error and weights) as the flux inside the
    aperture in the frame of the trace: scaled by
    :func:`xmiri.kernels.extract.trace_frame_scale`, ``sum(w T) / sum(w P)``; and the
    rows of :func:`xmiri.kernels.extract.zero_profile_rows`."""
    template = np.asarray(a["moving_profile"])
    scale, zero = _extract._trace_frame_scale(template.reshape(-1, *template.shape[-2:])[0],
                                              profile, weights, zero_rows=True)
    # linear_weights * scale, in place: 0 * scale (+0.0, or NaN where the scale is) off the aperture
    linear = result.linear_weights
    linear *= scale[..., np.newaxis]
    linear[~(scale > 0)] = np.nan  # the scale is NaN or > 0
    return result._replace(flux=result.flux * scale, flux_error=result.flux_error * scale), zero


def _optimal_block(*arrays, names, left, right, whole_pixels, dq_mask, min_valid_weight,
                   shift_rows=None):
    """Optimal flux of one block: centre -> weights -> profile ->
    :func:`xmiri.kernels.extract.optimal_extract`."""
    a = dict(zip(names, arrays), shift_rows=shift_rows)
    data = a["data"]
    weights = _weights(a, data.shape, left=left, right=right, whole_pixels=whole_pixels)
    usable, replaced = _pixel_flags(a, data.shape, dq_mask)
    finite = np.isfinite(data) & np.isfinite(a["variance0"])
    if "sky" in a:
        finite = finite & np.isfinite(a["sky"])
    profile = _profile(a, data.shape, weights, usable, finite)
    *result, band = _extract._optimal_band(  # the linear weights of the band of columns only
        data, profile, np.broadcast_to(a["variance0"], data.shape), weights, usable, replaced,
        q=scalar(a["q"]), sky=a.get("sky"), min_valid_weight=min_valid_weight)
    result = _extract.Extraction(*result)
    if "moving_profile" in a:  # the flux inside the aperture in the trace's frame
        result, zero = _trace_frame_flux(result, a, profile, weights)
    else:
        zero = _extract.zero_profile_rows(weights, profile)
    return _finish(result, a, weights[..., band], min_valid_weight=min_valid_weight,
                   zero_profile=zero, columns=band)
