#!/usr/bin/env python
"""What ``clean`` costs inside the box chain, and which of its defaults cost what (issue 23).

Runs one variant of ``bench.py``'s realistic box chain (``subtract`` ->
``clean`` -> ``extract(method="box")``, FITS to netCDF, threaded scheduler)
in this process and prints ``bench.py``'s JSON line.  Run each variant in a
fresh process, alternating, e.g.::

    for v in noclean exotic default norepair nothreshold noq exoticbits nogap; do
      PYTHONPATH=$PWD python benchmarks/clean_in_chain.py $v /tmp/v_$v.nc /tmp/bench/realistic16000/*.fits
    done

Variants: ``nosubtract`` (box extraction only), ``noclean`` (subtract, box),
``exotic`` (the ExoTiC-equal clean: DQ bits 0 and 11, no ERR rule, no
repair, no gap limit), ``default``, and the default without one of its
additions: ``norepair``, ``nothreshold`` (no ERR rule), ``noq`` (neither,
so no Horne's Q), ``exoticbits`` (DQ bits 0 and 11), ``nogap`` (``max_gap=None``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

CLEANS = {
    "exotic": dict(bench.EXOTIC_CLEAN, max_gap=None),
    "default": {},
    "norepair": dict(repair_errors=False),
    "nothreshold": dict(err_threshold=None),
    "noq": dict(err_threshold=None, repair_errors=False),
    "exoticbits": dict(dq_bits_to_mask=[0, 11]),
    "nogap": dict(max_gap=None),
}
VARIANTS = {name: dict(subtract={}, clean=kw, extract=dict(method="box")) for name, kw in CLEANS.items()}
VARIANTS["noclean"] = dict(subtract={}, extract=dict(method="box"))
VARIANTS["nosubtract"] = dict(extract=dict(method="box"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or argv[0] not in VARIANTS:
        print(__doc__)
        return 2
    name, out, *paths = argv
    bench.REALISTIC_CHAINS[f"variant_{name}"] = VARIANTS[name]
    bench.run_chain(f"realistic:variant_{name}", out, sorted(paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
