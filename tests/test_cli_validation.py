"""``xmiri reduce`` checks every input and output before any work, and says what a bare option needs.

Each refusal is one line (``xmiri: error: ...``, exit status 1) naming the
option and its value; nothing is opened, computed or written.  The segments
here are empty placeholder files: the checks look at paths only, and
``open_rateints`` is replaced by a function that fails the test if called.
"""
import argparse
import os
import subprocess
import sys
import time

import pytest

import xmiri.io
from xmiri import cli


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder holding two placeholder segments, the current directory; opening fails the test."""
    for name in ("a_seg001_rateints.fits", "a_seg002_rateints.fits"):
        (tmp_path / name).write_bytes(b"")

    def must_not_open(*args, **kwargs):  # pytest.fail is a BaseException: cli.main cannot catch it
        pytest.fail("reduce opened the segments before refusing its arguments")

    monkeypatch.setattr(xmiri.io, "open_rateints", must_not_open)
    monkeypatch.chdir(tmp_path)
    return tmp_path


SEGMENTS = ["a_seg001_rateints.fits", "a_seg002_rateints.fits"]


def refused(work, capsys, *args):
    """Run ``xmiri reduce SEGMENTS args`` in-process; check it failed fast, wrote nothing; the error."""
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    start = time.monotonic()
    status = cli.main(["reduce", *SEGMENTS, *map(str, args)])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert status == 1, err
    assert elapsed < 30, elapsed  # no work: well under a second; loose for a loaded machine
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before  # nothing written
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xmiri: error: "), err
    return lines[0]


def deny_writing(monkeypatch, folder):
    """Make os.access say that `folder` is not writable (works as root too)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        if os.path.abspath(path) == os.path.abspath(folder) and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# --------------------------------------------------------------------------
# outputs
@pytest.mark.parametrize("option", ["--output", "--light-curves"])
def test_output_must_be_netcdf(work, capsys, option):
    args = ["-o", "s.nc", option, "z.fits"] if option == "--light-curves" else ["-o", "z.fits"]
    line = refused(work, capsys, *args)
    assert f"{option} z.fits" in line and ".nc or .nc4" in line


@pytest.mark.parametrize("name", ["s.nc", "s.nc4", "S.NC"])
def test_netcdf_names_are_accepted(work, name):
    args = cli.build_parser().parse_args(["reduce", *SEGMENTS, "-o", name, "--light-curves", "l.nc4"])
    assert cli.check_reduce_arguments(args) == SEGMENTS


@pytest.mark.parametrize("option", ["--output", "--light-curves"])
def test_output_folder_must_exist(work, capsys, option):
    args = ["-o", "s.nc", option, "nodir/z.nc"] if option == "--light-curves" else ["-o", "nodir/z.nc"]
    line = refused(work, capsys, *args)
    assert f"{option} nodir/z.nc" in line and f"folder {work / 'nodir'} does not exist" in line


def test_output_folder_must_be_writable(work, capsys, monkeypatch):
    (work / "locked").mkdir()
    deny_writing(monkeypatch, work / "locked")
    line = refused(work, capsys, "-o", "locked/s.nc")
    assert f"folder {work / 'locked'} is not writable" in line


@pytest.mark.parametrize("option", ["--output", "--light-curves"])
def test_output_must_not_exist_without_overwrite(work, capsys, option):
    (work / "old.nc").write_bytes(b"old")
    args = ["-o", "s.nc", option, "old.nc"] if option == "--light-curves" else ["-o", "old.nc"]
    line = refused(work, capsys, *args)
    assert f"{option} old.nc" in line and "exists; pass --overwrite" in line
    assert (work / "old.nc").read_bytes() == b"old"


def test_existing_output_is_an_output_exists_error(work):
    (work / "old.nc").write_bytes(b"old")
    args = cli.build_parser().parse_args(["reduce", *SEGMENTS, "-o", "old.nc"])
    with pytest.raises(xmiri.OutputExistsError):
        cli.check_reduce_arguments(args)
    args.overwrite = True
    cli.check_reduce_arguments(args)  # allowed with --overwrite


def test_output_must_not_be_a_folder(work, capsys):
    (work / "folder.nc").mkdir()
    line = refused(work, capsys, "-o", "folder.nc", "--overwrite")
    assert "--output folder.nc" in line and "is a folder" in line


def test_outputs_must_differ(work, capsys):
    line = refused(work, capsys, "-o", "s.nc", "--light-curves", "./sub/../s.nc")
    assert "--output and --light-curves both name" in line and str(work / "s.nc") in line


