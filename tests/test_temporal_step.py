"""The lazy step ``ds.lrs.clean_temporal`` (xmiri.steps.temporal) and its CLI section.

The kernel, xmiri.kernels.temporal, is tested on its own (recall, false
flags, exactness on blocks with halos) in test_kernel_temporal.py; here:
laziness, bit-identical results for any chunking (chunks smaller than the
halo, working blocks of one halo depth, a 2-segment FITS exposure), the
outputs (dq OUTLIER bit, counts, replaced values), the parameters, the
composition with ``clean`` and the ``[clean_temporal]`` section of
``xmiri reduce``.
"""
import inspect
import warnings

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

import xmiri
from xmiri.exceptions import MissingVariableError, ParameterError
from xmiri.kernels import temporal as kernel
from xmiri.steps import temporal as step_module

from tests.conftest import TaskCounter, frames_from, simulated_segments

pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning")

N_INT, N_ROW, N_COL = 300, 60, 24
DEPTH = kernel.halo_depth(step_module.WINDOW_WIDTH, "mad", kernel.DEFAULT_SCALE_WIDTH)  # 62


@pytest.fixture(scope="module")
def sim():
    """300 small frames with hits (numpy-backed), and the truth."""
    return xmiri.simulate.simulate(N_INT, seed=21, n_rows=N_ROW, n_cols=N_COL, trace_center=12.3,
                                   n_cosmic_rays=4)


@pytest.fixture(scope="module")
def full():
    """60 full SLITLESSPRISM frames with hits (what clean's defaults need)."""
    return xmiri.simulate.simulate(60, seed=22, n_cosmic_rays=5)[0]


@pytest.fixture(scope="module")
def eager(sim):
    return sim[0].lrs.clean_temporal()


@pytest.fixture
def small_blocks(monkeypatch):
    """Working blocks of one halo depth, so that a 300-integration exposure has several."""
    monkeypatch.setattr(step_module, "MIN_BLOCK_DEPTHS", 1)


def kernel_result(ds, **kwargs):
    valid = (ds["dq"].values & xmiri.dq.dq_mask([0, 11])) == 0
    kwargs = {"window_width": step_module.WINDOW_WIDTH, "scale_width": kernel.DEFAULT_SCALE_WIDTH,
              "outlier_threshold": step_module.OUTLIER_THRESHOLD, **kwargs}
    return kernel.temporal_outliers(ds["data"].values, valid, ds["err"].values, **kwargs)


# --------------------------------------------------------------------------
# laziness and chunks
# --------------------------------------------------------------------------
def test_lazy_no_task_runs_at_call(sim, eager):
    lazy_in = sim[0].chunk(integration=70)
    with TaskCounter() as tasks:
        out = lazy_in.lrs.clean_temporal()
    assert tasks.n == 0, "calling clean_temporal ran dask tasks"
    for name in ("data", "dq", "n_temporal_outliers"):
        assert isinstance(out[name].data, da.Array), name
    assert out["data"].chunks == lazy_in["data"].chunks  # the input's chunks are kept
    assert out["n_temporal_outliers"].chunks[0] == lazy_in.chunks["integration"]
    xr.testing.assert_identical(out.compute(), eager)


@pytest.mark.parametrize("min_depths", [1, 2, 4], ids=["blocks-of-1-depth", "default-blocks", "blocks-of-4-depths"])
@pytest.mark.parametrize("chunks", [1, 10, 61, 62, 63, 70, 150, (5, 120, 3, 90, 82), N_INT],
                         ids=str)
def test_results_bit_identical_for_any_chunking(sim, eager, monkeypatch, chunks, min_depths):
    monkeypatch.setattr(step_module, "MIN_BLOCK_DEPTHS", min_depths)
    ds = sim[0].chunk(integration=chunks)
    out = ds.lrs.clean_temporal()
    if min_depths == 1 and chunks in (62, 63, 70, 150):
        assert len(out["data"].data.dask.layers) > 2  # really through map_overlap
    xr.testing.assert_identical(out.compute(), eager)


