"""Traced apertures: extract(trace_position="polynomial") and optimize_aperture, against truth."""
import numpy as np
import pytest
from scipy.special import erf

import xmiri
from xmiri import ParameterError

from tests.conftest import TaskCounter

TILT = (0.0, 1.6)  # 1.6 pixels over 250 rows


def widening(lam):
    return 1.2 + 0.08 * (lam - 5.0)


def scene(n=60, seed=3, chunks=20, **kw):
    options = dict(trace_curve=TILT, psf_sigma=widening, jitter_x=0.15, transit_depth=0.0,
                   n_cosmic_rays=0, n_hot_pixels=0)
    options.update(kw)
    return xmiri.simulate.simulate(n, seed=seed, chunks=chunks, **options)


def white(spec, rows=slice(150, 390)):
    w = spec["flux"].sel(row=rows).sum("row").values
    return w / np.median(w)


@pytest.fixture(scope="module")
def tilted():
    ds, truth = scene()
    return ds.lrs.subtract(method="col_wise"), truth


def test_polynomial_is_lazy_and_follows_the_trace(tilted):
    sub, truth = tilted
    with TaskCounter() as counter:
        lazy = sub.lrs.extract(trace_position="polynomial")
    assert counter.n == 0
    spec = lazy.compute()
    true_center = truth.trace_center.values[:, None] + truth.trace_offset.values[None, :]
    error = spec["trace_center"].values - true_center
    rms = np.sqrt(np.mean(error[:, 150:380] ** 2))
    assert rms <= 0.03, rms  # per integration and row, where the star is detected
    assert spec["trace_center"].dims == ("integration", "row")
    assert spec["trace_coefficients"].sizes["power"] == 3  # default order 2


