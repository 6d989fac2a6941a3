"""One speed case and one accuracy case per family, for ``run_all``.

Each family module (``mixture``, ``recurrent``, ``siamese``, ``gating``) has

* ``speed_case(quick)``: a dict with ``setup`` (a description), ``fit_est``
  and ``fit_hand`` (fit the estimator / the hand-written torch loop training
  the same module, loss, optimizer, batch size and epochs), ``hand_name``,
  ``fit_mlp`` (scikit-learn's ``MLPClassifier`` on the same problem, or
  None), ``est`` (the estimator ``fit_est`` fits), ``predict_inputs(k)`` ->
  (estimator input of ``k`` samples, positional and keyword inputs of its
  fitted ``net_.module_``), and optionally ``mlp_predict`` and
  ``base_predictions`` (other predict baselines);
* ``accuracy(quick)``: rows (data, model, metric, mean, std) of the
  estimator and its natural baselines.
"""

from __future__ import annotations

import importlib

FAMILIES = ("mixture", "recurrent", "siamese", "gating")
# predict_proba is timed on this many samples; the speed cases make data for
# the largest
N_PREDICT = (1, 10_000)


def family(name):
    """The case module of the family ``name``."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; one of {FAMILIES}")
    return importlib.import_module(f"{__name__}.{name}")
