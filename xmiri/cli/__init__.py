"""The ``xmiri`` command line (console script ``xmiri = xmiri.cli:main``).

=====================  ==================================================
:mod:`.commands`       the parser, ``main`` and the sub-commands (reduce,
                       info, config, demo); ``run_chain`` runs a preset
:mod:`.checks`         reduce's argument checks, before anything is opened
:mod:`.report`         reduce's end-of-run table of what was not measured
=====================  ==================================================
"""
from . import checks, commands, report  # noqa: F401
from .checks import NETCDF_SUFFIXES, check_reduce_arguments
from .commands import (DEMO_MIN_INTEGRATIONS, DEMO_PRESET, ArgumentParser, build_parser, cmd_config, cmd_demo,
                       cmd_info, cmd_reduce, config_section, load_config, main, needs_value_message, run_chain)
from .commands import _progress_compute, _recording_unmeasured  # noqa: F401  (tests use them)
from ..kernels.lightcurves import transit_depth as _transit_depth  # noqa: F401  (tests use it)
from .report import NOISE_RATIO_RANGE, noise_summary, summary

__all__ = ["main", "build_parser", "run_chain", "config_section", "load_config", "check_reduce_arguments",
           "summary", "noise_summary", "ArgumentParser", "needs_value_message", "cmd_reduce", "cmd_info",
           "cmd_config", "cmd_demo", "DEMO_PRESET", "DEMO_MIN_INTEGRATIONS", "NETCDF_SUFFIXES",
           "NOISE_RATIO_RANGE"]