def test_polynomial_does_not_depend_on_chunks(tilted):
    sub, _ = tilted
    a = sub.chunk(integration=7).lrs.extract(trace_position="polynomial").compute()
    b = sub.compute().lrs.extract(trace_position="polynomial").compute()
    for name in ("trace_center", "trace_coefficients", "wavelength"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for name in ("flux", "flux_error"):  # sums over columns: the last bit follows numpy's blocking
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-12, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("brightness", [4.0, np.inf], ids=["4x-brighter", "noiseless"])
def test_traced_box_halves_the_scatter_of_the_fixed_box(brightness):
    """Where pointing jitter dominates the white-light scatter, the traced aperture removes it."""
    kw = dict(noise=False) if brightness == np.inf else dict(stellar_flux=430.0 * brightness)
    ds, _ = scene(**kw)
    sub = ds.lrs.subtract(method="col_wise")
    fixed = np.std(white(sub.lrs.extract().compute()))
    traced = np.std(white(sub.lrs.extract(trace_position="polynomial").compute()))
    assert traced <= 0.5 * fixed, (traced, fixed)


def test_nine_pixel_traced_box_keeps_the_gaussian_fraction():
    ds, truth = scene(n=4, noise=False, jitter_x=0.0)
    spec = ds.lrs.subtract(method="col_wise").lrs.extract(trace_position="polynomial").compute()
    sigma = truth.psf_sigma.values
    expected = erf(4.5 / (np.sqrt(2.0) * sigma))  # fraction of a Gaussian within +-4.5 px
    ratio = spec.flux.values / truth.flux.values
    rows = slice(170, 380)
    np.testing.assert_allclose(ratio[:, rows], np.broadcast_to(expected[rows], ratio[:, rows].shape),
                               atol=2e-3)  # the background estimate's error, a few 1e-4


@pytest.mark.filterwarnings("ignore::xmiri.exceptions.SkyNotSubtractedWarning")
def test_uniform_frame_gives_the_aperture_width_in_every_row():
    """An analytic case through the step: frames of 1 DN/s plus a trace; the trace subtracted again."""
    ds, truth = scene(n=3, noise=False, jitter_x=0.1)
    spec = ds.lrs.extract(trace_position="polynomial", aperture_left_width=3,
                          aperture_right_width=5)
    ones = ds.assign(data=ds.data * 0 + 1.0)
    flat = xmiri.steps.extract(ones.assign(data=ones.data), trace_position="polynomial",
                               aperture_left_width=3, aperture_right_width=5)
    # the reference trace of a uniform frame cannot be fitted: use the tilted scene's
    assert np.isnan(flat.trace_center.values).all()
    center = spec.trace_center.compute()
    from xmiri.kernels import aperture
    weights = aperture.aperture_weights(center.values, 72, 3, 5)
    np.testing.assert_allclose(weights.sum(-1), 9.0, rtol=0, atol=1e-12)


def test_wavelength_is_read_along_the_trace(tilted):
    sub, _ = tilted
    tilted_map = sub.wavelength + 0.01 * (sub.col - 36)  # a map that depends on the column
    spec = sub.assign_coords(wavelength=tilted_map).lrs.extract(trace_position="polynomial")
    along = spec.wavelength.compute().values
    centers = np.polynomial.polynomial.polyval(np.arange(416.0), spec.trace_coefficients.values)
    expected = sub.wavelength.values[:, 36] + 0.01 * (centers - 36)
    ok = np.isfinite(expected) & np.isfinite(along)
    np.testing.assert_allclose(along[ok], expected[ok], atol=1e-9)


def test_optimal_in_the_traced_aperture(tilted):
    sub, truth = tilted
    box = sub.lrs.extract(trace_position="polynomial").compute()
    opt = sub.lrs.extract(trace_position="polynomial", method="optimal", horne_q=38.2,
                          median_spatial_profile=True).compute()
    rows = slice(200, 380)
    ratio = (opt.flux / box.flux).sel(row=rows).median().item()
    assert abs(ratio - 1) < 0.01  # same flux inside the same aperture
    assert np.std(white(opt)) < np.std(white(box))


def test_polynomial_parameters_are_checked(tilted):
    sub, _ = tilted
    with pytest.raises(ParameterError, match="trace_poly_order"):
        sub.lrs.extract(trace_position="polynomial", trace_poly_order=-1)
    with pytest.raises(ParameterError, match="trace_position"):
        sub.lrs.extract(trace_position="polynomials")


def test_optimize_aperture_finds_a_width(tilted):
    sub, _ = tilted
    scan = sub.lrs.optimize_aperture(widths=[1, 3, 5], trace_position="polynomial")
    assert scan.sizes["width"] == 3
    # the rule: best_width is the width of the smallest scatter in the returned table
    assert scan.attrs["best_width"] == int(scan.width[int(np.argmin(scan.scatter.values))])
    assert scan.attrs["best_width_columns"] == 2 * scan.attrs["best_width"] + 1
    assert np.all(scan.median_error.values > 0) and np.all(np.isfinite(scan.scatter.values))
    # a 3-column aperture loses flux with the jitter: its scatter is the largest
    assert scan.scatter.sel(width=1) > scan.scatter.sel(width=5)
    with pytest.raises(ParameterError, match="aperture_left_width"):
        sub.lrs.optimize_aperture(aperture_left_width=2)
    for bad, match in [("ab", "widths must be a list of integers"), ([], "widths must not be empty"),
                       ([2, -1], r"widths\[1\] must be >= 0")]:
        with pytest.raises(ParameterError, match=match):
            sub.lrs.optimize_aperture(widths=bad)


def test_frame_and_trace_plots_draw_the_traced_aperture(tilted):
    import matplotlib.pyplot as plt

    sub, _ = tilted
    spec = sub.lrs.extract(trace_position="polynomial").compute()
    image = sub.lrs.plot.frame(trace=spec)
    edges = image.axes.get_lines()
    assert len(edges) == 2 and np.ptp(edges[0].get_xdata()[150:380]) > 0.5  # tilted edges
    plt.close("all")
    lines = spec.lrs.plot.trace()
    assert lines[0].get_xdata().size == 416
    plt.close("all")
