"""Sphinx configuration of the xmiri documentation.

Build with ``make docs`` (warnings are errors).  The API pages are generated
by autosummary into ``docs/api/generated/`` (git-ignored) from the
docstrings of the installed package; nothing here reaches the network.
"""
import os
import shutil
import sys

import sphinx_autosummary_accessors

HERE = os.path.dirname(os.path.abspath(__file__))

# autosummary never deletes stubs it generated earlier; a stub of an object
# that no longer exists would make the build fail.  The folder is
# git-ignored and regenerated on every build.
shutil.rmtree(os.path.join(HERE, "api", "generated"), ignore_errors=True)

# The package is installed in editable mode by ``make``; the path is only a
# fallback for building from a plain checkout.
sys.path.insert(0, os.path.dirname(HERE))

import xmiri  # noqa: E402
import xmiri.accessor  # noqa: E402,F401  registers the ``.lrs`` accessor on xarray.Dataset
import xmiri.config  # noqa: E402

# The annotated configuration of every preset, as ``xmiri config --preset NAME``
# prints it, generated on every build so that configuration.rst cannot drift
# from the code (docs/_generated/ is git-ignored).
os.makedirs(os.path.join(HERE, "_generated"), exist_ok=True)
for _name in xmiri.config.PRESETS:
    with open(os.path.join(HERE, "_generated", f"reduce-{_name}.toml"), "w", encoding="utf-8") as _f:
        _f.write(xmiri.config.template(_name))

project = "xmiri"
author = "the xmiri developers"
copyright = "the xmiri developers, BSD-3-Clause"
version = release = xmiri.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_autosummary_accessors",
]

templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
default_role = "code"
language = "en"

# -- autosummary / autodoc ---------------------------------------------------
autosummary_generate = True          # stubs go to docs/api/generated/ (git-ignored)
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_typehints = "none"           # numpydoc's Parameters sections carry the types
autodoc_default_options = {"member-order": "bysource"}

# -- numpydoc ----------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# -- cross references ---------------------------------------------------------
# No intersphinx: the build must work offline.  Unresolved references to
# numpy/xarray objects then render as plain text, which is why nitpicky mode
# stays off; everything else (bad markup, missing modules, duplicate labels)
# is a warning, and ``-W`` turns it into an error.
nitpicky = False

# -- HTML ----------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"xmiri {release}"
html_static_path = ["_static"]
html_theme_options = {
    "description": "JWST MIRI LRS slitless time series, the xarray way",
    "fixed_sidebar": True,
}
