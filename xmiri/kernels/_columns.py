"""Bands of aperture columns: the blocks' work on the columns any weight touches.

Private helpers of :mod:`xmiri.kernels.extract`, :mod:`xmiri.kernels.profile`
and :mod:`xmiri.kernels.noise`.  Sums that must equal those over whole rows
go through :func:`_full_row_sum` (numpy's order of additions depends on where
the columns sit in the row).  Pure numpy.
"""
import numpy as np


def _distinct(values):
    """`values` without the leading axes it is broadcast along (stride 0): every column's values,
    each once."""
    return values[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in values.strides[:-1])]


def _columns_where(touched):
    """Columns of a block where `touched` (bool) holds anywhere."""
    return np.flatnonzero(np.any(_distinct(touched), axis=tuple(range(touched.ndim - 1))))


def _band(weights):
    """Slice of the columns where any weight of the block is non-zero (all columns if none)."""
    touched = _columns_where(_distinct(weights) > 0)
    if touched.size == 0:
        return slice(None)
    return slice(int(touched[0]), int(touched[-1]) + 1)


#: Rows per pass of :func:`_full_row_sum` (a buffer of ~1 MB for 72 columns).
_SUM_ROWS = 2048


def _weighted_band(weights):
    """Slice of the columns where any weight of the block is not 0 (NaN counts; maybe empty)."""
    touched = _columns_where(_distinct(weights) != 0)
    if touched.size == 0:
        return slice(0, 0)
    return slice(int(touched[0]), int(touched[-1]) + 1)


def _full_row_sum(values, band, n_cols):
    """Row sums of `values`, given on a band of columns, with 0 on the other ``n_cols`` columns.

    Summed over the whole row: :func:`numpy.sum`'s order of additions
    depends on the columns' positions, so that these are the same numbers
    as the sums of whole rows that are 0 outside the band (the band alone
    could differ in the last bit).  The rows go through a zeroed buffer of
    :data:`_SUM_ROWS` rows, whose columns outside the band stay 0.
    """
    rows = values.reshape(int(np.prod(values.shape[:-1])), values.shape[-1])  # an empty band too
    out = np.empty(rows.shape[0])
    full = np.zeros((min(_SUM_ROWS, rows.shape[0]), n_cols))
    for start in range(0, rows.shape[0], _SUM_ROWS):
        n = min(_SUM_ROWS, rows.shape[0] - start)
        full[:n, band] = rows[start:start + n]
        np.sum(full[:n], axis=-1, out=out[start:start + n])
    return out.reshape(values.shape[:-1])


def _any_along_columns(flags):
    """``np.any(flags, axis=-1)`` as an OR of the columns: several times faster on a band of a few."""
    out = np.zeros(flags.shape[:-1], bool)
    for column in np.moveaxis(flags, -1, 0):
        out |= column
    return out


def _expand(values, band, n_cols):
    """A band of columns back into the full frame width (0 elsewhere)."""
    out = np.empty(values.shape[:-1] + (n_cols,))
    start, stop, _ = band.indices(n_cols)
    out[..., :start] = 0.0
    out[..., stop:] = 0.0
    out[..., start:stop] = values
    return out
