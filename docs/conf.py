"""Sphinx configuration of sklsh's documentation site (``sphinx-build -W docs
docs/_build/html``; the ``docs`` extra of pyproject.toml installs what it needs)."""
import os

import sklsh

project = "sklsh"
author = "the sklsh developers"
copyright = "2026, the sklsh developers"
release = version = sklsh.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# the benchmarks' own reports (bench_*.md) are read in the repository, beside their JSON
exclude_patterns = ["_build", "bench_*.md", "examples/*", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json"]

autosummary_generate = True
autodoc_default_options = {"inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# the benchmarks page's figures: drawn from the JSON reports in docs/ (never re-run)
plot_working_directory = os.path.dirname(os.path.abspath(__file__))
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

html_theme = "pydata_sphinx_theme"
html_title = f"sklsh {release}"
html_theme_options = {"navigation_with_keys": False, "show_prev_next": True}
html_static_path = []
