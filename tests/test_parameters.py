"""Hostile parameters: every accessor argument is checked before any work.

Issue "Hostile inputs and faults", part 2.  Every bad argument of
``ds.lrs.clean / subtract / extract / align / light_curves`` must raise
:class:`xmiri.exceptions.ParameterError` (a ``ValueError``) whose message
names the parameter and the offending value, and must do so before any dask
task has run (checked with a :class:`dask.callbacks.Callback` counting
``_pretask`` on integration-chunked input).  Missing variables raise
:class:`xmiri.exceptions.MissingVariableError` naming the variable.

Every case also runs on numpy-backed (eager) input, where the check must
raise the same error rather than a kernel's error from inside
``apply_ufunc``.
"""
import numpy as np
import pytest
import xarray as xr

import xmiri.accessor  # noqa: F401  (registers Dataset.lrs)
from xmiri.exceptions import MissingVariableError, ParameterError, XmiriError


from tests.conftest import N_COL, N_INT, N_ROW, TaskCounter, make_frames

# argument checks extract raw frames
pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.SkyNotSubtractedWarning")


# --------------------------------------------------------------------------
# synthetic input
# --------------------------------------------------------------------------



@pytest.fixture(scope="module")
def eager_frames():
    return make_frames()


@pytest.fixture(scope="module")
def lazy_frames(eager_frames):
    return eager_frames.chunk({"integration": 2})


@pytest.fixture(params=["dask", "numpy"])
def backend(request):
    return request.param


@pytest.fixture
def frames(backend, eager_frames, lazy_frames):
    return lazy_frames if backend == "dask" else eager_frames


@pytest.fixture(scope="module")
def lazy_spec(lazy_frames):
    with TaskCounter() as counter:
        spec = lazy_frames.lrs.extract()
    assert counter.n == 0, "extract on chunked frames must stay lazy"
    return spec


@pytest.fixture(scope="module")
def eager_spec(eager_frames):
    return eager_frames.lrs.extract()


@pytest.fixture
def spec(backend, eager_spec, lazy_spec):
    return lazy_spec if backend == "dask" else eager_spec


def call_step(ds, step, kwargs):
    return getattr(ds.lrs, step)(**kwargs)


def assert_refused_before_work(ds, step, kwargs, error, expected):
    """Call the step: ``error`` must be raised, no dask task run, ``expected`` named."""
    with TaskCounter() as counter:
        with pytest.raises(error) as info:
            call_step(ds, step, kwargs)
    assert counter.n == 0, f"{counter.n} dask task(s) ran before {step} refused {kwargs!r}"
    message = str(info.value)
    for piece in expected:
        assert piece in message, f"{piece!r} not in the message {message!r}"
    assert isinstance(info.value, XmiriError)
    return info.value


# --------------------------------------------------------------------------
# the counter itself
# --------------------------------------------------------------------------
def test_task_counter_counts(lazy_frames):
    """The no-work assertions below are not vacuous: computing does run tasks."""
    with TaskCounter() as counter:
        sub = lazy_frames.lrs.subtract()
    assert counter.n == 0
    with TaskCounter() as counter:
        sub["data"].compute()
    assert counter.n > 0


def test_errors_are_value_and_key_errors():
    assert issubclass(ParameterError, ValueError)
    assert issubclass(MissingVariableError, KeyError)
    assert issubclass(ParameterError, XmiriError) and issubclass(MissingVariableError, XmiriError)


# --------------------------------------------------------------------------
# bad values, frame steps (clean, subtract, extract)
# --------------------------------------------------------------------------
def case(step, kwargs, expected, id, marks=()):
    return pytest.param(step, kwargs, expected, id=id, marks=marks)



