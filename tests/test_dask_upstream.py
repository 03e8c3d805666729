"""dask behaviour that xmiri works around (xmiri.steps._blockwise): these tests fail once dask changes it.

``dask.compute(collection)`` of a collection holding an array ``a`` and an
array ``b`` computed from ``a`` alone loses ``a``'s keys: the optimiser fuses
``a``'s layer into ``b``'s, and the task that finalises the collection still
asks for ``a``'s keys ("Missing dependency").  ``xarray.Dataset`` is such a
collection.  xmiri's steps build their outputs with one blockwise layer per
kernel (:func:`xmiri.steps._blockwise.gufunc`), whose Datasets do not meet
it (``tests/test_blockwise.py``).  When the first test below fails, dask has
fixed the behaviour: check whether ``apply_ufunc(..., dask="parallelized")``
can replace ``gufunc`` (``gufunc`` also avoids apply_gufunc's identity
transpose layer, the second test).
"""
import dask
import dask.array as da
import pytest
import xarray as xr
from dask.highlevelgraph import HighLevelGraph


class Pair:
    """A minimal dask collection of several arrays, built as ``xarray.Dataset`` builds its own."""

    def __init__(self, *arrays):
        self.arrays = arrays

    def __dask_graph__(self):
        return HighLevelGraph.merge(*[a.__dask_graph__() for a in self.arrays])

    def __dask_keys__(self):
        return [a.__dask_keys__() for a in self.arrays]

    def __dask_layers__(self):
        return sum((a.__dask_layers__() for a in self.arrays), ())

    def __dask_tokenize__(self):
        return tuple(a.name for a in self.arrays)

    __dask_optimize__ = staticmethod(da.Array.__dask_optimize__)
    __dask_scheduler__ = staticmethod(da.Array.__dask_scheduler__)

    def __dask_postcompute__(self):
        return list, ()


def _a_and_b():
    a = da.ones((4, 3), chunks=(2, 3)) * 2  # a layer of its own
    return a, a + 1  # b: the only other layer using a


@pytest.mark.parametrize("wrap", [Pair, lambda a, b: xr.Dataset({"a": (("i", "c"), a), "b": (("i", "c"), b)})],
                         ids=["dask-collection", "xarray-Dataset"])
def test_dask_still_drops_the_keys_of_a_fused_array(wrap):
    a, b = _a_and_b()
    assert [float(x.sum()) for x in dask.compute(a, b)] == [24.0, 36.0]  # the arrays themselves are fine
    try:
        dask.compute(wrap(a, b))
    except ValueError as err:
        assert "Missing dependency" in str(err)
    else:
        pytest.fail(f"dask {dask.__version__} computes the collection now: the dropped-keys workaround in "
                    "xmiri.steps._blockwise may no longer be needed (see this module's docstring)")


def test_apply_gufunc_still_adds_an_identity_transpose_layer():
    x = da.ones((4, 3), chunks=(2, 3))
    y = da.apply_gufunc(lambda b: b.sum(-1), "(c)->()", x, output_dtypes=float)
    assert any("transpose" in str(name) for name in y.__dask_graph__().layers), (
        f"dask {dask.__version__} no longer adds the transpose layer: see this module's docstring")


def test_dask_still_cannot_optimise_a_clone_of_from_delayed_chunks():
    # dask/dask#12455: clone renames a layer's keys but not the keys inside its Task values,
    # and the task-spec fuser then sees two outputs.  xmiri.steps._common.over_sample falls back
    # to the arrays as they are when it meets this; once this test fails, the fallback can go.
    import numpy as np
    from dask.graph_manipulation import clone

    x = da.from_delayed(dask.delayed(np.ones)(3), (3,), dtype=float)
    try:
        dask.compute(clone(x, seed=1))
    except ValueError as err:
        assert "Cannot fuse tasks with multiple outputs" in str(err)
    else:
        pytest.fail("dask now clones from_delayed chunks: over_sample's fallback may go")
