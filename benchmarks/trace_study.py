"""Measurements behind the traced, fractional-edge apertures (xmiri.kernels.tracefit and xmiri.kernels.aperture).

Writes ``benchmarks/TRACE.md``::

    PYTHONPATH=$PWD nice -n 10 python benchmarks/trace_study.py --write benchmarks/TRACE.md

Scenes come from ``tests.test_kernel_geometry.make_scene`` (tilted trace,
PSF widening with wavelength, 0.15 pixel jitter, Poisson + read noise like
xmiri.simulate). All reductions subtract the row-wise median of columns
8-16 and 56-71 first. The white-light curve is the sum over rows 150-394.
"""
import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_kernel_geometry import make_scene, subtract_background, white_light  # noqa: E402
from xmiri.kernels import align as _align  # noqa: E402
from xmiri.kernels.align import median_template  # noqa: E402
from xmiri.kernels.aperture import (aperture_mask, aperture_weights, gaussian_profile,  # noqa: E402
                                    wavelength_at_trace)
from tests.extraction_calls import (box_extract_block, box_extract_weighted,  # noqa: E402
                                    optimal_extract_weighted)
from xmiri.kernels.lightcurves import point_to_point_scatter  # noqa: E402
from xmiri.kernels.tracefit import evaluate_trace  # noqa: E402
# the trace-fit kernels with the steps' parameters (xmiri.defaults) for those a study does not set
from tests.test_kernel_geometry import (detected_rows, fit_reference_trace,  # noqa: E402
                                        fit_trace_polynomial, integration_offsets, row_centers)
from xmiri.kernels.trace import fit_trace_block as _fit_trace_block  # noqa: E402
from xmiri import defaults  # noqa: E402
from xmiri.io.wavelength import default_wavelength_map  # noqa: E402

N_COL = 72
MARKER = "<!-- Everything below is written by benchmarks/trace_study.py -->"
ROWS = np.arange(416)
CALINTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mirisim_ngts10_seg041_calints.fits"


def fit_trace_block(data):
    """The kernel with the steps' default trace band and PSF width."""
    return _fit_trace_block(data, rows=defaults.TRACE_ROWS, cols=defaults.TRACE_COLUMNS,
                            sigma_guess=defaults.PSF_SIGMA_GUESS)


def cross_dispersion_profile(data):
    """The kernel with the steps' default trace band."""
    return _align.cross_dispersion_profile(data, rows=defaults.TRACE_ROWS, cols=defaults.TRACE_COLUMNS)


def measure_shifts(signals, template):
    """The kernel with the steps' largest shift and shift-fit controls."""
    return _align.measure_shifts(signals, template, max_shift=defaults.MAX_SHIFT,
                                 spline_order=defaults.SHIFT_SPLINE_ORDER,
                                 min_samples=defaults.SHIFT_MIN_SAMPLES, max_iter=defaults.SHIFT_MAX_ITER,
                                 tol=defaults.SHIFT_TOL)


def reference_trace(data, order):
    """Median frame -> fit_reference_trace. Returns (median, row fit, coefficients, used, row weights, reference)."""
    median = np.median(data, axis=0)
    ref = fit_reference_trace(median, order=order)
    return median, ref.row_fit, ref.coefficients, ref.used, ref.row_weights, ref


def offsets_by(method, data, median, fit, coef, row_weights):
    """Per-integration offsets relative to the median frame by one of the candidate estimators."""
    if method == "trace_fit":  # the kernel: joint fit of the reference-shaped trace
        return integration_offsets(data, fit, row_weights)
    if method == "row_fits":  # full non-linear Gaussian fit of every row, weighted mean of differences
        take = np.flatnonzero(row_weights > 0)
        per_row = row_centers(data[:, take]).center - fit.center[take]
        w = np.where(np.isfinite(per_row), row_weights[take], 0.0)
        return np.sum(w * np.nan_to_num(per_row), axis=1) / np.sum(w, axis=1)
    if method == "align_xshift":  # align's estimator against the median frame's row-summed profile
        template = cross_dispersion_profile(median[None])[0]
        return measure_shifts(cross_dispersion_profile(data), template)
    if method == "align_xshift_template":  # as align runs it: against median_template of the profiles
        signals = cross_dispersion_profile(data)
        return measure_shifts(signals, median_template(signals))
    if method == "exotic_fit_relative":  # Gaussian fit of the row-median profile, minus the same on the median
        return fit_trace_block(data)[0] - fit_trace_block(median[None])[0][0]
    if method == "exotic_fit_minus_polymean":  # the same fit minus the polynomial's mean over rows 200-389
        return fit_trace_block(data)[0] - np.mean(evaluate_trace(coef, np.arange(200, 390)))
    raise ValueError(method)


