"""CRDS preflight and guard for jwst ``AssignWcsStep``: CRDS can never end the process.

Why this exists
---------------
CRDS reports some failures by calling ``sys.exit(-1)`` (``crds.core.log.
fatal_error``), which raises :class:`SystemExit`; ``except Exception`` does
not catch it, so the Python process (or the Jupyter kernel) ends with exit
status 255.  With crds 14.0 / stpipe 1.1 / jwst 3.0 the path is::

    AssignWcsStep.call -> stpipe Step.build_config / Step.get_reference_file
      -> stpipe.crds_client.get_reference_file -> crds.getreferences
      -> heavy_client.get_processing_mode -> get_config_info
      -> load_server_info  (under log.fatal_error_on_exception)  -> sys.exit(-1)

It is reached whenever the CRDS server cannot be contacted (an empty
``CRDS_SERVER_URL``, a closed port, an unknown host) *and* the cache at
``CRDS_PATH`` holds no ``config/jwst/server_config`` -- exactly the set-up
the ExoTiC-MIRI documentation recommends (``CRDS_SERVER_URL=""``,
``CRDS_PATH=<local dir>``, ``CRDS_CONTEXT=jwst_1100.pmap``) with a fresh
cache.  ``STPIPE_DISABLE_CRDS_STEPPARS`` changes only which call gets there
first (the step-parameter lookup, or the first reference lookup).  A server
URL that accepts connections but never answers would instead wait for
``CRDS_CLIENT_TIMEOUT_SECONDS`` (default 3600 s) per attempt.

What this module does
---------------------
:func:`assign_wcs_available` decides, without calling any CRDS function
that can exit and within a bounded time, whether ``AssignWcsStep`` can run:

* CRDS must be configured (``CRDS_PATH`` or ``CRDS_SERVER_URL`` set);
* with a server URL (not empty, not CRDS's "serverless" default), one
  JSON-RPC request (``get_default_context``) must be answered within
  ``timeout`` seconds -- a wall-clock bound, DNS included;
* without one (offline: ``CRDS_SERVER_URL`` empty or unset), the cache must
  hold the server configuration, the context mapping, and every reference
  file the context selects for this exposure among the types
  ``AssignWcsStep`` asks for (for MIRI LRS slitless: ``distortion`` and
  ``specwcs``; the other types -- ``filteroffset``, ``regions``,
  ``wavelengthrange``, the NIRSpec ones -- resolve to N/A).  The
  selection is computed by CRDS's local best-references code, which reads
  the mappings from the cache and never contacts the server; it is guarded
  like the step itself.

:func:`run_assign_wcs` runs the step catching every exception *and*
``SystemExit`` (only ``KeyboardInterrupt`` passes), and routes CRDS's log
output (its own ``"CRDS"`` logger, which writes to stderr) to xmiri's
logger at DEBUG level, keeping its error messages for the reason returned.
"""
import ast
import contextlib
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

__all__ = ["assign_wcs_available", "run_assign_wcs", "crds_settings", "fix_hint",
           "ASSIGN_WCS_REFTYPES", "REQUIRED_REFTYPES"]

log = logging.getLogger(__name__)

OBSERVATORY = "jwst"
#: Reference types jwst's AssignWcsStep (3.0) asks CRDS for, in its order.
ASSIGN_WCS_REFTYPES = ("distortion", "filteroffset", "specwcs", "regions", "wavelengthrange",
                       "camera", "chromcorr", "collimator", "disperser", "fore", "fpa", "msa",
                       "ote", "ifupost", "ifufore", "ifuslicer")
