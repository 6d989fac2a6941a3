"""Warnings and errors that sklearn_nn users can see and catch.

As :mod:`sklearn.exceptions` does for scikit-learn: import them from here to
filter a warning (``warnings.filterwarnings("ignore",
category=ZeroPaddingWarning)``) or to catch an error.
"""

from __future__ import annotations

import os
import sys
import warnings

from skorch.exceptions import DeviceWarning

__all__ = [
    "BaseModelSampleWeightWarning",
    "CollapsedEmbeddingWarning",
    "DivergenceError",
    "DivergenceWarning",
    "InnerPaddingTokenWarning",
    "LoadedOnCPUWarning",
    "NegativePairsWarning",
    "UnusedExpertWarning",
    "ZeroPaddingWarning",
]


class BaseModelSampleWeightWarning(UserWarning):
    """A hard gate's base estimator was fitted without ``sample_weight``.

    The estimator's ``fit`` does not take ``sample_weight``; only the gate is
    trained with the weights.
    """


class DivergenceError(FloatingPointError):
    """Training diverged: the loss became NaN or infinite, or exploded.

    The fit is stopped and the estimator is left as it was before ``fit``.
    Lower ``lr``, standardise the inputs (and regression targets), or add
    ``weight_decay``.
    """


class DivergenceWarning(UserWarning):
    """Training diverged after the best validation epoch; its weights were kept.

    With ``early_stopping=True`` a diverging fit is stopped and the weights of
    the epoch with the best validation loss are restored, so the work done
    before the divergence is kept. Lower ``lr`` or standardise the data.
    """


class ZeroPaddingWarning(UserWarning):
    """Many sequences end in all-zero steps, but ``padding_value`` is None.

    Zero-padded sequences (Keras' convention) read with ``padding_value=None``
    count the zeros as real steps. Pass ``padding_value=0.0`` to treat
    trailing all-zero steps as padding.
    """


class InnerPaddingTokenWarning(UserWarning):
    """Token sequences hold the padding token 0 between real tokens.

    Token 0 is padding wherever it is (Keras' ``mask_zero=True``) and is
    skipped; if 0 is a real token in the data, shift every id by one.
    """


class LoadedOnCPUWarning(DeviceWarning):
    """A model fitted on a GPU was loaded where no GPU is available.

    Its network was rebuilt on the CPU, with the same weights; predictions
    run on the CPU. Pass ``device='cpu'`` (``est.set_params(device='cpu')``)
    before a ``warm_start`` fit on this machine. A subclass of skorch's
    ``DeviceWarning``, which skorch issues in the same case.
    """


class NegativePairsWarning(UserWarning):
    """Dissimilar pairs were generated because the data had too few."""


class CollapsedEmbeddingWarning(UserWarning):
    """Training ended with (nearly) the same embedding for every item."""


class UnusedExpertWarning(UserWarning):
    """A mixture of experts ended with (almost) no gate weight on an expert.

    Raise ``load_balancing`` to spread the samples over the experts, or lower
    ``n_experts``.
    """


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# the libraries between the user's call and ours: scikit-learn's wrappers
# (``_fit_context``, ``set_output``), Pipeline, GridSearchCV, joblib, and
# skops when it loads a model
_CALLER_PACKAGES = tuple(
    f"{os.sep}{name}{os.sep}" for name in ("sklearn", "joblib", "skops")
)


def _warn(message, category):
    """``warnings.warn`` pointing at the first frame outside sklearn_nn.

    The caller's frame is the user's line that called ``fit`` (or
    ``predict``), whatever the depth of the call chain inside the package,
    also through a Pipeline or a search (scikit-learn and joblib frames are
    skipped too).
    """
    # stacklevel=2 is the caller of _warn, whose frame is _getframe(1)
    level = 2
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        inside = filename.startswith(_PACKAGE_DIR + os.sep) or any(
            package in filename for package in _CALLER_PACKAGES
        )
        if not inside:
            break
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
