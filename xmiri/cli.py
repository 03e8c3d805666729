"""The ``xmiri`` command line: reduce, info, config, demo.

Errors print one line (``xmiri: error: ...``) and exit with status 1; pass
``--debug`` for the traceback.  ``reduce`` checks every input and output
before it opens anything (:func:`check_reduce_arguments`), and ends with a
table of what could not be measured (:func:`summary`).  An option given
without its value says what it needs, with the usage, and exits with
status 2 (:class:`ArgumentParser`).
"""
import argparse
import contextlib
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from ._version import __version__
from .config import PRESETS, SECTIONS, load_config, template
from .exceptions import (InvalidFileError, OutputExistsError, ParameterError, UnmeasuredWarning,
                         XmiriError)

log = logging.getLogger("xmiri")


def _progress_compute(*objs, scheduler=None):
    """Compute Datasets in one dask computation, showing a progress bar.

    Tasks the Datasets share (e.g. the frames behind the spectra and behind
    the light curves' background) run once, on local threads or on the
    dask.distributed `scheduler`.  Their lazy variables are computed rather
    than the Datasets themselves: ``dask.compute(dataset)`` can lose a graph
    layer ("Missing dependency") when variables share tasks (seen with dask
    2026.8 and xarray 2026.9).

    Parameters
    ----------
    *objs : xarray.Dataset or None
        The Datasets (None is passed through).
    scheduler : str, optional
        Address of a dask.distributed scheduler (default: local threads).

    Returns
    -------
    xarray.Dataset or tuple
        The computed Dataset, or a tuple of them when given several.
    """
    import dask

    names = [(i, name) for i, obj in enumerate(objs) if obj is not None
             for name, var in obj.variables.items() if dask.is_dask_collection(var)]
    lazy = [objs[i].variables[name] for i, name in names]
    if scheduler:
        from distributed import Client, progress

        from .parallel import tune_workers

        with Client(scheduler) as client:
            tune_workers(client)
            futures = client.compute(lazy)
            progress(futures)
            print(file=sys.stderr)
            values = client.gather(futures)
    else:
        from dask.diagnostics import ProgressBar

        with ProgressBar(out=sys.stderr):
            values = dask.compute(*lazy)
    computed = [{} for _ in objs]
    for (i, name), value in zip(names, values):
        computed[i][name] = value
    results = tuple(None if obj is None else _with_values(obj, new) for obj, new in zip(objs, computed))
    return results[0] if len(results) == 1 else results


def _with_values(obj, values):
    """Dataset `obj` with its variables (data or coordinates) replaced by the computed `values`."""
    coords = {k: v for k, v in values.items() if k in obj.coords}
    data = {k: v for k, v in values.items() if k not in obj.coords}
    return obj.assign(data).assign_coords(coords)


def _kwargs(config, section):
    kwargs = dict(config.get(section, {}))
    skip = kwargs.pop("skip", False)
    return None if skip else kwargs


def run_chain(ds, config):
    """[clean_temporal ->] clean -> subtract (or subtract -> clean) -> extract -> align, lazily.

    Steps run per the config; clean_temporal, when its section is not
    skipped, runs first, on the frames as read.  Returns the (lazy) frames
    after clean and subtract, and the spectra.
    """
    subtract = dict(config.get("subtract", {}))
    order = ("subtract", "clean") if subtract.pop("before_clean", False) else ("clean", "subtract")
    order = ("clean_temporal",) + order
    config = {**config, "subtract": subtract}
    for step in order:
        kwargs = _kwargs(config, step)
        if kwargs is not None:
            ds = getattr(ds.lrs, step)(**kwargs)
    spec = ds.lrs.extract(**(_kwargs(config, "extract") or {}))
    kwargs = _kwargs(config, "align")
    if kwargs is not None:
        spec = spec.lrs.align(**kwargs)
    return ds, spec


def _expand(patterns):
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