def test_output_must_not_be_an_input(work, capsys):
    (work / "seg.nc").write_bytes(b"data")
    status = cli.main(["reduce", "seg.nc", "-o", "./seg.nc", "--overwrite"])
    err = capsys.readouterr().err
    assert status == 1 and "--output ./seg.nc is the input segment seg.nc" in err
    assert (work / "seg.nc").read_bytes() == b"data"


def test_output_must_not_be_the_plots_folder(work, capsys):
    line = refused(work, capsys, "-o", "s.nc", "--plots", "s.nc")
    assert "--output and --plots both name" in line


# --------------------------------------------------------------------------
# --plots, --config, segments
def test_plots_must_not_be_a_file(work, capsys):
    (work / "plots").write_bytes(b"")
    line = refused(work, capsys, "-o", "s.nc", "--plots", "plots")
    assert "--plots plots" in line and "is a file, not a folder" in line


def test_plots_folder_must_be_creatable(work, capsys):
    line = refused(work, capsys, "-o", "s.nc", "--plots", "no/such/plots")
    assert "--plots no/such/plots: cannot create plots/" in line
    assert f"folder {work / 'no' / 'such'} does not exist" in line


def test_plots_folder_must_be_writable(work, capsys, monkeypatch):
    (work / "plots").mkdir()
    deny_writing(monkeypatch, work / "plots")
    line = refused(work, capsys, "-o", "s.nc", "--plots", "plots")
    assert f"folder {work / 'plots'} is not writable" in line


def test_plots_folder_may_exist_or_be_new(work):
    (work / "old_plots").mkdir()
    for folder in ("old_plots", "new_plots"):
        args = cli.build_parser().parse_args(["reduce", *SEGMENTS, "-o", "s.nc", "--plots", folder])
        cli.check_reduce_arguments(args)
    assert not (work / "new_plots").exists()  # created only when plots are written


def test_config_must_exist(work, capsys):
    line = refused(work, capsys, "-o", "s.nc", "--config", "nope.toml")
    assert "--config nope.toml: file not found" in line


def test_inputs_must_exist(work, capsys):
    status = cli.main(["reduce", SEGMENTS[0], "missing_rateints.fits", "-o", "s.nc"])
    err = capsys.readouterr().err
    assert status == 1 and err.strip() == "xmiri: error: input segment missing_rateints.fits not found"
    assert not (work / "s.nc").exists()


def test_refusal_as_a_user_sees_it(work):
    """In a fresh process: exit status 1, one line, no traceback, nothing written."""
    result = subprocess.run([sys.executable, "-m", "xmiri.cli", "reduce", *SEGMENTS, "-o", "z.fits"],
                            capture_output=True, text=True, cwd=work, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "xmiri: error: --output z.fits: not a netCDF file name; reduce writes netCDF-4, use a name "
        "ending in .nc or .nc4"]
    assert not (work / "z.fits").exists()


# --------------------------------------------------------------------------
# options given without their value
def value_options():
    """(command, option action) for every option of every subcommand that takes a value."""
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    return [(name, action) for name, sub in commands.items() for action in sub._actions
            if action.option_strings and action.nargs is None]


@pytest.mark.parametrize("command, action", value_options(),
                         ids=[f"{c}{max(a.option_strings, key=len)}" for c, a in value_options()])
def test_option_without_value_says_what_it_needs(capsys, command, action):
    flag = max(action.option_strings, key=len)
    assert action.needs is not None, f"{command} {flag}: give add_argument a needs=(what, example)"
    positional = ["s.fits"] if command in ("reduce", "info") else []
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, *positional, flag])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    what, example = action.needs
    assert f"xmiri {command}: error: {flag} needs a value ({what}, e.g. {flag} {example})" in err
    assert err.startswith(f"usage: xmiri {command}")
    assert "expected one argument" not in err


def test_plots_without_value(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reduce", "s.fits", "-o", "s.nc", "--plots"])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("usage: xmiri reduce")
    assert lines[-1] == ("xmiri reduce: error: --plots needs a value (a folder for the PNGs, "
                         "e.g. --plots plots/)")


def test_short_option_without_value_names_the_long_one(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reduce", "s.fits", "-o"])
    assert exit_.value.code == 2
    assert "--output needs a value (the netCDF file of spectra to write" in capsys.readouterr().err


def test_other_argparse_errors_are_unchanged(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--integrations", "many"])
    assert exit_.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