FRAME_CASES = [
    # ---- clean: window_heights
    case("clean", dict(window_heights=[0]), ["window_heights", "0"], "clean-window-zero"),
    case("clean", dict(window_heights=[-40]), ["window_heights", "-40"], "clean-window-negative"),
    case("clean", dict(window_heights=[40, 0]), ["window_heights[1]", "0"], "clean-window-second-zero"),
    case("clean", dict(window_heights=[2.5]), ["window_heights", "2.5"], "clean-window-fraction"),
    case("clean", dict(window_heights=40.5), ["window_heights", "40.5"], "clean-window-scalar-fraction"),
    case("clean", dict(window_heights=[]), ["window_heights", "empty"], "clean-window-empty"),
    case("clean", dict(window_heights=()), ["window_heights", "empty"], "clean-window-empty-tuple"),
    case("clean", dict(window_heights=None), ["window_heights", "None"], "clean-window-none"),
    case("clean", dict(window_heights=[True]), ["window_heights", "True"], "clean-window-bool"),
    case("clean", dict(window_heights=[np.nan]), ["window_heights", "nan"], "clean-window-nan"),
    case("clean", dict(window_heights="40"), ["window_heights", "'40'"], "clean-window-string"),
    # ---- clean: poly_order
    case("clean", dict(poly_order=-1), ["poly_order", "-1"], "clean-order-negative"),
    case("clean", dict(window_heights=[40], poly_order=40), ["poly_order", "40"], "clean-order-eq-window"),
    case("clean", dict(window_heights=[40, 8], poly_order=9), ["poly_order", "9", "8"],
         "clean-order-above-smallest-window"),
    case("clean", dict(poly_order=2.5), ["poly_order", "2.5"], "clean-order-fraction"),
    case("clean", dict(poly_order=None), ["poly_order", "None"], "clean-order-none"),
    case("clean", dict(poly_order="4"), ["poly_order", "4"], "clean-order-string"),
    # ---- clean: outlier_threshold
    case("clean", dict(outlier_threshold=0), ["outlier_threshold", "0"], "clean-threshold-zero"),
    case("clean", dict(outlier_threshold=-3.0), ["outlier_threshold", "-3"], "clean-threshold-negative"),
    case("clean", dict(outlier_threshold=np.nan), ["outlier_threshold", "nan"], "clean-threshold-nan"),
    case("clean", dict(outlier_threshold=np.inf), ["outlier_threshold", "inf"], "clean-threshold-inf"),
    case("clean", dict(outlier_threshold="abc"), ["outlier_threshold", "abc"], "clean-threshold-string"),
    case("clean", dict(outlier_threshold="4.0"), ["outlier_threshold", "4.0"], "clean-threshold-numeric-string"),
    case("clean", dict(outlier_threshold=None), ["outlier_threshold", "None"], "clean-threshold-none"),
    case("clean", dict(outlier_threshold=True), ["outlier_threshold", "True"], "clean-threshold-bool"),
    # ---- clean: dq_bits_to_mask (xmiri.dq.dq_mask)
    case("clean", dict(dq_bits_to_mask=["NOT_A_FLAG"]), ["dq_bits_to_mask", "NOT_A_FLAG"],
         "clean-dq-unknown-name"),
    case("clean", dict(dq_bits_to_mask=[0, 32]), ["dq_bits_to_mask", "32"], "clean-dq-bit-32"),
    case("clean", dict(dq_bits_to_mask=[-1]), ["dq_bits_to_mask", "-1"], "clean-dq-bit-negative"),
    case("clean", dict(dq_bits_to_mask=[2.5]), ["dq_bits_to_mask", "2.5"], "clean-dq-bit-fraction"),
    case("clean", dict(dq_bits_to_mask=[True]), ["dq_bits_to_mask", "True"], "clean-dq-bit-bool"),
    case("clean", dict(dq_bits_to_mask="HOTT"), ["dq_bits_to_mask", "HOTT"], "clean-dq-name-scalar-typo"),
    case("clean", dict(dq_bits_to_mask=[None]), ["dq_bits_to_mask", "None"], "clean-dq-none-item"),
    # ---- clean: spatial profile indices, aperture_center
    case("clean", dict(spatial_profile_left_idx=47, spatial_profile_right_idx=26),
         ["spatial_profile_right_idx", "26", "47"], "clean-profile-reversed"),
    case("clean", dict(spatial_profile_left_idx=30, spatial_profile_right_idx=30),
         ["spatial_profile_right_idx", "30"], "clean-profile-empty"),
    case("clean", dict(spatial_profile_left_idx=-1), ["spatial_profile_left_idx", "-1"],
         "clean-profile-left-negative"),
    case("clean", dict(spatial_profile_right_idx=80), ["spatial_profile_right_idx", "80"],
         "clean-profile-right-outside"),
    case("clean", dict(spatial_profile_left_idx=72, spatial_profile_right_idx=80),
         ["spatial_profile_left_idx", "72"], "clean-profile-both-outside"),
    case("clean", dict(spatial_profile_left_idx=26.5), ["spatial_profile_left_idx", "26.5"],
         "clean-profile-fraction"),
    case("clean", dict(aperture_center=72), ["aperture_center", "72"], "clean-aperture-center-outside"),
    case("clean", dict(aperture_center=-1), ["aperture_center", "-1"],
         "clean-aperture-center-negative"),
    # ---- subtract: method
    case("subtract", dict(method="median"), ["method", "median", "constant", "row_wise", "col_wise"],
         "subtract-method-unknown"),
    case("subtract", dict(method=None), ["method", "None", "constant", "row_wise", "col_wise"],
         "subtract-method-none"),
    case("subtract", dict(method=["row_wise"]), ["method", "row_wise"], "subtract-method-list"),
    # ---- subtract: background column ranges
    case("subtract", dict(bkg_col_left_start=17, bkg_col_left_end=8), ["bkg_col_left_end", "8", "17"],
         "subtract-left-reversed"),
    case("subtract", dict(bkg_col_left_start=8, bkg_col_left_end=8), ["bkg_col_left_end", "8"],
         "subtract-left-empty"),
    case("subtract", dict(bkg_col_left_start=-1), ["bkg_col_left_start", "-1"], "subtract-left-negative"),
    case("subtract", dict(bkg_col_right_start=72, bkg_col_right_end=72), ["bkg_col_right_start", "72"],
         "subtract-right-empty-at-edge"),
    case("subtract", dict(bkg_col_right_end=80), ["bkg_col_right_end", "80"], "subtract-right-beyond-72"),
    case("subtract", dict(bkg_col_right_start=72, bkg_col_right_end=80), ["bkg_col_right", "72"],
         "subtract-right-entirely-beyond"),
    case("subtract", dict(bkg_col_right_start=70, bkg_col_right_end=60), ["bkg_col_right_end", "60", "70"],
         "subtract-right-reversed"),
    case("subtract", dict(bkg_col_left_start=8.5), ["bkg_col_left_start", "8.5"], "subtract-left-fraction"),
    case("subtract", dict(bkg_col_left_end=None), ["bkg_col_left_end", "None"], "subtract-left-none"),
    case("subtract", dict(method="col_wise", bkg_col_left_start=8, bkg_col_left_end=17,
                          bkg_col_right_start=8, bkg_col_right_end=17),
         ["bkg_col", "8", "17"], "subtract-colwise-same-regions"),
    # ---- subtract: smoothing_length
    case("subtract", dict(smoothing_length=0), ["smoothing_length", "0"], "subtract-smoothing-zero"),
    case("subtract", dict(smoothing_length=-3), ["smoothing_length", "-3"], "subtract-smoothing-negative"),
    case("subtract", dict(smoothing_length=2.5), ["smoothing_length", "2.5"], "subtract-smoothing-fraction"),
    case("subtract", dict(smoothing_length="5"), ["smoothing_length", "5"], "subtract-smoothing-string"),
    case("subtract", dict(smoothing_length=np.nan), ["smoothing_length", "nan"], "subtract-smoothing-nan"),
    # ---- extract: method names
    case("extract", dict(method="horne"), ["method", "horne", "box", "optimal"], "extract-method-unknown"),
    case("extract", dict(method=None), ["method", "None", "box", "optimal"], "extract-method-none"),
    case("extract", dict(trace_position="fit"), ["trace_position", "fit", "constant", "gaussian_fits"],
         "extract-trace-position-unknown"),
    # ---- extract: apertures
    case("extract", dict(aperture_center=2, aperture_left_width=4), ["aperture_center=2", "aperture_left_width=4"],
         "extract-aperture-left-outside"),
    case("extract", dict(aperture_center=70, aperture_right_width=4),
         ["aperture_center=70", "aperture_right_width=4"], "extract-aperture-right-outside"),
    case("extract", dict(aperture_center=-1), ["aperture_center", "-1"], "extract-center-negative"),
    case("extract", dict(aperture_center=72), ["aperture_center", "72"], "extract-center-beyond"),
    case("extract", dict(aperture_center=36.5), ["aperture_center", "36.5"], "extract-center-fraction"),
    case("extract", dict(aperture_left_width=-1), ["aperture_left_width", "-1"], "extract-left-width-negative"),
    case("extract", dict(aperture_right_width=-2), ["aperture_right_width", "-2"],
         "extract-right-width-negative"),
    case("extract", dict(aperture_right_width=2.5), ["aperture_right_width", "2.5"],
         "extract-right-width-fraction"),
    case("extract", dict(method="optimal", trace_position="gaussian_fits", aperture_left_width=-3),
         ["aperture_left_width", "-3"], "extract-gaussian-width-negative"),
    case("extract", dict(trace_position="gaussian_fits", aperture_left_width=100),
         ["aperture_left_width", "100"], "extract-gaussian-aperture-wider-than-frame"),
    # ---- extract: trace_rows / trace_cols / sigma_guess
    case("extract", dict(trace_rows=(390, 200)), ["trace_rows", "390", "200"], "extract-trace-rows-reversed"),
    case("extract", dict(trace_rows=(200, 200)), ["trace_rows", "200"], "extract-trace-rows-empty"),
    case("extract", dict(trace_rows=(200, 500)), ["trace_rows", "500"], "extract-trace-rows-outside"),
    case("extract", dict(trace_rows=(-5, 300)), ["trace_rows", "-5"], "extract-trace-rows-negative"),
    case("extract", dict(trace_rows=(200,)), ["trace_rows", "(200,)"], "extract-trace-rows-short"),
    case("extract", dict(trace_rows=None), ["trace_rows", "None"], "extract-trace-rows-none"),
    case("extract", dict(trace_cols=(68, 12)), ["trace_cols", "68", "12"], "extract-trace-cols-reversed"),
    case("extract", dict(trace_cols=(12, 80)), ["trace_cols", "80"], "extract-trace-cols-outside"),
    case("extract", dict(trace_cols=(12.5, 60)), ["trace_cols", "12.5"], "extract-trace-cols-fraction"),
    case("extract", dict(sigma_guess=0), ["sigma_guess", "0"], "extract-sigma-guess-zero"),
    case("extract", dict(sigma_guess=-1.0), ["sigma_guess", "-1"], "extract-sigma-guess-negative"),
    case("extract", dict(sigma_guess=np.nan), ["sigma_guess", "nan"], "extract-sigma-guess-nan"),
    # ---- extract: readnoise (optimal only)
    case("extract", dict(method="optimal", readnoise=-1.0), ["readnoise", "-1"], "extract-readnoise-negative"),
    case("extract", dict(method="optimal", readnoise=np.nan), ["readnoise", "nan"], "extract-readnoise-nan"),
    case("extract", dict(method="optimal", readnoise=np.inf), ["readnoise", "inf"], "extract-readnoise-inf"),
    case("extract", dict(method="optimal", horne_q=0), ["horne_q", "0"], "extract-horne-q-zero"),
    case("extract", dict(method="optimal", horne_q=-38.0), ["horne_q", "-38"], "extract-horne-q-negative"),
    case("extract", dict(method="optimal", horne_q="38"), ["horne_q", "38"], "extract-horne-q-string"),
    case("extract", dict(method="optimal", readnoise=np.ones((3, 3))), ["readnoise", "(3, 3)"],
         "extract-readnoise-wrong-shape"),
    case("extract", dict(method="optimal", readnoise=np.ones((N_ROW, N_COL - 1))),
         ["readnoise", f"({N_ROW}, {N_COL - 1})"], "extract-readnoise-one-column-short"),
    case("extract", dict(method="optimal", readnoise=np.ones((2, N_INT, N_ROW, N_COL))), ["readnoise", "(2, "],
         "extract-readnoise-4d"),
    case("extract", dict(method="optimal", readnoise=np.full((N_ROW, N_COL), -1.0)), ["readnoise", "-1"],
         "extract-readnoise-negative-array"),
    case("extract", dict(method="optimal", readnoise=np.array(-1.0)), ["readnoise", "-1"],
         "extract-readnoise-negative-0d-array"),
    case("extract", dict(method="optimal", readnoise="abc"), ["readnoise", "abc"], "extract-readnoise-string"),
    case("extract", dict(method="optimal", readnoise=xr.DataArray(np.ones((5, 5)), dims=("row", "col"))),
         ["readnoise", "(5, 5)"], "extract-readnoise-dataarray-wrong-shape"),
]


