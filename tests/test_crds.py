"""CRDS can never end the process: the preflight, the guard, and real set-ups in subprocesses.

The subprocess tests reproduce set-ups users have: the ExoTiC-MIRI
documentation's (``CRDS_SERVER_URL=""``, ``CRDS_PATH=<empty cache>``,
``CRDS_CONTEXT=jwst_1100.pmap``), a closed port, a non-routable address, and
a server that accepts connections but never answers.  Before xmiri.io.crds,
each of the first three ended ``open_rateints`` with exit status 255
(``sys.exit(-1)`` in ``crds.core.heavy_client.load_server_info``).
"""
import http.server
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from xmiri.io import crds as _crds
from xmiri.exceptions import WavelengthWarning

REPO = Path(__file__).resolve().parents[1]
SHAPE = (416, 72)
CRDS_VARIABLES = ("CRDS_SERVER_URL", "CRDS_PATH", "CRDS_CONTEXT", "STPIPE_DISABLE_CRDS_STEPPARS",
                  "CRDS_PATH_SINGLE", "CRDS_CFGPATH", "CRDS_MAPPATH", "CRDS_REFPATH",
                  "CRDS_CFGPATH_SINGLE", "CRDS_MAPPATH_SINGLE", "CRDS_REFPATH_SINGLE")
OPEN_SCRIPT = textwrap.dedent("""
    import json, sys, time, warnings
    import xmiri
    from xmiri.exceptions import WavelengthWarning
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = xmiri.open_rateints(sys.argv[1])
    wl = [w.message for w in caught if issubclass(w.category, WavelengthWarning)]
    print(json.dumps({"seconds": time.monotonic() - start,
                      "source": ds["wavelength"].attrs["source"],
                      "n_wavelength_warnings": len(wl),
                      "fields": [{"source": w.source, "fallback": w.fallback, "reason": w.reason}
                                 for w in wl]}))
""")


# --------------------------------------------------------------------------
# helpers


