"""xmiri.parallel: glibc malloc thresholds for dask worker processes."""
import subprocess
import sys
import textwrap

import pytest

from xmiri import parallel

PROBE = textwrap.dedent("""
    import ctypes, sys
    import numpy as np
    from xmiri.parallel import tune_malloc

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    def mapped_while_alive():
        a = np.ones(16 * 2**20, np.uint8)  # 16 MiB
        mapped = libc.mallinfo2().hblkhd
        del a
        return mapped

    if sys.argv[1] == "tune":
        assert tune_malloc()
    print(mapped_while_alive() >= 16 * 2**20)
""")


def run_probe(mode):
    env = {"MALLOC_TRIM_THRESHOLD_": "65536", "PATH": ""}  # what a dask nanny gives its worker
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tune_malloc_serves_chunk_temporaries_from_the_heap():
    try:
        import ctypes

        assert ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    assert run_probe("plain")      # the nanny's setting maps every 16 MiB temporary afresh
    assert not run_probe("tune")   # after tune_malloc it comes from the heap


def test_worker_env_values():
    env = parallel.worker_env()
    assert env == {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20)}


@pytest.mark.slow
def test_tune_workers_reaches_running_and_new_workers():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        result = parallel.tune_workers(client)
        assert list(result.values()) == [sys.platform.startswith("linux")]
        cluster.scale(2)
        client.wait_for_workers(2, timeout=120)
        has_plugin = client.run(lambda dask_worker: "xmiri-malloc" in dask_worker.plugins)
        assert list(has_plugin.values()) == [True, True]