@pytest.mark.parametrize("step, kwargs, expected", FRAME_CASES)
def test_frame_step_refuses_bad_value(frames, step, kwargs, expected):
    assert_refused_before_work(frames, step, kwargs, ParameterError, expected)


DQ_MASK_CASES = [
    pytest.param(["NOT_A_FLAG"], "NOT_A_FLAG", id="unknown-name"),
    pytest.param([32], "32", id="bit-32"),
    pytest.param([-1], "-1", id="bit-negative"),
    pytest.param([2.5], "2.5", id="bit-fraction"),
    pytest.param(2**40, str(2**40), id="scalar-huge"),
    pytest.param([True], "True", id="bool"),
    pytest.param([[0, 11]], "[0, 11]", id="nested-list"),
]


@pytest.mark.parametrize("bits, shown", DQ_MASK_CASES)
def test_dq_mask_refuses_bad_bits(bits, shown):
    """The checks clean relies on, in :func:`xmiri.dq.dq_mask` itself."""
    from xmiri.dq import dq_mask

    with pytest.raises(ParameterError) as info:
        dq_mask(bits)
    assert "dq_bits_to_mask" in str(info.value) and shown in str(info.value)


# --------------------------------------------------------------------------
# bad values, spectra steps (align, light_curves)
# --------------------------------------------------------------------------
SPEC_CASES = [
    # ---- align: max_shift
    case("align", dict(max_shift=0), ["max_shift", "0"], "align-max-shift-zero"),
    case("align", dict(max_shift=-1.0), ["max_shift", "-1"], "align-max-shift-negative"),
    case("align", dict(max_shift=np.nan), ["max_shift", "nan"], "align-max-shift-nan"),
    case("align", dict(max_shift=np.inf), ["max_shift", "inf"], "align-max-shift-inf"),
    case("align", dict(max_shift="abc"), ["max_shift", "abc"], "align-max-shift-string"),
    case("align", dict(max_shift=None), ["max_shift", "None"], "align-max-shift-none"),
    case("align", dict(max_shift=100.0), ["max_shift", "100"], "align-max-shift-longer-than-profile"),
    # ---- light_curves: wavelength_bins
    case("light_curves", dict(wavelength_bins=0), ["wavelength_bins", "0"], "lc-bins-zero"),
    case("light_curves", dict(wavelength_bins=-3), ["wavelength_bins", "-3"], "lc-bins-negative"),
    case("light_curves", dict(wavelength_bins=2.5), ["wavelength_bins", "2.5"], "lc-bins-fraction"),
    case("light_curves", dict(wavelength_bins=None), ["wavelength_bins", "None"], "lc-bins-none"),
    case("light_curves", dict(wavelength_bins=True), ["wavelength_bins", "True"], "lc-bins-bool"),
    case("light_curves", dict(wavelength_bins=[]), ["wavelength_bins", "[]"], "lc-edges-empty"),
    case("light_curves", dict(wavelength_bins=[7.0]), ["wavelength_bins", "7.0"], "lc-edges-single"),
    case("light_curves", dict(wavelength_bins=[12.0, 5.0]), ["wavelength_bins", "12.0"], "lc-edges-decreasing"),
    case("light_curves", dict(wavelength_bins=[5.0, 7.0, 7.0, 9.0]), ["wavelength_bins", "7.0"],
         "lc-edges-repeated"),
    case("light_curves", dict(wavelength_bins=[5.0, np.nan, 12.0]), ["wavelength_bins", "nan"], "lc-edges-nan"),
    case("light_curves", dict(wavelength_bins=[[5.0, 6.0], [7.0, 8.0]]), ["wavelength_bins", "5.0"],
         "lc-edges-2d"),
    case("light_curves", dict(wavelength_bins=["5", "x"]), ["wavelength_bins", "x"], "lc-edges-strings"),
    case("light_curves", dict(wavelength_bins=10**12), ["wavelength_bins", str(10**12)], "lc-bins-huge"),
    # ---- light_curves: wavelength_range
    case("light_curves", dict(wavelength_range=(12.0, 5.0)), ["wavelength_range", "12.0"], "lc-range-reversed"),
    case("light_curves", dict(wavelength_range=(5.0, 5.0)), ["wavelength_range", "5.0"], "lc-range-empty"),
    case("light_curves", dict(wavelength_range=(5.0,)), ["wavelength_range", "5.0"], "lc-range-short"),
    case("light_curves", dict(wavelength_range=(5.0, 8.0, 12.0)), ["wavelength_range", "8.0"], "lc-range-long"),
    case("light_curves", dict(wavelength_range=(5.0, np.nan)), ["wavelength_range", "nan"], "lc-range-nan"),
    case("light_curves", dict(wavelength_range=(5.0, np.inf)), ["wavelength_range", "inf"], "lc-range-inf"),
    case("light_curves", dict(wavelength_range=None), ["wavelength_range", "None"], "lc-range-none"),
    case("light_curves", dict(wavelength_range="abc"), ["wavelength_range", "abc"], "lc-range-string"),
    # ---- light_curves: clipping
    case("light_curves", dict(clip_sigma=0), ["clip_sigma", "0"], "lc-clip-sigma-zero"),
    case("light_curves", dict(clip_sigma=-2.0), ["clip_sigma", "-2"], "lc-clip-sigma-negative"),
    case("light_curves", dict(clip_sigma=np.nan), ["clip_sigma", "nan"], "lc-clip-sigma-nan"),
    case("light_curves", dict(clip_sigma=3.0, clip_window=0), ["clip_window", "0"], "lc-clip-window-zero"),
    case("light_curves", dict(clip_sigma=3.0, clip_window=2.5), ["clip_window", "2.5"], "lc-clip-window-fraction"),
]


