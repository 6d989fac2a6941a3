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

__all__ = [
    "SequenceClassifierRNN",
    "TargetReplicationLSTMClassifier",
    "TargetReplicationLoss",
    "final_step",
    "step_mask",
    "select_early_threshold",
    "target_replication_loss",
]
