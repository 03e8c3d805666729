"""JWST pixel data-quality (DQ) flags: names, bit masks and counts.

The DQ variable of a rateints/calints file is a ``uint32`` bit field: bit
``b`` (value ``2**b``) set means the pixel carries that JWST flag.  Names and
values come from :data:`stdatamodels.jwst.datamodels.dqflags.pixel`, the
table the jwst pipeline writes with, so they are never retyped here (the
table is read from stdatamodels' source file, which spares the 0.25-0.35 s
import of every data model; the module itself is imported if that fails).

Decoding is done with integer masks (``dq & 2**b``), vectorised over whole
arrays.

Notes
-----
ExoTiC-MIRI 1.0.1 decodes a DQ value ``v`` into bits with
``np.array(list(np.binary_repr(v))).astype(bool)``.  That turns the
characters ``"0"`` and ``"1"`` into booleans; under numpy >= 2 a string is
converted to ``True`` when it is non-empty, so *every* bit of every value
comes out set (``"0"`` -> ``True``).  Masking by DQ with that code on
numpy >= 2 therefore masks every pixel whose DQ value has as many binary
digits as the highest requested bit, regardless of which flags it carries.
xmiri never converts through strings; ``tests/test_dq.py`` shows the
difference on hand-made values.
"""
import ast
import functools
import importlib.util
import numbers
from pathlib import Path

import numpy as np
import xarray as xr

from .exceptions import ParameterError

__all__ = ["FLAGS", "FLAG_NAMES", "OUTLIER", "UNUSABLE", "dq_mask", "flag_names", "bit_counts",
           "dq_summary"]

N_BITS = 32


