"""The ``xmiri reduce`` configuration: generated from the step signatures, so it cannot drift.

Each section of the TOML file holds the keyword arguments of the accessor
method of the same name (``ds.lrs.<section>(**kwargs)``).  The commented
default configuration (``xmiri config``) is written from the signatures of
the step functions and the first sentence of each parameter's description in
their docstrings; the defaults themselves come from :mod:`xmiri.defaults`.
Keywords whose default depends on the file's subarray (aperture centre,
background, profile and trace columns and rows: None in the signatures) are
left out of the configuration, so that each file gets its own, and shown
commented out in the template with their value for every known subarray.
Keys a section does not know are refused before any work, naming the key and
the keys it accepts.

Examples
--------
>>> config = default_config()
>>> config["extract"]["method"], config["subtract"]["method"]
('optimal', 'col_wise')
>>> "window_heights = [40]" in template()
True
"""
import inspect
import re
import tomllib
from pathlib import Path

from .exceptions import ParameterError

__all__ = ["SECTIONS", "PRESETS", "POSITIONS", "preset", "default_config", "template", "load_config",
           "placed"]

#: TOML section -> step function name in :mod:`xmiri.steps` (None: not a step).
SECTIONS = {"open": None, "clean_temporal": "clean_temporal", "clean": "clean",
            "subtract": "subtract", "extract": "extract", "align": "align",
            "light_curves": "light_curves"}
#: Steps that ``skip = true`` may leave out of ``xmiri reduce``.
SKIPPABLE = ("clean_temporal", "clean", "subtract", "align")
#: Skippable steps that are off by default (``skip = true``): a section of the
#: user's file that names one of them without a ``skip`` key turns it on.
OFF_BY_DEFAULT = ("clean_temporal",)
#: Keys that only the command line knows: section -> {key: (default, comment)}.
_EXTRA = {
    "open": {"chunks": (None, "integrations per dask chunk (or \"auto\"); default about 8 MiB "
                              "of frames per chunk, see xmiri.io.chunks"),
             "positions": ("file", "one of {\"file\", \"SLITLESSPRISM\"}: the pixels of the "
                                   "positions set in this file (aperture_center, bkg_col_*, "
                                   "spatial_profile_*_idx, trace_rows, trace_cols): the file's own, "
                                   "or SLITLESSPRISM's, moved with the star to the file's subarray "
                                   "(xmiri.defaults.from_slitlessprism)")},
    "clean_temporal": {"skip": (True, "true: leave out clean_temporal (outliers along time, run "
                                      "first), the default: the chain takes about 3 times as long; a "
                                      "[clean_temporal] section without skip turns it on")},
    "subtract": {"before_clean": (False, "true: subtract the sky before clean, so that the "
                                         "spatial profile P (optimal extraction) holds no sky "
                                         "pedestal"),
                 "reclean": (False, "true: after subtract, put back the DQ as read and clean "
                                    "again, so that the sky is estimated on the cleaned frames, "
                                    "subtracted from them, and the result cleaned once more "
                                    "(ExoTiC-MIRI's published chain); needs before_clean = false")},
}
#: The values of ``[open] positions``: the pixels in which a configuration's
#: positions are given (:func:`placed`).
POSITIONS = ("file", "SLITLESSPRISM")
#: The preset that ``xmiri reduce``, ``xmiri config`` and ``xmiri demo`` start from.
DEFAULT_PRESET = "recommended"
#: Configurations on top of the step defaults.  "recommended" (the default of
#: ``xmiri reduce`` and ``xmiri config``) is the chain with the best measured
#: science (benchmarks/DEFAULTS.md): sky subtracted first, so that the spatial
#: profile holds no sky pedestal, then optimal extraction over 8 + 8 columns
#: with the median profile, moved with the trace (benchmarks/POINTING.md), and
#: Horne's Q read off the file.  "exotic-miri"
#: reproduces ExoTiC-MIRI 1.0.1's step defaults exactly (the equivalence tests
#: run with it).  "exotic-miri-pipeline" is the stage-2 chain ExoTiC-MIRI's
#: authors publish for real data (``docs/source/views/complete_pipelines.rst``
#: in its repository, the < 40 groups pipeline): clean, the row-wise sky of
#: columns 12-22 and 50-68 estimated on the cleaned frames and subtracted from
#: them, clean again with the DQ as read, a 4 + 4 column box at column 36, no
#: re-sampling (docs/exotic_miri.rst); its columns are SLITLESSPRISM's
#: (``[open] positions``), moved with the star on other subarrays.  ``false``
#: stands for None (TOML has no null).
PRESETS = {
    "recommended": {
        "subtract": {"before_clean": True},
        "extract": {"method": "optimal", "median_spatial_profile": True,
                    "profile_follows_trace": True,
                    "aperture_left_width": 8, "aperture_right_width": 8},
    },
    "exotic-miri": {
        "clean": {"dq_bits_to_mask": [0, 11], "err_threshold": False, "repair_errors": False,
                  "max_gap": False},
        "subtract": {"before_clean": False, "method": "row_wise"},
        "extract": {"method": "optimal", "aperture_left_width": 8, "aperture_right_width": 8,
                    "horne_q": False, "sky_error": False},
    },
    "exotic-miri-pipeline": {
        "open": {"positions": "SLITLESSPRISM"},
        "clean": {"dq_bits_to_mask": [0], "window_heights": [150, 100, 50, 40, 30, 24],
                  "poly_order": 4, "outlier_threshold": 5.0, "err_threshold": False,
                  "repair_errors": False, "max_gap": False},
        "subtract": {"before_clean": False, "reclean": True, "method": "row_wise",
                     "bkg_col_left_start": 12, "bkg_col_left_end": 22,
                     "bkg_col_right_start": 50, "bkg_col_right_end": 68},
        "extract": {"method": "box", "trace_position": "constant", "aperture_center": 36,
                    "aperture_left_width": 4, "aperture_right_width": 4, "sky_error": False},
        "align": {"align_spectra": False},
    },
}


