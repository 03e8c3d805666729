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
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .._version import __version__
from .checks import NETCDF_SUFFIXES, _check_wavelength, check_reduce_arguments
from .checks import expand as _expand
from .report import holding as _holding
from .report import recording_unmeasured as _recording_unmeasured
from .report import noise_summary, summary
from ..config import DEFAULT_PRESET, PRESETS, chain_order, load_config, placed, template
from ..exceptions import ParameterError, XmiriError
from ..kernels.lightcurves import transit_depth

log = logging.getLogger("xmiri")


def _progress_compute(*objs, scheduler=None):
    """Compute Datasets in one dask computation, showing a progress bar.

    Tasks the Datasets share (e.g. the frames behind the spectra and behind
    the light curves' background) run once, on local threads or on the
    dask.distributed `scheduler`.

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

    if scheduler:
        from distributed import Client, progress

        from ..parallel import tune_workers

        with Client(scheduler) as client:
            tune_workers(client)
            futures = client.compute(list(objs))
            progress(futures)
            print(file=sys.stderr)
            results = tuple(client.gather(futures))
    else:
        from dask.diagnostics import ProgressBar

        with ProgressBar(out=sys.stderr):
            results = dask.compute(*objs)
    return results[0] if len(results) == 1 else results


def _kwargs(config, section):
    kwargs = dict(config.get(section, {}))
    skip = kwargs.pop("skip", False)
    return None if skip else kwargs


@contextlib.contextmanager
def config_section(section, source=None):
    """Prefix a :class:`ParameterError` raised inside with the config `section` and file `source`.

    The steps name the parameter and value (``poly_order must be ...``); the
    prefix says where the value came from (`section` None: the file alone,
    for messages that name their section).  The exception keeps its class.
    """
    try:
        yield
    except ParameterError as exc:
        where = " ".join(part for part in (f"config file {source}:" if source else "",
                                           f"[{section}]" if section else "") if part)
        exc.args = (f"{where} {exc}",) + exc.args[1:]
        raise


@contextlib.contextmanager
def _wavelength_option(path):
    """A ParameterError about the wavelength, raised inside, names ``--wavelength path`` (not [open])."""
    try:
        yield
    except ParameterError as exc:
        message = str(exc).split("] ", 1)[-1] if str(exc).startswith(("[", "config file")) else str(exc)
        if path is not None and message.startswith("wavelength"):
            exc.args = (f"--wavelength {path}: {message}",) + exc.args[1:]
        raise


def run_chain(ds, config, source=None):
    """[clean_temporal ->] clean -> subtract (or subtract -> clean) -> extract -> align, lazily.

    Steps run per the config, its positions in the file's pixels
    (:func:`xmiri.config.placed`); clean_temporal, when its section is not
    skipped, runs first, on the frames as read.  With ``[subtract] reclean``
    the chain is clean -> subtract -> clean, the second clean on the
    subtracted frames with the DQ as read (ExoTiC-MIRI's published chain).
    Returns the (lazy) frames after clean and subtract, and the spectra.  A step's ParameterError
    names its section and `source` (the config file; see :func:`config_section`).
    """
    with config_section(None, source):  # [open] positions: SLITLESSPRISM's moved with the star
        config = placed(config, ds)
    subtract = dict(config.get("subtract", {}))
    before_clean, reclean = subtract.pop("before_clean", False), subtract.pop("reclean", False)
    with config_section("subtract", source):
        order = ("clean_temporal",) + chain_order(before_clean, reclean)
    config = {**config, "subtract": subtract}
    dq_as_read = None
    for step in order:
        kwargs = _kwargs(config, step)
        if kwargs is not None:
            if step == "clean" and dq_as_read is None:
                dq_as_read = ds["dq"]
            with config_section(step, source):
                ds = getattr(ds.lrs, step)(**kwargs)
            if step == "subtract" and reclean and dq_as_read is not None:
                ds = ds.assign(dq=dq_as_read)  # the second clean sees the DQ as read
    with config_section("extract", source):
        spec = ds.lrs.extract(**(_kwargs(config, "extract") or {}))
    kwargs = _kwargs(config, "align")
    if kwargs is not None:
        with config_section("align", source):
            spec = spec.lrs.align(**kwargs)
    return ds, spec


def cmd_reduce(args):
    from .. import io

    segments = check_reduce_arguments(args)
    config = load_config(args.config, args.preset)
    with _wavelength_option(args.wavelength), config_section("open", args.config):
        ds = io.open_rateints(segments, chunks=config["open"].get("chunks"),
                              wavelength=args.wavelength)
    log.info("opened %d integrations from %d file(s)", ds.sizes["integration"], len(segments))
    frames, spec = run_chain(ds, config, source=args.config)
    lc = None
    if args.light_curves:  # the frames' sky as a regressor, computed with the spectra (shared graph)
        background = frames["background"] if "background" in frames else None
        with config_section("light_curves", args.config):
            lc = spec.lrs.light_curves(**config["light_curves"], background=background)
    counts = None
    if args.plots:  # the cleaned-pixel map, in the same compute
        from ..plotting import replaced_counts, shows_cleaned_pixels

        if shows_cleaned_pixels(frames):
            counts = replaced_counts(frames).to_dataset()
    unmeasured = []
    with _recording_unmeasured(unmeasured):
        spec, lc, counts = _progress_compute(spec, lc, counts, scheduler=args.scheduler)
    io.to_netcdf(spec, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output}: {spec.sizes['integration']} spectra x {spec.sizes['row']} rows")
    products = {args.output: spec}
    if lc is not None:
        io.to_netcdf(lc, args.light_curves, overwrite=args.overwrite)
        print(f"wrote {args.light_curves}: {lc.sizes['integration']} integrations x "
              f"{lc.sizes['bin']} wavelength bins")
        products[args.light_curves] = lc
    if args.plots:
        from .. import plotting

        with _recording_unmeasured(unmeasured):  # frame.png and spatial_profile.png: one chunk
            written = plotting.save_all(
                spec, args.plots, frames=frames, light_curves=lc,
                cleaned_counts=None if counts is None else counts["replaced_counts"])
        print(f"wrote {len(written)} plot(s) to {args.plots}")
    print("\n".join(noise_summary(spec, lc)
                     + summary(unmeasured, products, distributed=bool(args.scheduler))))
    return 0


def cmd_info(args):
    from .. import defaults, io
    from ..exceptions import NoWavelengthWarning, TimeAxisWarning

    _check_wavelength(args.wavelength)
    for path in _expand(args.files):
        held, missing = [], []
        with _holding(NoWavelengthWarning, missing), _holding(TimeAxisWarning, held):
            with _wavelength_option(args.wavelength):
                ds = io.open_rateints(path, wavelength=args.wavelength)  # both shown below, as text
        time_notes = [str(message) for message in held]
        no_wavelength = " ".join(message.reason for message in missing)
        a, time, wl = ds.attrs, ds["time"], ds["wavelength"].attrs
        print(f"{path}")
        print(f"  mode        {a.get('EXP_TYPE', '?')} / {a.get('SUBARRAY', '?')} / {a.get('FILTER', '?')}")
        geo = defaults.geometry(ds)
        where = ", ".join(f"{k}={a[k]}" for k in ("SUBSTRT1", "SUBSTRT2") if k in a) or "no SUBSTRT"
        print(f"  subarray    {geo.subarray} ({where}); aperture centre column {geo.aperture_center}, "
              f"background columns {geo.background_left[0]}-{geo.background_left[1] - 1} and "
              f"{geo.background_right[0]}-{geo.background_right[1] - 1} (geometry from "
              f"{ {'defaults': 'xmiri.defaults', 'SIAF': 'the SIAF', 'data': 'the data'}[geo.source]})")
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
        if no_wavelength:
            print(f"  wavelength  none: {no_wavelength}")
        else:
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


#: Fewest integrations `xmiri demo` accepts (with 4 it reported 0.833% injected: no
#: integration at full depth; 6 to 20 recover 1% within 0.5 sigma).
DEMO_MIN_INTEGRATIONS = 6


def cmd_demo(args):
    from .. import io, plotting, simulate

    n = args.integrations
    if n < DEMO_MIN_INTEGRATIONS:  # 3 segments, and integrations in and out of full transit
        raise ParameterError(f"--integrations {n}: the demo needs at least {DEMO_MIN_INTEGRATIONS} "
                             f"integrations (3 segments, some at full transit depth and some out "
                             f"of transit)")
    outdir = Path(args.output_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    subarray = getattr(args, "subarray", "SLITLESSPRISM")
    ds, truth = simulate.simulate(n, seed=args.seed, chunks=max(1, n // 4), transit_depth=0.01,
                                  subarray=subarray)
    segments = simulate.write_segments(ds, outdir, n_segments=3, prefix="demo", overwrite=True)
    wavelength = None  # the packaged solution serves SLITLESSPRISM only: give the others theirs
    if subarray != "SLITLESSPRISM":
        wavelength = simulate.write_wavelength(ds, outdir / "demo_wavelength.fits", overwrite=True)
    print(f"simulated {n} integrations (1% transit) in {len(segments)} segments under {outdir}/"
          + ("" if wavelength is None else f" ({subarray})"))
    config = load_config(None, DEMO_PRESET)
    opened = io.open_rateints([str(p) for p in segments], chunks=max(1, n // 4),
                              wavelength=wavelength)
    frames, spec = run_chain(opened, config)
    lc = spec.lrs.light_curves(wavelength_bins=7, wavelength_range=(5.0, 12.0), normalise=True,
                               background=frames["background"])
    counts = plotting.replaced_counts(frames).to_dataset()  # with the spectra: clean runs once
    spec, lc, counts = _progress_compute(spec, lc, counts)
    stage2 = outdir / "demo_stage2.nc"
    io.to_netcdf(spec, stage2, overwrite=True)
    lcfile = outdir / "demo_light_curves.nc"
    io.to_netcdf(lc, lcfile, overwrite=True)
    print(f"reduced with the {DEMO_PRESET!r} preset; wrote {stage2} and {lcfile}")
    relative = truth["relative_flux"].values
    depth, sigma = transit_depth(lc["white_flux"].values, relative)
    injected = 1 - relative.min()
    print(f"white-light transit depth: {depth:.3%} ± {sigma:.3%} "
          f"(injected {injected:.3%}, {abs(depth - injected) / sigma:.1f}σ)")
    written = plotting.save_all(spec, outdir, frames=frames, light_curves=lc,
                                cleaned_counts=counts["replaced_counts"])
    print(f"wrote {len(written)} plot(s): " + ", ".join(p.name for p in written))
    return 0


#: The configuration ``xmiri demo`` reduces with (the default of ``xmiri reduce``).
DEMO_PRESET = DEFAULT_PRESET




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


#: ``--wavelength``: what it takes (xmiri.io.open_rateints(wavelength=...)).
WAVELENGTH_HELP = ("the wavelengths from this calints file (its WAVELENGTH extension or WCS) or "
                   "x1dints file, e.g. for a SLITLESSPRISM_IP/_IPS exposure, which xmiri's packaged "
                   "solution does not serve; default: the file's own, CRDS, or the packaged "
                   "solution (SLITLESSPRISM)")


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
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS),
                   help=f"starting configuration: {DEFAULT_PRESET!r} (default: the best measured chain), "
                        "'exotic-miri' (ExoTiC-MIRI 1.0.1's step defaults) or 'exotic-miri-pipeline' "
                        "(the stage-2 chain ExoTiC-MIRI's authors publish)",
                   needs=(f"the starting configuration, {presets}", DEFAULT_PRESET))
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (default: local threads)",
                   needs=("a dask.distributed scheduler address", "tcp://127.0.0.1:8786"))
    p.add_argument("--light-curves", metavar="FILE.nc",
                   help="also write binned light curves to this netCDF file",
                   needs=("the netCDF file of light curves to write", "light_curves.nc"))
    p.add_argument("--plots", metavar="FOLDER",
                   help="write diagnostic PNGs into this folder",
                   needs=("a folder for the PNGs", "plots/"))
    p.add_argument("--wavelength", metavar="FILE.fits", help=WAVELENGTH_HELP,
                   needs=("the calints or x1dints file whose wavelengths the frames take",
                          "jw01234_calints.fits"))
    p.set_defaults(func=cmd_reduce)

    p = sub.add_parser("info", help="what is in a file: mode, integrations, time span, DQ summary")
    p.add_argument("files", nargs="+")
    p.add_argument("--wavelength", metavar="FILE.fits", help=WAVELENGTH_HELP,
                   needs=("the calints or x1dints file whose wavelengths the frames take",
                          "jw01234_calints.fits"))
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("config", help="print a commented default reduce.toml")
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS),
                   help=f"{DEFAULT_PRESET!r} (default), 'exotic-miri' or 'exotic-miri-pipeline'",
                   needs=(f"the configuration to print, {presets}", DEFAULT_PRESET))
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="simulate a small exposure and reduce it end to end")
    p.add_argument("--output-dir", default="out", metavar="FOLDER",
                   help="folder for everything the demo writes (default: out)",
                   needs=("a folder for the segments, netCDF files and PNGs", "out"))
    p.add_argument("--integrations", type=int, default=120, metavar="N",
                   help="number of integrations to simulate (default: 120)",
                   needs=("the number of integrations to simulate", "120"))
    p.add_argument("--subarray", default="SLITLESSPRISM",
                   choices=("SLITLESSPRISM", "SLITLESSPRISM_IP", "SLITLESSPRISM_IPS"),
                   help="subarray to simulate (default: SLITLESSPRISM)",
                   needs=("the LRS slitless subarray to simulate", "SLITLESSPRISM_IP"))
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

