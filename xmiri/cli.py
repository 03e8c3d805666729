"""The ``xmiri`` command line: reduce, info, config, demo.

Errors print one line (``xmiri: error: ...``) and exit with status 1; pass
``--debug`` for the traceback.
"""
import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from ._version import __version__
from .config import PRESETS, load_config, template
from .exceptions import ParameterError, XmiriError

log = logging.getLogger("xmiri")

def _progress_compute(obj, scheduler=None):
    """Compute ``obj`` showing a progress bar (local threads or dask.distributed)."""
    if scheduler:
        from distributed import Client, progress

        from .parallel import tune_workers

        with Client(scheduler) as client:
            tune_workers(client)
            persisted = client.persist(obj)
            progress(persisted)
            print(file=sys.stderr)
            return persisted.compute()
    from dask.diagnostics import ProgressBar

    with ProgressBar(out=sys.stderr):
        return obj.compute()


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


def cmd_reduce(args):
    from . import io

    outputs = [Path(args.output)] + ([Path(args.light_curves)] if args.light_curves else [])
    for output in outputs:
        if output.exists() and not args.overwrite:
            raise XmiriError(f"output {output} exists; pass --overwrite to replace it")
    output = outputs[0]
    config = load_config(args.config, args.preset)
    ds = io.open_rateints(_expand(args.segments), chunks=config["open"].get("chunks"))
    log.info("opened %d integrations from %d file(s)", ds.sizes["integration"], len(args.segments))
    frames, spec = run_chain(ds, config)
    spec = _progress_compute(spec, args.scheduler)
    io.to_netcdf(spec, output, overwrite=args.overwrite)
    print(f"wrote {output}: {spec.sizes['integration']} spectra x {spec.sizes['row']} rows")
    if args.light_curves:
        lc = spec.lrs.light_curves(**config["light_curves"])
        io.to_netcdf(lc.compute(), args.light_curves, overwrite=args.overwrite)
        print(f"wrote {args.light_curves}")
    if args.plots:
        from . import plotting

        written = plotting.save_all(spec, args.plots, frames=frames)
        print(f"wrote {len(written)} plot(s) to {args.plots}")
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
    config = load_config(None)
    opened = io.open_rateints([str(p) for p in segments], chunks=max(1, n // 4))
    frames, spec = run_chain(opened, config)
    spec = _progress_compute(spec)
    stage2 = outdir / "demo_stage2.nc"
    io.to_netcdf(spec, stage2, overwrite=True)
    lc = spec.lrs.light_curves(wavelength_bins=7, wavelength_range=(5.0, 12.0), normalise=True).compute()
    lcfile = outdir / "demo_light_curves.nc"
    io.to_netcdf(lc, lcfile, overwrite=True)
    depth = _transit_depth(lc["white_flux"].values, truth["relative_flux"].values)
    print(f"wrote {stage2} and {lcfile}")
    print(f"white-light transit depth: measured {depth:.4%}, injected {1 - truth['relative_flux'].min().item():.4%}")
    written = plotting.save_all(spec, outdir, frames=frames, light_curves=lc)
    print(f"wrote {len(written)} plot(s): " + ", ".join(p.name for p in written))
    return 0


def _transit_depth(white, relative_flux):
    """Depth as 1 - mean(in transit)/mean(out of transit), using the true in-transit mask."""
    full = relative_flux <= relative_flux.min() + 1e-12
    out = relative_flux >= 1 - 1e-12
    return 1 - np.nanmean(white[full]) / np.nanmean(white[out])


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"xmiri: warning: {message}", file=file or sys.stderr)


def build_parser():
    parser = argparse.ArgumentParser(prog="xmiri", description="JWST MIRI LRS slitless time-series reduction.")
    parser.add_argument("--version", action="version", version=f"xmiri {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("reduce", help="rateints segments -> netCDF spectra")
    p.add_argument("segments", nargs="+", help="rateints/calints FITS files (any order) or a glob")
    p.add_argument("--output", "-o", required=True, help="netCDF file of spectra to write")
    p.add_argument("--config", help="TOML file (see `xmiri config`); its keys override the preset")
    p.add_argument("--preset", default="recommended", choices=sorted(PRESETS),
                   help="starting configuration: 'recommended' (default: the best measured chain) "
                        "or 'exotic-miri' (ExoTiC-MIRI 1.0.1's results)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--scheduler", help="dask.distributed scheduler address (default: local threads)")
    p.add_argument("--light-curves", help="also write binned light curves to this netCDF file")
    p.add_argument("--plots", help="write diagnostic PNGs into this folder (the cleaned-pixel map "
                   "re-runs clean over the exposure)")
    p.set_defaults(func=cmd_reduce)

    p = sub.add_parser("info", help="what is in a file: mode, integrations, time span, DQ summary")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("config", help="print a commented default reduce.toml")
    p.add_argument("--preset", default="recommended", choices=sorted(PRESETS),
                   help="'recommended' (default) or 'exotic-miri'")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="simulate a small exposure and reduce it end to end")
    p.add_argument("--output-dir", default="out")
    p.add_argument("--integrations", type=int, default=120)
    p.add_argument("--seed", type=int, default=1)
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