OFFSET_METHODS = ["trace_fit", "row_fits", "align_xshift", "align_xshift_template", "exotic_fit_relative",
                  "exotic_fit_minus_polymean"]


def centre_rms(center, truth_center, used):
    return float(np.sqrt(np.mean((center[:, used] - truth_center[:, used]) ** 2)))


def white(flux):
    return float(point_to_point_scatter(white_light(flux)))


def run_scene(sc, *, orders=(1, 2), methods=OFFSET_METHODS, optimal=True):
    """All estimators on one scene: centre rms, offset error, white-light scatter per aperture."""
    data = subtract_background(sc.data)
    n = data.shape[0]
    truth = sc.truth
    out = {"centre": {}, "offset": {}, "vs_row_fits": {}, "white": {}}
    fixed, _ = box_extract_block(data, sc.err, aperture_mask(np.full(n, 36.0), N_COL, 4, 4))
    out["white"]["fixed box at 36 (integer)"] = white(fixed)
    gcenter, _ = fit_trace_block(data)
    gfits, _ = box_extract_block(data, sc.err, aperture_mask(gcenter, N_COL, 4, 4))
    out["white"]["gaussian_fits box (whole pixels)"] = white(gfits)
    ideal, _ = box_extract_weighted(data, sc.err, aperture_weights(truth.center, N_COL, 4, 4))
    out["white"]["ideal: fractional box on the true centre"] = white(ideal)
    for order in orders:
        median, fit, coef, used, rw, ref = reference_trace(data, order)
        row_fits = offsets_by("row_fits", data, median, fit, coef, rw) if "row_fits" in methods else None
        for method in methods:
            off = row_fits if method == "row_fits" else offsets_by(method, data, median, fit, coef, rw)
            if row_fits is not None:
                diff = off - row_fits
                out["vs_row_fits"][f"order {order}, {method}"] = float(np.sqrt(np.mean((diff - np.mean(diff)) ** 2)))
            center = evaluate_trace(coef, ROWS, off)
            key = f"order {order}, {method}"
            out["centre"][key] = centre_rms(center, truth.center, used)
            # offset error relative to the jitter, after removing the common (median-frame) part
            err = off - truth.jitter
            out["offset"][key] = float(np.std(err - np.mean(err)))
            box, _ = box_extract_weighted(data, sc.err, aperture_weights(center, N_COL, 4, 4))
            out["white"][f"traced fractional box, {key}"] = white(box)
            if optimal and method == "trace_fit":
                w = aperture_weights(center, N_COL, 4, 4)
                sigma = evaluate_trace(ref.sigma_coefficients, ROWS)
                profiles = {
                    "Gaussian profile on the fitted trace": gaussian_profile(center, sigma, N_COL),
                    "median-frame profile, not shifted": np.clip(median, 0.0, None)[None],
                    "true profile": truth.profile,
                }
                for label, profile in profiles.items():
                    opt, _ = optimal_extract_weighted(data, profile, sc.readnoise**2, w, q=sc.gain_time,
                                                      sky=truth.background)
                    out["white"][f"traced optimal, {label}, order {order}"] = white(opt)
                opt, _ = optimal_extract_weighted(data, profiles["Gaussian profile on the fitted trace"],
                                                  sc.readnoise**2, w)
                out["white"][f"traced optimal, Gaussian profile, q=1 and no sky term (ExoTiC-MIRI's V), "
                             f"order {order}"] = white(opt)
    return out


