"""The documentation's code runs and its API reference is complete.

* Every ``.. code-block:: python`` of the pages in ``EXECUTED_PAGES`` is run,
  the blocks of one page in order and in one namespace (as a reader would run
  them). A block with the option ``:class: not-run`` is skipped: it needs
  something the test machines do not have (a GPU, Ray, a multi-node cluster);
  the page says so next to it.
* ``docs/api.rst`` lists every name of every public ``__all__``.
* The persistence page's claims: skorch's save_params/load_params recipe and
  the CUDA-to-CPU mapping when unpickling (simulated: no GPU here).
"""

import importlib
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"

EXECUTED_PAGES = [
    "index.rst",
    "install.rst",
    "quickstart.rst",
    "persistence.rst",
    "deploying.rst",
    "distributed.rst",
    "user_guide/out_of_core.rst",
    "user_guide/hard_gate.rst",
]

_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block:: (python|python3|pycon)\s*$")


def python_blocks(page):
    """``(line number, code, options)`` of every Python code-block of a page."""
    lines = (DOCS / page).read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if not match:
            i += 1
            continue
        indent = len(match.group(1))
        start = i + 1
        options = {}
        i += 1
        while i < len(lines) and lines[i].strip().startswith(":"):
            key, _, value = lines[i].strip()[1:].partition(":")
            options[key] = value.strip()
            i += 1
        body = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
            i += 1
        code_lines = list(body)
        while code_lines and not code_lines[0].strip():
            code_lines.pop(0)
        if not code_lines:
            continue
        margin = min(
            len(line) - len(line.lstrip()) for line in code_lines if line.strip()
        )
        code = "\n".join(line[margin:] for line in code_lines)
        blocks.append((start, code, options))
    return blocks


def test_block_parser_reads_options_and_bodies():
    blocks = python_blocks("persistence.rst")
    assert len(blocks) >= 3
    assert any(opts.get("class") == "not-run" for _, _, opts in blocks)
    assert all("\n" in code or code for _, code, _ in blocks)


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, marks=pytest.mark.distributed) if p == "distributed.rst" else p
        for p in EXECUTED_PAGES
    ],
)
def test_page_code_runs(page, tmp_path, monkeypatch):
    if page == "distributed.rst":
        pytest.importorskip("dask.distributed")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    blocks = [b for b in python_blocks(page) if b[2].get("class") != "not-run"]
    assert blocks, f"{page} has no executed Python block"
    for line, code, _ in blocks:
        exec(compile(code, f"docs/{page}:{line}", "exec"), namespace)
    if page == "quickstart.rst":
        # the numbers the page states
        assert (
            round(namespace["model"].score(namespace["X_test"], namespace["y_test"]), 3)
            == 0.979
        )
        assert namespace["gate"].shape == (143, 3)
        np.testing.assert_allclose(namespace["gate"].sum(axis=1), 1.0, rtol=1e-6)
        # "the three experts share the work": about [0.33, 0.35, 0.32]
        np.testing.assert_allclose(
            namespace["gate"].mean(axis=0), [0.33, 0.35, 0.32], atol=0.01
        )


def _public_names():
    names = set()
    for module_name in [
        "sklearn_nn",
        "sklearn_nn.mixture",
        "sklearn_nn.recurrent",
        "sklearn_nn.siamese",
        "sklearn_nn.gating",
        "sklearn_nn.preprocessing",
        "sklearn_nn.exceptions",
        "sklearn_nn.onnx",
    ]:
        module = importlib.import_module(module_name)
        names.update(n for n in module.__all__ if not n.startswith("__"))
    return names


def test_api_reference_lists_every_public_name():
    # docs/api.rst is a table of contents; the pages are in docs/api/
    pages = sorted((DOCS / "api").glob("*.rst"))
    toc = (DOCS / "api.rst").read_text()
    assert [f"api/{p.stem}" in toc for p in pages] == [True] * len(pages)
    api = "".join(p.read_text() for p in pages)
    listed = set(re.findall(r"^\s{3}(\w+)\s*$", api, flags=re.MULTILINE))
    missing = sorted(_public_names() - listed)
    assert not missing, f"the API pages (docs/api/) miss {missing}"


def test_every_subpackage_is_checked():
    import pkgutil

    import sklearn_nn

    subpackages = {
        m.name
        for m in pkgutil.iter_modules(sklearn_nn.__path__)
        if m.ispkg and not m.name.startswith("_")
    }
    assert subpackages == {"mixture", "recurrent", "siamese", "gating", "onnx"}


def _fitted_moe():
    from sklearn.datasets import make_classification

    from sklearn_nn import MixtureOfExpertsClassifier

    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    est = MixtureOfExpertsClassifier(n_experts=2, max_epochs=5, random_state=0)
    return est.fit(X, y), X, y


def test_load_params_recipe_restores_predictions_and_needs_same_architecture(
    tmp_path,
):
    from sklearn_nn import MixtureOfExpertsClassifier

    est, X, y = _fitted_moe()
    path = tmp_path / "w.pt"
    est.net_.save_params(f_params=str(path))

    est2 = MixtureOfExpertsClassifier(n_experts=2, max_epochs=1, random_state=1)
    est2.fit(X, y)
    assert not np.array_equal(est2.predict_proba(X), est.predict_proba(X))
    est2.net_.load_params(f_params=str(path))
    np.testing.assert_array_equal(est2.predict_proba(X), est.predict_proba(X))

    wrong = MixtureOfExpertsClassifier(n_experts=3, max_epochs=1).fit(X, y)
    with pytest.raises(RuntimeError, match="size mismatch"):
        wrong.net_.load_params(f_params=str(path))


def test_unpickling_a_cuda_net_without_cuda_maps_to_cpu():
    # Simulated: the net says it lives on 'cuda' (its tensors are on the CPU,
    # there is no GPU here). skorch's __setstate__ must map it to the CPU with
    # a DeviceWarning, and the estimator must predict as before.
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("simulates a machine without CUDA")
    from skorch.exceptions import DeviceWarning

    est, X, _ = _fitted_moe()
    expected = est.predict_proba(X)
    est.net_.device = "cuda"
    est.device = "cuda"
    blob = pickle.dumps(est)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = pickle.loads(blob)
    assert any(issubclass(w.category, DeviceWarning) for w in caught)
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    # refitting with the stored device='cuda' fails clearly; device='cpu' works
    with pytest.raises(ValueError, match="no CUDA device"):
        restored.fit(X, _)
    restored.set_params(device="cpu").fit(X, _)


def test_math_renders_offline():
    # the docs load MathJax from their own _static folder, not from a CDN
    offline = pytest.importorskip("sphinx-mathjax-offline")
    conf = {}
    exec((DOCS / "conf.py").read_text(), conf)
    assert "sphinx-mathjax-offline" in conf["extensions"]

    class App:
        def __init__(self):
            self.config = type("Config", (), {})()
            self.connected = []

        def connect(self, event, fn):
            self.connected.append(event)

    app = App()
    offline.setup(app)
    assert not app.config.mathjax_path.startswith(("http:", "https:", "//"))
    assert "build-finished" in app.connected