def chain_order(before_clean, reclean=False):
    """The order of clean and subtract: ``("subtract", "clean")`` when subtract runs first.

    With `reclean`, clean runs again after subtract: ``("clean", "subtract",
    "clean")`` (the DQ as read is put back before the second clean; see
    :func:`preset`).

    Raises
    ------
    ParameterError
        `before_clean` and `reclean` both true.
    """
    if reclean:
        if before_clean:
            raise ParameterError("[subtract] reclean = true needs before_clean = false (the sky "
                                 "is estimated on the cleaned frames)")
        return ("clean", "subtract", "clean")
    return ("subtract", "clean") if before_clean else ("clean", "subtract")


def _chosen(name):
    """The choices of preset `name` ({} for None or ""); ParameterError naming the known ones."""
    if not name:
        return {}
    if name not in PRESETS:
        raise ParameterError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def preset(name, ds=None):
    """The keyword arguments of each step for preset `name`, ``False`` turned into None.

    clean, subtract, extract and align each have a section (empty where the
    preset keeps the step's defaults).  Keys that only ``xmiri reduce`` knows are left out;
    the order of clean and subtract (``[subtract] before_clean`` and
    ``reclean``) is under ``"order"``.  Where clean appears twice
    (``("clean", "subtract", "clean")``), the second clean runs on the
    subtracted frames with the ``dq`` as read, not the first clean's (last
    example).

    Parameters
    ----------
    name : str
        A name of :data:`PRESETS` (``"recommended"``, ``"exotic-miri"``).
    ds : xarray.Dataset, optional
        The frames the keywords are for.  A preset whose positions are
        SLITLESSPRISM's (``exotic-miri-pipeline``: its aperture centre and
        sky columns) gets them moved with the star into `ds`'s subarray
        (:func:`placed`); without `ds` they are SLITLESSPRISM's, right for
        SLITLESSPRISM files only.

    Returns
    -------
    dict
        ``{step: {keyword: value}}`` for clean, subtract, extract and align,
        and ``"order"``: the two first steps, in the order they run.

    Raises
    ------
    ParameterError
        If `name` is empty or not a known preset, or its positions do not
        fit `ds` (:func:`xmiri.defaults.from_slitlessprism`).

    Examples
    --------
    >>> kw = preset("exotic-miri")
    >>> kw["extract"]["horne_q"] is None
    True
    >>> kw["order"]
    ('clean', 'subtract')
    >>> sorted(kw)
    ['align', 'clean', 'extract', 'order', 'subtract']
    >>> preset("recommended")["order"]
    ('subtract', 'clean')
    >>> import xmiri
    >>> kw = preset("exotic-miri-pipeline")
    >>> kw["order"]
    ('clean', 'subtract', 'clean')
    >>> ds, _ = xmiri.simulate.simulate(2, seed=1)
    >>> frames = ds.lrs.clean(**kw["clean"]).lrs.subtract(**kw["subtract"])
    >>> frames = frames.assign(dq=ds["dq"]).lrs.clean(**kw["clean"])
    >>> spec = frames.lrs.extract(**kw["extract"]).lrs.align(**kw["align"])
    >>> spec.sizes["integration"], spec.attrs["background_subtracted"]
    (2, 'row_wise')
    >>> ip, _ = xmiri.simulate.simulate(2, seed=1, subarray="SLITLESSPRISM_IP")
    >>> preset("exotic-miri-pipeline", ip)["extract"]["aperture_center"]  # 36 in SLITLESSPRISM
    32
    """
    if not name:
        raise ParameterError(f"preset needs a name; known: {', '.join(PRESETS)}")
    chosen = _chosen(name)
    kwargs = {section: {k: _none(k, v, section) for k, v in values.items()
                        if k not in _EXTRA.get(section, {})}
              for section, values in chosen.items() if SECTIONS.get(section) is not None}
    subtract = chosen.get("subtract", {})
    kwargs["order"] = chain_order(subtract.get("before_clean", _EXTRA["subtract"]["before_clean"][0]),
                                  subtract.get("reclean", _EXTRA["subtract"]["reclean"][0]))
    for section in ("clean", "subtract", "extract", "align"):
        kwargs.setdefault(section, {})
    if ds is not None:
        positions = chosen.get("open", {}).get("positions", _EXTRA["open"]["positions"][0])
        kwargs = placed({**kwargs, "open": {"positions": positions}}, ds)
        del kwargs["open"]
    return kwargs


