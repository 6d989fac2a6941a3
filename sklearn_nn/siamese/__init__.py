"""Siamese / two-tower pair estimators, the pair-matrix helpers and their
torch building blocks."""

from ._estimators import (
    CollapsedEmbeddingWarning,
    NegativePairsWarning,
    SiamesePairClassifier,
    SiamesePairRegressor,
    split_pairs,
    stack_pairs,
)
from ._modules import (
    LSTMTower,
    MLPTower,
    SiameseNetwork,
    SiamesePairLoss,
    SimilarityReadout,
    VerificationReadout,
    compact_tokens,
    contrastive_loss,
    cosine_mse_loss,
    cosine_similarity,
    pair_distance,
)

__all__ = [
    "CollapsedEmbeddingWarning",
    "LSTMTower",
    "MLPTower",
    "NegativePairsWarning",
    "SiameseNetwork",
    "SiamesePairClassifier",
    "SiamesePairLoss",
    "SiamesePairRegressor",
    "SimilarityReadout",
    "VerificationReadout",
    "compact_tokens",
    "contrastive_loss",
    "cosine_mse_loss",
    "cosine_similarity",
    "pair_distance",
    "split_pairs",
    "stack_pairs",
]
