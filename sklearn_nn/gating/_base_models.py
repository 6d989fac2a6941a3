"""Helpers for the hard gate's base models: seeding, the estimators list,
errors that name the base model, and class-probability alignment."""

from __future__ import annotations

import contextlib

import numpy as np

from .._base import _SEED_MAX


def _fill_random_states(estimator, rng):
    """Give every ``random_state`` left at None an int drawn from ``rng``.

    Explicit seeds are kept; the draws happen in a fixed (sorted) order so a
    fit is reproducible.
    """
    params = estimator.get_params(deep=True)
    unset = sorted(
        key
        for key, value in params.items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    )
    if unset:
        estimator.set_params(**{key: int(rng.randint(_SEED_MAX)) for key in unset})
    return estimator


def _is_drop(est):
    return isinstance(est, str) and est == "drop"


def _is_named_list(estimators):
    """True for a non-empty list of (str, object) pairs."""
    return (
        isinstance(estimators, list)
        and len(estimators) > 0
        and all(
            isinstance(item, tuple | list)
            and len(item) == 2
            and isinstance(item[0], str)
            for item in estimators
        )
    )


@contextlib.contextmanager
def _naming_base_model_errors(name, doing):
    """Prefix a base model's ValueError / TypeError with its name, so that
    an error from deep inside it says which pool member failed."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"base estimator {name!r} failed {doing}: {exc}") from exc


def _check_finite_output(name, output, what):
    """A ValueError naming the base model whose outputs are NaN or infinite."""
    if not np.isfinite(output).all():
        raise ValueError(
            f"base estimator {name!r}: {what} contain NaN or infinite values "
            f"({int(np.sum(~np.isfinite(output)))} of {output.size}); the gate "
            "can only choose between finite outputs. Check that model (and its "
            "input scaling)."
        )


def _align_proba(proba, estimator_classes, classes):
    """Reorder ``proba`` columns from ``estimator_classes`` to ``classes``;
    a class the estimator does not know gets probability 0."""
    if np.array_equal(estimator_classes, classes):
        return proba
    out = np.zeros((proba.shape[0], len(classes)), dtype=proba.dtype)
    lookup = {c: i for i, c in enumerate(estimator_classes.tolist())}
    for j, c in enumerate(classes.tolist()):
        if c in lookup:
            out[:, j] = proba[:, lookup[c]]
    return out
