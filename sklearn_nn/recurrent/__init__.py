"""Recurrent sequence classifiers (target replication) and their torch blocks."""

from ._early import select_early_threshold
from ._estimators import TargetReplicationLSTMClassifier
from ._modules import (
    SequenceClassifierRNN,
    TargetReplicationLoss,
    final_step,
    step_mask,
    target_replication_loss,
)
from ._stream import SequenceStream

__all__ = [
    "SequenceClassifierRNN",
    "SequenceStream",
    "TargetReplicationLSTMClassifier",
    "TargetReplicationLoss",
    "final_step",
    "step_mask",
    "select_early_threshold",
    "target_replication_loss",
]
