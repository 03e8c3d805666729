"""What ``chunks=`` means, for the reader, the simulator and the command line alike.

Only the ``integration`` dimension is ever chunked: ``row`` and ``col`` are
core dimensions of every step.  ``chunks`` is

* ``None``: :func:`default_chunks` integrations (about 8 MiB per float32
  variable, 70 SLITLESSPRISM frames);
* an int ``n``: ``n`` integrations per chunk (``-1``: one chunk);
* ``"auto"``: dask's choice (``array.chunk-size``);
* a dict: ``{"integration": n}`` (``row``/``col`` may only be given whole).
"""
import numbers

import numpy as np

from ..defaults import CHUNK_TARGET_BYTES
from ..exceptions import ParameterError

__all__ = ["default_chunks", "integration_chunks"]

_DIMS = ("integration", "row", "col")


def default_chunks(n_rows, n_cols, *, target_bytes=CHUNK_TARGET_BYTES, itemsize=4):
    """Integrations per dask chunk for frames of ``n_rows x n_cols``.

    Parameters
    ----------
    n_rows, n_cols : int
        Frame shape.
    target_bytes : int, optional
        Aimed-at size of one chunk of a float32 variable (default 8 MiB).
    itemsize : int, optional
        Bytes per pixel (4 for float32 and uint32).

    Returns
    -------
    int
        ``max(1, target_bytes // (n_rows * n_cols * itemsize))``.

    Examples
    --------
    >>> default_chunks(416, 72)
    70
    """
    frame = int(n_rows) * int(n_cols) * int(itemsize)
    if frame <= 0:
        raise ParameterError(f"frame shape must be positive, got {n_rows} x {n_cols}")
    return max(1, int(target_bytes) // frame)


def _positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ParameterError(f"{name} must be a positive integer, -1, 'auto' or None; got {value!r}")
    value = int(value)
    if value == -1:
        return -1
    if value < 1:
        raise ParameterError(f"{name} must be a positive integer (or -1 for one chunk), got {value}")
    return value


def integration_chunks(chunks, n_rows, n_cols):
    """Normalise ``chunks`` to integrations per chunk: an int, -1 or ``"auto"``.

    Parameters
    ----------
    chunks : int, "auto", dict or None
        What the user asked for: integrations per chunk, ``"auto"``, a dict
        with an ``"integration"`` key (row and col may only be whole), or
        None for :func:`default_chunks`.
    n_rows, n_cols : int
        The frame shape, in pixels.

    Returns
    -------
    int or str
        Integrations per chunk (``-1``: one chunk), or ``"auto"``.

    Raises
    ------
    ParameterError
        If `chunks` asks for anything else.

    Examples
    --------
    >>> integration_chunks(None, 416, 72), integration_chunks({"integration": 5}, 416, 72)
    (70, 5)
    """
    if chunks is None:
        return default_chunks(n_rows, n_cols)
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ParameterError(f"chunks must be an int, 'auto', a dict or None; got {chunks!r}")
        return "auto"
    if isinstance(chunks, dict):
        sizes = {"row": n_rows, "col": n_cols}
        for dim, size in chunks.items():
            if dim == "integration":
                continue
            if dim not in sizes:
                raise ParameterError(f"chunks: unknown dimension {dim!r}; dims are {_DIMS}")
            if size not in (None, -1, sizes[dim]):
                raise ParameterError(
                    f"chunks: xmiri chunks only along 'integration' (row and col are core "
                    f"dimensions of every step); got {dim}={size!r}")
        value = chunks.get("integration")
        if value is None:
            return default_chunks(n_rows, n_cols)
        if value == "auto":
            return "auto"
        return _positive_int("chunks['integration']", value)
    return _positive_int("chunks", chunks)
