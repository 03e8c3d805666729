"""Profiles moved along the columns by sub-pixel shifts, and the shift that places one on a frame.

* :func:`shift_profile`: a profile moved by a sub-pixel shift, conserving
  flux (quintic interpolation of its cumulative sum);
* :func:`align_profiles`: per-integration profiles moved onto a common
  trace centre;
* :func:`move_template`: one profile moved by each integration's shift;
* :func:`fit_profile_shift`: each integration's shift of a template that
  best matches its frame.

Pure numpy.  Also available from :mod:`xmiri.kernels.profile`.
"""
import numpy as np

from ..exceptions import ParameterError
from ._validate import whole
from .extract import _block

__all__ = ["shift_profile", "align_profiles", "move_template", "fit_profile_shift"]


#: Edges (relative to the one below the point) of the Lagrange polynomial that interpolates
#: the cumulative profile in :func:`shift_profile`: six, a quintic.
_NODES = (-2, -1, 0, 1, 2, 3)
#: Elements (about) of each temporary array of :func:`shift_profile` and :func:`move_template`
#: (four times as many for the shift fit's projections): they work a block of rows or
#: integrations at a time so that their temporaries stay in the cache, with the same operations
#: in the same order as on the whole array.
_CHUNK = 1 << 15


def shift_profile(profile, shift):
    """Move a pixel-sampled profile along its columns by a sub-pixel `shift`, conserving flux.

    The profile's cumulative sum is known exactly at the pixel edges; it is
    interpolated there by the quintic Lagrange polynomial through the six
    nearest edges (constant beyond the first and last edge) and read at the
    edges moved by ``-shift``, so that the shifted pixel ``j`` holds
    ``C(j + 1/2 - shift) - C(j - 1/2 - shift)``.  An integer shift moves the
    values exactly; the total is conserved as long as the profile is 0
    within three columns of either end (where the interpolation reads past
    the edges); a smooth profile moves with an error of order its
    sixth derivative.

    Parameters
    ----------
    profile : array_like, shape (..., n_col)
        Profile, e.g. a spatial profile P (dimensionless) or a frame (DN/s);
        NaN counts as 0.
    shift : float or array_like, broadcastable to ``profile.shape[:-1]``
        Shift toward higher columns, pixels.

    Returns
    -------
    numpy.ndarray, shape ``broadcast(profile.shape[:-1], shift.shape) + (n_col,)``
        float64 shifted profile.

    Raises
    ------
    ParameterError
        If `shift` is not finite or does not broadcast.

    Examples
    --------
    >>> shift_profile(np.array([0.0, 1.0, 2.0, 1.0, 0.0]), 1.0).tolist()
    [0.0, 0.0, 1.0, 2.0, 1.0]
    >>> p = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    >>> round(float(shift_profile(p, 0.3).sum()), 12)
    4.0
    """
    profile = np.asarray(profile, dtype=np.float64)  # NaN: 0, block by block
    shift = np.asarray(shift, dtype=np.float64)
    if not np.all(np.isfinite(shift)):
        raise ParameterError("shift must be finite (pixels)")
    try:
        lead = np.broadcast_shapes(profile.shape[:-1], shift.shape)
    except ValueError:
        raise ParameterError(f"shift of shape {shift.shape} does not broadcast to the profile's "
                             f"{profile.shape[:-1]}") from None
    n_col = profile.shape[-1]
    # every edge of a profile moves by the same -shift: one whole-pixel part and one fraction each
    flat_shift = np.broadcast_to(shift, lead).reshape(-1)
    base, weights = _stencil(flat_shift)
    rows = np.broadcast_to(profile, lead + (n_col,)).reshape(flat_shift.size, n_col)
    out = np.empty((flat_shift.size, n_col))
    # a few hundred rows at a time: every temporary stays in the cache
    step = max(1, _CHUNK // (n_col + 1))
    whole_parts = np.unique(base).tolist()  # one or two values for shifts within a pixel
    for start in range(0, flat_shift.size, step):
        chunk = slice(start, start + step)
        _shift_rows(rows[chunk], base[chunk], [weight[chunk] for weight in weights], whole_parts,
                    out[chunk])
    return out.reshape(lead + (n_col,))


def _shift_rows(profile, base, weights, whole_parts, out):
    """:func:`shift_profile` of the rows of `profile` (n, n_col), into `out`.

    `base` and `weights` are :func:`_stencil`'s, per row, and `whole_parts`
    the values `base` may take.  The edges read, clipped to ``0..n_col``,
    are a window of the cumulative sum padded with copies of its first and
    last value: a view each, no index array.
    """
    n_col = profile.shape[-1]
    pad_low = max(0, min(n_col, -(whole_parts[0] + _NODES[0])))
    pad_high = max(0, min(n_col, whole_parts[-1] + _NODES[-1]))
    padded = np.empty((profile.shape[0], pad_low + n_col + 1 + pad_high))
    padded[:, :pad_low + 1] = 0.0  # the edges k - 1/2, k = 0..n_col, from pad_low on
    finite = np.where(np.isnan(profile), 0.0, profile)  # np.nan_to_num, in fewer passes
    if not np.isfinite(finite).all():
        finite = np.nan_to_num(finite)
    np.cumsum(finite, axis=-1, out=padded[:, pad_low + 1:pad_low + n_col + 1])
    padded[:, pad_low + n_col + 1:] = padded[:, pad_low + n_col:pad_low + n_col + 1]
    moved = np.empty((profile.shape[0], n_col + 1))
    term = np.empty_like(moved)
    for whole_part in whole_parts:
        rows = np.flatnonzero(base == whole_part) if len(whole_parts) > 1 else slice(None)
        part = padded[rows]  # a view when every row has the same whole part
        total = moved if len(whole_parts) == 1 else np.empty((part.shape[0], n_col + 1))
        total[...] = 0.0  # 0.0 + the first term, as the sum starts from 0.0
        for node, weight in zip(_NODES, weights):
            start = pad_low + min(max(whole_part + node, -n_col), n_col)
            total += np.multiply(weight[rows, np.newaxis], part[:, start:start + n_col + 1],
                                 out=term[:total.shape[0]])
        if len(whole_parts) > 1:
            moved[rows] = total
    np.subtract(moved[:, 1:], moved[:, :-1], out=out)


def _stencil(shift, offset=0.0):
    """Whole-pixel part and Lagrange weights of the edges moved by ``-shift``.

    Returns ``base = floor(-shift)`` (int64) and one weight array per node of
    :data:`_NODES`, each of `shift`'s shape: the quintic Lagrange weights at
    ``t = -shift - base - offset`` (`offset` evaluates the same stencil a
    little off its point, for a derivative).
    """
    base = np.floor(-shift)
    t = -shift - base - offset
    weights = []
    for node in _NODES:
        weight = np.ones_like(t)
        for other in _NODES:
            if other != node:
                weight = weight * (t - other) / (node - other)
        weights.append(weight)
    return base.astype(np.int64), weights


def move_template(template, shift):
    """One profile moved by each integration's shift: ``shift_profile(template, shift[:, None])``.

    Every moved profile is a weighted sum of six copies of the template
    moved by whole pixels (the Lagrange weights of :func:`shift_profile`),
    so the copies are made once and each integration only weighs them: the
    same numbers as :func:`shift_profile` to round-off, several times faster
    for a block of integrations.

    Parameters
    ----------
    template : array_like, shape (n_row, n_col)
        Profile to move, e.g. the median spatial profile P (dimensionless);
        NaN counts as 0.
    shift : array_like, shape (n_int,)
        Shift of each integration toward higher columns, pixels; NaN: not
        moved.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, n_col)
        float64 moved profiles.

    Raises
    ------
    ParameterError
        If `template` is not 2-D or `shift` not 1-D.

    Examples
    --------
    >>> move_template(np.array([[0.0, 0.0, 1.0, 0.0, 0.0]]), np.array([0.0, 1.0]))[:, 0].tolist()
    [[0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0]]
    """
    return _move_template(template, shift)


def _move_template(template, shift, columns=None):
    """:func:`move_template` on the template's `columns` only (a slice; None: all of them).

    Every column of a moved profile is computed on its own, so these are
    the values of the whole moved profiles in those columns, bit for bit.
    """
    template = np.nan_to_num(np.asarray(template, dtype=np.float64))
    shift = np.nan_to_num(np.asarray(shift, dtype=np.float64))
    if template.ndim != 2 or shift.ndim != 1:
        raise ParameterError(f"template must be (n_row, n_col) and shift (n_int,); got shapes "
                             f"{template.shape} and {shift.shape}")
    start, stop, _ = (slice(None) if columns is None else columns).indices(template.shape[-1])
    copies = _ShiftedTemplate(template)
    base, weights = _stencil(shift)
    out = np.zeros(shift.shape + (template.shape[0], max(stop - start, 0)))
    if not shift.size:
        return out
    offsets = range(int(base.min()) + _NODES[0], int(base.max()) + _NODES[-1] + 1)
    # only the columns where a copy is not 0: elsewhere every term is 0 and out stays +0.0
    cols = _support(np.stack([copies.copy(o) for o in offsets]))
    lo = max(cols.start, start)  # the support within the columns asked for (maybe none)
    cols = slice(lo, max(min(cols.stop, stop), lo))
    moved = out[..., cols.start - start:cols.stop - start]  # a view: into out
    band = {o: np.ascontiguousarray(copies.copy(o)[:, cols]) for o in offsets}
    whole_parts = np.unique(base).tolist()  # one or two values for shifts within a pixel
    # a few integrations at a time, summed in a contiguous buffer: the terms stay in the cache
    step = max(1, _CHUNK // max(1, moved.shape[1] * moved.shape[2]))
    term, buffer = np.empty((2, min(step, shift.size)) + moved.shape[1:])
    for start in range(0, shift.size, step):
        chunk = slice(start, start + step)
        for whole_part in whole_parts:
            rows = chunk if len(whole_parts) == 1 else start + np.flatnonzero(base[chunk] == whole_part)
            part = buffer[:min(step, shift.size - start) if len(whole_parts) == 1 else rows.size]
            part[...] = 0.0  # the sum starts from 0.0
            for node, weight in zip(_NODES, weights):
                part += np.multiply(weight[rows, np.newaxis, np.newaxis], band[whole_part + node],
                                    out=term[:part.shape[0]])
            moved[rows] = part
    return out


def _support(values):
    """Slice of the last axis's columns where any of `values` is not 0 (NaN counts), maybe empty."""
    touched = np.flatnonzero(np.any(values != 0, axis=tuple(range(values.ndim - 1))))
    if touched.size == 0:
        return slice(0, 0)
    return slice(int(touched[0]), int(touched[-1]) + 1)


def align_profiles(profiles, shift):
    """Per-integration profiles moved by ``shift`` (e.g. onto a common trace centre).

    Parameters
    ----------
    profiles : array_like, shape (n_int, n_row, n_col)
        Spatial profiles P of each integration (dimensionless) or frames
        (DN/s); NaN counts as 0.
    shift : array_like, shape (n_int,) or (n_int, n_row)
        Shift of each integration (or integration and row) toward higher
        columns, pixels; NaN: not moved.

    Returns
    -------
    numpy.ndarray, shape (n_int, n_row, n_col)
        float64 :func:`shift_profile` of each integration.

    Examples
    --------
    >>> p = np.array([[[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])
    >>> align_profiles(p, np.array([0.0, -1.0]))[:, 0].tolist()
    [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    """
    profiles = _block("profiles", profiles)
    shift = np.nan_to_num(np.asarray(shift, dtype=np.float64))
    if shift.ndim == 1:
        shift = shift[:, np.newaxis]
    return shift_profile(profiles, shift)


def fit_profile_shift(data, template, shift, *, rows, iterations, step):
    """Each integration's shift of `template` that best matches its frame (Gauss-Newton).

    The model of row ``r`` of integration ``i`` is ``a_ir T_r(s_i)``, with
    ``T(s)`` the template moved by :func:`shift_profile` (the same move the
    extraction applies), one free amplitude per row and one shift per
    integration, fitted by least squares over `rows`: each iteration takes
    the amplitudes at the current shift and updates the shift by the
    Gauss-Newton step on ``dT/ds`` (central difference over ``±step`` of
    the interpolating polynomial of the current shift) with the amplitudes
    profiled out.  Every shifted template is a weighted sum of six copies
    of the template moved by whole pixels, so the sums over each row's
    valid pixels are taken once per copy and the iterations work on those
    sums alone (no template is moved during the fit).
    The result is measured in the template's own frame, so it places the
    template on the frame whatever the profile's shape.

    Parameters
    ----------
    data : array_like, shape (n_int, n_row, n_col)
        Background-subtracted frames, DN/s; NaN pixels are left out.
    template : array_like, shape (n_row, n_col)
        Profile to move (e.g. the median P in the trace's frame).
    shift : array_like, shape (n_int,)
        Starting shifts, pixels (NaN: 0).
    rows : (int, int)
        Rows ``[start, stop)`` used.
    iterations : int
        Gauss-Newton iterations (>= 1).
    step : float
        Half-step of the numerical derivative, pixels (> 0).

    Returns
    -------
    numpy.ndarray, shape (n_int,)
        float64 shift of each integration, pixels (the start where the
        frame has no usable row).

    Examples
    --------
    >>> t = shift_profile(np.tile([0.0, 0.1, 0.8, 0.1, 0.0], (3, 1)), 0.0)
    >>> frames = 5 * shift_profile(t, np.array([[0.0], [0.13]]))
    >>> fit_profile_shift(frames, t, np.zeros(2), rows=(0, 3), iterations=4, step=0.01).round(6)
    array([0.  , 0.13])
    """
    data = np.asarray(data)
    data = _block("data", data[:, rows[0]:rows[1]] if data.ndim == 3 else data)  # rows, then float64
    template = np.nan_to_num(np.asarray(template, dtype=np.float64))[rows[0]:rows[1]]
    iterations = whole("iterations", iterations, minimum=1)
    shift = np.nan_to_num(np.asarray(shift, dtype=np.float64)).copy()
    n_int, n_row, n_col = data.shape
    valid = np.isfinite(data)
    # np.nonzero(~valid), from the flat indices (several times faster on a 3-D array)
    missing = np.unravel_index(np.flatnonzero(~valid), valid.shape)
    basis = _ShiftedTemplate(template, np.where(valid, data, 0.0), missing)
    for _ in range(iterations):
        base, model = _stencil(shift)
        # T(s + step) and T(s - step) on the same stencil: the central difference dT/ds
        slope = [(plus - minus) / (2 * step) for plus, minus in
                 zip(_stencil(shift, step)[1], _stencil(shift, -step)[1])]
        whole_parts = np.unique(base).tolist()
        if len(whole_parts) == 1:  # every integration on the same copies: the tables' own arrays
            offsets = [whole_parts[0] + node for node in _NODES]
            basis.project(offsets)
            projections = [basis.projection_of(o) for o in offsets]
        else:
            offsets = [base + node for node in _NODES]
            basis.project(np.unique(offsets).tolist())
            projections = [basis.projection(o) for o in offsets]
        # per (integration, row): sums over the valid pixels of d m, d s', m m, s' m, s' s'
        d_m = sum(w[:, None] * d for w, d in zip(model, projections))
        d_s = sum(w[:, None] * d for w, d in zip(slope, projections))
        # m m, s' m and s' s' together: per pair of copies, each term is (wa wb) * gram, added in
        # the order of the pairs
        m, s = np.array(model), np.array(slope)
        pair_weights = np.stack([m[:, None] * m, s[:, None] * m, s[:, None] * s], axis=2)[..., None]
        sums = np.zeros((3,) + d_m.shape)
        term = np.empty_like(sums)
        for a, oa in enumerate(offsets):
            for b, ob in enumerate(offsets):
                gram = basis.gram_of(oa, ob) if len(whole_parts) == 1 else basis.gram(oa, ob)
                sums += np.multiply(pair_weights[a, b], gram, out=term)
        m_m, s_m, s_s = sums
        with np.errstate(invalid="ignore", divide="ignore"):
            amplitude = d_m / m_m
            along = s_m / m_m
        amplitude = np.where(np.isfinite(amplitude), amplitude, 0.0)
        # the amplitudes profiled out: the slope's part that no amplitude can take up,
        # s' = s - along m, and the residual d - a m, summed over each row's valid pixels
        along = np.where(np.isfinite(along), along, 0.0)
        numerator = np.sum(amplitude * (d_s - along * d_m - amplitude * s_m + amplitude * along * m_m),
                           axis=1)
        denominator = np.sum(amplitude ** 2 * (s_s - 2 * along * s_m + along ** 2 * m_m), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            update = numerator / denominator
        shift = shift + np.where(np.isfinite(update), update, 0.0)
    return shift


class _ShiftedTemplate:
    """Sums over a block's valid pixels of a template moved by whole pixels, computed once each.

    ``copy(o)`` is the template moved by ``-o`` whole pixels (edges clamped
    as :func:`shift_profile` clamps them); any :func:`shift_profile` of the
    template is a weighted sum of six of them.  With a block's `data`,
    ``projection(o)`` is
    ``sum_c d copy(o)`` and ``gram(o, p)`` is ``sum_c copy(o) copy(p)`` over
    each row's valid pixels, per (integration, row): every sum the shift fit
    needs follows from these without moving the template again.
    """

    def __init__(self, template, data=None, missing=None):
        self.n_col = template.shape[-1]
        self.cumulative = np.concatenate([np.zeros(template.shape[:-1] + (1,)),
                                          np.cumsum(template, axis=-1)], axis=-1)
        self.data, self.missing = data, missing  # data is 0 where a pixel is missing
        if data is not None:
            self.flat = missing[0] * data.shape[1] + missing[1]
            # the columns holding missing pixels, to pass over the bands of columns that hold none
            self._missing_columns = np.flatnonzero(np.bincount(missing[2], minlength=self.n_col))
        self._copies, self._projections, self._grams = {}, {}, {}

    def copy(self, o):
        if o not in self._copies:
            k = np.arange(self.n_col) + o
            self._copies[o] = (self.cumulative[:, np.clip(k + 1, 0, self.n_col)]
                               - self.cumulative[:, np.clip(k, 0, self.n_col)])
        return self._copies[o]

    def projection(self, offsets):
        """``sum_c d copy(offsets[i])`` for each integration i and row, shape (n_int, n_row)."""
        self.project(np.unique(offsets).tolist())
        return self._pick(self._projections, offsets, offsets, lambda a, b: a)

    def projection_of(self, o):
        """``sum_c d copy(o)`` for every integration, shape (n_int, n_row): the table's own
        array (read it, never write to it)."""
        self.project([o])
        return self._projections[o]

    def project(self, offsets):
        """Compute the projections of those `offsets` not computed yet, together.

        Each is ``(data * copy).sum(axis=-1)``, bit for bit, a few
        integrations at a time (the products stay in the cache), multiplied
        only on the columns where some copy is not +0.0: elsewhere the
        product is ``data * +0.0``, the same for every copy, computed once.
        """
        offsets = [o for o in dict.fromkeys(offsets) if o not in self._projections]
        if not offsets:
            return
        touched = _support(np.stack([(self.copy(o) != 0) | np.signbit(self.copy(o))
                                     for o in offsets]))
        n_int, n_row, n_col = self.data.shape
        sums = {o: np.empty((n_int, n_row)) for o in offsets}
        step = max(1, 4 * _CHUNK // max(1, n_row * n_col))
        product = np.empty((min(step, n_int), n_row, n_col))
        for start in range(0, n_int, step):
            data = self.data[start:start + step]
            part = product[:data.shape[0]]
            np.multiply(data, 0.0, out=part)
            for o in offsets:
                np.multiply(data[..., touched], self.copy(o)[:, touched], out=part[..., touched])
                part.sum(axis=-1, out=sums[o][start:start + step])
        self._projections.update(sums)

    def gram(self, offsets_a, offsets_b):
        """``sum_c copy(a_i) copy(b_i)`` over each row's valid pixels, shape (n_int, n_row)."""
        for a, b in set(zip(offsets_a.tolist(), offsets_b.tolist())):
            self.gram_of(a, b)
        return self._pick(self._grams, offsets_a, offsets_b, lambda a, b: (min(a, b), max(a, b)))

    def gram_of(self, a, b):
        """``sum_c copy(a) copy(b)`` over each row's valid pixels for every integration, shape
        (n_int, n_row): the table's own array (read it, never write to it)."""
        key = (min(a, b), max(a, b))
        if key not in self._grams:
            n_int, n_row = self.data.shape[:2]
            product = self.copy(a) * self.copy(b)
            gram = np.broadcast_to(product.sum(axis=-1), (n_int, n_row)).copy()
            # less the pixels missing from each row, those where the product is not 0 (a sum
            # from +0.0 is not changed by adding +-0.0: the others are left out)
            touched = _support(product)
            first, last = np.searchsorted(self._missing_columns, [touched.start, touched.stop])
            if last > first:
                missing = np.flatnonzero((self.missing[2] >= touched.start)
                                         & (self.missing[2] < touched.stop))  # in their own order
                gram -= np.bincount(self.flat[missing],
                                    weights=product[self.missing[1][missing], self.missing[2][missing]],
                                    minlength=n_int * n_row).reshape(n_int, n_row)
            self._grams[key] = gram
        return self._grams[key]

    @staticmethod
    def _pick(table, offsets_a, offsets_b, key):
        """Row i of ``table[key(a_i, b_i)]`` for each integration i (the table's own array, not
        a copy, when every integration has the same offsets: read it, never write to it)."""
        pairs = set(zip(offsets_a.tolist(), offsets_b.tolist()))
        if len(pairs) == 1:
            return table[key(*pairs.pop())]
        out = np.empty(next(iter(table.values())).shape)
        for a, b in pairs:
            rows = (offsets_a == a) & (offsets_b == b)
            out[rows] = table[key(a, b)][rows]
        return out
