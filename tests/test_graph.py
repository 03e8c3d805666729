"""xmiri._graph.optimize: the same results from fewer tasks."""
import operator

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from dask.core import flatten

import xmiri
from xmiri._graph import _inline_cheap, inlined_cheap_tasks, optimize

Alias = pytest.importorskip("dask._task_spec").Alias


def n_tasks(*arrays, optimizer=None):
    """Tasks the graph of `arrays` has after `optimizer` (dask's own by default)."""
    keys = [a.__dask_keys__() for a in arrays]
    merged = dask.highlevelgraph.HighLevelGraph.merge(*[a.__dask_graph__() for a in arrays])
    if optimizer is None:
        from dask.array.optimization import optimize as optimizer
    return len(optimizer(merged, keys))


def pair_of(x):
    """A two-output kernel as xmiri's steps build one: a tuple per block, then one getitem per output."""
    packed = x.map_blocks(lambda b: (b + 1, b * 2), dtype=object, meta=np.empty((0, 0), object))
    return [packed.map_blocks(operator.getitem, i, dtype=x.dtype) for i in range(2)]


def test_tuple_elements_are_picked_inside_their_consumers():
    x = da.arange(24.0, chunks=4).reshape(6, 4).rechunk((2, 4))
    plus, twice = pair_of(x)
    a = plus.sum(axis=1)  # plus: two consumers, so dask keeps its getitem task
    b = (plus - twice).max(axis=1)
    assert n_tasks(a, b, optimizer=optimize) < n_tasks(a, b)
    with dask.config.set(array_optimize=optimize):
        got = dask.compute(a, b)
    expected = dask.compute(a, b)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_requested_keys_stay_in_the_graph():
    x = da.ones((4, 3), chunks=(2, 3))
    plus, twice = pair_of(x)
    graph = optimize(dask.highlevelgraph.HighLevelGraph.merge(plus.__dask_graph__(),
                                                             twice.__dask_graph__()),
                     [plus.__dask_keys__(), twice.__dask_keys__()])
    for key in flatten([plus.__dask_keys__(), twice.__dask_keys__()]):
        assert key in graph
    with dask.config.set(array_optimize=optimize):
        np.testing.assert_array_equal(dask.compute(plus)[0], np.full((4, 3), 2.0))


def test_slices_are_inlined_only_into_a_single_consumer():
    from dask._task_spec import DataNode, Task, TaskRef
    from dask.array.chunk import getitem

    def graph(consumers):
        dsk = {"x": DataNode("x", np.arange(6.0)),
               "s": Task("s", getitem, TaskRef("x"), (slice(0, 3),))}
        dsk.update({c: Task(c, np.sum, TaskRef("s")) for c in consumers})
        return dsk

    once = _inline_cheap(graph(["a"]), {"a"}, Alias, Task, getitem)
    assert set(once) == {"x", "a"} and once["a"].dependencies == {"x"}
    twice = _inline_cheap(graph(["a", "b"]), {"a", "b"}, Alias, Task, getitem)
    assert set(twice) == {"x", "s", "a", "b"}  # the slice runs once, its result is shared
    assert dask.get(once, "a") == dask.get(twice, "b") == 3.0


def test_aliases_point_their_users_at_the_target():
    from dask._task_spec import DataNode, Task, TaskRef
    from dask.array.chunk import getitem

    dsk = {"x": DataNode("x", 2.0), "y": Alias("y", "x"), "z": Alias("z", "y"),
           "out": Task("out", operator.mul, TaskRef("z"), 3)}
    got = _inline_cheap(dsk, {"out"}, Alias, Task, getitem)
    assert set(got) == {"x", "out"} and got["out"].dependencies == {"x"}
    assert dask.get(got, "out") == 6.0


def test_box_chain_has_a_third_fewer_tasks_and_the_same_result():
    ds, _ = xmiri.simulate.simulate(24, seed=3, chunks=4)
    spec = ds.lrs.clean().lrs.subtract().lrs.extract().lrs.align(align_spectra=True)
    arrays = [v.data for v in spec.variables.values() if isinstance(v.data, da.Array)]
    before, after = n_tasks(*arrays), n_tasks(*arrays, optimizer=optimize)
    assert after <= 0.75 * before
    with dask.config.set(array_optimize=optimize):
        computed = spec.compute()
    xr.testing.assert_identical(computed, spec.compute())


def test_to_netcdf_inlines_on_a_distributed_client_only():
    distributed = pytest.importorskip("distributed")
    with inlined_cheap_tasks():
        assert dask.config.get("array_optimize", None) is None
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with inlined_cheap_tasks():
            assert dask.config.get("array_optimize") is optimize
        with dask.config.set(scheduler="threads"), inlined_cheap_tasks():
            assert dask.config.get("array_optimize", None) is None