#: Types jwst.assign_wcs.miri.lrs opens for MIR_LRS-SLITLESS; they must resolve to a file.
REQUIRED_REFTYPES = ("distortion", "specwcs")
#: The step-parameter reference type stpipe asks for unless STPIPE_DISABLE_CRDS_STEPPARS.
STEPPARS_REFTYPE = "pars-assignwcsstep"
#: A public server to name in the fix (the one the ExoTiC-MIRI docs point to).
PUBLIC_SERVER = "https://jwst-crds.stsci.edu"
# CRDS's default cache when CRDS_PATH is unset (crds.core.config.CRDS_DEFAULT_CACHE).
_DEFAULT_CACHE = "/grp/crds/cache"
# FITS keyword -> CRDS (datamodel) parameter, for the keywords MIRI's
# assign_wcs rmaps select on (crds/jwst/specs/miri_*.spec), and a few more.
_FITS_TO_PARKEY = {
    "INSTRUME": "META.INSTRUMENT.NAME", "DETECTOR": "META.INSTRUMENT.DETECTOR",
    "FILTER": "META.INSTRUMENT.FILTER", "BAND": "META.INSTRUMENT.BAND",
    "CHANNEL": "META.INSTRUMENT.CHANNEL", "EXP_TYPE": "META.EXPOSURE.TYPE",
    "READPATT": "META.EXPOSURE.READPATT", "SUBARRAY": "META.SUBARRAY.NAME",
    "DATE-OBS": "META.OBSERVATION.DATE", "TIME-OBS": "META.OBSERVATION.TIME",
    "TSOVISIT": "META.VISIT.TSOVISIT", "TELESCOP": "META.TELESCOPE",
}


# --------------------------------------------------------------------------
# environment


def _truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on", "t", "y")


def configured(environ=None):
    """Whether CRDS is configured at all: ``CRDS_PATH`` or ``CRDS_SERVER_URL`` non-empty."""
    env = os.environ if environ is None else environ
    return bool(env.get("CRDS_SERVER_URL") or env.get("CRDS_PATH"))


def crds_settings(environ=None):
    """How CRDS is configured: the facts the preflight and the messages use.

    Parameters
    ----------
    environ : mapping, optional
        Environment to read (default :data:`os.environ`).

    Returns
    -------
    dict
        ``configured`` (bool: ``CRDS_PATH`` or ``CRDS_SERVER_URL`` non-empty,
        the condition under which xmiri tries ``AssignWcsStep`` at all),
        ``server`` (the server URL CRDS will contact, or ``None`` when it
        works offline: ``CRDS_SERVER_URL`` unset, empty or CRDS's
        "serverless" default), ``server_env`` (the raw value, ``None`` if
        unset), ``path`` (``CRDS_PATH`` or CRDS's default cache),
        ``context_env`` (``CRDS_CONTEXT`` or ``None``), ``steppars`` (bool:
        stpipe will look up step parameters in CRDS).

    Notes
    -----
    CRDS reads ``CRDS_SERVER_URL`` once, when ``crds`` is first imported.
    If it is already imported, the URL it actually uses is reported (and a
    later change of the environment variable has no effect until restart).
    """
    env = os.environ if environ is None else environ
    server_env = env.get("CRDS_SERVER_URL")
    server = server_env
    api = sys.modules.get("crds.client.api") if environ is None else None
    url = getattr(api, "URL", None) if api is not None else None
    if isinstance(url, str) and url.endswith("/json/"):
        server = url[:-len("/json/")]
    if server is not None:
        server = server.strip().rstrip("/")
        if not server or "serverless" in server or "server-less" in server:
            server = None
    path = env.get("CRDS_PATH") or env.get("CRDS_PATH_SINGLE") or _DEFAULT_CACHE
    return {
        "configured": configured(env),
        "server": server,
        "server_env": server_env,
        "path": path,
        "context_env": (env.get("CRDS_CONTEXT") or "").strip() or None,
        "steppars": not _truthy(env.get("STPIPE_DISABLE_CRDS_STEPPARS", "")),
    }