def test_mask_reads_dq_apart_from_the_new_dq(sim, eager):
    """A read ``dq`` is read again for the valid mask (not held for the new dq); a computed one is not."""
    ds = sim[0].chunk(integration=70)
    assert step_module._is_read(ds["dq"].data)
    out = ds.lrs.clean_temporal()
    assert ds["dq"].data.name not in out["data"].data.dask.layers  # the mask has its own read
    assert ds["dq"].data.name in out["dq"].data.dask.layers
    xr.testing.assert_identical(out.compute(), eager)
    computed = ds.assign(dq=ds["dq"] | np.uint32(0))
    assert not step_module._is_read(computed["dq"].data)
    out = computed.lrs.clean_temporal()
    assert computed["dq"].data.name in out["data"].data.dask.layers  # not computed twice
    xr.testing.assert_identical(out.compute(), eager)


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_schedulers_agree(sim, eager, small_blocks, scheduler):
    out = sim[0].chunk(integration=70).lrs.clean_temporal()
    with dask.config.set(scheduler=scheduler):
        xr.testing.assert_identical(out.compute(), eager)


@pytest.mark.parametrize("kwargs", [dict(scale="err"), dict(window_width=5, scale_width=11),
                                    dict(replace="nan", dq_bits_to_mask=[])], ids=str)
def test_chunk_invariance_with_other_parameters(sim, small_blocks, kwargs):
    ds = sim[0]
    reference = ds.lrs.clean_temporal(**kwargs)
    for chunks in (7, 40, 100):
        out = ds.chunk(integration=chunks).lrs.clean_temporal(**kwargs).compute()
        xr.testing.assert_identical(out, reference)


def test_two_segment_fits_equals_one_dataset(tmp_path, small_blocks):
    paths = simulated_segments(tmp_path, 260, n_segments=2, seed=8)
    one_file = simulated_segments(tmp_path / "one", 260, n_segments=1, seed=8)
    two = xmiri.open_rateints(paths).lrs.clean_temporal()
    assert len(two.chunks["integration"]) > 2
    two = two.compute()
    one = xmiri.open_rateints(one_file, chunks=-1).lrs.clean_temporal().compute()
    ds, _ = xmiri.simulate.simulate(260, seed=8)
    direct = ds.lrs.clean_temporal()
    assert int(two["n_temporal_outliers"].sum()) > 100
    for name in ("data", "dq", "n_temporal_outliers"):
        np.testing.assert_array_equal(two[name].values, one[name].values, err_msg=name)
        np.testing.assert_array_equal(two[name].values, direct[name].values, err_msg=name)


# --------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------
def test_eager_input_gives_eager_output_equal_to_the_kernel(sim, eager):
    ds, _ = sim
    assert isinstance(eager["data"].data, np.ndarray)
    median, flagged = kernel_result(ds)
    assert flagged.sum() > 500
    np.testing.assert_array_equal((eager["dq"].values & 16) != 0, flagged | ((ds["dq"].values & 16) != 0))
    np.testing.assert_array_equal(eager["dq"].values & ~np.uint32(16), ds["dq"].values & ~np.uint32(16))
    expected = ds["data"].values.copy()
    expected[flagged] = median[flagged].astype(np.float32)
    np.testing.assert_array_equal(eager["data"].values, expected)
    assert eager["data"].dtype == ds["data"].dtype == np.float32
    assert eager["dq"].dtype == ds["dq"].dtype
    counts = eager["n_temporal_outliers"]
    assert counts.dims == ("integration",) and counts.dtype == np.int32
    np.testing.assert_array_equal(counts.values, flagged.sum(axis=(1, 2)))
    assert counts.attrs["units"] == "1" and "long_name" in counts.attrs
    np.testing.assert_array_equal(counts["time"].values, ds["time"].values)


def test_other_variables_coordinates_and_attributes_are_kept(sim, eager):
    ds, _ = sim
    for name in set(ds.variables) - {"data", "dq"}:
        xr.testing.assert_identical(eager[name], ds[name])
    for name in ("data", "dq"):  # attrs (dq's flag_masks are arrays)
        xr.testing.assert_identical(eager[name].copy(data=ds[name].values), ds[name])
    assert {k: v for k, v in eager.attrs.items() if k != "history"} == \
           {k: v for k, v in ds.attrs.items() if k != "history"}