# --------------------------------------------------------------------------
# reduce: every input and output checked before any work
#: File name extensions of the netCDF files ``reduce`` writes (compared in lower case).
NETCDF_SUFFIXES = (".nc", ".nc4")


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
    paths = _expand(patterns)
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

    The segments exist; ``--config`` is a file; ``--output`` and
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
        An input segment is missing.
    ParameterError
        Any other refusal; the message names the option and its value.
    OutputExistsError
        An output exists and ``--overwrite`` was not given.
    """
    segments = _check_inputs(args.segments)
    _check_config(args.config)
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


# --------------------------------------------------------------------------
# reduce: what could not be measured
@contextlib.contextmanager
def _recording_unmeasured(into):
    """Append the UnmeasuredWarnings issued in the block to list `into`; show the others after it.

    The step layer issues one UnmeasuredWarning per step, quantity and cause
    per compute; ``reduce`` prints them as one table (:func:`summary`).
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnmeasuredWarning)
            yield
    finally:
        for w in caught:
            if issubclass(w.category, UnmeasuredWarning):
                into.append(w.message)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _unmeasured_rows(unmeasured):
    """One row (step, quantity, "count / total", cause) per step, quantity and cause, in chain order.

    A step computed twice over the same data (e.g. clean again for a plot)
    reports the same values again: the first report is kept.
    """
    rows = {}
    for w in unmeasured:
        rows.setdefault((w.step, w.quantity, w.cause), (w.step, w.quantity, f"{w.count} / {w.total}",
                                                       w.cause))
    order = list(SECTIONS)
    return sorted(rows.values(), key=lambda row: order.index(row[0]) if row[0] in order else len(order))


def _nan_where(isnan, values, most=5):
    """Where the NaN of DataArray `values` are, per dimension: ``"integration: all 8; row: 0, 415"``.

    Labels are listed when at most `most` along a dimension hold NaN, else counted.
    """
    parts = []
    for axis, dim in enumerate(values.dims):
        hit = isnan.any(axis=tuple(i for i in range(isnan.ndim) if i != axis))
        labels = values[dim].values[hit] if dim in values.coords else np.flatnonzero(hit)
        if hit.all():
            parts.append(f"{dim}: all {hit.size}")
        elif hit.sum() <= most:
            parts.append(f"{dim}: {', '.join(str(label) for label in labels)}")
        else:
            parts.append(f"{dim}: {int(hit.sum())} of {hit.size}")
    return "; ".join(parts)


def _nan_rows(products):
    """One row (file, variable, "NaN / values", where) per floating-point data variable holding NaN.

    Parameters
    ----------
    products : dict of str to xarray.Dataset
        File name -> the computed Dataset written there.
    """
    rows = []
    for name, ds in products.items():
        for var, values in ds.data_vars.items():
            if values.dtype.kind in "fc":
                isnan = np.isnan(values.values)
                if isnan.any():
                    rows.append((name, var, f"{int(isnan.sum())} / {isnan.size}",
                                 _nan_where(isnan, values)))
    return rows


