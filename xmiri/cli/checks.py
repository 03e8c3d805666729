"""``xmiri reduce``: every input and output checked before anything is opened or computed."""
import os
from pathlib import Path

from ..exceptions import InvalidFileError, OutputExistsError, ParameterError

__all__ = ["NETCDF_SUFFIXES", "check_reduce_arguments", "expand"]

#: File name extensions of the netCDF files ``reduce`` writes (compared in lower case).
NETCDF_SUFFIXES = (".nc", ".nc4")


def expand(patterns):
    """Expand glob patterns the shell left alone (quoted, or on Windows)."""
    import glob

    paths = []
    for pattern in patterns:
        if glob.has_magic(pattern) and not Path(pattern).exists():
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise ParameterError(f"no file matches {pattern!r}")
            paths.extend(matches)
        else:
            paths.append(pattern)
    return paths


def _resolved(path):
    """`path` absolute, ``~`` expanded and symbolic links followed (it need not exist)."""
    return Path(path).expanduser().resolve()


def _check_inputs(patterns):
    """The segment paths (globs expanded), after checking that each is an existing file.

    Raises
    ------
    InvalidFileError
        A segment does not exist or is a folder (the message names it).
    """
    paths = expand(patterns)
    for path in paths:
        if not Path(path).exists():
            raise InvalidFileError(f"input segment {path} not found")
        if Path(path).is_dir():
            raise InvalidFileError(f"input segment {path} is a folder, not a rateints/calints file")
    return paths


def _check_config(path):
    """Refuse a ``--config`` that is not an existing file (its content is checked by load_config)."""
    if path is not None and not Path(path).is_file():
        what = "is a folder, not a TOML file" if Path(path).is_dir() else "file not found"
        raise ParameterError(f"--config {path}: {what}")


def _check_wavelength(path):
    """Refuse a ``--wavelength`` that is not an existing file (its content is checked on opening)."""
    if path is not None and not Path(path).is_file():
        what = ("is a folder, not a calints/x1dints file" if Path(path).is_dir()
                else "file not found")
        raise InvalidFileError(f"--wavelength {path}: {what}")


def _check_suffix(option, value):
    """Refuse an output name that does not end in a netCDF extension."""
    if Path(value).suffix.lower() not in NETCDF_SUFFIXES:
        raise ParameterError(f"{option} {value}: not a netCDF file name; reduce writes netCDF-4, "
                             f"use a name ending in {' or '.join(NETCDF_SUFFIXES)}")


def _check_clashes(named, segments):
    """Refuse two outputs (or an output and an input segment) that are the same file.

    Parameters
    ----------
    named : dict of str to str
        Option (``"--output"``, ...) -> the path it was given.
    segments : list of str
        The input segment paths.
    """
    seen = {}
    for option, value in named.items():
        target = _resolved(value)
        if target in seen:
            raise ParameterError(f"{seen[target]} and {option} both name {target}; give them "
                                 f"different paths")
        seen[target] = option
    for segment in segments:
        option = seen.get(_resolved(segment))
        if option is not None:
            raise ParameterError(f"{option} {named[option]} is the input segment {segment}; "
                                 f"writing it would replace the data being reduced")


def _check_folder(option, value, folder, purpose=""):
    """Refuse a `folder` (of `option`'s `value`) that does not exist or is not writable.

    `purpose`, e.g. ``"cannot create plots/: "``, starts the reason.
    """
    if not folder.is_dir():
        raise ParameterError(f"{option} {value}: {purpose}folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(f"{option} {value}: {purpose}folder {folder} is not writable")


def _check_output(option, value, overwrite):
    """Refuse an output whose folder is missing or read-only, or that exists (unless `overwrite`)."""
    target = Path(os.path.abspath(Path(value).expanduser()))
    _check_folder(option, value, target.parent)
    if target.is_dir():
        raise ParameterError(f"{option} {value}: {target} is a folder; name a file in it")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{option} {value}: {target} exists; pass --overwrite to replace it")


def _check_plots(value):
    """Refuse a ``--plots`` folder that is a file, or that cannot be created or written."""
    folder = Path(os.path.abspath(Path(value).expanduser()))
    if folder.is_dir():
        _check_folder("--plots", value, folder)
    elif folder.exists():
        raise ParameterError(f"--plots {value}: {folder} is a file, not a folder for the PNGs")
    else:
        _check_folder("--plots", value, folder.parent, f"cannot create {folder.name}/: ")


def check_reduce_arguments(args):
    """Check every input and output of ``xmiri reduce``, before anything is opened or computed.

    The segments exist; ``--config`` and ``--wavelength`` are files; ``--output`` and
    ``--light-curves`` end in a netCDF extension (:data:`NETCDF_SUFFIXES`),
    are not the same file as each other, an input segment or the ``--plots``
    folder, lie in an existing writable folder, and do not exist unless
    ``--overwrite``; ``--plots`` is a folder, or can be created in an
    existing writable folder.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``reduce`` arguments.

    Returns
    -------
    list of str
        The segment paths, glob patterns expanded.

    Raises
    ------
    InvalidFileError
        An input segment or the ``--wavelength`` file is missing.
    ParameterError
        Any other refusal; the message names the option and its value.
    OutputExistsError
        An output exists and ``--overwrite`` was not given.
    """
    segments = _check_inputs(args.segments)
    _check_config(args.config)
    _check_wavelength(getattr(args, "wavelength", None))
    outputs = {"--output": args.output}
    if args.light_curves:
        outputs["--light-curves"] = args.light_curves
    for option, value in outputs.items():
        _check_suffix(option, value)
    _check_clashes({**outputs, **({"--plots": args.plots} if args.plots else {})}, segments)
    for option, value in outputs.items():
        _check_output(option, value, args.overwrite)
    if args.plots:
        _check_plots(args.plots)
    return segments