def _constant(node):
    """The int of a constant expression of ints, ``**``, ``<<`` and ``|``; ValueError otherwise."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Pow, ast.LShift, ast.BitOr)):
        left, right = _constant(node.left), _constant(node.right)
        if isinstance(node.op, ast.BitOr):
            return left | right
        if not 0 <= right < 64:
            raise ValueError(f"exponent {right} out of range")
        return left**right if isinstance(node.op, ast.Pow) else left << right
    raise ValueError(f"not a constant integer expression: {ast.dump(node)[:80]}")


def _pixel_table_from_source():
    """``dqflags.pixel`` of the installed stdatamodels, read from its source without importing it.

    ``stdatamodels.jwst.datamodels`` takes 0.25-0.35 s to import (every
    data model), while the flag table is a literal dict in
    ``stdatamodels/jwst/datamodels/dqflags.py``.  Returns None when that
    file cannot be found or its ``pixel`` is not a dict of names to constant
    integer expressions; the caller then imports the module.
    """
    try:
        spec = importlib.util.find_spec("stdatamodels")  # locates the package, runs nothing
        path = Path(next(iter(spec.submodule_search_locations))) / "jwst" / "datamodels" / "dqflags.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "pixel"
                    and isinstance(node.value, ast.Dict)):
                keys = [k.value for k in node.value.keys]
                if not all(isinstance(k, str) for k in keys):
                    return None
                return dict(zip(keys, (_constant(v) for v in node.value.values)))
    except (AttributeError, TypeError, StopIteration, OSError, SyntaxError, ValueError,
            RecursionError):
        return None
    return None


@functools.lru_cache(maxsize=1)
def _tables():
    """The JWST pixel flag table, read from stdatamodels on first use.

    The table is stdatamodels' ``dqflags.pixel``, read from its source file
    (:func:`_pixel_table_from_source`, tested equal to the imported module);
    only if that fails is ``stdatamodels.jwst.datamodels`` imported, which
    takes 0.25-0.35 s.  Either way nothing happens when xmiri is imported.
    """
    pixel = _pixel_table_from_source()
    if pixel is None:
        from stdatamodels.jwst.datamodels import dqflags

        pixel = dqflags.pixel
    by_bit = {}
    for name, value in pixel.items():
        value = int(value)
        if value == 0:  # GOOD: no bit
            continue
        bit = value.bit_length() - 1
        if value != 1 << bit:
            raise RuntimeError(f"dqflags.pixel[{name!r}] = {value} is not a single bit")
        by_bit.setdefault(bit, name)  # first name wins if a bit is aliased
    flags = {by_bit[b]: 1 << b for b in sorted(by_bit)}
    bit_of_name = {name.upper(): int(v).bit_length() - 1 for name, v in pixel.items() if v}
    zero_names = {name.upper() for name, v in pixel.items() if not v}
    return flags, bit_of_name, zero_names


def __getattr__(name):
    # FLAGS: ``{name: value}`` of the JWST pixel flags, one per bit, ordered by bit.
    # FLAG_NAMES: flag names ordered by bit (``FLAG_NAMES[0] == "DO_NOT_USE"``).
    # OUTLIER: the bit clean sets on replaced pixels (2**4).
    # UNUSABLE: DO_NOT_USE | NON_SCIENCE | REFERENCE_PIXEL, pixels the pipeline gave up on.
    if name == "FLAGS":
        return dict(_tables()[0])
    if name == "FLAG_NAMES":
        return tuple(_tables()[0])
    if name == "OUTLIER":
        return _tables()[0]["OUTLIER"]
    if name == "UNUSABLE":
        return dq_mask(["DO_NOT_USE", "NON_SCIENCE", "REFERENCE_PIXEL"])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _name_of_bit(bit):
    return next((n for n, v in _tables()[0].items() if v == 1 << bit), f"BIT_{bit}")


def _one_bit(item, where):
    if isinstance(item, str):
        _, bit_of_name, zero_names = _tables()
        key = item.strip().upper()
        if key in bit_of_name:
            return 1 << bit_of_name[key]
        if key in zero_names:
            return 0
        raise ParameterError(
            f"{where}: unknown DQ flag name {item!r}; known names: {', '.join(_tables()[0])}")
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, np.integer)):
        raise ParameterError(
            f"{where}: DQ bits are integer bit indices 0-31 or flag names, got {item!r}")
    bit = int(item)
    if not 0 <= bit < N_BITS:
        raise ParameterError(f"{where}: DQ bit index must be in 0-31, got {bit}")
    return 1 << bit


def dq_mask(bits_or_names):
    """Integer bit mask from bit indices and/or JWST flag names.

    Parameters
    ----------
    bits_or_names : int, str, or iterable of int and str
        Bit indices 0-31 (0 = DO_NOT_USE, 11 = HOT, ...) and/or flag names
        from :data:`stdatamodels.jwst.datamodels.dqflags.pixel`
        (case-insensitive).  ``None`` or an empty list gives 0.

    Returns
    -------
    int
        The OR of ``2**bit`` over the items, ``0 <= mask < 2**32``.

    Raises
    ------
    ParameterError
        On an unknown name, a bit outside 0-31 or a non-integer item (bools
        and floats included), naming the offending item.

    Examples
    --------
    >>> dq_mask([0, 11])
    2049
    >>> dq_mask(["do_not_use", "HOT"]) == dq_mask([0, 11])
    True
    """
    if bits_or_names is None:
        return 0
    if isinstance(bits_or_names, np.ndarray) and bits_or_names.ndim == 0:
        bits_or_names = bits_or_names.item()
    if isinstance(bits_or_names, (str, numbers.Number, np.generic)):
        return _one_bit(bits_or_names, "dq_bits_to_mask")
    try:
        items = list(bits_or_names)
    except TypeError:
        raise ParameterError(
            f"dq_bits_to_mask: expected bit indices 0-31 and/or flag names, got {bits_or_names!r}") from None
    mask = 0
    for i, item in enumerate(items):
        if isinstance(item, np.ndarray) and item.ndim == 0:
            item = item.item()
        mask |= _one_bit(item, f"dq_bits_to_mask[{i}]")
    return mask


def flag_names(value):
    """Names of the flags set in one DQ value.

    Parameters
    ----------
    value : int
        One DQ value, in ``0 .. 2**32 - 1``.

    Returns
    -------
    list of str
        The JWST names of the flags set in `value`, in bit order.

    Raises
    ------
    ParameterError
        If `value` is outside ``0 .. 2**32 - 1``.

    Examples
    --------
    >>> flag_names(2**0 + 2**11)
    ['DO_NOT_USE', 'HOT']
    """
    value = int(value)
    if not 0 <= value < 2**N_BITS:
        raise ParameterError(f"a DQ value is in 0..2**32-1, got {value}")
    return [name for name, v in _tables()[0].items() if value & v]


def bit_counts(dq):
    """Number of elements of `dq` with each of the 32 bits set.

    Parameters
    ----------
    dq : array_like of int
        DQ values, any shape; converted to ``uint32`` (negative int32 values
        keep their bit pattern).

    Returns
    -------
    numpy.ndarray
        ``(32,)`` int64; element ``b`` counts the values with bit ``b`` set.

    Examples
    --------
    >>> bit_counts([1, 3, 2**31])[[0, 1, 2, 31]].tolist()
    [2, 1, 0, 1]
    """
    values = np.asarray(dq)
    if values.dtype.kind not in "iub":
        raise ParameterError(f"DQ values must be integers, got dtype {values.dtype}")
    values = values.astype(np.uint32, copy=False).ravel()
    counts = np.empty(N_BITS, dtype=np.int64)
    for bit in range(N_BITS):  # 32 vectorised passes; no per-pixel work
        counts[bit] = np.count_nonzero(values & np.uint32(1 << bit))
    return counts


def _block_counts(block):
    return bit_counts(block).reshape((1,) * block.ndim + (N_BITS,))


def _lazy_bit_counts(darr):
    """(32,) dask array of bit counts: one count per block, then a sum."""
    ndim = darr.ndim
    per_block = darr.map_blocks(
        _block_counts, dtype=np.int64, new_axis=ndim,
        chunks=tuple((1,) * len(c) for c in darr.chunks) + ((N_BITS,),))
    return per_block.sum(axis=tuple(range(ndim)))


def dq_summary(dq):
    """Number and fraction of pixels carrying each JWST DQ flag.

    Parameters
    ----------
    dq : xarray.DataArray
        DQ bit field of any dims (e.g. ``ds["dq"]``), numpy- or dask-backed.

    Returns
    -------
    xarray.Dataset
        Dimension ``flag`` (32 entries, ordered by bit) with coordinates
        ``flag`` (name), ``bit`` and ``value`` (``2**bit``); variables
        ``n_pixels`` (int64) and ``fraction`` (``n_pixels`` over the number
        of elements of `dq`).  Lazy when `dq` is dask-backed.

    Examples
    --------
    >>> import xarray as xr
    >>> s = dq_summary(xr.DataArray(np.array([[0, 1], [2049, 4]], np.uint32)))
    >>> int(s["n_pixels"].sel(flag="DO_NOT_USE")), float(s["fraction"].sel(flag="HOT"))
    (2, 0.25)
    """
    if not isinstance(dq, xr.DataArray):
        dq = xr.DataArray(np.asarray(dq))
    data = dq.data
    if np.dtype(dq.dtype).kind not in "iub":
        raise ParameterError(f"dq must hold integers, got dtype {dq.dtype}")
    if hasattr(data, "chunks") and hasattr(data, "map_blocks"):
        counts = _lazy_bit_counts(data)
    else:
        counts = bit_counts(data)
    total = int(dq.size)
    bits = np.arange(N_BITS)
    names = [_name_of_bit(int(b)) for b in bits]
    coords = {
        "flag": ("flag", np.array(names, dtype=object), {"long_name": "JWST pixel DQ flag name"}),
        "bit": ("flag", bits, {"long_name": "bit index"}),
        "value": ("flag", (np.uint32(1) << bits.astype(np.uint32)).astype(np.uint32),
                  {"long_name": "flag value (2**bit)"}),
    }
    n_pixels = xr.Variable("flag", counts, {"long_name": "number of pixels with the flag set"})
    fraction = xr.Variable("flag", counts / total if total else counts * np.nan,
                           {"long_name": "fraction of pixels with the flag set", "units": "1"})
    return xr.Dataset({"n_pixels": n_pixels, "fraction": fraction}, coords=coords,
                      attrs={"n_total": total, "source": "stdatamodels.jwst.datamodels.dqflags.pixel"})
