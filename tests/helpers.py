"""Small test helpers shared by several test modules."""
import numpy as np
import xarray as xr
from dask.callbacks import Callback

from xmiri.wavelength import default_wavelength_map

N_INT, N_ROW, N_COL = 4, 416, 72


class TaskCounter(Callback):
    """Counts the dask tasks run while it is active (``with TaskCounter() as c: ...; c.n``)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _pretask(self, key, dask, state):
        self.n += 1


def make_frames(n_int=N_INT, n_row=N_ROW, n_col=N_COL, seed=0):
    """A small LRS-like exposure: Gaussian trace at column 36 on a sloped sky, with noise."""
    rng = np.random.default_rng(seed)
    rows = np.arange(n_row)[:, None]
    cols = np.arange(n_col)[None, :]
    spectrum = 50.0 + 1000.0 * np.exp(-0.5 * ((rows - 300.0) / 60.0) ** 2)
    source = spectrum * np.exp(-0.5 * ((cols - 36.0) / 1.6) ** 2)
    sky = 5.0 + 0.01 * rows + 0.0 * cols
    data = source + sky + rng.normal(0.0, 1.0, (n_int, n_row, n_col))
    dims = ("integration", "row", "col")
    shape = (n_int, n_row, n_col)
    return xr.Dataset(
        {
            "data": (dims, data.astype(np.float32), {"units": "DN/s"}),
            "err": (dims, np.ones(shape, np.float32), {"units": "DN/s"}),
            "dq": (dims, np.zeros(shape, np.uint32)),
            "var_poisson": (dims, np.full(shape, 0.5, np.float32)),
            "var_rnoise": (dims, np.full(shape, 0.5, np.float32)),
        },
        coords={
            "integration": np.arange(1, n_int + 1),
            "time": ("integration", 60000.0 + 1e-3 * np.arange(n_int)),
            "row": np.arange(n_row),
            "col": np.arange(n_col),
            "wavelength": (("row", "col"), default_wavelength_map(n_row, n_col), {"units": "micron"}),
        },
    )


def simulated_segments(folder, n_integrations, n_segments, seed):
    """Simulate an exposure, write it as rateints segments in ``folder``; the paths as str."""
    import xmiri

    ds, _ = xmiri.simulate.simulate(n_integrations, seed=seed)
    return [str(p) for p in xmiri.simulate.write_segments(ds, folder, n_segments=n_segments)]