def average(results):
    """Mean, standard deviation and maximum over realisations of every number in the nested dicts."""
    merged = {}
    for section in results[0]:
        merged[section] = {}
        for key in results[0][section]:
            values = np.array([r[section][key] for r in results])
            merged[section][key] = (values.mean(), values.std(), values.max())
    return merged


def table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(mean_std, scale=1.0, digits=2):
    m, s = mean_std[:2]
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


def width_scan(sc, widths):
    data = subtract_background(sc.data)
    median, fit, coef, used, rw, _ = reference_trace(data, 2)
    center = evaluate_trace(coef, ROWS, integration_offsets(data, fit, rw))
    n = data.shape[0]
    clean = subtract_background(make_scene(data.shape[0], seed=7, noise=False).data)
    rows = []
    for w in widths:
        noiseless, _ = box_extract_weighted(clean, sc.err, aperture_weights(sc.truth.center, N_COL, w, w))
        flux, err = box_extract_weighted(data, sc.err, aperture_weights(center, N_COL, w, w))
        fixed, ferr = box_extract_block(data, sc.err, aperture_mask(np.full(n, 36.0), N_COL, w, w))
        wl, wl_err = white_light(flux), np.sqrt(np.sum(err[:, 150:395] ** 2, axis=1))
        fw, fw_err = white_light(fixed), np.sqrt(np.sum(ferr[:, 150:395] ** 2, axis=1))
        rows.append((w, point_to_point_scatter(wl), np.median(wl_err) / np.median(wl),
                     point_to_point_scatter(white_light(noiseless)),
                     point_to_point_scatter(fw), np.median(fw_err) / np.median(fw)))
    return rows


def calints_study():
    from astropy.io import fits

    with fits.open(CALINTS) as hdul:
        sci = np.asarray(hdul["SCI"].data, dtype=np.float64)
        wmap = np.asarray(hdul["WAVELENGTH"].data, dtype=np.float64)
    data = subtract_background(sci)
    median = np.median(data, axis=0)
    fit = row_centers(median)
    good = detected_rows(fit)
    out = {"n_int": sci.shape[0], "detected": (int(good.sum()), int(np.flatnonzero(good)[0]),
                                              int(np.flatnonzero(good)[-1]))}
    loose = detected_rows(fit, min_snr=5.0)
    out["detected5"] = (int(loose.sum()), int(np.flatnonzero(loose)[0]), int(np.flatnonzero(loose)[-1]))
    with np.errstate(divide="ignore"):
        weights = np.where(good, 1.0 / fit.center_error**2, 0.0)
    out["orders"] = []
    for order in (1, 2, 3):
        coef, used = fit_trace_polynomial(ROWS, fit.center, weights, order=order)
        resid = (fit.center - evaluate_trace(coef, ROWS))[used]
        chi2 = np.sum(weights[used] * resid**2) / (used.sum() - order - 1)
        c130, c370 = evaluate_trace(coef, [130, 370])
        out["orders"].append((order, c130, c370, float(np.sqrt(np.mean(resid**2))), float(np.sqrt(chi2)),
                              int(used.sum()), coef))
    ref = fit_reference_trace(median)  # the defaults: order 2
    coef, offsets = ref.coefficients, integration_offsets(data, ref.row_fit, ref.row_weights)
    out["offsets"] = offsets
    out["poly1"] = fit_trace_polynomial(ROWS, fit.center, weights, order=1)[0]
    center = evaluate_trace(coef, ROWS, offsets)
    wl = wavelength_at_trace(wmap, center)
    out["wavelength_diff"] = float(np.nanmax(np.abs(wl - np.where(wmap[:, 36] > 0, wmap[:, 36], np.nan))))
    # Gaussian-fits centre per integration for comparison (ExoTiC-MIRI's trace_position="gaussian_fits")
    out["gaussian_fits"] = fit_trace_block(data)[0]
    # binned per-row centres (16-row bins) on the rows the default (order 2) fit used, to show the curvature
    used = ref.used
    bins = []
    for r0 in range(144, 392, 16):
        sel = used[r0:r0 + 16]
        if sel.sum() >= 4:
            c = fit.center[r0:r0 + 16][sel]
            w = weights[r0:r0 + 16][sel]
            bins.append((r0 + 7.5, float(np.sum(w * c) / np.sum(w)), float(1 / np.sqrt(np.sum(w)))))
    out["bins"] = bins
    return out


