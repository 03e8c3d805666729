"""xmiri.dq: flag masks, bit counts and DQ summaries."""
import subprocess
import sys

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp
from stdatamodels.jwst.datamodels import dqflags

from xmiri.dq import FLAG_NAMES, FLAGS, bit_counts, dq_mask, dq_summary, flag_names
from xmiri.exceptions import ParameterError
from tests.conftest import TaskCounter

pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning")


def exotic_miri_bits(value):
    """ExoTiC-MIRI 1.0.1's decoding of one DQ value (most significant bit first)."""
    return np.array(list(np.binary_repr(value))).astype(bool)


def reference_bits(value):
    """Bits of one value, least significant first, by Python integer arithmetic."""
    return [(int(value) >> b) & 1 == 1 for b in range(32)]


# ---------------------------------------------------------------- the table

def test_flags_come_from_stdatamodels():
    expected = {k: v for k, v in dqflags.pixel.items() if v}
    assert FLAGS == expected
    assert list(FLAGS.values()) == [2**b for b in range(32)]
    assert FLAG_NAMES[0] == "DO_NOT_USE" and FLAG_NAMES[11] == "HOT" and FLAG_NAMES[4] == "OUTLIER"


def test_table_read_from_the_source_is_stdatamodels_own():
    """The table parsed from stdatamodels' dqflags.py equals the imported module's, GOOD included."""
    from xmiri import dq

    assert dq._pixel_table_from_source() == dqflags.pixel


def test_table_is_read_without_importing_the_data_models():
    code = ("import sys, xmiri.dq as d; d.FLAGS, d.OUTLIER, d.dq_mask(['HOT']); "
            "print(sorted(m for m in sys.modules if m.startswith('stdatamodels')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("source", [
    "pixel = {'GOOD': 0, 'HOT': 2**11, 'X': 1 << 3 | 1}",  # accepted: the same table as eval
    "pixel = {'HOT': HOT_BIT}", "pixel = {'HOT': 2.0**11}", "pixel = {1: 2}", "pixel = make()",
    "other = {}", "pixel = {'A': 2**99}", "pixel = {",
], ids=["constants", "name", "float", "int-key", "call", "no-pixel", "huge", "syntax"])
def test_the_parser_takes_only_a_dict_of_integer_constants(tmp_path, monkeypatch, source):
    """A stdatamodels whose dqflags.py holds anything else gives None (then _tables imports)."""
    from xmiri import dq

    folder = tmp_path / "stdatamodels" / "jwst" / "datamodels"
    folder.mkdir(parents=True)
    (tmp_path / "stdatamodels" / "__init__.py").write_text("")
    (folder / "dqflags.py").write_text(source + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "stdatamodels" or m.startswith("stdatamodels.")]:
        monkeypatch.delitem(sys.modules, name)  # find_spec looks there first
    expected = {"GOOD": 0, "HOT": 2048, "X": 9} if "'GOOD'" in source else None
    assert dq._pixel_table_from_source() == expected


def test_without_the_source_the_module_is_imported(monkeypatch):
    from xmiri import dq

    monkeypatch.setattr(dq, "_pixel_table_from_source", lambda: None)
    dq._tables.cache_clear()
    try:
        assert dq._tables()[0] == {k: v for k, v in dqflags.pixel.items() if v}
    finally:
        dq._tables.cache_clear()


# ---------------------------------------------------------------- dq_mask

@pytest.mark.parametrize("value, expected", [
    ([0, 11], 1 + 2048), (["DO_NOT_USE", "HOT"], 1 + 2048), (["do_not_use", "Hot "], 2049),
    ([0, "HOT", 11], 2049), (5, 32), ("saturated", 2), ([], 0), (None, 0), ((31,), 2**31),
    (np.array([0, 1]), 3), ([np.int64(4)], 16), ("GOOD", 0),
], ids=["bits", "names", "case-insensitive", "mixed-repeated", "one-bit", "one-name", "empty",
        "none", "bit-31", "ndarray", "numpy-int", "good"])
def test_dq_mask(value, expected):
    assert dq_mask(value) == expected
    assert isinstance(dq_mask(value), int)


@pytest.mark.parametrize("value, pattern", [
    (["HOTT"], "unknown DQ flag name 'HOTT'"), ([32], "0-31, got 32"), ([-1], "0-31, got -1"),
    ([1.5], "1.5"), ([2.0], "2.0"), ([True], "True"), (object(), "object"), ([None], "None"),
], ids=["unknown-name", "bit-32", "negative", "float", "integral-float", "bool", "object",
        "none-item"])
def test_dq_mask_refuses(value, pattern):
    with pytest.raises(ParameterError, match=pattern):
        dq_mask(value)


def test_flag_names():
    assert flag_names(0) == []
    assert flag_names(2**0 + 2**11 + 2**31) == ["DO_NOT_USE", "HOT", "REFERENCE_PIXEL"]


# ---------------------------------------------------------------- decoding

