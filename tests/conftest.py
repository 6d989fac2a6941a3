import os

# scikit-learn's array-API check (enabling array API dispatch must not change
# results on NumPy input) only runs when SciPy was imported with this set.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
import torch

# Keep torch to one thread per process: the suite runs in parallel workers on
# small data, where extra intra-op threads only add contention.
torch.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="session")
def japanese_vowels():
    """aeon's bundled JapaneseVowels as (X, y, X_test, y_test), each
    utterance an array of shape (steps, 12). aeon is in the test extra: a
    missing aeon fails the real-data tests, it does not skip them."""
    from aeon.datasets import load_classification

    X, y = load_classification("JapaneseVowels", split="train")
    X_test, y_test = load_classification("JapaneseVowels", split="test")
    # aeon: (channels, steps) per utterance
    X = [np.asarray(s, dtype=float).T for s in X]
    X_test = [np.asarray(s, dtype=float).T for s in X_test]
    return X, y, X_test, y_test


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