def detection_noise(n_rows=20000, seed=3):
    rng = np.random.default_rng(seed)
    fit = row_centers(rng.normal(0.0, 1.0, (n_rows, N_COL)))
    return {snr: float(detected_rows(fit, min_snr=snr).mean()) for snr in (3.0, 5.0, 7.0, 10.0)}, n_rows


def timings(n=100, repeat=3):
    sc = make_scene(n, seed=21)
    data = subtract_background(sc.data)
    median, fit, coef, used, rw, _ = reference_trace(data, 2)
    off = integration_offsets(data, fit, rw)
    center = evaluate_trace(coef, ROWS, off)
    weights = aperture_weights(center, N_COL, 4, 4)
    profile = gaussian_profile(center, 1.5, N_COL)
    wmap = default_wavelength_map()
    gcenter = fit_trace_block(data)[0]
    mask = aperture_mask(gcenter, N_COL, 4, 4)
    cases = {
        "fit_reference_trace(median frame) [once per exposure]": (lambda: fit_reference_trace(median), 1),
        "  of which row_centers(median frame)": (lambda: row_centers(median), 1),
        "  of which fit_trace_polynomial (416 rows)": (lambda: fit_trace_polynomial(ROWS, fit.center, rw), 1),
        "integration_offsets": (lambda: integration_offsets(data, fit, rw), n),
        "evaluate_trace": (lambda: evaluate_trace(coef, ROWS, off), n),
        "aperture_weights": (lambda: aperture_weights(center, N_COL, 4, 4), n),
        "box_extract_weighted": (lambda: box_extract_weighted(data, sc.err, weights), n),
        "gaussian_profile": (lambda: gaussian_profile(center, 1.5, N_COL), n),
        "optimal_extract_weighted": (lambda: optimal_extract_weighted(data, profile, 0.07, weights, q=38.0), n),
        "wavelength_at_trace": (lambda: wavelength_at_trace(wmap, center), n),
        "(existing) fit_trace_block": (lambda: fit_trace_block(data), n),
        "(existing) aperture_mask + box_extract_block": (
            lambda: box_extract_block(data, sc.err, aperture_mask(gcenter, N_COL, 4, 4)), n),
    }
    del mask
    rows = []
    for name, (func, per) in cases.items():
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            func()
            best = min(best, time.perf_counter() - t0)
        rows.append((name, f"{1e3 * best / per:.3f}", "per integration" if per > 1 else "per call"))
    return rows, n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="write the Markdown report to this path")
    parser.add_argument("--n-int", type=int, default=150, help="integrations per realisation")
    parser.add_argument("--seeds", type=int, default=4, help="realisations per scene")
    args = parser.parse_args()
    t_start = time.time()
    seeds = range(100, 100 + args.seeds)
    md = ["# Measurements", "",
          "Command (from the repository root, 2-core shared machine):", "", "```bash",
          f"PYTHONPATH=$PWD nice -n 10 python benchmarks/trace_study.py --write benchmarks/TRACE.md"
          f" --n-int {args.n_int} --seeds {args.seeds}", "```", "",
          f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}.", "",
          "Scenes: `tests.test_kernel_geometry.make_scene` — trace centre `36.3 + 1.6 (row - 200) / 250` "
          "(+ `0.5 ((row - 200) / 250)**2` for the curved scene), PSF sigma `1.2 + 0.08 (lambda - 5 micron)` "
          "(1.12-1.92 px), per-integration jitter N(0, 0.15 px), `default_spectrum` (peak 430 DN/s per row), "
          "sky 17.8 DN/s with gradients, Poisson (38 e- per DN/s) + 0.26 DN/s read noise. "
          f"{args.seeds} realisations of {args.n_int} integrations each; numbers are mean ± standard deviation "
          "over realisations. Background: row-wise median of columns 8-16 and 56-71. Apertures 9 pixels "
          "(left = right = 4). White light: sum of rows 150-394; scatter = `point_to_point_scatter` "
          "(1.4826 MAD of first differences / sqrt(2) of the curve divided by its median).", ""]

    scenes = {
        "linear trace (spec scene)": dict(),
        "curved trace (+0.5 px quadratic term)": dict(trace_poly=(36.3, 1.6, 0.5)),
    }
    summary = {}
    for title, kwargs in scenes.items():
        results = [run_scene(make_scene(args.n_int, seed=s, **kwargs)) for s in seeds]
        res = average(results)
        summary[title] = res
        md += [f"## {title}", "", "Centre error (fitted trace vs truth, rms over integrations and the rows the "
               "polynomial used) and per-integration offset error (std of offset - jitter, common part removed), "
               "in milli-pixels:", ""]
        md.append(table([(k, fmt(res["centre"][k], 1e3), f"{res['centre'][k][2] * 1e3:.2f}",
                          fmt(res["offset"][k], 1e3), fmt(res["vs_row_fits"][k], 1e3)) for k in res["centre"]],
                        ["polynomial order, offset method", "centre rms (mpx)", "worst realisation (mpx)",
                         "offset error (mpx)", "rms difference to row_fits (mpx)"]))
        fixed = res["white"]["fixed box at 36 (integer)"][0]
        md += ["", "White-light scatter (ppm) and ratio to the fixed box at column 36:", ""]
        md.append(table([(k, fmt(v, 1e6, 0), f"{v[0] / fixed:.2f}") for k, v in res["white"].items()],
                        ["aperture", "scatter (ppm)", "ratio to fixed"]))
        md.append("")
        print(title, f"{time.time() - t_start:.0f} s", flush=True)

    # noise-free and brighter stars: the systematic part of the scatter
    md += ["## Noise level: where the jitter systematics dominate", "",
           "Same linear scene, traced box = order 2 + trace_fit offsets (the defaults). `noise=False` keeps only the "
           "jitter-induced flux changes (and the centre errors they cause: none without noise, the offsets are "
           "then exact).", ""]
    rows = []
    for label, kwargs in [("no noise (jitter only)", dict(noise=False)), ("peak 430 DN/s (spec)", dict()),
                          ("peak 1720 DN/s", dict(peak=1720.0)), ("peak 6880 DN/s", dict(peak=6880.0)),
                          ("peak 430, sky 0", dict(sky=0.0, gradient=(0.0, 0.0))),
                          ("trace +0.6 px (gaussian_fits centre ~37.5), no noise",
                           dict(trace_poly=(36.9, 1.6), noise=False)),
                          ("trace +0.6 px (gaussian_fits centre ~37.5)", dict(trace_poly=(36.9, 1.6)))]:
        res = average([run_scene(make_scene(args.n_int, seed=s, **kwargs), orders=(2,), methods=["trace_fit"],
                                 optimal=False) for s in seeds])
        w = res["white"]
        fixed = w["fixed box at 36 (integer)"]
        traced = w["traced fractional box, order 2, trace_fit"]
        rows.append((label, fmt(fixed, 1e6, 1), fmt(w["gaussian_fits box (whole pixels)"], 1e6, 1),
                     fmt(traced, 1e6, 1), fmt(w["ideal: fractional box on the true centre"], 1e6, 1),
                     f"{traced[0] / fixed[0]:.3f}"))
    md.append(table(rows, ["scene", "fixed 36 (ppm)", "gaussian_fits (ppm)", "traced (ppm)", "ideal (ppm)",
                           "traced / fixed"]))
    md.append("")
    print("noise levels", f"{time.time() - t_start:.0f} s", flush=True)

    md += ["## Aperture width (half-width w each side, 2w + 1 pixels)", "",
           "Linear scene, one realisation of 4x the integrations. Scatter = `point_to_point_scatter` of "
           "the white light; error = median over integrations of sqrt(sum over rows of flux_error**2) / "
           "median white light.", ""]
    scan = width_scan(make_scene(4 * args.n_int, seed=7), range(2, 13))
    md.append(table([(w, f"{a * 1e6:.0f}", f"{b * 1e6:.0f}", f"{a / b:.2f}", f"{e * 1e6:.1f}", f"{c * 1e6:.0f}",
                      f"{d * 1e6:.0f}") for w, a, b, e, c, d in scan],
                    ["w", "traced scatter (ppm)", "traced error (ppm)", "scatter / error",
                     "same jitter, no noise, true centre (ppm)", "fixed-36 scatter (ppm)", "fixed-36 error (ppm)"]))
    best = min(scan, key=lambda r: r[1])
    md += ["", f"best_width (traced, lowest scatter): {best[0]}", ""]
    print("width scan", f"{time.time() - t_start:.0f} s", flush=True)

    rates, n_noise = detection_noise()
    md += ["## Detection threshold on pure noise", "",
           f"`row_centers` + `detected_rows(min_snr=...)` on {n_noise} rows of white noise (56 fitted columns):",
           ""]
    md.append(table([(k, f"{v:.2e}") for k, v in rates.items()], ["min_snr", "fraction of noise rows accepted"]))
    md.append("")

    if CALINTS.exists():
        cal = calints_study()
        md += ["## Shared MIRISim calints (NGTS-10 segment 041)", "",
               f"`{CALINTS.name}`: SCI, {cal['n_int']} integrations, row-wise median background of columns "
               "8-16 and 56-71 subtracted, median frame, per-row Gaussian fits, `detected_rows` defaults "
               f"(min_snr 10): {cal['detected'][0]} rows between {cal['detected'][1]} and {cal['detected'][2]} "
               f"(min_snr 5: {cal['detected5'][0]} rows, {cal['detected5'][1]}-{cal['detected5'][2]}); "
               "weights 1 / center_error**2, clip 4 sigma.", ""]
        md.append(table([(o, f"{a:.3f}", f"{b:.3f}", f"{b - a:+.3f}", f"{r:.3f}", f"{c:.2f}", u,
                          ", ".join(f"{x:.6g}" for x in coef)) for o, a, b, r, c, u, coef in cal["orders"]],
                        ["order", "centre at row 130", "centre at row 370", "370 - 130", "residual rms (px)",
                         "sqrt(reduced chi2)", "rows used", "coefficients (increasing powers of row)"]))
        md += ["", "Weighted mean per-row centre in 16-row bins (pixels) vs the order-1 polynomial:", ""]
        md.append(table([(f"{r:.1f}", f"{c:.3f}", f"{e:.3f}", f"{c - evaluate_trace(cal['poly1'], r):+.3f}")
                         for r, c, e in cal["bins"]], ["row", "centre", "error", "minus order-1 polynomial"]))
        md += ["", "Per-integration offsets (`fit_reference_trace` defaults, `integration_offsets`): "
               + ", ".join(f"{o:+.4f}" for o in cal["offsets"]) + " px; ExoTiC-MIRI gaussian_fits centres "
               "(rows 200-389): " + ", ".join(f"{c:.3f}" for c in cal["gaussian_fits"]) + ".",
               "", f"`wavelength_at_trace` on the file's WAVELENGTH map (which depends on the row only) vs "
               f"column 36: max |difference| {cal['wavelength_diff']:.2e} micron.", ""]
        print("calints", f"{time.time() - t_start:.0f} s", flush=True)

    trows, n_t = timings()
    md += ["## Kernel timings", "", f"Best of 3, block of {n_t} integrations of 416 x 72 (float64), "
           "one thread-shared core, `nice -n 10`:", ""]
    md.append(table(trows, ["kernel", "ms", "unit"]))
    md += ["", f"Total run time {time.time() - t_start:.0f} s.", ""]
    text = "\n".join(md)
    if args.write:
        # Keep a hand-written summary above the marker, replace the generated tables below it.
        target = Path(args.write)
        head = ""
        if target.exists() and MARKER in target.read_text():
            head = target.read_text().split(MARKER)[0]
        target.write_text(head + MARKER + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