def _table(header, rows, indent="  "):
    """`header` and `rows` (tuples of str) as lines of left-aligned columns."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, *rows]]


def summary(unmeasured, products, *, distributed=False):
    """The lines ``reduce`` prints at the end about values that could not be measured.

    Parameters
    ----------
    unmeasured : list of xmiri.UnmeasuredWarning
        The warnings issued while computing: a table of step, quantity,
        count / total and cause.
    products : dict of str to xarray.Dataset
        File name -> computed Dataset written there: a table of the NaN
        values of each floating-point data variable, and where they are.
    distributed : bool, optional
        The computation ran on dask.distributed workers, which issue the
        steps' warnings themselves (in their logs): say so.

    Returns
    -------
    list of str
        One line saying that every value was measured, or the tables.
    """
    steps, nans = _unmeasured_rows(unmeasured), _nan_rows(products)
    if not steps and not nans:
        return ["every value was measured: no step reported an unmeasured value and the written "
                "files hold no NaN"]
    lines = []
    if steps:
        lines += ["could not be measured (NaN in the products):"]
        lines += _table(("step", "quantity", "count / total", "cause"), steps)
    if nans:
        lines += ["NaN values in the written files:"]
        lines += _table(("file", "variable", "NaN / values", "where"), nans)
        if distributed:
            lines += ["  (the steps' counts of what they could not measure are in the dask "
                      "workers' logs)"]
    return lines


def cmd_reduce(args):
    from . import io

    segments = check_reduce_arguments(args)
    config = load_config(args.config, args.preset)
    ds = io.open_rateints(segments, chunks=config["open"].get("chunks"))
    log.info("opened %d integrations from %d file(s)", ds.sizes["integration"], len(segments))
    frames, spec = run_chain(ds, config)
    lc = None
    if args.light_curves:  # the frames' sky as a regressor, computed with the spectra (shared graph)
        background = frames["background"] if "background" in frames else None
        lc = spec.lrs.light_curves(**config["light_curves"], background=background)
    unmeasured = []
    with _recording_unmeasured(unmeasured):
        spec, lc = _progress_compute(spec, lc, scheduler=args.scheduler)
    io.to_netcdf(spec, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output}: {spec.sizes['integration']} spectra x {spec.sizes['row']} rows")
    products = {args.output: spec}
    if lc is not None:
        io.to_netcdf(lc, args.light_curves, overwrite=args.overwrite)
        print(f"wrote {args.light_curves}: {lc.sizes['integration']} integrations x "
              f"{lc.sizes['bin']} wavelength bins")
        products[args.light_curves] = lc
    if args.plots:
        from . import plotting

        with _recording_unmeasured(unmeasured):  # the cleaned-pixel map re-runs clean
            written = plotting.save_all(spec, args.plots, frames=frames, light_curves=lc)
        print(f"wrote {len(written)} plot(s) to {args.plots}")
    print("\n".join(summary(unmeasured, products, distributed=bool(args.scheduler))))
    return 0


def cmd_info(args):
    from . import io
    from .exceptions import TimeAxisWarning

    for path in _expand(args.files):
        with warnings.catch_warnings(record=True) as caught:  # shown once below, as text
            warnings.simplefilter("always", TimeAxisWarning)
            ds = io.open_rateints(path)
        for w in caught:
            if not issubclass(w.category, TimeAxisWarning):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        time_notes = [str(w.message) for w in caught if issubclass(w.category, TimeAxisWarning)]
        a, time, wl = ds.attrs, ds["time"], ds["wavelength"].attrs
        print(f"{path}")
        print(f"  mode        {a.get('EXP_TYPE', '?')} / {a.get('SUBARRAY', '?')} / {a.get('FILTER', '?')}")
        print(f"  target      {a.get('TARGNAME', '?')}")
        print(f"  frames      {ds.sizes['integration']} x {ds.sizes['row']} rows x {ds.sizes['col']} cols")
        print(f"  integrations {int(ds['integration'][0])}..{int(ds['integration'][-1])} "
              f"of {a.get('NINTS', '?')}")
        values = time.values
        if np.isfinite(values).any():
            scale = f"{time.attrs.get('time_format', '?')} {time.attrs.get('time_scale', '?')}"
            print(f"  time        {np.nanmin(values):.6f} .. {np.nanmax(values):.6f} d ({scale}), "
                  f"from {time.attrs.get('source', '?')}")
        else:
            print("  time        unknown (no INT_TIMES times and no EXPSTART/EFFINTTM)")
        for note in time_notes:
            print(f"              note: {note}")
        print(f"  wavelength  {wl.get('source', '?')}; CRDS context {wl.get('crds_context', '?')}; "
              f"{wl.get('reference_files', '?')}")
        summary = ds.lrs.dq_summary().compute()
        flagged = summary.where(summary["n_pixels"] > 0, drop=True)
        print("  DQ flags    " + (", ".join(
            f"{str(f.values)}={int(n)}" for f, n in zip(flagged["flag"], flagged["n_pixels"])) or "none"))
    return 0


def cmd_config(args):
    sys.stdout.write(template(args.preset))
    return 0


def cmd_demo(args):
    from . import io, plotting, simulate

    outdir = Path(args.output_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    n = args.integrations
    ds, truth = simulate.simulate(n, seed=args.seed, chunks=max(1, n // 4), transit_depth=0.01)
    segments = simulate.write_segments(ds, outdir, n_segments=3, prefix="demo", overwrite=True)
    print(f"simulated {n} integrations (1% transit) in {len(segments)} segments under {outdir}/")
    config = load_config(None, DEMO_PRESET)
    opened = io.open_rateints([str(p) for p in segments], chunks=max(1, n // 4))
    frames, spec = run_chain(opened, config)
    lc = spec.lrs.light_curves(wavelength_bins=7, wavelength_range=(5.0, 12.0), normalise=True,
                               background=frames["background"])
    spec, lc = _progress_compute(spec, lc)
    stage2 = outdir / "demo_stage2.nc"
    io.to_netcdf(spec, stage2, overwrite=True)
    lcfile = outdir / "demo_light_curves.nc"
    io.to_netcdf(lc, lcfile, overwrite=True)
    print(f"reduced with the {DEMO_PRESET!r} preset; wrote {stage2} and {lcfile}")
    relative = truth["relative_flux"].values
    depth, sigma = _transit_depth(lc["white_flux"].values, relative)
    injected = 1 - relative.min()
    print(f"white-light transit depth: {depth:.3%} ± {sigma:.3%} "
          f"(injected {injected:.3%}, {abs(depth - injected) / sigma:.1f}σ)")
    written = plotting.save_all(spec, outdir, frames=frames, light_curves=lc)
    print(f"wrote {len(written)} plot(s): " + ", ".join(p.name for p in written))
    return 0


#: The configuration ``xmiri demo`` reduces with (the default of ``xmiri reduce``).
DEMO_PRESET = "recommended"


def _transit_depth(white, relative_flux):
    """The white-light transit depth and its 1-sigma uncertainty, with the true in/out masks.

    Parameters
    ----------
    white : numpy.ndarray
        White-light flux per integration (any units; NaN skipped).
    relative_flux : numpy.ndarray
        The true relative flux per integration (1 out of transit): in
        transit is where it is at its minimum (full depth, ingress and
        egress left out), out of transit where it is 1.

    Returns
    -------
    depth : float
        ``1 - mean(in) / mean(out)``, a fraction.
    sigma : float
        ``std(out / mean(out)) * sqrt(1/N_in + 1/N_out)``, a fraction: the
        out-of-transit scatter of one integration (sample standard
        deviation) applied to the difference of the two means.
    """
    finite = np.isfinite(white)
    full = (relative_flux <= relative_flux.min() + 1e-12) & finite
    out = (relative_flux >= 1 - 1e-12) & finite
    baseline = np.mean(white[out])
    scatter = np.std(white[out] / baseline, ddof=1)
    return 1 - np.mean(white[full]) / baseline, scatter * np.sqrt(1 / full.sum() + 1 / out.sum())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"xmiri: warning: {message}", file=file or sys.stderr)


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that says what an option needs when its value is missing.

    :meth:`add_argument` takes one more keyword, ``needs=(what, example)``:
    what the value is and an example of it, so that ``xmiri reduce s.fits
    --plots`` says ``--plots needs a value (a folder for the PNGs, e.g.
    --plots plots/)`` rather than argparse's bare "expected one argument".
    Subparsers are of this class too.
    """

    _MISSING = re.compile(r"argument (?P<flags>\S+): expected one argument")

    def add_argument(self, *args, needs=None, **kwargs):
        action = super().add_argument(*args, **kwargs)
        action.needs = needs
        return action

    def error(self, message):
        """Print the usage and `message` (rewritten for a missing value); exit with status 2."""
        match = self._MISSING.fullmatch(message)
        if match:
            action = next((a for a in self._actions if "/".join(a.option_strings) == match["flags"]),
                          None)
            if action is not None:
                message = needs_value_message(action)
        super().error(message)