def placed(config, ds):
    """`config` with its positions in `ds`'s pixels, per its ``[open] positions``.

    With ``positions = "SLITLESSPRISM"`` every geometry keyword set in a step
    section (:data:`xmiri.defaults.GEOMETRY_KEYWORDS`: aperture centre, sky
    and profile columns, trace rows and columns) is moved with the star from
    SLITLESSPRISM's pixels into the file's
    (:func:`xmiri.defaults.from_slitlessprism`); with ``"file"`` (the default)
    `config` is returned as it is.  Keywords left unset (None) take the
    file's own geometry in the steps either way.

    Parameters
    ----------
    config : dict
        ``{section: {key: value}}`` (:func:`load_config`, or :func:`preset`'s
        sections with an ``"open"`` section).
    ds : xarray.Dataset
        The frames the configuration is for.

    Returns
    -------
    dict
        A new dict; `config` is not modified.

    Raises
    ------
    ParameterError
        ``[open] positions`` is not one of :data:`POSITIONS`, or a position
        does not fit `ds` once moved.

    Examples
    --------
    >>> import xmiri
    >>> ips, _ = xmiri.simulate.simulate(2, seed=1, subarray="SLITLESSPRISM_IPS")
    >>> config = placed(load_config(None, "exotic-miri-pipeline"), ips)
    >>> [config["subtract"][k] for k in ("bkg_col_left_start", "bkg_col_left_end",
    ...                                  "bkg_col_right_start", "bkg_col_right_end")]
    [0, 10, 38, 52]
    """
    from .defaults import GEOMETRY_KEYWORDS, from_slitlessprism

    positions = config.get("open", {}).get("positions", _EXTRA["open"]["positions"][0])
    chosen = {p.upper(): p for p in POSITIONS}.get(str(positions).upper())
    if chosen is None:
        raise ParameterError(f"[open] positions must be one of {', '.join(map(repr, POSITIONS))}, "
                             f"got {positions!r}")
    out = {section: dict(values) if isinstance(values, dict) else values
           for section, values in config.items()}
    if chosen == "file":
        return out
    for section, values in out.items():
        if section == "open" or not isinstance(values, dict):
            continue
        keys = {k: v for k, v in values.items() if k in GEOMETRY_KEYWORDS and v is not None}
        try:
            values.update(from_slitlessprism(ds, **keys) if keys else {})
        except ParameterError as exc:
            exc.args = (f"[{section}] {exc} (positions = \"SLITLESSPRISM\")",) + exc.args[1:]
            raise
    return out


def _none(key, value, section):
    """``False`` means None for a keyword whose default is not a bool (TOML has no null)."""
    if value is False and SECTIONS.get(section) is not None:
        params = {p.name: p for p in _parameters(_step(SECTIONS[section]))}
        if key in params and not isinstance(params[key].default, bool):
            return None
    return value