def _cache_path(environ, root_env, subdir):
    """CRDS's cache layout rule (crds.core.config._std_cache_path), without importing crds."""
    if root_env + "_SINGLE" in environ:
        path = environ[root_env + "_SINGLE"]
    elif root_env in environ:
        path = os.path.join(environ[root_env], OBSERVATORY)
    elif "CRDS_PATH_SINGLE" in environ:
        path = os.path.join(environ["CRDS_PATH_SINGLE"], subdir)
    elif "CRDS_PATH" in environ:
        path = os.path.join(environ["CRDS_PATH"], subdir, OBSERVATORY)
    else:
        path = os.path.join(environ.get("CRDS_DEFAULT_CACHE", _DEFAULT_CACHE), subdir,
                            OBSERVATORY)
    return path.rstrip("/") or "/"


# --------------------------------------------------------------------------
# CRDS log routing


class _Capture(logging.Filter):
    """Logger filter that keeps CRDS records (to report) and drops them (no stderr)."""

    def __init__(self):
        super().__init__()
        self.records = []

    def filter(self, record):
        self.records.append(record)
        log.debug("CRDS %s: %s", record.levelname, record.getMessage().strip())
        return False

    def errors(self):
        return [r.getMessage().strip() for r in self.records if r.levelno >= logging.ERROR]


@contextlib.contextmanager
def _routed_crds_log():
    """Route the "CRDS" logger's records to xmiri's logger (DEBUG) while inside.

    A logger filter is used rather than removing handlers: it is in place
    before ``crds`` is first imported (CRDS warns on import when
    ``CRDS_SERVER_URL`` is empty) and covers handlers CRDS adds later.
    """
    capture = _Capture()
    crds_logger = logging.getLogger("CRDS")
    crds_logger.addFilter(capture)
    try:
        yield capture
    finally:
        crds_logger.removeFilter(capture)


# --------------------------------------------------------------------------
# server probe