def test_input_is_not_modified(sim):
    ds, _ = sim
    before = ds.copy(deep=True)
    ds.lrs.clean_temporal(replace="nan")
    xr.testing.assert_identical(ds, before)


def test_hits_are_found_and_replaced_near_the_truth(sim, eager):
    ds, truth = sim
    index = (truth.hit_integration.values - 1, truth.hit_row.values, truth.hit_col.values)
    hot = (ds["dq"].values[index] & xmiri.dq.dq_mask([0, 11])) != 0  # masked: never flagged
    found = ((eager["dq"].values & 16) != 0)[index]
    assert not found[hot].any()
    assert found[~hot].mean() >= 0.99  # the simulator's hits are 10-100 sigma
    clean = xmiri.simulate.simulate(N_INT, seed=21, n_rows=N_ROW, n_cols=N_COL, trace_center=12.3,
                                    n_cosmic_rays=0)[0]["data"].values[index][found]
    replaced = eager["data"].values[index][found]
    err = ds["err"].values[index][found]
    assert np.median(np.abs(replaced - clean) / err) < 1.5  # the median is as good as a sample


def test_positive_and_negative_outliers():
    rng = np.random.default_rng(3)
    data = 100.0 + rng.standard_normal((80, 3, 4))
    data[20, 1, 1] += 15.0
    data[50, 2, 3] -= 15.0
    out = frames_from(data, wavelength=False).lrs.clean_temporal()
    flagged = (out["dq"].values & 16) != 0
    assert flagged[20, 1, 1] and flagged[50, 2, 3] and flagged.sum() == 2
    assert abs(out["data"].values[20, 1, 1] - 100.0) < 1 and abs(out["data"].values[50, 2, 3] - 100) < 1
    assert out["n_temporal_outliers"].values[[20, 50]].tolist() == [1, 1]


@pytest.mark.parametrize("replace", ["nan", None, "none", "None"])
def test_replace_nan_or_flag_only(sim, eager, replace):
    ds, _ = sim
    out = ds.lrs.clean_temporal(replace=replace)
    flagged = (eager["dq"].values & 16) != 0
    np.testing.assert_array_equal(out["dq"].values, eager["dq"].values)
    np.testing.assert_array_equal(out["n_temporal_outliers"].values, eager["n_temporal_outliers"].values)
    if replace == "nan":
        assert np.isnan(out["data"].values[flagged]).all()
        np.testing.assert_array_equal(out["data"].values[~flagged], ds["data"].values[~flagged])
        assert "replace='nan'" in out.attrs["history"]
    else:
        np.testing.assert_array_equal(out["data"].values, ds["data"].values)
        assert "replace=None" in out.attrs["history"]


def test_scale_err_is_jwst_convention(sim):
    ds, _ = sim
    out = ds.lrs.clean_temporal(scale="err", outlier_threshold=5.0)
    _, flagged = kernel_result(ds, scale="err")
    np.testing.assert_array_equal((out["dq"].values & 16) != 0, flagged)
    with pytest.raises(MissingVariableError, match="err"):
        ds.drop_vars("err").lrs.clean_temporal(scale="err")
    ds.drop_vars("err").lrs.clean_temporal()  # err is needed only for scale="err"


def test_masked_samples_are_left_out_and_never_flagged():
    rng = np.random.default_rng(4)
    data = 10.0 + 0.1 * rng.standard_normal((60, 2, 2))
    dq = np.zeros(data.shape, np.uint32)
    data[30, 0, 0] = 500.0
    dq[30, 0, 0] = 2**11  # HOT: masked by default
    data[10:40, 1, 1] = 80.0  # a run longer than half a window, all DO_NOT_USE
    dq[10:40, 1, 1] = 1
    ds = frames_from(data, dq, wavelength=False)
    out = ds.lrs.clean_temporal()
    assert out["n_temporal_outliers"].sum() == 0
    assert out["data"].values[30, 0, 0] == 500.0
    unmasked = ds.lrs.clean_temporal(dq_bits_to_mask=[])
    assert (unmasked["dq"].values[30, 0, 0] & 16) and unmasked["data"].values[30, 0, 0] < 11
    by_name = ds.lrs.clean_temporal(dq_bits_to_mask=["DO_NOT_USE", "hot"])
    xr.testing.assert_identical(by_name.drop_attrs(), out.drop_attrs())


