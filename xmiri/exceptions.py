"""Exceptions raised by xmiri.

Every error xmiri raises on bad input derives from :class:`XmiriError`, and
also from the built-in exception a Python user would expect (``ValueError``
for bad values, ``OSError`` for unreadable files), so both
``except xmiri.XmiriError`` and ``except ValueError`` work.  Messages name the
file, parameter or value at fault and, where possible, how to fix it.

Every warning xmiri issues is an instance of :class:`XmiriWarning` or of one
of its subclasses, which carry what they report as attributes (a count, the
step, the cause), so that code and tests can act on the class and the
attributes rather than on the text::

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = ds.lrs.extract().compute()
    unmeasured = [w.message for w in caught if issubclass(w.category, xmiri.UnmeasuredWarning)]
    sum(w.count for w in unmeasured)
"""

import re
import textwrap

__all__ = [
    "XmiriError",
    "InvalidFileError",
    "UnsupportedModeError",
    "SegmentMismatchError",
    "ParameterError",
    "MissingVariableError",
    "IntegrationNotFoundError",
    "OutputExistsError",
    "WavelengthUnavailableError",
    "XmiriWarning",
    "UnmeasuredWarning",
    "TimeAxisWarning",
    "WavelengthWarning",
    "PackagedWavelengthWarning",
    "NoWavelengthWarning",
    "SubarrayGeometryWarning",
    "SegmentWarning",
    "SkyNotSubtractedWarning",
    "NoiseRatioWarning",
    "XmiriFutureWarning",
]


class XmiriError(Exception):
    """Base class of every error raised by xmiri."""


class InvalidFileError(XmiriError, OSError):
    """A file is missing, unreadable, truncated or not a JWST FITS product, or an output cannot be written.

    An output cannot be written when its folder is missing or read-only, or
    when the disk or the quota fills up; the message names the file and the
    cause.
    """


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


class IntegrationNotFoundError(ParameterError, KeyError):
    """An ``integration=`` label that the Dataset does not have.

    A ``KeyError``, like ``ds.sel(integration=...)`` with a missing label, and
    a :class:`ParameterError` (so a ``ValueError``).
    """

    def __str__(self):  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class OutputExistsError(XmiriError, FileExistsError):
    """An output file exists and overwriting was not allowed."""


class WavelengthUnavailableError(XmiriError, ValueError):
    """No wavelength source serves a file's subarray.

    xmiri's packaged solution serves SLITLESSPRISM (and subarrays whose
    pixels map onto it); another subarray needs its own WCS, CRDS, or the
    matching calints file (``wavelength=``).  The message names the
    subarray and what to provide.
    """


# --------------------------------------------------------------------------
# warnings


#: The Parameters section of every warning class (added by ``XmiriWarning.__init_subclass__``).
_SHARED_PARAMETERS = """Parameters
----------
message : str, default ""
    What happened and what to do.
**fields
    {fields}
"""


class XmiriWarning(UserWarning):
    """Base class of every warning issued by xmiri.

    Subclasses take their message first and what they report as keyword
    arguments, stored as attributes (``None`` when not given).

    Parameters
    ----------
    message : str, default ""
        What happened and what to do.
    **fields
        The values the subclass reports (its ``Attributes``).

    Raises
    ------
    TypeError
        If a keyword is not one of the subclass's fields.
    """

    _fields = ()

    def __init_subclass__(cls, **kwargs):
        """Give each subclass's docstring the Parameters section they all share."""
        super().__init_subclass__(**kwargs)
        doc = cls.__dict__.get("__doc__")
        if not doc or re.search(r"^\s*Parameters\n\s*---", doc, re.M):
            return
        fields = "The attributes below, by name." if cls._fields else "None: this warning has no attributes."
        # indented as the docstring's sections are (Python >= 3.13 dedents docstrings)
        indent = min((m.group(1) for m in re.finditer(r"^( *)\S", doc.split("\n", 1)[-1], re.M)),
                     key=len, default="")
        shared = textwrap.indent(_SHARED_PARAMETERS.format(fields=fields), indent)
        at = re.search(r"^ *Attributes\n *---", doc, re.M)
        cls.__doc__ = (doc[:at.start()] + shared + "\n" + doc[at.start():] if at
                       else doc.rstrip() + "\n\n" + shared)

    def __init__(self, message="", **fields):
        super().__init__(message)
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        for name in self._fields:
            setattr(self, name, fields.get(name))

    def __reduce__(self):  # picklable with its fields (warnings cross process boundaries)
        return (_rebuild_warning, (type(self), str(self), {f: getattr(self, f) for f in self._fields}))


