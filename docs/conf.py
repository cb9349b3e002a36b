"""Sphinx configuration of the airflow-provider-stitch documentation site (``make docs``)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_stitch import __version__  # noqa: E402

project = "airflow-provider-stitch"
author = "The airflow-provider-stitch authors"
copyright = "2026, the airflow-provider-stitch authors"
release = __version__
version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Airflow's own classes are documented by Airflow; references to them are not resolved here.
nitpicky = False

html_theme = "alabaster"
html_title = f"airflow-provider-stitch {__version__}"
html_static_path: list[str] = []
