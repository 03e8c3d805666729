"""The ``exotic-miri-pipeline`` preset against ExoTiC-MIRI's published stage-2 chain.

The reference is ExoTiC-MIRI 1.0.1's steps called as its authors' complete
pipeline calls them (``docs/source/views/complete_pipelines.rst`` in its
repository, < 40 groups; :func:`tests.exotic_reference.published_chain`), with
the keyword values copied here from that page, not from the preset, so that
the test checks the preset against the published text.
"""
import numpy as np
import pytest
import xarray as xr

import xmiri
from tests import exotic_reference as ex
from tests.conftest import assert_close, run_cli
from xmiri.cli import run_chain
from xmiri.config import load_config, preset

#: complete_pipelines.rst, "For observations with <40 groups".
PUBLISHED = dict(
    clean_kwargs=dict(dq_bits_to_mask=[0], window_heights=[150, 100, 50, 40, 30, 24],
                      poly_order=4, outlier_threshold=5.0),
    subtract_kwargs=dict(method="row_wise", smoothing_length=None, bkg_col_left_start=12,
                         bkg_col_left_end=22, bkg_col_right_start=50, bkg_col_right_end=68),
    extract_kwargs=dict(trace_position="constant", aperture_center=36, aperture_left_width=4,
                        aperture_right_width=4),
)
#: Equal to ExoTiC-MIRI to this fraction of each quantity's largest value (its float32
#: arithmetic rounds at about 1e-7 of it).
RTOL = 1e-4
#: x_shift and y_shift are diagnostics here (align_spectra=False leaves the flux as
#: extracted), measured by xmiri's own cross-correlation, not ExoTiC-MIRI's (whose
#: dispersion shifts are biased: test_kernel_align.py); they agree to this many pixels.
SHIFT_ATOL = 1e-2


def reference(ds):
    return ex.published_chain(ds["data"].values, ds["err"].values, ds["dq"].values,
                              ds["wavelength"].values, **PUBLISHED)


def assert_equals_published(spec, ref):
    for name in ("flux", "flux_error", "psf_sigma"):
        actual, expected = spec[name].values, ref[name]
        atol = RTOL * np.nanmax(np.abs(expected))
        assert_close(actual, expected, atol=atol, what=name)
    for name in ("x_shift", "y_shift"):
        assert_close(spec[name].values, ref[name], atol=SHIFT_ATOL, what=name)


@pytest.mark.reference
def test_numpy1_decoding_masks_only_the_flagged_pixels():
    """The harness's DQ decoding: DO_NOT_USE pixels replaced, the rest untouched."""
    data = np.ones((1, 60, 72), np.float32) * np.linspace(1, 2, 72, dtype=np.float32)
    dq = np.zeros(data.shape, np.uint32)
    dq[0, 10, 36] = 1
    dq[0, 20, 30] = 2 ** 11  # HOT: not masked
    data[0, 10, 36] = data[0, 20, 30] = 50.0
    with ex.numpy1_dq_decoding():
        cleaned, out_dq, _, _ = ex.clean(data, dq=dq, dq_bits_to_mask=[0], window_heights=[60],
                                         outlier_threshold=100.0)
    assert cleaned[0, 10, 36] == pytest.approx(data[0, 9, 36], rel=1e-5)
    assert cleaned[0, 20, 30] == 50.0
    assert np.count_nonzero(out_dq & 16) == 1


@pytest.mark.reference
@pytest.mark.filterwarnings("ignore::xmiri.TimeAxisWarning")  # MIRISim: no INT_TIMES
def test_cli_preset_equals_published_chain_on_mirisim(rateints_path, tmp_path):
    out = tmp_path / "stage2.nc"
    result = run_cli("reduce", rateints_path, "--preset", "exotic-miri-pipeline", "-o", out)
    assert result.returncode == 0, result.stderr
    ds = xmiri.open_rateints(rateints_path).load()
    ref = reference(ds)
    assert ref["mutated"] > 0  # the published chain subtracts from the once-cleaned frames
    with xr.open_dataset(out) as spec:
        assert_equals_published(spec.load(), ref)
        assert spec.attrs["background_subtracted"] == "row_wise"
        assert "align_spectra=False" in spec.attrs["history"]


@pytest.fixture(scope="module")
def flagged_segments(tmp_path_factory):
    """Simulated segments with hits, HOT pixels and NaN DO_NOT_USE pixels (on the trace too)."""
    ds, _ = xmiri.simulate.simulate(4, seed=11, n_cosmic_rays=12)
    ds = ds.load()
    rng = np.random.default_rng(4)
    idx = (rng.integers(0, 4, 40), rng.integers(0, 416, 40), rng.integers(20, 60, 40))
    data, dq = ds["data"].values.copy(), ds["dq"].values.copy()
    data[idx] = np.nan
    dq[idx] |= 1
    ds = ds.assign(data=ds["data"].copy(data=data), dq=ds["dq"].copy(data=dq))
    folder = tmp_path_factory.mktemp("flagged")
    return [str(p) for p in xmiri.simulate.write_segments(ds, folder, n_segments=2)]


@pytest.mark.reference
@pytest.mark.parametrize("chunks", [None, 1], ids=["eager", "chunked"])
def test_preset_equals_published_chain_on_flagged_frames(flagged_segments, chunks):
    ds = xmiri.open_rateints(flagged_segments, chunks=chunks)
    frames, spec = run_chain(ds, load_config(None, "exotic-miri-pipeline"))
    ref = reference(ds.load())
    assert_equals_published(spec.compute(), ref)
    np.testing.assert_array_equal(frames["dq"].values & 1, ds["dq"].values & 1)


def test_preset_is_the_published_keywords():
    kw = preset("exotic-miri-pipeline")
    assert kw["order"] == ("clean", "subtract", "clean")
    assert {k: kw["clean"][k] for k in PUBLISHED["clean_kwargs"]} == PUBLISHED["clean_kwargs"]
    assert {k: kw["subtract"].get(k) for k in PUBLISHED["subtract_kwargs"]} == PUBLISHED["subtract_kwargs"]
    assert {k: kw["extract"][k] for k in PUBLISHED["extract_kwargs"]} == PUBLISHED["extract_kwargs"]
    assert kw["extract"]["method"] == "box" and kw["align"] == {"align_spectra": False}


def test_reclean_needs_clean_first(tmp_path, rateints_path):
    config = tmp_path / "reduce.toml"
    config.write_text("[subtract]\nbefore_clean = true\nreclean = true\n")
    result = run_cli("reduce", rateints_path, "-o", tmp_path / "s.nc", "--config", config)
    assert result.returncode == 1
    assert "reclean" in result.stderr and "before_clean" in result.stderr
