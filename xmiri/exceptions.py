"""Exceptions raised by xmiri.

Every error xmiri raises on bad input derives from :class:`XmiriError`, and
also from the built-in exception a Python user would expect (``ValueError``
for bad values, ``OSError`` for unreadable files), so both
``except xmiri.XmiriError`` and ``except ValueError`` work.  Messages name the
file, parameter or value at fault and, where possible, how to fix it.
"""

__all__ = [
    "XmiriError",
    "InvalidFileError",
    "UnsupportedModeError",
    "SegmentMismatchError",
    "ParameterError",
    "MissingVariableError",
    "OutputExistsError",
]


class XmiriError(Exception):
    """Base class of every error raised by xmiri."""


class InvalidFileError(XmiriError, OSError):
    """A file is missing, unreadable, truncated or not a JWST FITS product."""


class UnsupportedModeError(XmiriError, ValueError):
    """A file is a valid JWST product, but not MIRI LRS slitless data."""


class SegmentMismatchError(XmiriError, ValueError):
    """Segment files do not belong to one exposure, or overlap."""


class ParameterError(XmiriError, ValueError):
    """A step was given an invalid argument."""


class MissingVariableError(XmiriError, KeyError):
    """A step needs a variable that the Dataset does not have."""

    def __str__(self):  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class OutputExistsError(XmiriError, FileExistsError):
    """An output file exists and overwriting was not allowed."""
