#!/usr/bin/env python
"""Derive xmiri's packaged default MIRI LRS slitless wavelength solution.

Reads the WAVELENGTH extension of a calints file that went through the jwst
``assign_wcs`` step (by default the MIRISim NGTS-10 segment in
``../shared/data``), samples the map along rows, and writes the spline nodes
to ``xmiri/data/lrs_slitless_wavelength.json``.  The packaged solution is
these nodes and nothing else: the source file is not copied.

In the SLITLESSPRISM subarray the jwst WCS gives a wavelength that depends on
the row only (the dispersion axis) and is defined on rows 7..394 and columns
4..71; the script checks both facts and refuses to write a solution if they
no longer hold.  Nodes are every 8 rows, plus every row of the last ten,
where the prism's dispersion turns over; a not-a-knot cubic spline through
them reproduces the map to better than 1e-3 micron.

Usage::

    python scripts/derive_wavelength_solution.py [CALINTS] [--output JSON]
"""
import argparse
import datetime
import json
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.interpolate import CubicSpline

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "mirisim_ngts10_seg041_calints.fits"
DEFAULT_OUTPUT = HERE.parent / "xmiri" / "data" / "lrs_slitless_wavelength.json"


def derive(path):
    with fits.open(path, mode="readonly") as hdul:
        header = hdul[0].header
        wmap = np.asarray(hdul["WAVELENGTH"].data, dtype=float)
        meta = {k: str(header.get(k, "")) for k in ("EXP_TYPE", "SUBARRAY", "FILTER", "CAL_VER", "CRDS_CTX")}
    defined = np.isfinite(wmap) & (wmap > 0)
    rows = np.flatnonzero(defined.any(axis=1))
    cols = np.flatnonzero(defined.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box = np.zeros_like(defined)
    box[r0:r1, c0:c1] = True
    if not np.array_equal(box, defined):
        raise SystemExit("the map's defined region is not a rectangle; the packaged model does not apply")
    block = wmap[r0:r1, c0:c1]
    if np.ptp(block, axis=1).max() > 1e-6:
        raise SystemExit("the map depends on the column; the packaged row-only model does not apply")
    profile = block[:, 0]
    nodes = np.unique(np.r_[np.arange(r0, r1 - 10, 8), np.arange(r1 - 10, r1)])
    values = wmap[nodes, c0]
    spline = CubicSpline(nodes, values)
    all_rows = np.arange(r0, r1)
    max_err = float(np.abs(spline(all_rows) - profile).max())
    return {
        "description": "MIRI LRS slitless (SLITLESSPRISM) wavelength versus detector row, "
                       "not-a-knot cubic spline through the nodes; NaN outside rows/cols",
        "units": "micron",
        "rows_defined": [int(r0), int(r1 - 1)],
        "cols_defined": [int(c0), int(c1 - 1)],
        "node_rows": nodes.tolist(),
        "node_wavelengths": [round(float(v), 7) for v in values],
        "max_abs_error_um": round(max_err, 7),
        "source": {
            "file": Path(path).name,
            "extension": "WAVELENGTH (jwst assign_wcs)",
            **meta,
        },
        "derived_by": "scripts/derive_wavelength_solution.py",
        "derived_on": datetime.date.today().isoformat(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calints", nargs="?", default=str(DEFAULT_INPUT))
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args(argv)
    solution = derive(args.calints)
    Path(args.output).write_text(json.dumps(solution, indent=1) + "\n")
    print(f"wrote {args.output}: {len(solution['node_rows'])} nodes, "
          f"max |error| {solution['max_abs_error_um']:.2e} micron")


if __name__ == "__main__":
    main()