def _rebuild_warning(cls, message, fields):
    return cls(message, **fields)


class UnmeasuredWarning(XmiriWarning, RuntimeWarning):
    """Values a step could not measure, which are NaN (and flagged where a DQ exists).

    Attributes
    ----------
    step : str
        The step, e.g. ``"extract"``.
    quantity : str
        What could not be measured, e.g. ``"flux"`` or ``"y_shift"``.
    count : int
        Number of values that are NaN because of ``cause``.
    total : int
        Number of values of ``quantity`` computed.
    cause : str
        Why, in words (e.g. ``"NaN data or error inside the aperture"``).
    """

    _fields = ("step", "quantity", "count", "total", "cause")


class TimeAxisWarning(XmiriWarning):
    """The time coordinate is missing, derived from a fallback, or inconsistent.

    Attributes
    ----------
    source : str
        Where the times came from (``"INT_TIMES"``, ``"EXPSTART+EFFINTTM"``, ...).
    count : int
        Number of integrations concerned.
    reason : str
        What is wrong or what was done, in words.
    """

    _fields = ("source", "count", "reason")


class WavelengthWarning(XmiriWarning):
    """A wavelength source could not be used; the next one in the order was.

    Attributes
    ----------
    source : str
        The source that failed (e.g. ``"AssignWcsStep"``).
    fallback : str
        The source used instead.
    reason : str
        Why the source failed and how to fix it.
    """

    _fields = ("source", "fallback", "reason")


class PackagedWavelengthWarning(WavelengthWarning):
    """The wavelengths are xmiri's packaged solution, derived once from one reference file.

    Attributes
    ----------
    source : str
        ``"xmiri default solution"``.
    fallback : str
        None (nothing failed: no other source was there).
    reason : str
        Where the solution came from and how to get the current one.
    subarray : str
        The file's subarray.
    crds_context, reference_files : str
        The CRDS context and reference files of the WCS it was derived from.
    """

    _fields = ("source", "fallback", "reason", "subarray", "crds_context", "reference_files")


class NoWavelengthWarning(WavelengthWarning):
    """No wavelength source serves a file's subarray: its wavelengths are NaN.

    Issued instead of :class:`WavelengthUnavailableError` when the frames
    are opened anyway (the frames and the pixel-space steps work; light
    curves binned in wavelength are empty).

    Attributes
    ----------
    source : str
        ``"xmiri default solution"``, the source that does not serve it.
    fallback : str
        ``"none"``.
    reason : str
        Why, and what to provide (``wavelength=`` the matching calints, or CRDS).
    subarray : str
        The file's subarray.
    """

    _fields = ("source", "fallback", "reason", "subarray")


class SubarrayGeometryWarning(XmiriWarning):
    """A subarray's geometry is not known: the trace was located in the data.

    Attributes
    ----------
    subarray : str
        The file's ``SUBARRAY``.
    aperture_center : int
        Column where the trace was found.
    reason : str
        Why the known geometry could not be used.
    """

    _fields = ("subarray", "aperture_center", "reason")


class SegmentWarning(XmiriWarning):
    """Segments of one exposure leave integrations out (a gap in the numbering).

    Attributes
    ----------
    count : int
        Number of missing integrations.
    first, last : int
        First and last missing integration numbers.
    """

    _fields = ("count", "first", "last")


class SkyNotSubtractedWarning(XmiriWarning):
    """Spectra were extracted from frames whose sky background was not subtracted.
    """


class NoiseRatioWarning(XmiriWarning):
    """The light curves' measured scatter disagrees with their propagated errors.

    Below the range, the file's ERR (and VAR_*) overstate the noise; above
    it, the data hold noise the errors do not model (pointing jitter, 1/f or
    other correlated detector noise, an unstable source) or ERR
    understates it.  See ``docs/errors.rst``.

    Attributes
    ----------
    ratio : float
        The white light curve's ``white_noise_ratio``.
    low, high : float
        The range of ratios taken as honest errors.
    """

    _fields = ("ratio", "low", "high")


class XmiriFutureWarning(XmiriWarning, FutureWarning):
    """A name that will be removed in the next release; the message names its successor.

    Attributes
    ----------
    old, new : str
        The deprecated name and the one to use instead.
    """

    _fields = ("old", "new")
