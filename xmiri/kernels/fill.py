"""The neighbouring-row fill of :func:`xmiri.kernels.clean.clean_block`.

Pixels of the profile columns that no fit measured are refilled from the
data of the neighbouring complete rows (``max_gap``, ``fill_span``; see
:func:`xmiri.kernels.clean.clean_block`, Notes), never invented: where no
neighbouring row measures them they stay missing.
"""
from __future__ import annotations

import numpy as np

from ..exceptions import ParameterError
from ._validate import whole


def _check_fill(max_gap, fill_span, fill_min_weight, fill_max_change):
    """(max_gap, fill_span, fill_min_weight, fill_max_change) checked; None without `max_gap`."""
    if max_gap is None:
        return None
    max_gap = whole("max_gap", max_gap, minimum=0)
    span = 0 if fill_span is None else whole("fill_span", fill_span, minimum=0)
    weight, change = 1.0, 0.0
    if span:
        try:
            weight, change = float(fill_min_weight), float(fill_max_change)
        except (TypeError, ValueError):
            raise ParameterError(
                "fill_min_weight and fill_max_change must be numbers with fill_span, got "
                f"{fill_min_weight!r} and {fill_max_change!r}") from None
        if not 0.0 < weight <= 1.0:
            raise ParameterError(f"fill_min_weight must be in (0, 1], got {fill_min_weight}")
        if not 0.0 <= change <= 2.0:
            raise ParameterError(f"fill_max_change must be in [0, 2], got {fill_max_change}")
    return max_gap, span, weight, change


def _run_lengths(bad):
    """Length (pixels along axis 1) of the run of True holding each pixel; 0 where False."""
    n_row = bad.shape[1]
    idx = np.arange(n_row).reshape(1, n_row, 1)
    before = np.maximum.accumulate(np.where(bad, -1, idx), axis=1)  # last good row at/above
    after = np.minimum.accumulate(np.where(bad, n_row, idx)[:, ::-1], axis=1)[:, ::-1]
    return np.where(bad, after - before - 1, 0)


