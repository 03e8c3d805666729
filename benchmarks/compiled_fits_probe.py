#!/usr/bin/env python
"""What compiled, GIL-free column fits would buy ``clean`` (issue 23; not part of xmiri).

xmiri's kernels are pure numpy.  This probe answers the question that
decides issue 23's remaining rows: how much faster would the default
``clean`` and the chains be if the column fits of
``xmiri.kernels.polyfit._clean_windows_native`` (the least-squares fits and
the outlier rejection, standard-deviation scatter) ran as a compiled loop
that releases the GIL?  It writes that loop with numba (not a dependency of
xmiri: ``pip install numba`` to run it), installs it in place of the numpy
fits for this process only, and measures.  Columns with too few good
pixels keep numpy's path (``_fit_min_norm`` or 0); the robust (MAD) scatter
is not ported (``--robust`` chains run numpy's fits).

Two kernels: ``--kernel columns`` loops over each column on its own (the
numpy kernel's arithmetic, one column at a time); ``--kernel rows``
(default) fits the fully good columns of a window together, row by row
along the contiguous column axis, and takes the per-column loop only for
columns with masked pixels or an outlier.

Usage::

    PYTHONPATH=$PWD python benchmarks/compiled_fits_probe.py check [--kernel K]
    PYTHONPATH=$PWD python benchmarks/compiled_fits_probe.py block [--kernel K]
    PYTHONPATH=$PWD python benchmarks/compiled_fits_probe.py chain NAME OUT FILES... [--kernel K|--numpy]

``check`` compares every output of the default clean step's block (100
realistic integrations, ``benchmarks/clean_breakdown.py``) with numpy's;
``block`` runs ``benchmarks/threads_penalty.py`` with the compiled fits;
``chain`` runs ``bench.py``'s realistic chain NAME (``box``,
``recommended``, ``science``, ``temporal``) into OUT and prints its JSON
line (``--numpy``: the same process without the compiled fits, for A/B
pairs).
"""
import argparse
import runpy
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


try:  # not a dependency of xmiri
    import numba
except ImportError:  # pragma: no cover
    sys.exit("this probe needs numba: pip install numba")

#: Compiled on first use, cached beside this file for the next processes.
jit = numba.njit(nogil=True, cache=True)


@jit
def solve(g, r):
    """Gaussian elimination with partial pivoting on a small system (copies)."""
    n = g.shape[0]
    a = g.copy()
    b = r.copy()
    for i in range(n):
        p = i
        for j in range(i + 1, n):
            if abs(a[j, i]) > abs(a[p, i]):
                p = j
        if p != i:
            for k in range(n):
                a[i, k], a[p, k] = a[p, k], a[i, k]
            b[i], b[p] = b[p], b[i]
        for j in range(i + 1, n):
            f = a[j, i] / a[i, i]
            for k in range(i, n):
                a[j, k] -= f * a[i, k]
            b[j] -= f * b[i]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s -= a[i, k] * x[k]
        x[i] = s / a[i, i]
    return x


@jit
def fit_column(yc, gc, n_good, q, out):
    """Least squares of one column on the orthonormal basis q (yc is 0 at bad pixels)."""
    h, m = q.shape
    c = np.zeros(m)
    for j in range(m):
        for i in range(h):
            c[j] += q[i, j] * yc[i]
    if n_good < h:  # Gram matrix I - sum over the bad rows of q_i q_i^T, one refinement
        g = np.zeros((m, m))
        for j in range(m):
            g[j, j] = 1.0
        for i in range(h):
            if not gc[i]:
                for j in range(m):
                    for k in range(m):
                        g[j, k] -= q[i, j] * q[i, k]
        x = solve(g, c)
        res = np.zeros(m)
        for i in range(h):
            if gc[i]:
                f = 0.0
                for j in range(m):
                    f += q[i, j] * x[j]
                for j in range(m):
                    res[j] += q[i, j] * (yc[i] - f)
        dx = solve(g, res)
        for j in range(m):
            c[j] = x[j] + dx[j]
    for i in range(h):
        f = 0.0
        for j in range(m):
            f += q[i, j] * c[j]
        out[i] = f


@jit
def reject(yc, gc, n_good, q, fc, threshold, floor):
    """Refit and drop the worst pixel while it is an outlier; returns the good count."""
    h, m = q.shape
    while True:
        fit_column(yc, gc, n_good, q, fc)
        if n_good <= m:
            return n_good
        s1 = 0.0
        s2 = 0.0
        peak = -1.0
        worst = 0
        for i in range(h):
            if gc[i]:
                r = yc[i] - fc[i]
                s1 += r
                s2 += r * r
                if abs(r) > peak:
                    peak = abs(r)
                    worst = i
        mean = s1 / n_good
        scatter = np.sqrt(max(s2 / n_good - mean * mean, 0.0))
        if not (scatter > 0.0 and peak / scatter > threshold and scatter > floor):
            return n_good
        gc[worst] = False
        yc[worst] = 0.0
        n_good -= 1


@jit
def by_columns(y, good, q, threshold, fit, special):
    n_win, h, n_col = y.shape
    m = q.shape[1]
    yc = np.empty(h)
    gc = np.empty(h, np.bool_)
    fc = np.empty(h)
    for w in range(n_win):
        for col in range(n_col):
            n_good = 0
            vmax = 0.0
            for i in range(h):
                gc[i] = good[w, i, col]
                yc[i] = y[w, i, col] if gc[i] else 0.0
                if gc[i]:
                    n_good += 1
                    vmax = max(vmax, abs(yc[i]))
            if n_good < max(m, 2):
                special[w, col] = True
                continue
            reject(yc, gc, n_good, q, fc, threshold, 1e-10 * vmax)
            for i in range(h):
                fit[w, i, col] = fc[i]
                good[w, i, col] = gc[i]
                y[w, i, col] = yc[i]


