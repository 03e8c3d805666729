"""Bad inputs are refused at open time with a specific error naming the file.

The bad files are made in tmp_path from copies of the shared rateints file;
the shared files are only ever opened read-only (checked by sha256).
"""
import gzip
import hashlib
import os
import shutil
import time

import numpy as np
import pytest
from astropy.io import fits

from xmiri.exceptions import (InvalidFileError, SegmentMismatchError, UnsupportedModeError,
                              XmiriError)
from xmiri.io import open_rateints

from .test_io import write_segments

pytestmark = pytest.mark.filterwarnings("ignore::xmiri.exceptions.TimeAxisWarning")


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _sha256(path):
    return hashlib.sha256(_read_bytes(path)).hexdigest()


@pytest.fixture(scope="module", autouse=True)
def shared_files_untouched(rateints_path, calints_path):
    before = {p: (_sha256(p), os.stat(p).st_mode) for p in (rateints_path, calints_path)}
    yield
    after = {p: (_sha256(p), os.stat(p).st_mode) for p in (rateints_path, calints_path)}
    assert after == before


def edited_copy(src, dst, edit):
    """Write `src` to `dst` after ``edit(hdul)`` (which may return a new HDUList)."""
    with fits.open(src) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
        hdul = edit(hdul) or hdul
        hdul.writeto(dst)
    return dst


def _set(**keywords):
    def edit(hdul):
        for key, value in keywords.items():
            if value is None:
                del hdul[0].header[key]
            else:
                hdul[0].header[key] = value
    return edit


def _drop(extname):
    def edit(hdul):
        return fits.HDUList([h for h in hdul if h.name != extname])
    return edit


def _replace(extname, make):
    def edit(hdul):
        old = hdul[extname]
        new = fits.ImageHDU(make(old.data), header=old.header.copy(), name=extname)
        return fits.HDUList([new if h.name == extname else h for h in hdul])
    return edit


def _truncate(fraction):
    def make(src, dst):
        raw = _read_bytes(src)
        with open(dst, "wb") as f:
            f.write(raw[:int(len(raw) * fraction)])
        return dst
    return make


def _bytes(content):
    def make(src, dst):
        with open(dst, "wb") as f:
            f.write(content)
        return dst
    return make


def _gzip(src, dst):
    with open(src, "rb") as f_in, gzip.open(dst, "wb") as f_out:
        shutil.copyfileobj(f_in, f_out)
    return dst


def _edit(edit):
    return lambda src, dst: edited_copy(src, dst, edit)


def _corrupt_sci_header(src, dst):
    raw = bytearray(_read_bytes(src))
    at = raw.index(b"XTENSION= 'IMAGE   '")
    raw[at:at + 2880] = b"\x00\xff" * 1440
    with open(dst, "wb") as f:
        f.write(bytes(raw))
    return dst


CASES = [
    # id, file name, how to make it, expected error, message pattern
    ("truncated-half", "x_rateints.fits", _truncate(0.5), InvalidFileError, "truncated"),
    ("truncated-tail", "x_rateints.fits", _truncate(0.998), InvalidFileError, "truncated"),
    ("truncated-in-header", "x_rateints.fits", _truncate(0.002), InvalidFileError,
     "cannot be read as FITS|truncated"),
    ("empty", "x_rateints.fits", _bytes(b""), InvalidFileError, "empty"),
    ("text", "x_rateints.fits", _bytes(b"hello, not FITS\n" * 10), InvalidFileError,
     "not a FITS file"),
    ("hdf5", "x_rateints.fits", _bytes(b"\x89HDF\r\n\x1a\n" + bytes(600)), InvalidFileError,
     "not a FITS file"),
    ("gzip", "x_rateints.fits.gz", _gzip, InvalidFileError, "gzip-compressed.*[Dd]ecompress"),
    ("gzip-named-fits", "x_rateints.fits", _gzip, InvalidFileError, "gzip-compressed"),
    ("corrupt-header", "x_rateints.fits", _corrupt_sci_header, InvalidFileError,
     "cannot be read as FITS|no SCI extension|truncated"),
    ("nirspec", "x_rateints.fits", _edit(_set(INSTRUME="NIRSPEC", EXP_TYPE="NRS_BRIGHTOBJ")),
     UnsupportedModeError, "INSTRUME is 'NIRSPEC'"),
    ("miri-imaging", "x_rateints.fits", _edit(_set(EXP_TYPE="MIR_IMAGE")), UnsupportedModeError,
     "EXP_TYPE is 'MIR_IMAGE'"),
    ("lrs-fixed-slit", "x_rateints.fits", _edit(_set(EXP_TYPE="MIR_LRS-FIXEDSLIT")),
     UnsupportedModeError, "EXP_TYPE is 'MIR_LRS-FIXEDSLIT'"),
    ("no-exp-type", "x_rateints.fits", _edit(_set(EXP_TYPE=None)), InvalidFileError,
     "no EXP_TYPE keyword"),
    ("no-sci", "x_rateints.fits", _edit(_drop("SCI")), InvalidFileError, "no SCI extension"),
    ("no-err", "x_rateints.fits", _edit(_drop("ERR")), InvalidFileError, "no ERR extension"),
    ("no-dq", "x_rateints.fits", _edit(_drop("DQ")), InvalidFileError, "no DQ extension"),
    ("sci-2d", "x_rateints.fits", _edit(_replace("SCI", lambda d: d[0])), InvalidFileError,
     "SCI is 2-D"),
    ("sci-4d", "x_rateints.fits", _edit(_replace("SCI", lambda d: d[None])), InvalidFileError,
     "SCI is 4-D"),
    ("err-shape", "x_rateints.fits", _edit(_replace("ERR", lambda d: d[:, :, :10])),
     InvalidFileError, "ERR has shape"),
    ("dq-float", "x_rateints.fits", _edit(_replace("DQ", lambda d: d.astype(np.float32))),
     InvalidFileError, "DQ must hold integers"),
    ("intend-inconsistent", "x_rateints.fits", _edit(_set(INTEND=1900)), InvalidFileError,
     "INTSTART..INTEND"),
    ("intstart-not-a-number", "x_rateints.fits", _edit(_set(INTSTART="first")), InvalidFileError,
     "malformed header"),
]


