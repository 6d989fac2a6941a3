"""Sphinx configuration of the sklearn_nn documentation.

Build with ``make docs`` (warnings are errors). The build needs no network:
intersphinx is deliberately not configured, so references to scikit-learn,
skorch or torch objects render as plain text.
"""

import os
import warnings

import torch

import sklearn_nn

# The gallery examples train tiny networks; on a small (2-core) machine one
# intra-op thread is faster than several threads competing for the cores.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Project information -----------------------------------------------------
project = "sklearn_nn"
author = "sklearn_nn developers"
copyright = "sklearn_nn developers, BSD-3-Clause"
release = sklearn_nn.__version__
version = ".".join(release.split(".")[:2])

# -- General configuration ---------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax shipped with the docs (copied to _static/mathjax) instead of
    # loaded from a CDN: the math renders offline
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
# Unresolvable cross-references (sklearn, torch, skorch objects: there is no
# intersphinx without network access) stay silent plain text.
nitpicky = False

# -- autodoc / autosummary ---------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# An undocumented override (``MixtureOfExperts.forward``) must not borrow the
# generic docstring of ``torch.nn.Module.forward``.
autodoc_inherit_docstrings = False

# -- numpydoc ----------------------------------------------------------------
# The class template lists the methods itself; numpydoc's own member tables
# would list them a second time.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # execute every plot_*.py; examples/quickstart.py is a console demo
    # (``make demo``), not a gallery example
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(__init__|quickstart)\.py",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_nn",),
    "reference_url": {"sklearn_nn": None},
    "abort_on_example_error": False,
    "min_reported_time": 1,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
}

# matplotlib's Agg backend warns about plt.show(); sphinx-gallery scrapes the
# figures instead.
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="FigureCanvasAgg is non-interactive, and thus cannot be shown",
)

# -- scikit-learn's own docstrings --------------------------------------------
# Methods inherited from scikit-learn (``score``, ``set_fit_request``, ...) link
# to labels and glossary terms of scikit-learn's documentation. Without
# intersphinx those targets are unknown, so they are pointed at the
# scikit-learn website here; any other unresolved reference still warns.
SKLEARN_DOC = "https://scikit-learn.org/stable/"
SKLEARN_TARGETS = {
    ("ref", "accuracy_score"): "modules/model_evaluation.html#accuracy-score",
    ("ref", "r2_score"): (
        "modules/model_evaluation.html#r2-score-the-coefficient-of-determination"
    ),
    ("ref", "metadata_routing"): "metadata_routing.html",
    ("term", "meta-estimator"): "glossary.html#term-meta-estimator",
}


def _link_sklearn_targets(app, env, node, contnode):
    key = (node.get("reftype"), node.get("reftarget"))
    if key not in SKLEARN_TARGETS:
        return None
    from docutils import nodes

    reference = nodes.reference(
        "", "", internal=False, refuri=SKLEARN_DOC + SKLEARN_TARGETS[key]
    )
    reference += contnode
    return reference


# The estimators' docstrings write ``ndarray of shape (n_features_in_,)``; a bare
# name ending in "_" is a reST reference to an undefined target (a docutils
# error). Until the docstrings quote the name (`n_features_in_`, as
# scikit-learn's do), quote it here, after numpydoc has rendered the docstring.
def _quote_trailing_underscore_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        lines[i] = line.replace("(n_features_in_,)", "(``n_features_in_``,)")


def setup(app):
    app.connect("missing-reference", _link_sklearn_targets)
    app.connect(
        "autodoc-process-docstring", _quote_trailing_underscore_names, priority=900
    )


# -- HTML output -------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_nn {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"install": [], "quickstart": []}