@jit
def by_rows(y, good, q, threshold, fit, special):
    n_win, h, n_col = y.shape
    m = q.shape[1]
    c = np.empty((m, n_col))
    n_good = np.empty(n_col, np.int64)
    vmax = np.empty(n_col)
    s1 = np.empty(n_col)
    s2 = np.empty(n_col)
    peak = np.empty(n_col)
    worst = np.empty(n_col, np.int64)
    yc = np.empty(h)
    gc = np.empty(h, np.bool_)
    fc = np.empty(h)
    for w in range(n_win):
        yw, gw, fw = y[w], good[w], fit[w]
        n_good[:] = 0
        vmax[:] = 0.0
        c[:] = 0.0
        for i in range(h):  # the unweighted fit of every column, along the rows
            for col in range(n_col):
                if gw[i, col]:
                    n_good[col] += 1
                    vmax[col] = max(vmax[col], abs(yw[i, col]))
            for j in range(m):
                for col in range(n_col):
                    c[j, col] += q[i, j] * yw[i, col]
        s1[:] = 0.0
        s2[:] = 0.0
        peak[:] = -1.0
        worst[:] = 0
        for i in range(h):
            for col in range(n_col):
                fw[i, col] = 0.0
            for j in range(m):
                for col in range(n_col):
                    fw[i, col] += q[i, j] * c[j, col]
            for col in range(n_col):
                r = yw[i, col] - fw[i, col]
                s1[col] += r
                s2[col] += r * r
                if abs(r) > peak[col]:
                    peak[col] = abs(r)
                    worst[col] = i
        for col in range(n_col):
            n = n_good[col]
            if n < max(m, 2):
                special[w, col] = True
                continue
            floor = 1e-10 * vmax[col]
            if n == h:  # fully good: final unless its worst pixel is an outlier
                mean = s1[col] / n
                scatter = np.sqrt(max(s2[col] / n - mean * mean, 0.0))
                if n <= m or not (scatter > 0.0 and peak[col] / scatter > threshold
                                  and scatter > floor):
                    continue
            for i in range(h):
                gc[i] = gw[i, col]
                yc[i] = yw[i, col]
            if n == h:
                gc[worst[col]] = False
                yc[worst[col]] = 0.0
                n -= 1
            reject(yc, gc, n, q, fc, threshold, floor)
            for i in range(h):
                fw[i, col] = fc[i]
                gw[i, col] = gc[i]
                yw[i, col] = yc[i]


KERNELS = {"columns": by_columns, "rows": by_rows}


def install(kernel="rows"):
    """Replace numpy's column fits by the compiled `kernel` in this process."""
    import xmiri.kernels.clean as clean
    import xmiri.kernels.polyfit as polyfit

    numpy_fits = polyfit._clean_windows_native
    compiled = KERNELS[kernel]

    def fits(y, good, *, poly_order, outlier_threshold, robust):
        if robust:
            return numpy_fits(y, good, poly_order=poly_order, outlier_threshold=outlier_threshold,
                              robust=robust)
        n_win, h, n_col = y.shape
        n_coef = poly_order + 1
        np.copyto(y, 0.0, where=~good)
        q = np.ascontiguousarray(polyfit._orthonormal_basis(h, n_coef)[0])
        fit = np.zeros_like(y)
        special = np.zeros((n_win, n_col), np.bool_)
        compiled(y, good, q, float(outlier_threshold), fit, special)
        if special.any():  # fewer good pixels than coefficients: numpy's path
            win, col = np.nonzero(special)
            yc, gc = y[win, :, col], good[win, :, col]
            fc = np.zeros_like(yc)
            few = gc.sum(axis=1) >= 2
            if few.any():
                fc[few] = polyfit._fit_min_norm(yc[few], gc[few], n_coef)
            fit[win, :, col] = fc
        return fit

    polyfit._clean_windows_native = fits
    clean._clean_windows_native = fits


def check(kernel):
    """Every output of the default clean block, compiled fits against numpy's."""
    from clean_breakdown import block, default_step_block

    warnings.simplefilter("ignore")
    call = default_step_block(*block())
    reference = call()
    t0 = time.perf_counter()
    install(kernel)
    probe = call()
    print(f"first call with the compiled fits (compiling or loading the cache): "
          f"{time.perf_counter() - t0:.2f} s")
    for name, a, b in zip(["data", "dq", "profile", "n_outliers", "err", "var_rnoise"],
                          reference, probe):
        same = np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        print(f"{name}: {'identical' if same else 'DIFFERENT'} ({a.dtype})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["check", "block", "chain"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--kernel", choices=["rows", "columns"], default="rows")
    parser.add_argument("--numpy", action="store_true", help="chain: without the compiled fits")
    args = parser.parse_args(argv)
    if args.mode == "check":
        check(args.kernel)
    elif args.mode == "block":
        install(args.kernel)
        sys.argv = [str(HERE / "threads_penalty.py")]
        runpy.run_path(str(HERE / "threads_penalty.py"), run_name="__main__")
    else:
        import bench

        if not args.numpy:
            install(args.kernel)
        name, out, *paths = args.args
        bench.run_chain(f"realistic:{name}", out, sorted(paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
