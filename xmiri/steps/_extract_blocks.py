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
from ..kernels import profileshift as _profileshift
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


def _band_weights(a, shape, *, left, right, whole_pixels):
    """Step 2 of every block: the aperture weights of each (integration, row) from its centre,
    on the band of columns any of them touches, and that band (a slice).

    Computed once for a centre shared by the integrations (e.g. one per row)
    and broadcast: a read-only view (:func:`xmiri.kernels.aperture.band_weights`:
    the weights of whole frames, bit for bit, 0 outside the band)."""
    weights, band = _aperture.band_weights(
        *_aperture.aperture_edges(a["center"], left, right, whole_pixels), shape[-1])
    return np.broadcast_to(weights, (*shape[:2], weights.shape[-1])), band


def _pixel_flags(a, shape, dq_mask):
    """Usable pixels (no `dq_mask` bit) and pixels ``clean`` replaced (OUTLIER bit), or None."""
    if "dq" not in a:
        return None, None
    dq = np.asarray(a["dq"]).astype(np.uint32, copy=False)
    return _usable(dq, dq_mask), np.broadcast_to((dq & np.uint32(1 << _REPLACED_BIT)) != 0, shape)


def _usable(dq, dq_mask):
    """Pixels of `dq` (uint32) without a `dq_mask` bit; None when no bit is masked."""
    return (dq & np.uint32(dq_mask)) == 0 if dq_mask else None


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


def _profile(a, shape, band, weights, usable, finite, data, dq_mask):
    """Step 3 of every block: the spatial profile P the flux is weighted or scaled with, on the
    block's `band` of columns (`weights`, `usable` and `data` hold that band, `finite` whole
    frames).

    The method's profile (``clean``'s P, the median P, the traced Gaussian or
    the median frame's) on every valid pixel.  A missing pixel takes the
    profile of the neighbouring rows of the same integration, which follows
    that integration's pointing, completed with the exposure's profile and scaled to the
    method's profile over the row's valid pixels
    (:func:`xmiri.kernels.profile.complete_profile_columns`: the values of whole
    frames, bit for bit)."""
    frame_profile = np.broadcast_to(a["frame_profile"], shape)
    if "moving_profile" in a:  # the median P in the trace's frame, at this integration's centre
        moving = np.asarray(a["moving_profile"])
        moving = moving.reshape(-1, *moving.shape[-2:])[0]
        shift = np.broadcast_to(np.asarray(a["profile_shift"], dtype=np.float64), shape[:1])
        rows = slice(*a["shift_rows"])  # the fit's rows only, on whole rows
        fitted = np.asarray(a["data"])[:, rows]
        valid = finite[:, rows]
        usable_rows = None if "dq" not in a else _usable(
            np.asarray(a["dq"])[:, rows].astype(np.uint32, copy=False), dq_mask)
        if usable_rows is not None:  # (not in place: `finite` is used again below)
            valid = valid & usable_rows
        shift = _profiles.fit_profile_shift(np.where(valid, fitted, np.nan),
                                            moving[rows], shift, rows=(0, moving[rows].shape[0]),
                                            iterations=_SHIFT_ITERATIONS, step=_SHIFT_STEP)
        profile = _profileshift._move_template(moving, shift, band)
    elif "median_profile" in a:  # ExoTiC-MIRI's median P, in aperture columns
        cutout = np.asarray(a["median_profile"])
        cutout = cutout.reshape(-1, *cutout.shape[-2:])[0]
        profile = _aperture.expand_cutout(cutout, weights[:, 0, :] > 0)
    elif "model_sigma" in a:  # a Gaussian that follows the traced centre
        center = np.broadcast_to(a["center"], shape[:2])
        profile = _aperture.gaussian_profile(center, a["model_sigma"], shape[-1])[..., band]
    elif "profile" in a:  # clean's P, completed where it is undefined
        profile = _profiles.fill_profile_columns(np.broadcast_to(a["profile"], shape),
                                                 frame_profile, band)
    else:
        profile = frame_profile[..., band]
    valid = finite[..., band] if usable is None else finite[..., band] & usable
    return _profiles.complete_profile_columns(profile, data, valid, weights, frame_profile[..., band],
                                              half_height=_PROFILE_HALF_HEIGHT, columns=band,
                                              n_cols=shape[-1])


def _finite(a):
    """Where the block's data, ``variance0`` (and ``sky``) are all finite (whole frames: one pass
    over contiguous memory costs less than one over a band's strided columns)."""
    shape = np.shape(a["data"])
    finite = np.isfinite(a["data"])
    for name in ("variance0", "sky"):
        if name in a:
            finite &= np.isfinite(np.broadcast_to(a[name], shape))
    return finite


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
    weights, band = _band_weights(a, shape, left=left, right=right, whole_pixels=whole_pixels)
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


def _trace_frame_flux(result, a, profile, weights, band):
    """An optimal extraction's flux (and its error and weights) as the flux inside the
    aperture in the frame of the trace: scaled by
    :func:`xmiri.kernels.extract.trace_frame_scale`, ``sum(w T) / sum(w P)``; and the
    rows of :func:`xmiri.kernels.extract.zero_profile_rows` (`profile` and `weights` on the
    `band` of columns)."""
    template = np.asarray(a["moving_profile"])
    template = template.reshape(-1, *template.shape[-2:])[0]
    scale, zero = _extract._trace_frame_scale(template[..., band], profile, weights, zero_rows=True,
                                              columns=band, n_cols=template.shape[-1])
    # linear_weights * scale, in place: 0 * scale (+0.0, or NaN where the scale is) off the aperture
    linear = result.linear_weights
    linear *= scale[..., np.newaxis]
    linear[~(scale > 0)] = np.nan  # the scale is NaN or > 0
    return result._replace(flux=result.flux * scale, flux_error=result.flux_error * scale), zero


def _optimal_block(*arrays, names, left, right, whole_pixels, dq_mask, min_valid_weight,
                   shift_rows=None):
    """Optimal flux of one block: centre -> weights -> profile ->
    :func:`xmiri.kernels.extract.optimal_extract`.

    Everything but the fit that places a moving profile works on the band of
    columns that the block's apertures touch, with the same results as on
    whole frames (as :func:`_box_block`)."""
    a = dict(zip(names, arrays), shift_rows=shift_rows)
    shape = np.shape(a["data"])
    weights, band = _band_weights(a, shape, left=left, right=right, whole_pixels=whole_pixels)
    cut = {name: np.broadcast_to(a[name], shape)[..., band]
           for name in ("data", "variance0", "sky", "dq") if name in a}
    usable, replaced = _pixel_flags(cut, weights.shape, dq_mask)
    profile = _profile(a, shape, band, weights, usable, _finite(a), cut["data"], dq_mask)
    *result, inner = _extract._optimal_band(  # the linear weights of its band of columns only
        cut["data"], profile, cut["variance0"], weights, usable, replaced,
        q=scalar(a["q"]), sky=cut.get("sky"), min_valid_weight=min_valid_weight)
    result = _extract.Extraction(*result)
    if "moving_profile" in a:  # the flux inside the aperture in the trace's frame
        result, zero = _trace_frame_flux(result, a, profile, weights, band)
    else:
        zero = _extract._zero_profile_rows(weights, profile, band, shape[-1])
    inner = slice(*inner.indices(weights.shape[-1])[:2])
    return _finish(result, a, weights[..., inner], min_valid_weight=min_valid_weight,
                   zero_profile=zero, columns=_extract._in_frame(inner, band))
