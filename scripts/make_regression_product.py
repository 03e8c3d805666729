#!/usr/bin/env python
"""Regenerate the frozen regression products in tests/data/regression/ -- on purpose only.

``tests/test_regression.py`` reduces the shared MIRISim rateints file with
the chains below and compares every variable with these files: exactly where
the numbers cannot legitimately change, within stated tolerances where the
order of floating-point operations may.  When a change to xmiri changes the
numbers *on purpose*, run::

    python scripts/make_regression_product.py --reason "why the numbers changed"

The reason, the date, the xmiri version and the git commit are written into
the files' attributes and appended to tests/data/regression/REASONS.md, so
that the history of the reference numbers can be read.  Without ``--reason``
nothing is written.
"""
import argparse
import datetime
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "data" / "regression"
SHARED = Path(os.environ.get("XMIRI_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
RATEINTS = SHARED / "mirisim_ngts10_seg041_rateints.fits"

#: product name -> (subtract before clean, clean, subtract, extract, align) keyword arguments
CHAINS = {
    "box": (False, dict(window_heights=[40], dq_bits_to_mask=[0, 11]), dict(method="row_wise"),
            dict(method="box", trace_position="constant"), dict(align_spectra=True)),
    "optimal": (True, dict(window_heights=[40], dq_bits_to_mask=[0, 11], robust=True),
                dict(method="col_wise"),
                dict(method="optimal", trace_position="gaussian_fits", median_spatial_profile=True,
                     horne_q=38.0), dict(align_spectra=True)),
}
LIGHT_CURVES = dict(wavelength_bins=7, wavelength_range=(5.0, 12.0))


def reduce(path=RATEINTS):
    """The products, computed: {"box": spec, "optimal": spec, "light_curves": lc}."""
    import warnings

    import xmiri

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xmiri.XmiriWarning)  # no INT_TIMES: time is NaN
        ds = xmiri.open_rateints(path)
    out = {}
    for name, (subtract_first, clean, subtract, extract, align) in CHAINS.items():
        frames = (ds.lrs.subtract(**subtract).lrs.clean(**clean) if subtract_first
                  else ds.lrs.clean(**clean).lrs.subtract(**subtract))
        out[name] = frames.lrs.extract(**extract).lrs.align(**align).compute()
    out["light_curves"] = out["box"].lrs.light_curves(**LIGHT_CURVES).compute()
    out.update(reduce_like_the_cli(ds))
    return out


def reduce_like_the_cli(ds):
    """``xmiri reduce --light-curves``'s products with its default preset, computed.

    The chain and its keyword arguments come from :mod:`xmiri.config` and
    :func:`xmiri.cli.run_chain`, as the command line takes them, so that the
    product follows the preset: {"recommended": spec, "recommended_light_curves": lc}.
    """
    import dask

    from xmiri.cli import run_chain
    from xmiri.config import DEFAULT_PRESET, load_config

    config = load_config(None, DEFAULT_PRESET)
    frames, spec = run_chain(ds, config)
    background = frames["background"] if "background" in frames else None
    lc = spec.lrs.light_curves(**config["light_curves"], background=background)
    spec, lc = dask.compute(spec, lc)  # together, as xmiri reduce computes them
    return {DEFAULT_PRESET: spec, f"{DEFAULT_PRESET}_light_curves": lc}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reason", required=True, help="why the reference numbers change")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="write only these products (e.g. a new one), leaving the others as they are")
    args = parser.parse_args(argv)
    import xmiri

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip() or "unknown"
    date = datetime.date.today().isoformat()
    OUT.mkdir(parents=True, exist_ok=True)
    products = reduce()
    unknown = set(args.only or ()) - set(products)
    if unknown:
        parser.error(f"--only: unknown product(s) {sorted(unknown)}; known: {sorted(products)}")
    for name, product in products.items():
        if args.only and name not in args.only:
            continue
        product.attrs.update(regression_reason=args.reason, regression_date=date,
                             regression_commit=commit, regression_xmiri=xmiri.__version__)
        product.attrs.pop("history", None)  # holds the version; compared separately
        xmiri.to_netcdf(product, OUT / f"shared_rateints_{name}.nc", overwrite=True)
    with open(OUT / "REASONS.md", "a") as log:
        only = f" ({', '.join(args.only)} only)" if args.only else ""
        log.write(f"- {date}, xmiri {xmiri.__version__} ({commit}){only}: {args.reason}\n")
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.nc')))} to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
