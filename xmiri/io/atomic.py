"""Writing files atomically: a temporary file in the target folder, moved into place.

The one helper behind :func:`xmiri.to_netcdf` and
:func:`xmiri.simulate.write_segments`: a failure or an interruption never
leaves a partial file under the target name, and an existing file is never
replaced unless asked.
"""
import os
import uuid
from pathlib import Path

from ..exceptions import InvalidFileError, OutputExistsError

__all__ = ["check_target", "temporary_path", "commit"]


def check_target(path, *, overwrite=False):
    """The absolute target path, after checking that it can be written.

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
    """A hidden, unique temporary name beside `path` (same file system)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.xmiri-tmp")


def commit(tmp, path, *, overwrite=False):
    """Move the finished `tmp` to `path`; without `overwrite`, never replace a file.

    Without `overwrite` the move is a hard link (which fails if `path`
    exists, so two writers cannot both win), falling back to a checked
    rename on file systems without links.  `tmp` is gone afterwards.
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
