"""Hard-gate estimators (dynamic model selection) and their torch building blocks."""

from ._estimators import HardGateClassifier, HardGateRegressor
from ._modules import HardGateLoss, HardGateNetwork, straight_through_argmax

__all__ = [
    "HardGateClassifier",
    "HardGateLoss",
    "HardGateNetwork",
    "HardGateRegressor",
    "straight_through_argmax",
]
