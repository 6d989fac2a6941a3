"""The parameter and attribute documentation the two pair estimators share."""

from __future__ import annotations

_PAIR_PARAMETERS_DOC = """n_left_features : int or None, default=None
        Pair matrix only: number of columns of ``X`` that hold the left item;
        the remaining ones hold the right item. None splits ``X`` into two
        equal halves (an odd number of columns is then an error). Ignored
        for a list of ``(left, right)`` pairs.
    tower : {'mlp', 'gru', 'lstm'}, default='mlp'
        'mlp': each item is a dense feature vector embedded by a feed-forward
        network (``hidden_layer_sizes``, ``activation``). 'gru' / 'lstm': each
        item is a sequence -- float values (univariate or multichannel, of
        any length) or, with ``vocab_size``, integer token ids -- read by
        ``[Embedding ->] [causal Conv1d ->] GRU/LSTM(hidden_size)``, pooled
        over its real steps (``pooling``) and projected to ``embedding_dim``.
        See :ref:`sequence_input` for the formats and padding rules.
    shared_weights : bool, default=True
        True: one tower embeds both items (a siamese network; both items need
        the same width, or the same channels per step). False: two towers
        with their own weights, and the items may differ (e.g. 52 tokens on
        the left and 600 on the right).
    hidden_layer_sizes : array-like of int, default=(64,)
        Hidden layer widths of an MLP tower.
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Hidden activation of an MLP tower.
    embedding_dim : int, default=16
        Width of each item's embedding.
    vocab_size : int or None, default=None
        Sequence towers: set it to read integer token ids in ``[0,
        vocab_size)``, 0 being padding wherever it is (Keras' ``mask_zero``);
        None reads float sequences.
    token_embedding_dim : int, default=32
        Width of the token embedding (``vocab_size`` set only).
    hidden_size : int, default=64
        State width of a sequence tower.
    pooling : {'mean', 'last', 'max'}, default='mean'
        How a sequence tower turns its per-step states into one vector: the
        mean or the element-wise maximum over the real steps, or the state
        after the last real step. Padding never counts.
    conv_filters : array-like of int, default=()
        Sequence towers: output channels of causal convolution layers run
        before the recurrent layer (``()`` for none).
    conv_kernel_size : int, default=5
        Kernel size of those convolutions.
    padding_value : float or None, default=None
        Float sequences: trailing steps whose every channel equals it are
        padding (Keras' ``Masking(mask_value)``); trailing all-NaN steps are
        padding in any case.
    missing_values : {'auto', 'indicators', 'error'}, default='auto'
        Float sequences: NaN in a channel at a step inside a sequence means
        "not observed then". With 'indicators' each channel reaches the tower
        as its last observed value (the training mean before the first
        observation), an observed mask and the time since it was observed
        (computed inside the towers, so ONNX export and skops carry it). The
        means and the time scale are fitted on the training pairs' items:
        both sides' steps together with ``shared_weights=True`` (one tower
        reads both), each side's own with two towers. 'auto' uses the
        indicators (in both towers) when the training sequences of either
        side hold such NaN or ``time_channel`` is set; 'error' makes NaN
        inside a sequence an error. As
        :class:`~sklearn_nn.TargetReplicationLSTMClassifier`'s; see
        :ref:`clinical_pairs`.
    time_channel : int or None, default=None
        Float sequences: the channel holding each step's observation time
        (days, hours, an age), the same channel on both sides. It is removed
        from the channels and gives the time since each channel was last
        observed. Times must be given at every real step and must not
        decrease within a sequence."""

_NEGATIVES_DOC = """negatives : {'auto', 'none'}, default='auto'
        'auto': when fewer than 10% of the (weighted) training pairs are
        dissimilar, add ``negative_ratio * n_pairs`` dissimilar pairs made by
        re-pairing the left item of one random pair with the right item of
        another (drawn from ``random_state``), and say so with a
        :class:`~sklearn_nn.exceptions.NegativePairsWarning`. 'none': train on
        the given pairs only.
    negative_ratio : float, default=1.0
        Number of generated dissimilar pairs per training pair."""

_PAIR_ATTRIBUTES_DOC = """n_features_in_ : int
        Number of columns of ``X`` seen during fit (both items).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_left_features_ : int
        Number of columns of the left item.
    vocab_size_ : int
        Number of token ids (token sequences only).
    missing_indicators_ : bool
        Whether the towers read the missing-value inputs (``missing_values``
        resolved; False for MLP towers and token sequences).
    embedding_spread_ : float or None
        Spread of the training items' embeddings (the smaller of the two
        sides): the mean distance between the embeddings of different items,
        divided by ``margin`` for the euclidean contrastive loss, or the mean
        cosine distance ``1 - cos`` for the cosine losses (scale-free).
        Healthy embeddings score around 0.5 or more; below 0.05 they count as
        collapsed, which triggers a
        :class:`~sklearn_nn.exceptions.CollapsedEmbeddingWarning`. None when
        a side has fewer than two distinct items.
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Training loss at each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss at each epoch (``early_stopping=True`` only)."""


# the pieces fill_doc inserts into both pair estimators' docstrings
PAIR_DOC_SECTIONS = dict(
    pair_parameters=_PAIR_PARAMETERS_DOC,
    negatives=_NEGATIVES_DOC,
    pair_attributes=_PAIR_ATTRIBUTES_DOC,
)