HAND_MADE = [0, 1, 2, 5, 2048, 2049, 2**31, 2**31 + 2**20 + 2**9, 2**32 - 1]


@pytest.mark.parametrize("value", HAND_MADE, ids=[f"v{v}" for v in HAND_MADE])
def test_bit_counts_on_one_value(value):
    counts = bit_counts(np.array([value], dtype=np.uint32))
    assert counts.tolist() == [int(b) for b in reference_bits(value)]


def test_exotic_miri_decoding_is_wrong_under_numpy2():
    """ExoTiC-MIRI's string decoding marks every bit set; xmiri's integer tests do not."""
    value = 2**11 + 1  # HOT | DO_NOT_USE -> 0b100000000001
    exotic = exotic_miri_bits(value)[::-1]  # least significant first
    if int(np.__version__.split(".")[0]) >= 2:
        assert exotic.all()  # '0' -> True: all 12 digits read as set
    correct = np.array(reference_bits(value)[:exotic.size])
    assert correct.sum() == 2
    assert bit_counts([value])[:12].tolist() == correct.astype(int).tolist()
    # masking bit 5 (PERSISTENCE) must not catch this pixel
    assert (np.uint32(value) & np.uint32(dq_mask([5]))) == 0


def test_bit_counts_shapes_and_types():
    dq = np.array([[1, 3], [2**31, 0]], dtype=np.uint32)
    assert bit_counts(dq)[[0, 1, 31]].tolist() == [2, 1, 1]
    assert bit_counts(dq.astype(np.int64)).tolist() == bit_counts(dq).tolist()
    negative = np.array([-1], dtype=np.int32)  # int32 bit pattern: every bit set
    assert bit_counts(negative).tolist() == [1] * 32
    assert bit_counts(np.zeros((0,), np.uint32)).tolist() == [0] * 32
    with pytest.raises(ParameterError, match="integers"):
        bit_counts(np.array([1.0]))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.uint32, hnp.array_shapes(max_dims=3, max_side=6)))
def test_bit_counts_property(values):
    expected = np.zeros(32, int)
    for v in values.ravel().tolist():
        expected += np.array(reference_bits(v), dtype=int)
    assert bit_counts(values).tolist() == expected.tolist()


# ---------------------------------------------------------------- dq_summary

def test_dq_summary_layout():
    dq = xr.DataArray(np.array([[0, 1], [2049, 4]], np.uint32), dims=("row", "col"))
    s = dq_summary(dq)
    assert s.sizes == {"flag": 32}
    assert s["flag"].values.tolist() == list(FLAG_NAMES)
    assert s["bit"].values.tolist() == list(range(32))
    assert s["value"].values.tolist() == [2**b for b in range(32)]
    assert int(s["n_pixels"].sel(flag="DO_NOT_USE")) == 2
    assert int(s["n_pixels"].sel(flag="HOT")) == 1
    assert int(s["n_pixels"].sel(flag="JUMP_DET")) == 1
    assert float(s["fraction"].sel(flag="DO_NOT_USE")) == 0.5
    assert int(s["n_pixels"].sum()) == 4


def test_dq_summary_is_lazy_on_dask():
    values = np.random.default_rng(3).integers(0, 2**32, size=(6, 10, 8), dtype=np.uint32)
    dq = xr.DataArray(da.from_array(values, chunks=(2, 10, 8)), dims=("integration", "row", "col"))
    with TaskCounter() as tasks:
        s = dq_summary(dq)
    assert tasks.n == 0
    assert isinstance(s["n_pixels"].data, da.Array)
    eager = dq_summary(xr.DataArray(values))
    xr.testing.assert_identical(s.compute(), eager)


@pytest.mark.parametrize("which", ["rateints", "calints"], ids=str)
def test_dq_summary_on_shared_files(rateints_path, calints_path, which):
    from xmiri.io import open_rateints

    path = {"rateints": rateints_path, "calints": calints_path}[which]
    s = dq_summary(open_rateints(path, chunks=1)["dq"]).compute()
    dq = fits.getdata(path, "DQ")
    assert dq.dtype == np.uint32  # astropy applies BZERO
    # independent count: decode each distinct value with Python integers
    values, counts = np.unique(dq, return_counts=True)
    expected = np.zeros(32, int)
    for v, n in zip(values.tolist(), counts.tolist()):
        expected += n * np.array(reference_bits(v), dtype=int)
    assert s["n_pixels"].values.tolist() == expected.tolist()
    assert s["n_pixels"].values.tolist() == bit_counts(dq).tolist()
    np.testing.assert_allclose(s["fraction"].values, expected / dq.size)
    assert int(s["n_pixels"].sel(flag="REFERENCE_PIXEL")) > 0  # bit 31 survives BZERO


def test_dq_summary_round_trips(tmp_path):
    from xmiri.io import to_netcdf

    s = dq_summary(xr.DataArray(np.array([0, 1, 2**31], np.uint32)))
    to_netcdf(s, tmp_path / "s.nc")
    xr.testing.assert_identical(xr.open_dataset(tmp_path / "s.nc").load(), s)