def _probe_server(url, timeout):
    """(ok, detail): does `url` answer a CRDS JSON-RPC call within `timeout` s (wall clock)?

    The request runs in a daemon thread joined with a timeout, so a
    resolver or a server that never answers cannot hold the caller longer
    than `timeout` (the thread ends by itself at its socket timeout).
    """
    if not url.lower().startswith(("http://", "https://")):
        return False, f"CRDS_SERVER_URL={url!r} is not an http(s) URL"
    rpc_id = uuid.uuid4().hex[:12]
    body = json.dumps({"jsonrpc": "1.0", "method": "get_default_context",
                       "params": [OBSERVATORY], "id": rpc_id}).encode()
    endpoint = f"{url}/json/get_default_context/{rpc_id}/"
    outcome = {}

    def call():
        try:
            request = urllib.request.Request(endpoint, data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                outcome["text"] = response.read(1 << 16).decode("utf-8", "replace")
        except BaseException as exc:  # reported, never raised: this is a probe
            outcome["error"] = exc

    worker = threading.Thread(target=call, name="xmiri-crds-probe", daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(timeout)
    elapsed = time.monotonic() - start
    silent = f"the CRDS server {url} did not answer within {timeout:g} s"
    if worker.is_alive():
        return False, silent
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, urllib.error.HTTPError):
            return False, f"the CRDS server {url} answered HTTP {exc.code} ({exc.reason})"
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return False, silent  # the socket timed out just before the join did
        return False, f"the CRDS server {url} cannot be reached ({reason})"
    try:
        answer = json.loads(outcome.get("text", ""))
    except ValueError:
        return False, f"{url} answered, but not as a CRDS server (no JSON-RPC reply)"
    if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
        return False, f"{url} answered, but not as a CRDS server"
    return True, f"CRDS server {url} answered in {elapsed:.2f} s"


# --------------------------------------------------------------------------
# offline cache


def _read_literal(path):
    with open(path) as f:
        return ast.literal_eval(f.read())


def _crds_parameters(source):
    """CRDS best-reference parameters of a datamodel, a FITS header mapping or a path."""
    if hasattr(source, "get_crds_parameters"):
        params = source.get_crds_parameters()
        name = params.get("meta.filename") or params.get("META.FILENAME")
        return {str(k).upper(): v for k, v in params.items()}, name
    name = None
    if isinstance(source, (str, os.PathLike)):
        from astropy.io import fits

        name = os.fspath(source)
        source = fits.getheader(name, 0)
    params = {}
    for key, value in dict(source).items():
        key = str(key).upper()
        if key.startswith("META."):
            params[key] = value
        elif key in _FITS_TO_PARKEY:
            params[_FITS_TO_PARKEY[key]] = value
    params.setdefault("META.TELESCOPE", "JWST")
    return params, name


def _selected_context(settings, info):
    """The context CRDS would use offline (heavy_client.get_final_context), or raise ValueError."""
    latest = str(info.get("latest_context") or info.get("operational_context") or "")
    env = settings["context_env"]
    if env is None or env in ("latest", f"{OBSERVATORY}-operational", f"{OBSERVATORY}-latest"):
        if not latest.endswith(".pmap"):
            raise ValueError("the cached server configuration names no context")
        return latest, ("CRDS_CONTEXT" if env else "the cache's server configuration")
    if env.endswith(".pmap"):
        return os.path.basename(env), "CRDS_CONTEXT"
    raise ValueError(f"CRDS_CONTEXT={env!r} is a symbolic or date-based context, which only "
                     f"the CRDS server can translate; name a .pmap file offline")


def _locate_reference(name, refpath):
    """Path of reference `name` in the cache (instrument or flat layout), or None."""
    parts = os.path.basename(name).split("_")
    candidates = [os.path.join(refpath, parts[1]) if len(parts) > 2 else None, refpath]
    for folder in candidates:
        if folder and os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def _offline_check(source, settings, environ):
    """(ok, reason, facts) for AssignWcsStep with CRDS offline (no server)."""
    path = settings["path"]
    facts = {"mode": "offline", "path": path}
    try:
        params, name = _crds_parameters(source)
    except Exception as exc:
        return False, f"cannot read the file's CRDS parameters ({type(exc).__name__}: {exc})", facts
    facts["file"] = os.path.basename(name) if name else None
    cfg = os.path.join(_cache_path(environ, "CRDS_CFGPATH", "config"), "server_config")
    if not os.path.isfile(cfg):
        return False, (f"CRDS works offline (CRDS_SERVER_URL is "
                       f"{'empty' if settings['server_env'] is not None else 'unset'}) and its "
                       f"cache {path} holds no server configuration ({cfg} is missing: the cache "
                       f"was never synced), so CRDS would exit"), facts
    try:
        info = _read_literal(cfg)
        if not isinstance(info, dict):
            raise ValueError("not a dictionary")
    except (OSError, ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        return False, f"the CRDS cache's server configuration {cfg} cannot be read ({exc})", facts
    try:
        context, chosen_by = _selected_context(settings, info)
    except ValueError as exc:
        return False, f"CRDS works offline and {exc}", facts
    facts["context"] = context
    pmap = os.path.join(_cache_path(environ, "CRDS_MAPPATH", "mappings"), context)
    if not os.path.isfile(pmap):
        return False, (f"the CRDS cache {path} lacks the context {context} (chosen by "
                       f"{chosen_by}): {pmap} is missing"), facts
    reftypes = ASSIGN_WCS_REFTYPES + ((STEPPARS_REFTYPE,) if settings["steppars"] else ())
    try:
        with _routed_crds_log() as capture:
            from crds.core import heavy_client

            best = heavy_client.hv_best_references(context, params, list(reftypes))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit included: CRDS never ends the process
        detail = "; ".join(capture.errors()) or f"{type(exc).__name__}: {exc}"
        return False, (f"CRDS cannot select references offline from {context} in {path} "
                       f"({detail.splitlines()[0]})"), facts
    refpath = _cache_path(environ, "CRDS_REFPATH", "references")
    selected, missing, unselected = {}, [], []
    for reftype in reftypes:
        value = str(best.get(reftype, "NOT FOUND n/a")).strip()
        not_applicable = value.upper() in ("N/A", "NOT FOUND N/A")
        if value.upper().startswith("NOT FOUND") or not_applicable:
            # crds.getreferences raises on any lookup error but "n/a"; stpipe
            # tolerates that only for the step-parameter type
            if reftype != STEPPARS_REFTYPE and (reftype in REQUIRED_REFTYPES or not not_applicable):
                unselected.append(f"{reftype} ({value})")
            continue
        selected[reftype] = value
        if reftype != STEPPARS_REFTYPE and _locate_reference(value, refpath) is None:
            missing.append(value)
    facts["references"] = selected
    facts["missing"] = missing
    if unselected:
        return False, (f"CRDS context {context} in {path} selects no reference for this file: "
                       f"{'; '.join(unselected)}"), facts
    if missing:
        return False, (f"the CRDS cache {path} lacks the reference file(s) "
                       f"{', '.join(missing)} selected by {context}"), facts
    listed = ", ".join(f"{k}={v}" for k, v in selected.items() if k != STEPPARS_REFTYPE)
    return True, f"offline CRDS cache {path} holds {context} and its references ({listed})", facts


def fix_hint(facts, settings=None):
    """One sentence saying how to make AssignWcsStep work, or how to skip it.

    Parameters
    ----------
    facts : dict
        The facts :func:`assign_wcs_available` gathered (``mode``,
        ``path``, ``context``, ``file``, ``missing``), as returned with
        ``details=True``.
    settings : dict, optional
        :func:`crds_settings` (read from the environment if not given).

    Returns
    -------
    str
    """
    settings = crds_settings() if settings is None else settings
    skip = ("or unset CRDS_PATH and CRDS_SERVER_URL so that xmiri does not try AssignWcsStep, "
            "or pass wavelength= (the matching calints file, or a (n_rows, n_cols) map in micron) "
            "to choose the map yourself")
    if facts.get("mode") == "online":
        return (f"To use AssignWcsStep, check CRDS_SERVER_URL and the network, or work offline "
                f"from a synced cache (CRDS_SERVER_URL='' and CRDS_PATH=<cache>); {skip}.")
    if facts.get("mode") == "offline":
        context = facts.get("context") or settings.get("context_env") or "jwst-operational"
        target = facts.get("file") or "FILE"
        if facts.get("missing"):
            what = f"--files {' '.join(facts['missing'])}"
        else:
            what = f"--dataset-files {target}"
        return (f"To use AssignWcsStep, sync the cache once while online: "
                f"`CRDS_SERVER_URL={PUBLIC_SERVER} "
                f"CRDS_PATH={facts.get('path') or settings['path']} crds sync --contexts "
                f"{context} {what}` (`--fetch-references` instead would fetch every "
                f"instrument's references: a very large download); {skip}.")
    return f"Install jwst and configure CRDS to let AssignWcsStep run; {skip}."


def assign_wcs_available(header_or_path, *, timeout=2.0, environ=None, details=False):
    """Whether jwst ``AssignWcsStep`` can run for a file, decided without letting CRDS exit.

    Parameters
    ----------
    header_or_path : str, os.PathLike, mapping or datamodel
        The file's path (its primary header is read), its primary header
        (a mapping of FITS keywords, or of CRDS ``META.*`` parameters), or
        an open jwst datamodel (``get_crds_parameters()`` is used).
    timeout : float, optional
        Seconds allowed for contacting the CRDS server (wall clock, name
        resolution included).  Offline, no network is used.
    environ : mapping, optional
        Environment to read instead of :data:`os.environ` (tests).  CRDS
        itself always reads :data:`os.environ`.
    details : bool, optional
        Also return a dict of the facts found (mode, cache path, context,
        selected references, missing files), for :func:`fix_hint`.

    Returns
    -------
    ok : bool
        True when the step can be expected to find its references.
    reason : str
        What was found, in words (the cause, when ``ok`` is False).
    facts : dict
        Only with ``details=True``.

    Notes
    -----
    Order of the checks:

    1. jwst is importable, and CRDS is configured (``CRDS_PATH`` or
       ``CRDS_SERVER_URL`` non-empty); otherwise xmiri never tries the step.
    2. A server URL is set (not empty, not CRDS's serverless default): it
       must answer one JSON-RPC request within `timeout`.  If it does not,
       the answer is no -- even with a complete cache, because CRDS would
       try the server again with its own, hour-long timeout.
    3. Offline: the cache must hold ``config/jwst/server_config``, the
       context (``CRDS_CONTEXT``, or the one the cached configuration
       names), and every reference file the context selects for this
       exposure among the types ``AssignWcsStep`` requests.  The selection
       is computed with CRDS's local code (mappings read from the cache),
       guarded against ``SystemExit``.  The step-parameter reference
       (``pars-assignwcsstep``) is not required: stpipe tolerates its
       absence.

    Examples
    --------
    >>> ok, why = assign_wcs_available({"INSTRUME": "MIRI"}, environ={})
    >>> ok, why
    (False, 'CRDS is not configured (CRDS_PATH and CRDS_SERVER_URL are unset or empty)')
    """
    env = os.environ if environ is None else environ
    settings = crds_settings(environ)
    facts = {"mode": None, "path": settings["path"], "context": settings["context_env"]}

    def done(ok, reason):
        return (ok, reason, facts) if details else (ok, reason)

    import importlib.util

    if importlib.util.find_spec("jwst") is None:
        return done(False, "jwst is not installed")
    if not settings["configured"]:
        return done(False, "CRDS is not configured (CRDS_PATH and CRDS_SERVER_URL are unset "
                           "or empty)")
    if settings["server"] is not None:
        facts["mode"] = "online"
        ok, reason = _probe_server(settings["server"], float(timeout))
        return done(ok, reason)
    ok, reason, found = _offline_check(header_or_path, settings, env)
    facts.update(found)
    return done(ok, reason)


# --------------------------------------------------------------------------
# the guarded call


def run_assign_wcs(model, **step_kwargs):
    """Run jwst ``AssignWcsStep`` on `model`; nothing it raises or exits with escapes.

    Parameters
    ----------
    model : jwst datamodel
        The exposure (a CubeModel of rateints, or a SlitModel).
    **step_kwargs
        Passed to ``AssignWcsStep.call``; ``configure_log=False`` unless
        given (stpipe then adds no stderr handler: its INFO messages reach
        the ``stpipe`` logger only, and so follow the caller's logging set-up).

    Returns
    -------
    result : datamodel or None
        The model with ``meta.wcs`` assigned, or None if the step failed or
        skipped itself.
    reason : str
        ``""`` on success; otherwise what went wrong, in one line (CRDS's
        own error message when it exited).

    Notes
    -----
    Everything but :class:`KeyboardInterrupt` is caught, including
    :class:`SystemExit` from CRDS's fatal errors.  CRDS's log records are
    routed to ``logging.getLogger("xmiri.io.crds")`` at DEBUG level instead
    of stderr while the step runs.  Call :func:`assign_wcs_available`
    first: it avoids the network timeouts this guard cannot shorten.
    """
    step_kwargs.setdefault("configure_log", False)  # stpipe: no stderr handlers of its own
    with _routed_crds_log() as capture:
        try:
            from jwst.assign_wcs import AssignWcsStep

            result = AssignWcsStep.call(model, **step_kwargs)
        except KeyboardInterrupt:
            raise
        except SystemExit as exc:
            detail = "; ".join(capture.errors()) or "no message"
            return None, (f"CRDS ended with a fatal error (sys.exit({exc.code})): "
                          f"{detail.splitlines()[0]}")
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return None, f"AssignWcsStep failed ({message})"
    status = getattr(getattr(getattr(result, "meta", None), "cal_step", None), "assign_wcs", None)
    if result is None or str(status).upper() == "SKIPPED":
        return None, "AssignWcsStep skipped itself (see the stpipe log)"
    return result, ""