def _any_last(mask):
    """``mask.any(axis=-1)`` of a C-contiguous boolean array, eight pixels at a time."""
    k = mask.shape[-1]
    if not mask.flags.c_contiguous or k < 8:
        return mask.any(axis=-1)
    n = mask.size // k if k else 0
    words = -(-k // 8)
    packed = np.zeros((n, words * 8), np.uint8)
    packed[:, :k] = mask.reshape(n, k).view(np.uint8)
    packed = packed.view(np.uint64)
    out = packed[:, 0].copy()
    for w in range(1, words):
        out |= packed[:, w]
    return (out != 0).reshape(mask.shape[:-1])


#: Complete rows averaged on each side of an incomplete stretch to make its template.
SIDE_ROWS = 3


def _side_means(template, above, below, im, ir):
    """Mean template and mean row of the SIDE_ROWS nearest complete rows above and below.

    template : (m, R, k); above, below : (m, R), the nearest complete row at
    or above (-1 if none) and at or below (R if none) each row; (im, ir) the
    incomplete rows.  Returns (p_a, r_a, p_b, r_b): (n, k) and (n,) arrays,
    NaN where a side has no complete row.
    """
    n_row = template.shape[1]
    sums = {}
    for side, nearest, step, end in (("a", above, -1, -1), ("b", below, 1, n_row)):
        total = np.zeros((im.size, template.shape[2]))
        rows = np.zeros(im.size)
        count = np.zeros(im.size)
        r = nearest[im, ir]
        for _ in range(SIDE_ROWS):  # the next complete row beyond the last one taken
            ok = r != end
            if ok.all():  # the same sums without the masks
                total += template[im, r]
                rows += r
                count += 1
            else:
                total[ok] += template[im[ok], r[ok]]
                rows[ok] += r[ok]
                count[ok] += 1
            nxt = np.clip(r + step, 0, n_row - 1)
            r = np.where(ok & (r + step != end), nearest[im, nxt], end)
        with np.errstate(divide="ignore", invalid="ignore"):
            sums[side] = (total / count[:, None], rows / count)
    return sums["a"] + sums["b"]


def _fill_long_runs(cleaned, replaced, missing, profile, norm, columns, max_gap, span, min_weight,
                    max_change, *, unfitted, out=None):
    """Refill the missing pixels of the profile columns from the neighbouring rows' data.

    `cleaned` (or `out`, same shape, when given: the refilled rows are then
    written there and `cleaned` is only read) and `profile` are modified in
    place (see :func:`clean_block`, Notes).  `missing` (n_int, n_row, k) marks the pixels of the profile
    columns that were missing on input (non-finite, DQ-masked or `bad`);
    pixels rejected as outliers keep their column's fit.  `norm`
    (n_int, n_row) is each row's sum of clipped fits over the profile columns
    (a row with 0 is not used as a complete row).
    """
    left, right = columns
    incomplete = _any_last(missing)  # (n_int, R)
    ints = np.flatnonzero(incomplete.any(axis=1))
    if not ints.size:
        return
    if ints.size == missing.shape[0]:  # every integration: views, no copies
        ints = slice(None)
        template = cleaned[:, :, left:right]  # the data of the complete rows
    else:
        missing, incomplete = missing[ints], incomplete[ints]
        template = cleaned[ints, :, left:right]
    bad = replaced[ints, :, left:right]
    ints = np.arange(cleaned.shape[0])[ints]
    long = np.zeros(missing.shape, bool)  # (m, R, k): in a run longer than max_gap
    # only columns that may hold one (missing pixels counted as bytes, to int32)
    ci, cc = np.nonzero(np.add.reduce(missing.view(np.uint8), axis=1, dtype=np.int32) > max_gap)
    if ci.size:
        long[ci, :, cc] = _run_lengths(missing[ci, :, cc][:, :, None])[:, :, 0] > max_gap
    n_row = bad.shape[1]
    complete = ~incomplete & (norm[ints] > 0)
    idx = np.arange(n_row)[None, :]
    above = np.maximum.accumulate(np.where(complete, idx, -1), axis=1)
    below = np.minimum.accumulate(np.where(complete, idx, n_row)[:, ::-1], axis=1)[:, ::-1]

    im, ir = np.nonzero(incomplete)
    a, b = above[im, ir], below[im, ir]
    has_a, has_b = a >= 0, b < n_row
    both = has_a & has_b
    p_a, r_a, p_b, r_b = _side_means(template, above, below, im, ir)
    # interpolation weight of the rows above (1 / 0 with one side only)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_a = np.where(both, (r_b - ir) / (r_b - r_a), has_a.astype(np.float64))
        s_ab = (p_a * p_b).sum(axis=1) / (p_b * p_b).sum(axis=1)  # p_b brought to p_a's flux
    s_ab = np.where(both & np.isfinite(s_ab), s_ab, 1.0)
    p_a, p_b = np.nan_to_num(p_a), np.nan_to_num(p_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_a, q_b = (np.maximum(p, 0.0) / np.maximum(p, 0.0).sum(axis=1, keepdims=True)
                    for p in (p_a, p_b))
        steady = np.abs(q_a - q_b).sum(axis=1) <= max_change  # False on NaN
    # a profile that changes fast is not interpolated: the nearer side alone
    w_a = np.where(steady, w_a, (ir - r_a <= r_b - ir) | ~has_b)
    g = w_a[:, None] * p_a + ((1.0 - w_a) * s_ab)[:, None] * p_b
    g_plus = np.maximum(g, 0.0)
    total = g_plus.sum(axis=1)
    usable = (has_a | has_b) & (total > 0)

    # the profile of rows with a long run: their template, clipped and normalised
    fill = long[im, ir]
    reprofile = usable & fill.any(axis=1)
    rows_i, rows_r = ints[im[reprofile]], ir[reprofile]
    profile[rows_i, rows_r, left:right] = g_plus[reprofile] / total[reprofile, None]

    # long-run pixels: the template scaled to the row's good pixels, or `unfitted`
    good = ~bad[im, ir]
    g_good = np.where(good, g, 0.0)
    gd = (g_good * np.where(good, cleaned[ints[im], ir, left:right], 0.0)).sum(axis=1)
    gg = (g_good * g_good).sum(axis=1)
    g_good = np.where(good, g_plus, 0.0).sum(axis=1)
    # a long run needs a steady profile across it; a short gap is local
    ok = (usable & both & (steady | ~fill.any(axis=1)) & (b - a - 1 <= span)
          & (g_good >= min_weight * total) & (gg > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(ok, gd / np.where(ok, gg, 1.0), np.nan)  # least squares
    # missing pixels of a row that passes: the template scaled; of the others: the
    # column's fit across a short gap, `unfitted` across a long run
    value = np.where(ok[:, None], scale[:, None] * g, unfitted)
    change = np.where(ok[:, None], missing[im, ir], fill)
    sub = cleaned[ints[im], ir, left:right]
    (cleaned if out is None else out)[ints[im], ir, left:right] = np.where(change, value, sub)
