"""Siamese / two-tower pair estimators, the pair-matrix helpers and their
torch building blocks."""

from ..exceptions import CollapsedEmbeddingWarning, NegativePairsWarning
from ._estimators import SiamesePairClassifier, SiamesePairRegressor
from ._modules import (
    MLPTower,
    SequenceTower,
    SiameseNetwork,
    SiamesePairLoss,
    SimilarityReadout,
    VerificationReadout,
    contrastive_loss,
    cosine_mse_loss,
    cosine_similarity,
    pair_distance,
)
from ._pairs import make_pairs, split_pairs, stack_pairs

__all__ = [
    "CollapsedEmbeddingWarning",
    "MLPTower",
    "NegativePairsWarning",
    "SequenceTower",
    "SiameseNetwork",
    "SiamesePairClassifier",
    "SiamesePairLoss",
    "SiamesePairRegressor",
    "SimilarityReadout",
    "VerificationReadout",
    "contrastive_loss",
    "cosine_mse_loss",
    "cosine_similarity",
    "make_pairs",
    "pair_distance",
    "split_pairs",
    "stack_pairs",
]
