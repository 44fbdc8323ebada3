"""Sphinx configuration of the allianceStats documentation (``make docs`` builds it into docs/_build/html).

Sphinx rather than MkDocs: every public function has a numpydoc docstring (model, citation, runnable example),
and Sphinx's autodoc + numpydoc render those as they are written, with cross-references between functions and
result classes; MkDocs would need a plugin that reads only part of numpydoc. The design notes and the
"coming from" pages are Markdown (MyST), so the existing docs/design.md is used as it stands.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
# numpydoc reads the raw docstring once for the signature, before _ext/analyses.py renames a lone "Example" heading
# to numpydoc's "Examples" for the page itself; that first read's complaint is not about the page
warnings.filterwarnings("ignore", message="Unknown section Example", category=UserWarning)

import allianceStats  # noqa: E402

project = "allianceStats"
author = "allianceStats contributors"
copyright = "allianceStats contributors (MIT licence)"
release = allianceStats.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode", "numpydoc", "myst_parser",
              "analyses"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "changelog.d", "style.md", "Thumbs.db", ".DS_Store"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autodoc_default_options = {"members": False, "show-inheritance": False}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types; signatures stay short
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"allianceStats {release}"
html_theme_options = {"description": "Longitudinal alliance–outcome analysis for SUD treatment research",
                      "fixed_sidebar": True, "page_width": "1100px"}
html_static_path: list[str] = []
html_last_updated_fmt = None
nitpicky = False
suppress_warnings = ["myst.xref_missing"]