def _env(**crds):
    """The test process's environment without CRDS settings, plus `crds` and PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in CRDS_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                       else []))
    env.update({k: v for k, v in crds.items() if v is not None})
    return env


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: connecting is refused


@pytest.fixture(scope="module")
def silent_server():
    """A TCP port that accepts connections (kernel backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


class _FakeCrds(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = json.dumps({"result": "jwst_0999.pmap", "error": None, "id": body["id"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def fake_crds_server():
    """A local HTTP server answering CRDS JSON-RPC calls."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeCrds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


_SERIAL = itertools.count(900)  # CRDS caches loaded mappings by name: one name per cache


def _write_mapping(path, text):
    from crds.core import utils

    text = textwrap.dedent(text).lstrip()
    body = "".join(line for line in text.splitlines(True) if "sha1sum" not in line)
    text = text.replace("'sha1sum' : 'X'", f"'sha1sum' : '{utils.str_checksum(body)}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_cache(root, *, server_config=True, mappings=True, references=True):
    """A CRDS cache laid out as `crds sync` does, with a context selecting two MIRI files.

    Returns (context name, {reftype: reference file name}).  The reference
    files, when written, hold junk: enough for the preflight, not for jwst.
    """
    n = next(_SERIAL)
    context = f"jwst_{n:04d}.pmap"
    refs = {"specwcs": f"jwst_miri_specwcs_{n:04d}.fits",
            "distortion": f"jwst_miri_distortion_{n:04d}.asdf"}
    if server_config:
        cfg = root / "config" / "jwst" / "server_config"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(repr({
            "observatory": "jwst", "operational_context": context, "latest_context": context,
            "edit_context": context, "effective_mode": "local", "last_synced": "2024-01-01 00:00:00",
            "status": "server", "connected": True, "bad_files": "", "bad_files_list": [],
            "mappings": [], "reference_url": {}, "mapping_url": {}, "checked_files": {},
            "crds_version": {"str": "14.0.3"}}))
    maps = root / "mappings" / "jwst"
    if mappings:
        _write_mapping(maps / context, f"""
            header = {{
                'derived_from' : 'xmiri test',
                'mapping' : 'PIPELINE',
                'name' : '{context}',
                'observatory' : 'JWST',
                'parkey' : ('META.INSTRUMENT.NAME',),
                'sha1sum' : 'X',
            }}

            selector = {{
                'MIRI' : 'jwst_miri_{n:04d}.imap',
            }}
            """)
        not_applicable = "".join(f"    '{t}' : 'N/A',\n" for t in _crds.ASSIGN_WCS_REFTYPES
                                 if t not in refs)
        _write_mapping(maps / f"jwst_miri_{n:04d}.imap", f"""
header = {{
    'derived_from' : 'xmiri test',
    'instrument' : 'MIRI',
    'mapping' : 'INSTRUMENT',
    'name' : 'jwst_miri_{n:04d}.imap',
    'observatory' : 'JWST',
    'parkey' : (),
    'sha1sum' : 'X',
}}

selector = {{
    'distortion' : 'jwst_miri_distortion_{n:04d}.rmap',
    'specwcs' : 'jwst_miri_specwcs_{n:04d}.rmap',
{not_applicable}}}
""")
        for reftype, name in refs.items():
            _write_mapping(maps / f"jwst_miri_{reftype}_{n:04d}.rmap", f"""
                header = {{
                    'derived_from' : 'xmiri test',
                    'filekind' : '{reftype.upper()}',
                    'instrument' : 'MIRI',
                    'mapping' : 'REFERENCE',
                    'name' : 'jwst_miri_{reftype}_{n:04d}.rmap',
                    'observatory' : 'JWST',
                    'parkey' : (('META.INSTRUMENT.DETECTOR', 'META.EXPOSURE.TYPE'), \
('META.OBSERVATION.DATE', 'META.OBSERVATION.TIME')),
                    'sha1sum' : 'X',
                }}

                selector = Match({{
                    ('MIRIMAGE', 'MIR_LRS-SLITLESS') : UseAfter({{
                        '2000-01-01 00:00:00' : '{name}',
                    }}),
                }})
                """)
    if references:
        folder = root / "references" / "jwst" / "miri"
        folder.mkdir(parents=True, exist_ok=True)
        for name in refs.values():
            (folder / name).write_text("junk")
    return context, refs


SERVERLESS = "https://crds-serverless-mode.stsci.edu"


@pytest.fixture
def crds_env(monkeypatch):
    """Clear CRDS settings; returns a setter (CRDS reads os.environ itself).

    CRDS fixes its server URL when first imported; it is set here to CRDS's
    serverless default, whatever the environment was then.  Tests of a
    server pass ``environ=`` instead.
    """
    from crds.client import api

    for name in CRDS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(api, "URL", SERVERLESS + api.URL_SUFFIX)

    def setenv(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return setenv


# --------------------------------------------------------------------------
# real set-ups, each in a fresh process


def _setups(silent):
    return {
        "exotic-miri-docs": {"CRDS_SERVER_URL": "", "CRDS_CONTEXT": "jwst_1100.pmap"},
        "exotic-miri-docs-no-steppars": {"CRDS_SERVER_URL": "", "CRDS_CONTEXT": "jwst_1100.pmap",
                                         "STPIPE_DISABLE_CRDS_STEPPARS": "1"},
        "closed-port": {"CRDS_SERVER_URL": f"http://127.0.0.1:{_closed_port()}",
                        "CRDS_CONTEXT": "jwst_1100.pmap"},
        "non-routable": {"CRDS_SERVER_URL": "https://10.255.255.1",
                         "CRDS_CONTEXT": "jwst_1100.pmap"},
        "silent-server": {"CRDS_SERVER_URL": silent, "CRDS_CONTEXT": "jwst_1100.pmap"},
    }


SETUPS = ["exotic-miri-docs", "exotic-miri-docs-no-steppars", "closed-port", "non-routable",
          "silent-server"]


@pytest.mark.parametrize("setup", SETUPS)
def test_open_rateints_survives(setup, rateints_path, silent_server, tmp_path):
    cache = tmp_path / "crds_cache"
    cache.mkdir()
    env = _env(CRDS_PATH=str(cache), **_setups(silent_server)[setup])
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", OPEN_SCRIPT, str(rateints_path)], env=env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    wall = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["source"] == "xmiri default solution"
    assert report["n_wavelength_warnings"] == 1
    fields = report["fields"][0]
    assert fields["source"] == "AssignWcsStep" and fields["fallback"] == "xmiri default solution"
    assert "wavelength=" in fields["reason"]  # the fix names the way around
    if setup.startswith("exotic"):
        assert "server_config" in fields["reason"] and "crds sync" in fields["reason"]
    else:
        assert "CRDS_SERVER_URL" in fields["reason"]
    assert report["seconds"] < 10, report  # opening: seconds, not a network timeout
    assert wall < 60
    assert "CRDS - " not in result.stderr  # CRDS's own log lines are routed, not printed


@pytest.mark.parametrize("setup", ["exotic-miri-docs", "closed-port", "silent-server"])
@pytest.mark.parametrize("command", ["info", "reduce"])
def test_cli_survives(command, setup, rateints_path, silent_server, tmp_path):
    cache = tmp_path / "crds_cache"
    cache.mkdir()
    env = _env(CRDS_PATH=str(cache), **_setups(silent_server)[setup])
    args = [str(rateints_path)] + (["-o", str(tmp_path / "out.nc")] if command == "reduce" else [])
    result = subprocess.run([sys.executable, "-m", "xmiri.cli", command, *args], env=env,
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "AssignWcsStep" in line]
    assert len(lines) == 1 and lines[0].startswith("xmiri: warning: wavelength from the xmiri "
                                                   "default solution"), result.stderr
    assert "Traceback" not in result.stderr and "CRDS - " not in result.stderr
    if command == "reduce":
        assert (tmp_path / "out.nc").exists()
    else:
        assert "xmiri default solution" in result.stdout


# --------------------------------------------------------------------------
# the preflight


def test_not_configured():
    ok, reason = _crds.assign_wcs_available({"INSTRUME": "MIRI"}, environ={})
    assert not ok and "not configured" in reason


def test_closed_port_is_refused_at_once():
    start = time.monotonic()
    ok, reason, facts = _crds.assign_wcs_available(
        {}, environ={"CRDS_SERVER_URL": f"http://127.0.0.1:{_closed_port()}"}, details=True)
    assert not ok and "cannot be reached" in reason and facts["mode"] == "online"
    assert time.monotonic() - start < 2
    assert "CRDS_SERVER_URL" in _crds.fix_hint(facts)


def test_silent_server_is_given_up_after_the_timeout(silent_server):
    start = time.monotonic()
    ok, reason = _crds.assign_wcs_available({}, timeout=0.5,
                                            environ={"CRDS_SERVER_URL": silent_server})
    elapsed = time.monotonic() - start
    assert not ok and "did not answer within 0.5 s" in reason
    assert 0.4 < elapsed < 2


def test_server_that_answers_is_accepted(fake_crds_server):
    ok, reason = _crds.assign_wcs_available(
        {}, environ={"CRDS_SERVER_URL": fake_crds_server, "CRDS_PATH": "/nonexistent"})
    assert ok, reason
    assert "answered" in reason


def test_non_crds_answer_is_refused():
    # an HTTP server that is not CRDS (here: a plain 501 from the stdlib handler)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        ok, reason = _crds.assign_wcs_available({}, environ={"CRDS_SERVER_URL": url})
    finally:
        server.shutdown()
        server.server_close()
    assert not ok and "HTTP 501" in reason


def test_settings_report_the_url_crds_uses(monkeypatch):
    """CRDS reads CRDS_SERVER_URL once, on import; a later change has no effect on it."""
    from crds.client import api

    monkeypatch.setattr(api, "URL", "http://127.0.0.1:1" + api.URL_SUFFIX)
    monkeypatch.setenv("CRDS_SERVER_URL", "")
    assert _crds.crds_settings()["server"] == "http://127.0.0.1:1"
    assert _crds.crds_settings({"CRDS_SERVER_URL": ""})["server"] is None


@pytest.mark.parametrize("url", [None, "", SERVERLESS], ids=["unset", "empty", "serverless"])
def test_no_server_means_offline(crds_env, tmp_path, url):
    crds_env(CRDS_PATH=str(tmp_path), **({} if url is None else {"CRDS_SERVER_URL": url}))
    ok, reason, facts = _crds.assign_wcs_available({}, details=True)
    assert not ok and facts["mode"] == "offline"
    assert "server_config" in reason and "never synced" in reason
    hint = _crds.fix_hint(facts)
    assert f"CRDS_PATH={tmp_path}" in hint and "crds sync --contexts jwst-operational" in hint


def test_offline_cache_without_the_context(crds_env, tmp_path):
    fake_cache(tmp_path, mappings=False, references=False)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT="jwst_1100.pmap")
    ok, reason, facts = _crds.assign_wcs_available({}, details=True)
    assert not ok and "lacks the context jwst_1100.pmap" in reason
    assert "--contexts jwst_1100.pmap" in _crds.fix_hint(facts)


def test_offline_cache_without_the_references(crds_env, tmp_path, rateints_path):
    context, refs = fake_cache(tmp_path, references=False)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT=context)
    ok, reason, facts = _crds.assign_wcs_available(rateints_path, details=True)
    assert not ok
    assert refs["specwcs"] in reason and refs["distortion"] in reason
    assert sorted(facts["missing"]) == sorted(refs.values())
    hint = _crds.fix_hint(facts)
    assert f"--contexts {context} --files" in hint and refs["specwcs"] in hint


def test_offline_cache_complete(crds_env, tmp_path, rateints_path):
    context, refs = fake_cache(tmp_path)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT=context)
    ok, reason, facts = _crds.assign_wcs_available(rateints_path, details=True)
    assert ok, reason
    assert facts["references"]["specwcs"] == refs["specwcs"]
    assert facts["references"]["distortion"] == refs["distortion"]


def test_offline_context_from_the_cached_configuration(crds_env, tmp_path, rateints_path):
    context, _ = fake_cache(tmp_path)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="")  # no CRDS_CONTEXT
    ok, reason, facts = _crds.assign_wcs_available(rateints_path, details=True)
    assert ok, reason
    assert facts["context"] == context


def test_offline_symbolic_context_is_refused(crds_env, tmp_path, rateints_path):
    fake_cache(tmp_path)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT="jwst-2024-01-01T00:00:00")
    ok, reason = _crds.assign_wcs_available(rateints_path)
    assert not ok and "only the CRDS server can translate" in reason


def test_offline_file_not_selected_by_the_context(crds_env, tmp_path):
    context, _ = fake_cache(tmp_path)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT=context)
    header = {"INSTRUME": "MIRI", "DETECTOR": "MIRIFULONG", "EXP_TYPE": "MIR_MRS",
              "DATE-OBS": "2022-08-18", "TIME-OBS": "13:19:28"}
    ok, reason = _crds.assign_wcs_available(header)
    assert not ok and "selects no reference" in reason and "specwcs" in reason


def test_preflight_never_ends_the_process(crds_env, tmp_path, monkeypatch):
    context, _ = fake_cache(tmp_path)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT=context)
    from crds.core import heavy_client

    def fatal(*args, **kwargs):
        logging.getLogger("CRDS").error("(FATAL) simulated")
        sys.exit(-1)

    monkeypatch.setattr(heavy_client, "hv_best_references", fatal)
    ok, reason = _crds.assign_wcs_available({"INSTRUME": "MIRI"})
    assert not ok and "(FATAL) simulated" in reason


# --------------------------------------------------------------------------
# the guard


@pytest.fixture
def rateints_model(rateints_path):
    from stdatamodels.jwst import datamodels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(rateints_path)
    yield model
    model.close()


def test_guard_catches_sys_exit_and_keeps_crds_quiet(monkeypatch, rateints_model, capfd):
    from jwst.assign_wcs import AssignWcsStep

    def fatal(*args, **kwargs):
        logging.getLogger("CRDS").error("(FATAL) CRDS server connection and cache load FAILED.")
        sys.exit(-1)

    monkeypatch.setattr(AssignWcsStep, "call", fatal)
    result, reason = _crds.run_assign_wcs(rateints_model)
    assert result is None
    assert "sys.exit(-1)" in reason and "cache load FAILED" in reason
    assert "FATAL" not in capfd.readouterr().err


@pytest.mark.parametrize("exc", [RuntimeError("boom"), MemoryError(), GeneratorExit()])
def test_guard_catches_everything_else(monkeypatch, rateints_model, exc):
    from jwst.assign_wcs import AssignWcsStep

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(AssignWcsStep, "call", fail)
    result, reason = _crds.run_assign_wcs(rateints_model)
    assert result is None and type(exc).__name__ in reason


def test_guard_lets_keyboard_interrupt_through(monkeypatch, rateints_model):
    from jwst.assign_wcs import AssignWcsStep

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(AssignWcsStep, "call", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _crds.run_assign_wcs(rateints_model)


def test_preflight_passes_but_step_fails(crds_env, tmp_path, rateints_model, capfd):
    """A cache that looks complete but holds unreadable references: one warning, default map."""
    from xmiri.io.wavelength import resolve_wavelength

    context, _ = fake_cache(tmp_path)
    crds_env(CRDS_PATH=str(tmp_path), CRDS_SERVER_URL="", CRDS_CONTEXT=context,
             STPIPE_DISABLE_CRDS_STEPPARS="1")
    assert _crds.assign_wcs_available(rateints_model)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wmap, attrs = resolve_wavelength(SHAPE, model=rateints_model)
    found = [w.message for w in caught if issubclass(w.category, WavelengthWarning)]
    assert len(found) == 1
    assert found[0].source == "AssignWcsStep" and "AssignWcsStep failed" in found[0].reason
    assert attrs["source"] == "xmiri default solution" and np.isfinite(wmap).any()
    assert "CRDS - " not in capfd.readouterr().err


def test_no_warning_when_crds_is_not_configured(crds_env, rateints_model):
    from xmiri.io.wavelength import resolve_wavelength

    from xmiri.exceptions import PackagedWavelengthWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, attrs = resolve_wavelength(SHAPE, model=rateints_model)
    assert attrs["source"] == "xmiri default solution"
    # the packaged solution is announced, but nothing is said about CRDS
    found = [w.message for w in caught if issubclass(w.category, WavelengthWarning)]
    assert [type(w) for w in found] == [PackagedWavelengthWarning]
    assert found[0].source == "xmiri default solution" and found[0].fallback is None