def needs_value_message(action):
    """``--NAME needs a value (what, e.g. --NAME example)`` for an option of :class:`ArgumentParser`.

    Without ``needs``, what is the help text (or the choices) and the example
    the first choice, or the metavar.
    """
    flag = max(action.option_strings, key=len)
    needs = getattr(action, "needs", None)
    if needs is None:
        choices = list(action.choices or [])
        what = action.help or (f"one of {', '.join(map(str, choices))}" if choices else "a value")
        example = choices[0] if choices else (action.metavar or action.dest.upper())
    else:
        what, example = needs
    return f"{flag} needs a value ({what}, e.g. {flag} {example})"


def build_parser():
    parser = ArgumentParser(prog="xmiri", description="JWST MIRI LRS slitless time-series reduction.")
    parser.add_argument("--version", action="version", version=f"xmiri {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True)
    presets = " or ".join(sorted(PRESETS))

    p = sub.add_parser("reduce", help="rateints segments -> netCDF spectra")
    p.add_argument("segments", nargs="+", help="rateints/calints FITS files (any order) or a glob")
    p.add_argument("--output", "-o", required=True, metavar="FILE.nc",
                   help=f"netCDF file of spectra to write ({' or '.join(NETCDF_SUFFIXES)})",
                   needs=("the netCDF file of spectra to write", "stage2.nc"))
    p.add_argument("--config", metavar="FILE.toml",
                   help="TOML file (see `xmiri config`); its keys override the preset",
                   needs=("a TOML file, see `xmiri config`", "reduce.toml"))
    p.add_argument("--preset", default="recommended", choices=sorted(PRESETS),
                   help="starting configuration: 'recommended' (default: the best measured chain) "
                        "or 'exotic-miri' (ExoTiC-MIRI 1.0.1's results)",
                   needs=(f"the starting configuration, {presets}", "recommended"))
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (default: local threads)",
                   needs=("a dask.distributed scheduler address", "tcp://127.0.0.1:8786"))
    p.add_argument("--light-curves", metavar="FILE.nc",
                   help="also write binned light curves to this netCDF file",
                   needs=("the netCDF file of light curves to write", "light_curves.nc"))
    p.add_argument("--plots", metavar="FOLDER",
                   help="write diagnostic PNGs into this folder (the cleaned-pixel map re-runs clean "
                        "over the exposure)",
                   needs=("a folder for the PNGs", "plots/"))
    p.set_defaults(func=cmd_reduce)

    p = sub.add_parser("info", help="what is in a file: mode, integrations, time span, DQ summary")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("config", help="print a commented default reduce.toml")
    p.add_argument("--preset", default="recommended", choices=sorted(PRESETS),
                   help="'recommended' (default) or 'exotic-miri'",
                   needs=(f"the configuration to print, {presets}", "recommended"))
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="simulate a small exposure and reduce it end to end")
    p.add_argument("--output-dir", default="out", metavar="FOLDER",
                   help="folder for everything the demo writes (default: out)",
                   needs=("a folder for the segments, netCDF files and PNGs", "out"))
    p.add_argument("--integrations", type=int, default=120, metavar="N",
                   help="number of integrations to simulate (default: 120)",
                   needs=("the number of integrations to simulate", "120"))
    p.add_argument("--seed", type=int, default=1, metavar="SEED",
                   help="random seed of the simulation (default: 1)",
                   needs=("the random seed of the simulation, an integer", "1"))
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    with warnings.catch_warnings():  # restores the caller's warning display on return
        if not args.debug:  # one line per warning, without the source line
            warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print("xmiri: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # one line, no traceback, unless --debug
            if args.debug:
                raise
            kind = "" if isinstance(exc, XmiriError) else f"{type(exc).__name__}: "
            print(f"xmiri: error: {kind}{exc}".splitlines()[0], file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
