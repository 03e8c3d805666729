"""The ``xmiri`` xarray backend: ``xr.open_dataset(path, engine="xmiri")``.

xarray imports this module for every ``open_dataset`` of every user (to list
its engines), so it imports nothing heavy: the reader is imported only when
a file is opened.
"""
import os

from xarray.backends import BackendEntrypoint

__all__ = ["XmiriBackendEntrypoint"]

_FITS_MAGIC = b"SIMPLE  ="


class XmiriBackendEntrypoint(BackendEntrypoint):
    """``xr.open_dataset(path, engine="xmiri")``: one MIRI LRS rateints/calints file.

    Gives the Dataset of :func:`xmiri.open_rateints` for one file.  Any
    integration of a FITS cube can be read on its own, so the "stored chunk"
    along ``integration`` is one integration: any ``chunks={"integration":
    n}`` is aligned with the file (xarray warns about none); ``chunks={}``
    gives one integration per chunk and ``chunks="auto"`` dask's size (about
    1,000 SLITLESSPRISM frames).  :func:`xmiri.open_rateints` chooses a
    sensible default itself.
    """

    description = "Open JWST MIRI LRS slitless rateints/calints FITS files (xmiri)"
    url = ""  # no public home page yet
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "wavelength")

    def guess_can_open(self, filename_or_obj):
        """Whether `filename_or_obj` is a rateints or calints FITS file xmiri can open.

        Parameters
        ----------
        filename_or_obj : object
            What was passed to :func:`xarray.open_dataset`.

        Returns
        -------
        bool
            True for a path ending in ``rateints.fits`` or ``calints.fits``
            whose file starts with the FITS magic bytes.
        """
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        path = os.fspath(filename_or_obj)
        if not path.lower().endswith(("rateints.fits", "calints.fits")):
            return False
        try:
            with open(path, "rb") as f:
                return f.read(len(_FITS_MAGIC)) == _FITS_MAGIC
        except OSError:
            return False

    def open_dataset(self, filename_or_obj, *, drop_variables=None, wavelength=None):
        """Open one rateints or calints file as :func:`xmiri.open_rateints` does.

        Parameters
        ----------
        filename_or_obj : str or os.PathLike
            The file's path.
        drop_variables : str or sequence of str, optional
            Variables to leave out.
        wavelength : optional
            As in :func:`xmiri.open_rateints`.

        Returns
        -------
        xarray.Dataset
            The lazy Dataset of the file; xarray chunks it as ``chunks=`` says.

        Raises
        ------
        xmiri.ParameterError
            If `filename_or_obj` is not a path.
        """
        from ..exceptions import ParameterError
        from .reader import open_segments

        if not isinstance(filename_or_obj, (str, os.PathLike)):
            raise ParameterError(f"the xmiri engine opens files by path, got "
                                 f"{type(filename_or_obj).__name__}")
        if isinstance(drop_variables, str):
            drop_variables = [drop_variables]
        path = os.path.abspath(os.path.expanduser(os.fspath(filename_or_obj)))
        return open_segments([path], False, wavelength, tuple(drop_variables or ()))