def test_transit_and_step_are_not_flagged():
    ds, _ = xmiri.simulate.simulate(240, seed=5, n_rows=40, n_cols=24, trace_center=12.3,
                                    n_cosmic_rays=0, n_hot_pixels=0, transit_depth=0.05,
                                    transit_duration=0.2)
    step = ds.copy(deep=True)
    step["data"][120:] = step["data"][120:] + 20 * ds["err"][120:]  # a sharp step of 20 sigma
    n_pixels = ds.sizes["row"] * ds.sizes["col"]
    for case in (ds, step):
        counts = case.lrs.clean_temporal()["n_temporal_outliers"].values
        assert counts.sum() - counts[119:121].sum() < 2e-4 * ds["data"].size
        # At a sharp step, the sample either side of it has a window median at the
        # extreme of the 13 samples on its own side: in ~1% of the pixels one of them is
        # 5 scatters away from it (documented); the other samples are followed.
        assert counts[119:121].sum() < 0.03 * n_pixels


def test_window_longer_than_the_exposure_is_one_median():
    rng = np.random.default_rng(6)
    data = 5.0 + 0.2 * rng.standard_normal((20, 2, 3))
    data[2, 0, 0] = 50.0
    out = frames_from(data, wavelength=False).lrs.clean_temporal(window_width=25)
    assert (out["dq"].values[2, 0, 0] & 16) != 0
    assert out["data"].values[2, 0, 0] == np.float32(np.median(data[:, 0, 0]))
    wide = frames_from(data, wavelength=False).lrs.clean_temporal(window_width=101)
    xr.testing.assert_identical(wide.drop_attrs(), out.drop_attrs())


def test_no_warning_on_fully_masked_pixels(sim):
    ds, _ = sim
    ds = ds.copy(deep=True)
    ds["dq"][:, 0, :] = 1  # a DO_NOT_USE row
    ds["data"][:, 1, :] = np.nan  # a NaN row
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ds.chunk(integration=50).lrs.clean_temporal().compute()
    assert not (out["dq"].values[:, :2] & 16).any()


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, name", [
    (dict(window_width=24), "window_width"),
    (dict(window_width=0), "window_width"),
    (dict(window_width=2.5), "window_width"),
    (dict(window_width=True), "window_width"),
    (dict(outlier_threshold=0), "outlier_threshold"),
    (dict(outlier_threshold=-3.0), "outlier_threshold"),
    (dict(outlier_threshold=float("nan")), "outlier_threshold"),
    (dict(outlier_threshold="5"), "outlier_threshold"),
    (dict(scale="std"), "scale"),
    (dict(scale=None), "scale"),
    (dict(replace="zero"), "replace"),
    (dict(replace=0), "replace"),
    (dict(scale_width=100), "scale_width"),
    (dict(dq_bits_to_mask=[40]), "dq_bits_to_mask"),
    (dict(dq_bits_to_mask=["NOT_A_FLAG"]), "dq_bits_to_mask"),
], ids=lambda x: str(x) if isinstance(x, dict) else None)
def test_bad_parameters_are_refused_before_any_work(sim, kwargs, name):
    lazy_in = sim[0].chunk(integration=70)
    with TaskCounter() as tasks:
        with pytest.raises(ParameterError, match=name):
            lazy_in.lrs.clean_temporal(**kwargs)
    assert tasks.n == 0


def test_missing_variables_and_dims():
    ds = frames_from(np.ones((5, 4, 3)), wavelength=False)
    with pytest.raises(MissingVariableError, match="dq"):
        ds.drop_vars("dq").lrs.clean_temporal()
    with pytest.raises(ParameterError, match="integration"):
        ds.isel(integration=0).lrs.clean_temporal()