@pytest.mark.parametrize("step, kwargs, expected", SPEC_CASES)
def test_spectra_step_refuses_bad_value(backend, spec, step, kwargs, expected):
    assert_refused_before_work(spec, step, kwargs, ParameterError, expected)


def test_light_curves_checks_clipping_before_fitting_traces(lazy_frames):
    """With gaussian_fits the wavelength coordinate depends on the trace fits: all of them run."""
    spec = lazy_frames.lrs.extract(trace_position="gaussian_fits")
    assert_refused_before_work(spec, "light_curves", dict(clip_sigma=-1.0), ParameterError,
                               ["clip_sigma", "-1"])


# --------------------------------------------------------------------------
# valid but unusual values are accepted (the checks are not too strict)
# --------------------------------------------------------------------------
ACCEPTED = [
    pytest.param("clean", dict(window_heights=40, poly_order=0), id="clean-scalar-window-order-0"),
    pytest.param("clean", dict(window_heights=[1000]), id="clean-window-taller-than-frame"),
    pytest.param("clean", dict(window_heights=[np.int64(40)], poly_order=np.int32(3)), id="clean-numpy-ints"),
    pytest.param("clean", dict(window_heights=[40.0]), id="clean-integral-float"),
    pytest.param("clean", dict(dq_bits_to_mask=[]), id="clean-dq-empty"),
    pytest.param("clean", dict(dq_bits_to_mask=["DO_NOT_USE", "hot", 31]), id="clean-dq-names-and-bits"),
    pytest.param("clean", dict(spatial_profile_left_idx=0, spatial_profile_right_idx=72), id="clean-profile-full"),
    pytest.param("subtract", dict(bkg_col_left_start=0, bkg_col_left_end=1, bkg_col_right_start=71,
                                  bkg_col_right_end=72), id="subtract-one-column-regions"),
    pytest.param("subtract", dict(method="col_wise", smoothing_length=1), id="subtract-smoothing-1"),
    pytest.param("extract", dict(aperture_center=4, aperture_left_width=4), id="extract-aperture-at-left-edge"),
    pytest.param("extract", dict(aperture_center=67, aperture_right_width=4), id="extract-aperture-at-right-edge"),
    pytest.param("extract", dict(aperture_left_width=0, aperture_right_width=0), id="extract-one-column"),
    pytest.param("extract", dict(method="optimal", readnoise=0.0), id="extract-readnoise-zero"),
    pytest.param("extract", dict(method="optimal", readnoise=np.full((N_ROW, N_COL), 2.0)), id="extract-readnoise-map"),
    pytest.param("extract", dict(trace_rows=(0, N_ROW), trace_cols=(0, N_COL)), id="extract-trace-full-frame"),
]


