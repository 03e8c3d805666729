"""Writing files atomically: a temporary file in the target folder, moved into place.

The one helper behind :func:`xmiri.to_netcdf` and
:func:`xmiri.simulate.write_segments`: a failure or an interruption never
leaves a partial file under the target name, and an existing file is never
replaced unless asked.
"""
import contextlib
import errno
import os
import uuid
from pathlib import Path

from ..exceptions import InvalidFileError, OutputExistsError

__all__ = ["check_target", "temporary_path", "commit", "writing", "space_error", "probe"]

#: Bytes written (and synced) to find out whether a folder's disk or quota is full
#: when a writer failed without saying why (netCDF's "NetCDF: HDF error").
PROBE_BYTES = 2**20

_FULL = {errno.ENOSPC: "the disk is full (no space left on device)",
         errno.EDQUOT: "the disk quota is exceeded"}


def check_target(path, *, overwrite=False):
    """The absolute target path, after checking that it can be written.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    overwrite : bool, default False
        Whether an existing `path` may be replaced.

    Returns
    -------
    pathlib.Path
        `path`, absolute.

    Raises
    ------
    InvalidFileError
        The folder does not exist or `path` is a folder.
    OutputExistsError
        `path` exists and `overwrite` is False.
    """
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if not path.parent.is_dir():
        raise InvalidFileError(f"cannot write {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise InvalidFileError(f"cannot write {path}: it is a folder")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not os.access(path.parent, os.W_OK):
        raise InvalidFileError(f"cannot write {path}: folder {path.parent} is not writable")
    return path


def temporary_path(path):
    """A hidden, unique temporary name beside `path` (same file system).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.

    Returns
    -------
    pathlib.Path
        ``.NAME.<random>.xmiri-tmp`` in the folder of `path`.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.xmiri-tmp")


def commit(tmp, path, *, overwrite=False):
    """Move the finished `tmp` to `path`; without `overwrite`, never replace a file.

    Without `overwrite` the move is a hard link (which fails if `path`
    exists, so two writers cannot both win), falling back to a checked
    rename on file systems without links.  `tmp` is gone afterwards.

    Parameters
    ----------
    tmp : str or os.PathLike
        The finished temporary file.
    path : str or os.PathLike
        The target.
    overwrite : bool, default False
        Whether an existing `path` may be replaced.

    Raises
    ------
    OutputExistsError
        `path` exists and `overwrite` is False.
    """
    tmp, path = os.fspath(tmp), os.fspath(path)
    try:
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it") from None
        except OSError:  # no hard links on this file system
            if os.path.exists(path):
                raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it") from None
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _errno_in_chain(exc):
    """ENOSPC or EDQUOT if `exc` or an exception it was raised from carries it, else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None


def probe(path, nbytes=PROBE_BYTES):
    """Write and sync `nbytes` to `path`; the errno if that fails for want of space, else None.

    Parameters
    ----------
    path : str or os.PathLike
        A file to create (or a device such as ``/dev/full``); a regular file
        created here is removed again.
    nbytes : int, default PROBE_BYTES
        How much to write.

    Returns
    -------
    int or None
        :data:`errno.ENOSPC` or :data:`errno.EDQUOT` when the write or the
        sync fails with it; None when it succeeds or fails otherwise.
    """
    path = os.fspath(path)
    created = not os.path.exists(path)
    try:
        with open(path, "wb", buffering=0) as f:
            f.write(b"\0" * nbytes)
            os.fsync(f.fileno())
    except OSError as err:
        return err.errno if err.errno in _FULL else None
    finally:
        if created and os.path.isfile(path):
            os.unlink(path)
    return None


def space_error(exc, path):
    """The error to raise instead of `exc` when writing `path` failed for want of space, else None.

    Called while the failed write's partial file still exists (so that
    the space it took is still taken).  `exc` tells the cause itself when it
    carries ENOSPC or EDQUOT; a netCDF/HDF5 failure does not (``NetCDF: HDF
    error``), so then :func:`probe` tries to write :data:`PROBE_BYTES` beside
    `path`.

    Parameters
    ----------
    exc : BaseException
        What the writer raised.
    path : str or os.PathLike
        The output being written.

    Returns
    -------
    InvalidFileError or None
        Its message names `path` and the cause (a full disk or quota);
        None when the disk and quota have room.
    """
    code = _errno_in_chain(exc)
    if code is None and isinstance(exc, (RuntimeError, OSError)) and "HDF error" in str(exc):
        code = probe(temporary_path(path).with_suffix(".probe"))
    if code is None:
        return None
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    return InvalidFileError(f"cannot write {os.fspath(path)}: {_FULL[code]} in {folder}; free some space "
                            f"or write elsewhere (nothing was written)")


@contextlib.contextmanager
def writing(tmp, path):
    """Context for writing `tmp` on the way to `path`: on failure, `tmp` is removed and the cause named.

    Parameters
    ----------
    tmp : str or os.PathLike
        The temporary file being written (see :func:`temporary_path`).
    path : str or os.PathLike
        The output it becomes (see :func:`commit`).

    Yields
    ------
    None
        The body writes `tmp`.

    Raises
    ------
    InvalidFileError
        When the write failed because the disk or the quota is full
        (:func:`space_error`); other errors propagate unchanged.
    """
    try:
        yield
    except BaseException as exc:
        named = space_error(exc, path) if isinstance(exc, Exception) else None
        if os.path.exists(tmp):
            os.unlink(tmp)
        if named is not None:
            raise named from exc
        raise