def test_float_window_from_toml_and_history(sim):
    ds, _ = sim
    out = ds.lrs.clean_temporal(window_width=25.0, dq_bits_to_mask=["HOT"])
    line = out.attrs["history"].splitlines()[-1]
    assert line.endswith("clean_temporal(window_width=25, outlier_threshold=5.0, scale='mad', "
                         "replace='median', dq_bits_to_mask=['HOT'], scale_width=101)")
    assert "xmiri" in line


def test_accessor_carries_the_step_signature_and_docstring():
    from xmiri.plotting._bind import without_parameter
    from xmiri.steps import clean_temporal

    method = xr.Dataset.lrs.clean_temporal
    assert inspect.getdoc(method) == without_parameter(inspect.getdoc(clean_temporal), "ds")
    params = list(inspect.signature(method).parameters)
    assert params == ["self", "window_width", "outlier_threshold", "scale", "replace",
                      "dq_bits_to_mask", "scale_width"]
    defaults = {k: p.default for k, p in inspect.signature(clean_temporal).parameters.items()}
    assert (defaults["window_width"], defaults["outlier_threshold"], defaults["scale"],
            defaults["replace"], defaults["scale_width"]) == (25, 5.0, "mad", "median", 101)


# --------------------------------------------------------------------------
# composition with clean, and the chain of the command line
# --------------------------------------------------------------------------
def test_composes_with_clean(full):
    ds = full
    lazy_in = ds.chunk(integration=70)
    with TaskCounter() as tasks:
        both = lazy_in.lrs.clean_temporal().lrs.clean(dq_bits_to_mask=[0, 4, 11])
        spec = both.lrs.subtract().lrs.extract()
    assert tasks.n == 0
    both, spec = both.compute(), spec.compute()  # (dask.compute(both, spec) trips a dask bug)
    first = ds.lrs.clean_temporal()
    flagged = (first["dq"].values & 16) != 0
    # clean masks bit 4: the temporal outliers are replaced by its spatial fits
    refit = first.lrs.clean(dq_bits_to_mask=[0, 4, 11])
    xr.testing.assert_identical(both, refit)
    assert ((both["dq"].values & 16) != 0)[flagged].all()
    assert "clean_temporal(" in both.attrs["history"]
    assert both.attrs["history"].index("clean_temporal(") < both.attrs["history"].index(" clean(")
    assert np.isfinite(spec["flux"].values[:, 50:300]).all()
    assert flagged.sum() > 100


def test_config_section_and_run_chain(full, tmp_path):
    from xmiri import cli, config

    assert config.SECTIONS["clean_temporal"] == "clean_temporal"
    assert "clean_temporal" in config.SKIPPABLE
    defaults = config.default_config()["clean_temporal"]
    assert defaults["window_width"] == 25 and defaults["scale"] == "mad"
    assert defaults["dq_bits_to_mask"] == [0, 11] and defaults["skip"] is True
    text = config.template()
    assert "[clean_temporal]" in text and text.index("[clean_temporal]") < text.index("[clean]")
    import tomllib

    assert tomllib.loads(text)["clean_temporal"] == defaults

    ds = full.chunk(integration=20)
    frames, _ = cli.run_chain(ds, config.load_config(None))
    assert "clean_temporal(" not in frames.attrs["history"]
    path = tmp_path / "reduce.toml"
    path.write_text('[clean_temporal]\nskip = false\nwindow_width = 51\nreplace = "none"\n')
    frames, _ = cli.run_chain(ds, config.load_config(path))
    history = frames.attrs["history"]
    assert "clean_temporal(window_width=51" in history and "replace=None" in history
    assert history.index("clean_temporal(") < history.index(" clean(")
    path.write_text("[clean_temporal]\nwindow_width = 24\n")
    with pytest.raises(ParameterError, match="window_width"):
        cli.run_chain(ds, config.load_config(path))
    path.write_text("[clean_temporal]\nwidth = 25\n")
    with pytest.raises(ParameterError, match="width"):
        config.load_config(path)