@pytest.mark.parametrize("step, kwargs", ACCEPTED)
def test_unusual_valid_values_are_accepted_lazily(lazy_frames, step, kwargs):
    with TaskCounter() as counter:
        out = call_step(lazy_frames, step, kwargs)
    assert counter.n == 0
    assert isinstance(out, xr.Dataset)


# --------------------------------------------------------------------------
# missing variables
# --------------------------------------------------------------------------
def _without(ds, *names):
    return ds.drop_vars(list(names))


MISSING_FRAMES = [
    pytest.param("clean", {}, ["dq"], id="clean-no-dq"),
    pytest.param("clean", {}, ["data"], id="clean-no-data"),
    pytest.param("subtract", {}, ["data"], id="subtract-no-data"),
    pytest.param("extract", {}, ["err"], id="extract-box-no-err"),
    pytest.param("extract", {}, ["data"], id="extract-box-no-data"),
    pytest.param("extract", dict(method="optimal"), ["err"], id="extract-optimal-no-err"),
    pytest.param("extract", dict(method="optimal"), ["var_rnoise"], id="extract-optimal-no-var-rnoise"),
]


@pytest.mark.parametrize("step, kwargs, drop", MISSING_FRAMES)
def test_frame_step_names_missing_variable(frames, step, kwargs, drop):
    error = assert_refused_before_work(_without(frames, *drop), step, kwargs, MissingVariableError, drop)
    assert isinstance(error, KeyError)