_HEADER = """\
# xmiri reduce configuration, generated from the step signatures (xmiri {version});
# preset: {preset}.  Each section holds the keyword arguments of the accessor
# method of the same name (ds.lrs.<section>(**kwargs)); a missing key takes the
# method's default.  `skip = true` leaves a step out ({skippable});
# `false` stands for None where a keyword takes a number.
"""


def _step(name):
    from . import steps

    return getattr(steps, name)


def _parameters(func):
    """The keyword parameters of a step (its Dataset argument and ``**`` left out)."""
    params = list(inspect.signature(func).parameters.values())[1:]
    return [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _plain_text(text):
    """Docstring text without reST markup: ``x`` -> x, :func:`x` -> x."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "").replace("*", "")


def _descriptions(doc):
    """``{parameter: what it is, in one line}`` from a numpydoc docstring.

    The first sentence of the description, after the choices when the type
    line lists them (``{"box", "optimal"}``).
    """
    doc = inspect.cleandoc(doc or "")
    match = re.search(r"^Parameters\n-+\n(.*?)(?:\n\n[A-Z][A-Za-z ]+\n-+\n|\Z)", doc, re.S | re.M)
    if not match:
        return {}
    out, names, kind, text = {}, [], "", []
    for line in match.group(1).splitlines() + [""]:
        header = re.match(r"^(\w[\w, ]*?)\s*:\s*(.*)$", line)
        if (header and not line.startswith(" ")) or line == "":
            if names and text:
                sentence = re.split(r"(?<=[.;])\s", " ".join(text).strip(), maxsplit=1)[0]
                sentence = _plain_text(sentence.rstrip(".;"))
                choices = re.match(r"(\{[^}]*\})", kind)
                if choices:
                    sentence = f"one of {choices.group(1)}: {sentence}"
                for name in names:
                    out.setdefault(name, sentence)
            names = [n.strip() for n in header.group(1).split(",")] if header else []
            kind, text = (header.group(2) if header else ""), []
        elif names:
            text.append(line.strip())
    return out


def _comment(text, width=88):
    """`text` as ``# `` comment lines of at most `width` characters."""
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    return lines + [line] if line != "#" else lines


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def default_config(preset_name=DEFAULT_PRESET):
    """The default configuration as a dict of sections (keys with a None default left out).

    The step defaults, with the choices of preset `preset_name` on top (None:
    the step defaults alone); ``false`` values are kept (see :func:`preset`).

    Parameters
    ----------
    preset_name : str or None, default DEFAULT_PRESET
        The preset whose choices go on top of the step defaults; None: the
        step defaults alone.

    Returns
    -------
    dict
        ``{section: {key: value}}`` with the sections and keys of
        ``reduce.toml``.

    Examples
    --------
    >>> default_config()["clean"]["dq_bits_to_mask"]
    [0, 11, 22, 23, 24, 25]
    >>> default_config("exotic-miri")["clean"]["dq_bits_to_mask"]
    [0, 11]
    """
    chosen = _chosen(preset_name)
    config = {}
    for section, step in SECTIONS.items():
        values = {k: d for k, (d, _) in _EXTRA.get(section, {}).items() if d is not None}
        if step is not None:
            values.update({p.name: _plain(p.default) for p in _parameters(_step(step))
                           if p.default is not None})
        values.update(chosen.get(section, {}))
        config[section] = values
    return config


def template(preset_name=DEFAULT_PRESET):
    """The commented default ``reduce.toml``: every key, its value and what it means.

    Values are the step defaults with preset `preset_name` on top (None: the
    step defaults alone); a key the preset sets shows the step's own default.

    Parameters
    ----------
    preset_name : str or None, default DEFAULT_PRESET
        The preset whose choices go on top of the step defaults; None: the
        step defaults alone.

    Returns
    -------
    str
        The TOML text, one commented line per key.

    Examples
    --------
    >>> print(template().splitlines()[6])
    [open]
    >>> [line for line in template("exotic-miri").splitlines() if line.startswith("horne_q")]
    ['horne_q = false    # exotic-miri; step default: "auto"']
    """
    from ._version import __version__

    chosen = _chosen(preset_name)
    lines = [_HEADER.format(skippable=", ".join(SKIPPABLE[:-1]) + " or " + SKIPPABLE[-1],
                            version=__version__, preset=preset_name or "none")]
    for section, step in SECTIONS.items():
        lines.append(f"[{section}]")
        entries = [(k, d, c) for k, (d, c) in _EXTRA.get(section, {}).items()]
        if step is not None:
            func = _step(step)
            about = _descriptions(func.__doc__)
            entries += [(p.name, p.default, about.get(p.name, "")) for p in _parameters(func)]
        previous = None
        for key, default, comment in entries:
            if comment and comment != previous:
                lines.extend(_comment(comment))
            previous = comment
            if key in chosen.get(section, {}):
                lines.append(f"{key} = {_toml_value(chosen[section][key])}"
                             f"    # {preset_name}; step default: {_toml_value(default)}"
                             if default is not None else
                             f"{key} = {_toml_value(chosen[section][key])}    # {preset_name}")
            elif default is None and key in _geometry_values():
                values = _geometry_values()[key]
                lines.append(f"# {key} = {_toml_value(values['SLITLESSPRISM'])}    (default: from the "
                             f"file's subarray: " + ", ".join(
                                 f"{name} {_toml_value(value)}" for name, value in values.items()) + ")")
            elif default is None:
                lines.append(f"# {key} = ...    (unset by default)")
            else:
                lines.append(f"{key} = {_toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


def _geometry_values():
    """{keyword: {subarray: value}} of the geometry keywords, for each known subarray."""
    import xarray as xr

    from .defaults import GEOMETRY_KEYWORDS, SUBARRAYS, geometry

    out = {key: {} for key in GEOMETRY_KEYWORDS}
    for name, sub in SUBARRAYS.items():
        frame = xr.Dataset(coords={"row": range(sub.size[0]), "col": range(sub.size[1])},
                           attrs={"SUBARRAY": name, "SUBSTRT2": sub.corner[0],
                                  "SUBSTRT1": sub.corner[1]})
        geo = geometry(frame)
        for key, read in GEOMETRY_KEYWORDS.items():
            value = read(geo)
            out[key][name] = list(value) if isinstance(value, tuple) else value
    return out


def _known_keys(section):
    keys = set(_EXTRA.get(section, {}))
    if SECTIONS[section] is not None:
        keys |= {p.name for p in _parameters(_step(SECTIONS[section]))}
    if section in SKIPPABLE:
        keys.add("skip")
    return keys


def load_config(path=None, preset_name=DEFAULT_PRESET):
    r"""The configuration of preset `preset_name` updated by the TOML file at `path`, checked.

    Parameters
    ----------
    path : str, os.PathLike or None, default None
        The TOML file; None: the preset alone.
    preset_name : str or None, default DEFAULT_PRESET
        The preset under the file's values; None: the step defaults alone.

    Returns
    -------
    dict
        ``{section: {key: value}}``, every key of every section present,
        ``false`` and missing optional values as None.

    Raises
    ------
    ParameterError
        The file is missing or not valid TOML, or names a section or key that
        xmiri does not know (the message lists the valid ones).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reduce.toml"
    >>> _ = path.write_text('[extract]\nmethod = "optimal"\n')
    >>> load_config(path)["extract"]["method"], load_config(path)["extract"]["aperture_left_width"]
    ('optimal', 8)
    >>> load_config(None, "exotic-miri")["extract"]["horne_q"] is None
    True
    """
    config = default_config(preset_name)
    if path is None:
        return _nones(config)
    path = Path(path)
    try:
        user = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ParameterError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(user) - set(config)
    if unknown:
        raise ParameterError(f"config file {path}: unknown section(s) {sorted(unknown)}; "
                             f"valid: {sorted(config)}")
    for section, values in user.items():
        if not isinstance(values, dict):
            raise ParameterError(f"config file {path}: {section} must be a [section], got "
                                 f"{values!r}")
        bad = set(values) - _known_keys(section)
        if bad:
            raise ParameterError(f"config file {path}: [{section}] has unknown key(s) "
                                 f"{sorted(bad)}; valid: {sorted(_known_keys(section))}")
        if section in OFF_BY_DEFAULT and "skip" not in values:
            values = {**values, "skip": False}
        config[section].update(values)
    return _nones(config)


def _nones(config):
    """``false`` turned into None for keywords that take numbers (see :func:`preset`)."""
    return {section: {k: _none(k, v, section) for k, v in values.items()}
            for section, values in config.items()}
