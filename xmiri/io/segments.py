"""Several segment files of one exposure: path expansion and consistency checks.

Segments may be given in any order; they are sorted by their first
integration number (``INTSTART``) and must agree on the frame shape, the
exposure keywords, the extensions and the SCI unit, and must not repeat an
integration (:class:`~xmiri.exceptions.SegmentMismatchError`).  A gap in the
numbering is allowed, with a :class:`~xmiri.exceptions.SegmentWarning`.
"""
import glob
import os
import warnings

from ..exceptions import InvalidFileError, ParameterError, SegmentMismatchError, SegmentWarning
from ..layout import VARIABLES
from .fitsfile import EXPOSURE_KEYWORDS

__all__ = ["expand_paths", "check_segments"]


def expand_paths(paths):
    """One path, a glob pattern or a sequence of paths -> list of absolute paths."""
    if isinstance(paths, (str, os.PathLike)):
        text = os.path.expanduser(os.fspath(paths))
        if os.path.exists(text) or not glob.has_magic(text):
            return [os.path.abspath(text)]
        found = sorted(glob.glob(text))
        if not found:
            raise InvalidFileError(f"{text}: no file matches this pattern")
        return [os.path.abspath(p) for p in found]
    if isinstance(paths, (bytes, bytearray)) or not hasattr(paths, "__iter__"):
        raise ParameterError(f"paths must be a path, a glob pattern or a list of paths; "
                             f"got {type(paths).__name__}")
    out = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise ParameterError(f"paths must hold str or os.PathLike, got {p!r}")
        out.append(os.path.abspath(os.path.expanduser(os.fspath(p))))
    if not out:
        raise ParameterError("paths is empty: give at least one rateints/calints file")
    return out


def _label(seg, other):
    return seg.path if seg.name == other.name else seg.name


def check_segments(segments):
    """Same exposure, same layout, no repeated integrations.  Sorts in place."""
    segments.sort(key=lambda s: (s.int_start, s.path))
    first = segments[0]
    for seg in segments[1:]:
        a, b = _label(first, seg), _label(seg, first)
        problems = []
        if seg.shape != first.shape:
            problems.append(f"frame shape is {first.shape} in {a} and {seg.shape} in {b}")
        for key in EXPOSURE_KEYWORDS:
            if key in first.primary and key in seg.primary and first.primary[key] != seg.primary[key]:
                problems.append(f"{key} is {first.primary[key]!r} in {a} and "
                                f"{seg.primary[key]!r} in {b}")
        if set(seg.extensions) != set(first.extensions):
            problems.append(f"extensions differ: {sorted(VARIABLES[v] for v in first.extensions)}"
                            f" in {a}, {sorted(VARIABLES[v] for v in seg.extensions)} in {b}")
        if seg.units.get("data") != first.units.get("data"):
            problems.append(f"SCI BUNIT is {first.units.get('data')!r} in {a} and "
                            f"{seg.units.get('data')!r} in {b}")
        if problems:
            raise SegmentMismatchError(f"{a} and {b} are not segments of one exposure: "
                                       + "; ".join(problems))
    for prev, seg in zip(segments, segments[1:]):
        if seg.int_start <= prev.int_end:
            a, b = _label(prev, seg), _label(seg, prev)
            hint = ("" if prev.has_intstart and seg.has_intstart
                    else " (a file without INTSTART/INTEND is numbered from 1)")
            last = min(prev.int_end, seg.int_end)
            both = (f"integration {last}" if last == seg.int_start
                    else f"integrations {seg.int_start}-{last}")
            raise SegmentMismatchError(
                f"{a} (integrations {prev.int_start}-{prev.int_end}) and {b} (integrations "
                f"{seg.int_start}-{seg.int_end}) both hold {both}{hint}; give each segment once")
        if seg.int_start > prev.int_end + 1:
            lo, hi = prev.int_end + 1, seg.int_start - 1
            warnings.warn(SegmentWarning(
                f"integrations {lo}-{hi} are missing between {prev.name} and {seg.name}",
                count=hi - lo + 1, first=lo, last=hi), stacklevel=4)
    return segments
