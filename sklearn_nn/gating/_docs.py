"""The parameter docs the two hard-gate estimators share."""

from __future__ import annotations

from .._base import fill_doc

_SHARED_PARAMETERS_DOC = """\
base_output_columns : list of int or of lists of int, or None, default=None
        Precomputed base outputs: the columns of ``X`` that hold each base
        model's outputs, one entry per base model -- a column index for a
        single-output regressor, a list of ``n_outputs`` indices for several
        outputs, a list of ``n_classes`` indices (class probabilities, ordered
        as ``classes_``) for a classifier. The gate reads the other columns of
        ``X`` (``gate_columns_``) and picks one base model's columns per
        sample. Use it when the base models were trained elsewhere (their
        outputs computed on data they were not trained on); ``estimators``
        must then be None. None: the base models are ``estimators``.
    gate_hidden_layer_sizes : array-like of int, default=(20,)
        Hidden layer widths of the gate MLP; ``()`` makes the gate linear.
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Hidden-layer activation of the gate.
    gate : {'straight_through', 'gumbel'}, default='straight_through'
        How the hard choice is trained. 'straight_through': the forward pass
        is the one-hot argmax of the gate logits, the backward pass goes
        through ``softmax(logits / temperature)``. 'gumbel': during training
        the choice is a one-hot *sample* of ``softmax(logits)`` (Gumbel-max
        trick) with the gradient of the Gumbel-softmax relaxation, and the
        temperature is annealed from ``temperature`` to
        ``final_temperature``; prediction always uses the deterministic
        argmax.
    temperature : float, default=1.0
        Temperature of the backward-pass softmax (straight-through) or the
        initial temperature of the relaxation (Gumbel). It never changes
        which model the forward pass chooses.
    final_temperature : float, default=0.1
        ``gate='gumbel'`` only: temperature of the last epoch; the temperature
        of epoch ``k`` of ``max_epochs`` is
        ``temperature * (final_temperature / temperature) ** (k / (max_epochs - 1))``.
    gate_uses_predictions : bool, default=False
        When True the gate reads the base models' predictions (flattened)
        next to the features.
    best_model_prior : float, default=2.0
        Where the gate starts: with a positive value it first chooses, for
        every sample, the base model with the best out-of-fold score
        (``oof_scores_``) -- the output layer of the gate starts with zero
        weights and a bias that favours that model by this margin in logits
        -- and training moves the choice away from it only where the
        out-of-fold losses show that another model does better. So a gate
        that learns nothing still predicts like the best base model, and a
        small training set changes little. 0 starts from a randomly
        initialised gate, whose first choices are arbitrary.
    cv : int, cross-validation generator, iterable or 'prefit', default=5
        How the out-of-fold base predictions that train the gate are made,
        as in :class:`~sklearn.ensemble.StackingClassifier`, with one
        difference: an int is the number of folds of a *shuffled*
        (Stratified)KFold, seeded from ``random_state`` (scikit-learn's
        int means folds in the rows' order). The gate learns where each
        model is right from these predictions, and folds in the rows' order
        turn them into extrapolations when the rows are sorted (by time,
        group or target), with errors the refitted models do not make (see
        the User Guide). A splitter or an iterable of splits is used as
        given: ``StratifiedKFold(5)`` keeps the rows' order. 'prefit':
        ``estimators`` are already fitted and are used as they are (not
        cloned, not refitted); the gate is trained on their predictions of
        the ``X`` passed to ``fit``, which should therefore be data the base
        models were not trained on."""


def _fill_shared_doc(cls):
    cls.__doc__ = cls.__doc__.replace("{gating_parameters}", _SHARED_PARAMETERS_DOC)
    return fill_doc(cls)