@pytest.mark.parametrize("name, make, error, pattern", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_file_refused(rateints_path, tmp_path, name, make, error, pattern):
    path = make(rateints_path, tmp_path / name)
    t0 = time.monotonic()
    with pytest.raises(error, match=pattern) as info:
        open_rateints(path)
    assert time.monotonic() - t0 < 10
    assert os.path.basename(path) in str(info.value)
    assert isinstance(info.value, XmiriError)
    assert info.value.__cause__ is None  # no chained astropy/numpy traceback


def test_missing_path(tmp_path):
    with pytest.raises(InvalidFileError, match="no such file") as info:
        open_rateints(tmp_path / "absent_rateints.fits")
    assert "absent_rateints.fits" in str(info.value)
    assert isinstance(info.value, OSError)


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(InvalidFileError, match="no file matches"):
        open_rateints(str(tmp_path / "seg*_rateints.fits"))


def test_folder_refused(tmp_path):
    with pytest.raises(InvalidFileError, match="folder"):
        open_rateints(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe_rateints.fits"
    os.mkfifo(fifo)
    with pytest.raises(InvalidFileError, match="not a regular file"):
        open_rateints(fifo)


def test_empty_list_refused():
    from xmiri.exceptions import ParameterError

    with pytest.raises(ParameterError, match="empty"):
        open_rateints([])


# ---------------------------------------------------------------- segments

def _second(edit):
    return lambda i, hdul: edit(hdul) if i == 1 else None


def _crop_cols(hdul):
    for i, hdu in enumerate(hdul):
        if isinstance(hdu, fits.ImageHDU) and hdu.header.get("NAXIS") == 3:
            hdul[i] = fits.ImageHDU(hdu.data[:, :, :64], header=hdu.header.copy())


def _drop_in_place(extname):
    def edit(hdul):
        del hdul[extname]
    return edit


def _no_intstart(i, hdul):
    del hdul[0].header["INTSTART"]
    del hdul[0].header["INTEND"]


SEGMENT_CASES = [
    ("subarray", [(0, 2), (2, 4)], _second(_set(SUBARRAY="FULL")), "SUBARRAY is 'SLITLESSPRISM'"),
    ("shape", [(0, 2), (2, 4)], _second(_crop_cols), "frame shape"),
    ("obs-id", [(0, 2), (2, 4)], _second(_set(OBS_ID="V99999001001P0000000001101")), "OBS_ID"),
    ("target", [(0, 2), (2, 4)], lambda i, h: h[0].header.set("TARGNAME", f"T{i}"), "TARGNAME"),
    ("nints", [(0, 2), (2, 4)], _second(_set(NINTS=99)), "NINTS"),
    ("extensions", [(0, 2), (2, 4)], _second(_drop_in_place("VAR_RNOISE")), "extensions differ"),
    ("overlap", [(0, 3), (2, 4)], None, "both hold integration 1849;"),
    ("no-intstart", [(0, 2), (2, 4)], _no_intstart, "both hold integrations 1-2.*INTSTART"),
]


@pytest.mark.parametrize("bounds, edit, pattern", [c[1:] for c in SEGMENT_CASES],
                         ids=[c[0] for c in SEGMENT_CASES])
def test_segments_not_belonging_together(rateints_path, tmp_path, bounds, edit, pattern):
    paths = write_segments(rateints_path, tmp_path, bounds, edit=edit)
    with pytest.raises(SegmentMismatchError, match=pattern) as info:
        open_rateints(paths[::-1])
    assert paths[0].name in str(info.value) and paths[1].name in str(info.value)


def test_same_file_twice(rateints_path):
    with pytest.raises(SegmentMismatchError, match="both hold integrations 1847-1850") as info:
        open_rateints([rateints_path, rateints_path])
    assert str(rateints_path) in str(info.value)


def test_rateints_with_calints_of_same_exposure(rateints_path, calints_path):
    with pytest.raises(SegmentMismatchError, match="both hold integrations"):
        open_rateints([rateints_path, calints_path])