def test_clean_needs_only_data_and_dq(frames):
    """Without err the error rules (err_threshold, repair_errors) are skipped, as documented."""
    out = _without(frames, "err").lrs.clean()
    assert "err" not in out and "horne_q" not in out
    np.testing.assert_array_equal(out["data"].values, frames.lrs.clean(err_threshold=None)["data"].values)


def test_optimal_without_var_rnoise_mentions_readnoise(frames):
    """The way out (pass ``readnoise=``) is named too."""
    assert_refused_before_work(_without(frames, "var_rnoise"), "extract", dict(method="optimal"),
                               MissingVariableError, ["var_rnoise", "readnoise"])


def test_optimal_with_readnoise_needs_no_var_rnoise(lazy_frames):
    spec = _without(lazy_frames, "var_rnoise").lrs.extract(method="optimal", readnoise=0.5,
                                                           horne_q=38.0)
    assert "flux" in spec


def test_horne_q_auto_names_the_variances_it_needs(frames):
    """Q read off the file needs var_poisson and var_rnoise; the message says what to pass instead."""
    with pytest.raises(MissingVariableError, match="horne_q=None"):
        _without(frames, "var_poisson").lrs.extract(method="optimal")


MISSING_SPECTRA = [
    pytest.param("align", ["flux"], id="align-no-flux"),
    pytest.param("align", ["flux_error"], id="align-no-flux-error"),
    pytest.param("align", ["cross_dispersion_profile"], id="align-no-cross-dispersion-profile"),
    pytest.param("light_curves", ["flux"], id="lc-no-flux"),
    pytest.param("light_curves", ["flux_error"], id="lc-no-flux-error"),
    pytest.param("light_curves", ["wavelength"], id="lc-no-wavelength"),
]


@pytest.mark.parametrize("step, drop", MISSING_SPECTRA)
def test_spectra_step_names_missing_variable(spec, step, drop):
    assert_refused_before_work(_without(spec, *drop), step, {}, MissingVariableError, drop)


def test_missing_integration_dimension(eager_frames):
    frame = eager_frames.isel(integration=0, drop=True)
    assert_refused_before_work(frame, "subtract", {}, ParameterError, ["integration"])
